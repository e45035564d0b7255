"""Collection benchmark (not a test): images/s restoring a folder of mixed-size photos, four ways.

- `loop`: the plain one-at-a-time loop (what `swinir-hf restore` did before: read, restore, write, next file),
  model loaded once.
- `pipelined`: `python -m swinir_hf.restore --workers 2` (decode ahead / encode behind in threads).
- `batched`: the same with `--batch-size 4` (same-size images share a forward pass).
- `... 1 thread`: the same with OMP_NUM_THREADS=1 (what each of the two processes below gets).
- `2 processes`: `accelerate launch --num_processes 2 -m swinir_hf.restore` with one thread each.

The photos are crops of the `../shared` test sets at a handful of sizes (a collection usually has a few shapes),
2/3 PNG and 1/3 JPEG. Each way runs in a fresh subprocess into an empty folder; the table gives the restoring
phase's images/s (model loaded, as the summary line reports) and the whole command's wall time.

    python benchmarks/collection.py --images 100 --model sr-x4
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from arguments import positive  # beside this script
from PIL import Image

SHARED = Path(os.environ.get("SWINIR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SIZES = [(64, 64), (96, 64), (64, 96), (128, 96), (80, 80)]  # (W, H)
SETS = ("Kodak24", "CBSD68", "McMaster", "Set14")
MODES = ("loop", "pipelined", "batched", "loop 1 thread", "pipelined 1 thread", "batched 1 thread", "2 processes")


def make_photos(folder: Path, count: int, seed: int = 0) -> None:
    """`count` crops of the shared test photos (RGB), sizes from `SIZES`, 2/3 PNG and 1/3 JPEG (quality 90)."""
    rng = np.random.default_rng(seed)
    sources = sorted(p for s in SETS for p in (SHARED / "testsets" / s / "HR").iterdir() if p.is_file())
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        with Image.open(sources[rng.integers(len(sources))]) as im:
            photo = im.convert("RGB")
        w, h = SIZES[rng.integers(len(SIZES))]
        x, y = rng.integers(0, photo.width - w + 1), rng.integers(0, photo.height - h + 1)
        crop = photo.crop((int(x), int(y), int(x) + w, int(y) + h))
        if i % 3 == 2:
            crop.save(folder / f"{i:04d}.jpg", quality=90)
        else:
            crop.save(folder / f"{i:04d}.png")


def plain_loop(inputs: Path, out: Path, model: str) -> None:
    """The one-at-a-time loop, timed after the model is loaded; prints a summary line like the CLI's."""
    from swinir_hf.inference.files import collect_inputs
    from swinir_hf.inference.image_io import read_image
    from swinir_hf.inference.image_writing import write_image
    from swinir_hf.inference.restoration import SwinIRRestorer
    from swinir_hf.loading import load_model

    restorer = SwinIRRestorer(load_model(model), tile="auto")
    start = time.perf_counter()
    files = collect_inputs([str(inputs)]).files
    out.mkdir(parents=True, exist_ok=True)
    for src, rel in files:
        data = read_image(src)
        write_image(out / f"{rel.stem}.png", restorer(data.pixels), data.icc_profile)
    seconds = time.perf_counter() - start
    print(f"restored {len(files)} in {seconds:.1f} s ({len(files) / seconds:.2f} images/s, 1 process)", file=sys.stderr)


def command(mode: str, inputs: Path, out: Path, model: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one way; "... 1 thread" runs it with OMP_NUM_THREADS=1."""
    env = dict(os.environ)
    if mode.endswith(" 1 thread"):
        mode, env = mode.removesuffix(" 1 thread"), env | {"OMP_NUM_THREADS": "1"}
    args = [str(inputs), "-o", str(out), "--model", model, "--no-progress"]
    if mode == "loop":
        return [sys.executable, __file__, "--loop", str(inputs), str(out), "--model", model], env
    if mode == "pipelined":
        return [sys.executable, "-m", "swinir_hf.restore", *args, "--workers", "2"], env
    if mode == "batched":
        return [sys.executable, "-m", "swinir_hf.restore", *args, "--workers", "2", "--batch-size", "4"], env
    if mode != "2 processes":
        raise ValueError(f"unknown way {mode!r}")
    launcher = str(Path(sys.executable).parent / "accelerate")
    env |= {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "swinir_hf.restore", *args, "--workers", "1"]
    return cmd, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=positive(1), default=100)
    parser.add_argument("--model", default="sr-x4")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--workdir", help="where the photos and outputs go (default: a temporary folder)")
    parser.add_argument("--loop", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:
        return plain_loop(Path(args.loop[0]), Path(args.loop[1]), args.model)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="swinir-collection-"))
    photos = work / "photos"
    if not photos.is_dir():
        if not (SHARED / "testsets").is_dir():
            parser.error(f"no testsets/ in {SHARED} (the photos are cut from them): set SWINIR_SHARED")
        make_photos(photos, args.images)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    rows = []
    for mode in args.modes:
        out = work / f"out-{mode.replace(' ', '-')}"
        shutil.rmtree(out, ignore_errors=True)
        cmd, env = command(mode, photos, out, args.model)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
        rate = float(re.search(r"\(([\d.]+) images/s", done.stderr).group(1))
        written = sum(1 for p in out.iterdir() if p.is_file())
        rows.append((mode, rate, wall, written))
        print(f"{mode}: {rate:.2f} images/s, {wall:.1f} s wall, {written} files", file=sys.stderr)
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    base = rows[0][1]
    print(f"\n{args.images} photos, model {args.model}\n")
    print("| way | images/s (restoring) | vs first | wall s (whole command) | outputs |")
    print("|:--|--:|--:|--:|--:|")
    for mode, rate, wall, written in rows:
        print(f"| {mode} | {rate:.2f} | {rate / base:.2f}× | {wall:.1f} | {written} |")


if __name__ == "__main__":
    main()
