"""The plan of a rerun (not a test): how long `plan_jobs` takes over a folder whose outputs all exist, reading each
output's record of its model (`provenance`) and its size and its input's (`existing_outputs`), against reading the
records alone (the version before) and reading nothing, for each output format.

N inputs get outputs of twice their size in `-o` (128 × 96 unless `--size`), each with a record (as `swinir-hf
restore` writes them); the plan is made `--repeats` times each way, in turn, and the best time kept.

    python benchmarks/rerun_plan.py --files 2000

With `--fingerprints`, how long the fingerprint of a model's weights takes instead (`weights_fingerprint`, once a
run): the bundled sr-x4, and SwinIR-M and SwinIR-L of random weights.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from swinir_hf.inference.existing_outputs import set_aside
from swinir_hf.inference.image_writing import write_image
from swinir_hf.inference.jobs import OutputOptions, Plan, plan_jobs
from swinir_hf.inference.provenance import Provenance, read_provenance

FORMATS = ("png", "jpg", "webp", "tif")
RUN = Provenance("sr-x2", None, 2, "0123456789abcdef")  # this run's record, its model loaded


def make_folder(root: Path, ext: str, files: int, size: tuple[int, int]) -> list[tuple[Path, Path]]:
    """`files` inputs in root/in and their outputs (of format `ext`, `size`, with `RUN`'s record) in root/out →
    (input, relative) pairs."""
    rng = np.random.default_rng(0)
    (root / "in").mkdir()
    (root / "out").mkdir()
    small = rng.integers(0, 256, (size[1] // 2, size[0] // 2, 3), dtype=np.uint8)
    output = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC))  # compresses as photos do
    pairs = []
    for i in range(files):
        src = root / "in" / f"{i:06d}.png"
        Image.fromarray(small).save(src)
        write_image(root / "out" / f"{i:06d}.{ext}", output, made_by=RUN.text())
        pairs.append((src, Path(src.name)))
    return pairs


def plain(pairs: list[tuple[Path, Path]], out: Path, ext: str) -> Plan:
    return plan_jobs(pairs, out, OutputOptions(ext=ext))


def records_only(pairs: list[tuple[Path, Path]], out: Path, ext: str) -> Plan:
    """What the version before read: each output's record, and nothing of its size."""
    plan = plan_jobs(pairs, out, OutputOptions(ext=ext))
    assert all(read_provenance(found.job.dst) == RUN for found in plan.existing)
    return plan


def checked(pairs: list[tuple[Path, Path]], out: Path, ext: str) -> Plan:
    """What `restore` reads and judges now: records and sizes, before and once the model is loaded."""
    plan = plan_jobs(pairs, out, OutputOptions(ext=ext), read_existing=True)
    set_aside(plan, Provenance(RUN.model))
    set_aside(plan, RUN)
    return plan


def best_times(pairs: list[tuple[Path, Path]], out: Path, ext: str, repeats: int) -> list[float]:
    """The fastest of `repeats` plans each way (`plain`, `records_only`, `checked`), in seconds, made in turn; every
    output must be found done."""
    ways: list[Callable[..., Plan]] = [plain, records_only, checked]
    for way in ways:  # the first header read imports Pillow's plugins and the package's image code: not timed
        way(pairs[:1], out, ext)
    times: list[list[float]] = [[] for _ in ways]
    for _ in range(repeats):
        for way, taken in zip(ways, times, strict=True):
            start = time.perf_counter()
            plan = way(pairs, out, ext)
            taken.append(time.perf_counter() - start)
            assert not plan.jobs and not plan.made_otherwise and len(plan.existing) == len(pairs)
    return [min(taken) for taken in times]


def fingerprint_times(repeats: int) -> None:
    """Print the best of `repeats` fingerprints of each model's weights, with its parameters."""
    import torch

    from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, load_model
    from swinir_hf.checkpoints.fingerprint import weights_fingerprint

    torch.manual_seed(0)
    models = {
        "sr-x4 (bundled)": lambda: load_model("sr-x4"),
        "SwinIR-M x4": lambda: SwinIRForImageRestoration(SwinIRConfig.from_preset("classical_sr", scale=4)),
        "SwinIR-L x4": lambda: SwinIRForImageRestoration(SwinIRConfig.from_preset("real_sr_large", scale=4)),
    }
    print("| model | parameters | fingerprint (ms) |")
    print("| :-- | --: | --: |")
    for name, build in models.items():
        model = build()
        taken = []
        for _ in range(repeats):
            start = time.perf_counter()
            weights_fingerprint(model)
            taken.append(time.perf_counter() - start)
        print(f"| {name} | {sum(p.numel() for p in model.parameters()):,} | {1000 * min(taken):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, nargs=2, default=(128, 96), metavar=("W", "H"), help="of each output")
    parser.add_argument("--fingerprints", action="store_true", help="time the weights' fingerprints instead")
    args = parser.parse_args()
    if args.fingerprints:
        fingerprint_times(args.repeats)
        return
    print("| format | files | not read (s) | records (s) | records and sizes (s) | sizes per file (ms) |")
    print("| :-- | --: | --: | --: | --: | --: |")
    for ext in FORMATS:
        with tempfile.TemporaryDirectory() as folder:
            pairs = make_folder(Path(folder), ext, args.files, tuple(args.size))
            none, records, both = best_times(pairs, Path(folder) / "out", ext, args.repeats)
            extra = 1000 * (both - records) / args.files
            print(f"| {ext} | {args.files} | {none:.3f} | {records:.3f} | {both:.3f} | {extra:+.3f} |")


if __name__ == "__main__":
    main()
