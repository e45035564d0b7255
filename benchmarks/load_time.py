"""Load-time benchmark (not a test): what loading a model costs, for source trees side by side.

`from_pretrained` checks a folder before it loads (its safetensors headers: the count, dtypes and shards of its
weights) and after (missing, unexpected or non-finite weights); this times it on a SwinIR-M ×4 folder (11.9 M
parameters, random weights, made once in `--folder`), with `load_model` of a bundled model, the package's import,
and a 96² restoration as a control, each in a fresh process per tree, the trees alternating, best of `--repeats`.
Give other checkouts (`git worktree add /tmp/old REV`) to compare: the same folder is loaded by each.

    python benchmarks/load_time.py
    python benchmarks/load_time.py --trees /tmp/old . --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from arguments import positive  # beside this script

REPO = Path(__file__).resolve().parent.parent
# One process's timings, printed as JSON: what a user's first call pays.
TIMED = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from PIL import Image
from swinir_hf import SwinIRForImageRestoration, load_model, restore
t1 = time.perf_counter()
bundled = load_model("sr-x4")
t2 = time.perf_counter()
SwinIRForImageRestoration.from_pretrained(sys.argv[1])
t3 = time.perf_counter()
image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8))
restore(bundled, image, tile=None, dtype="float32")
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_model(sr-x4)": t2 - t1, "from_pretrained(M x4)": t3 - t2,
                  "restore 96²": t4 - t3}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", nargs="+", type=Path, default=[REPO], help="source trees (default: this one)")
    parser.add_argument("--repeats", type=positive(1), default=3)
    # In the checkout's ignored outputs/, not the shared /tmp: a folder (or link) another user made at a fixed name
    # there was loaded, or saved into.
    parser.add_argument(
        "--folder",
        type=Path,
        default=REPO / "outputs" / "swinir_m_x4",
        help="the SwinIR-M folder (default: %(default)s)",
    )
    args = parser.parse_args()
    if missing := [str(t) for t in args.trees if not (t / "swinir_hf").is_dir()]:
        raise SystemExit(f"error: not a source tree (no swinir_hf/ in it): {', '.join(missing)}")
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    if not (args.folder / "config.json").is_file():
        make = "from swinir_hf import SwinIRConfig as C, SwinIRForImageRestoration as M; import sys; " + (
            "M(C.from_preset('classical_sr', scale=4)).save_pretrained(sys.argv[1])"
        )
        subprocess.run([sys.executable, "-c", make, str(args.folder)], check=True, env=env | {"PYTHONPATH": str(REPO)})
    best: dict[Path, dict[str, float]] = {}
    for _ in range(args.repeats):
        for tree in args.trees:
            run = subprocess.run(
                [sys.executable, "-c", TIMED, str(args.folder)],
                capture_output=True,
                text=True,
                cwd="/",
                env=env | {"PYTHONPATH": str(tree.resolve())},
                check=False,
            )
            if run.returncode:
                raise SystemExit(f"error: {tree}: {run.stderr.strip().splitlines()[-1]}")
            times = json.loads(run.stdout.strip().splitlines()[-1])
            best[tree] = {k: min(v, best.get(tree, {}).get(k, v)) for k, v in times.items()}
    names = list(next(iter(best.values())))
    print("| tree | " + " | ".join(names) + " |\n| :-- |" + " --: |" * len(names))
    for tree, times in best.items():
        print(f"| {tree} | " + " | ".join(f"{times[n]:.3f} s" for n in names) + " |")


if __name__ == "__main__":
    main()
