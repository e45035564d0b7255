"""Evaluation benchmark (not a test): the wall time of `swinir-hf eval` in one process and shared among processes.

- `1 process`: `swinir-hf eval` as it is (torch's default threads).
- `1 process 1 thread`: the same with OMP_NUM_THREADS=1 (what each of the processes below gets).
- `N processes`: `swinir-hf eval --multi_gpu --num_processes N` on the CPU (`CUDA_VISIBLE_DEVICES=`), one thread each:
  process k scores the images k, k + N, ...

Each way is one fresh command (start-up, model loading, the set's reading, scoring, the table), timed whole, the ways
alternating over `--repeat` rounds; every way's JSON must give the same means as the first (else the figures would
not be of the same evaluation).

    python benchmarks/evaluation.py --model sr-x4 --dataset ../shared/testsets/Set14 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def mode_argument(value: str) -> str:
    """`--modes`: "1 process", "1 process 1 thread" or "N processes" (N ≥ 2)."""
    words = value.split()
    if value in ("1 process", "1 process 1 thread") or (
        len(words) == 2 and words[0].isdigit() and int(words[0]) >= 2 and words[1] == "processes"
    ):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: give '1 process', '1 process 1 thread' or 'N processes'")


def command(mode: str, base: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one way."""
    swinir_hf = shutil.which("swinir-hf", path=str(Path(sys.executable).parent)) or "swinir-hf"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    if mode == "1 process":
        return [swinir_hf, "eval", *base], env
    env["OMP_NUM_THREADS"] = "1"
    processes = int(mode.split()[0])
    launcher = [] if processes == 1 else ["--multi_gpu", "--num_processes", str(processes)]
    return [swinir_hf, "eval", *launcher, *base], env


def run(mode: str, base: list[str], report: Path) -> tuple[float, dict]:
    """Seconds the way's command took, and its JSON's means."""
    cmd, env = command(mode, [*base, "--json", str(report), "--overwrite"])
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{mode}: exit status {done.returncode}\n{done.stderr[-2000:]}")
    return seconds, json.loads(report.read_text())["mean"]


def close(a: dict, b: dict) -> bool:
    """Whether two reports' means agree (to 0.001: the processes' thread counts may move a pixel's rounding)."""
    return a.keys() == b.keys() and all(abs(a[m][k] - b[m][k]) < 1e-3 for m in a for k in a[m])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sr-x4")
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--modes", nargs="+", type=mode_argument, default=["1 process", "1 process 1 thread", "2 processes"]
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more `swinir-hf eval` options (after --), e.g. -- --noise 25")
    args = parser.parse_args()
    base = ["--model", args.model, "--dataset", args.dataset, *args.extra]
    times: dict[str, list[float]] = {mode: [] for mode in args.modes}
    means = None
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            order = args.modes if round_ % 2 == 0 else args.modes[::-1]
            for mode in order:
                seconds, mean = run(mode, base, Path(tmp) / "report.json")
                if means is None:
                    means = mean
                elif not close(mean, means):
                    sys.exit(f"{mode}: means differ from the first way's: {mean} vs {means}")
                times[mode].append(seconds)
                print(f"# {mode}: {seconds:.1f} s", file=sys.stderr)
    print(f"`swinir-hf eval {' '.join(base)}`, {os.cpu_count()} cores, {args.repeat} rounds\n")
    print("| way | wall s (median) | all rounds |")
    print("| :-- | --: | :-- |")
    for mode, seconds in times.items():
        print(f"| {mode} | {statistics.median(seconds):.1f} | {', '.join(f'{s:.1f}' for s in seconds)} |")


if __name__ == "__main__":
    main()
