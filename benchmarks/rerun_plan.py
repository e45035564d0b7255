"""The plan of a rerun (not a test): how long `plan_jobs` takes over a folder whose outputs all exist, reading each
output's record of its model (`provenance`) against not reading it, for each output format.

N inputs of 64 × 48 pixels get outputs of 128 × 96 in `-o`, each with a record (as `swinir-hf restore` writes them);
the plan is made `--repeats` times each way, alternating, and the best time kept.

    python benchmarks/rerun_plan.py --files 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from swinir_hf.inference.image_writing import write_image
from swinir_hf.inference.jobs import OutputOptions, plan_jobs
from swinir_hf.inference.provenance import Provenance

FORMATS = ("png", "jpg", "webp", "tif")


def make_folder(root: Path, ext: str, files: int, record: Provenance) -> list[tuple[Path, Path]]:
    """`files` inputs in root/in and their outputs (of format `ext`, with `record`) in root/out → (input, relative)."""
    rng = np.random.default_rng(0)
    (root / "in").mkdir()
    (root / "out").mkdir()
    output = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    pairs = []
    for i in range(files):
        src = root / "in" / f"{i:06d}.png"
        Image.fromarray(output[::2, ::2]).save(src)
        write_image(root / "out" / f"{i:06d}.{ext}", output, made_by=record.text())
        pairs.append((src, Path(src.name)))
    return pairs


def best_plan_time(
    pairs: list[tuple[Path, Path]], out: Path, ext: str, made_by: Provenance | None, repeats: int
) -> float:
    """The fastest of `repeats` plans, in seconds; every output must be found done."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        plan = plan_jobs(pairs, out, OutputOptions(ext=ext), made_by)
        times.append(time.perf_counter() - start)
        assert not plan.jobs and not plan.made_otherwise and len(plan.existing) == len(pairs)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    record = Provenance("sr-x2", None, 2)
    print("| format | files | plan, records read (s) | plan, not read (s) | per file (ms) |")
    print("| :-- | --: | --: | --: | --: |")
    for ext in FORMATS:
        with tempfile.TemporaryDirectory() as folder:
            pairs = make_folder(Path(folder), ext, args.files, record)
            out = Path(folder) / "out"
            read = best_plan_time(pairs, out, ext, record, args.repeats)
            plain = best_plan_time(pairs, out, ext, None, args.repeats)
            extra = 1000 * (read - plain) / args.files
            print(f"| {ext} | {args.files} | {read:.3f} | {plain:.3f} | {extra:+.3f} |")


if __name__ == "__main__":
    main()
