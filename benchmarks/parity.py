"""Parity with the authors' code (not a test): how far each reference output of `../shared/fixtures/official_parity`
is from this implementation's, per CPU attention kernel, in float32 and in float64.

Each fixture is an authors'-format checkpoint of a tiny untrained model with its reference outputs (an odd-sized
input, and a batch). The float64 row runs the same converted weights in double precision: its distance is the
reference's own float32 rounding, a floor no float32 implementation can be expected to beat.

    python benchmarks/parity.py --fixtures ../shared/fixtures/official_parity
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def distances(fixtures: Path, dtype: str) -> list[tuple[float, str, float]]:
    """(max |ours - reference|, "case/input", max |reference|) for every reference output, in `dtype`."""
    import torch
    from safetensors.torch import load_file

    from swinir_hf import convert_original_checkpoint

    rows = []
    for case in sorted(json.loads((fixtures / "INDEX.json").read_text())):
        model = convert_original_checkpoint(fixtures / f"{case}.pth").to(getattr(torch, dtype))
        data = load_file(fixtures / f"{case}.safetensors")
        for name in ("odd", "batch"):
            x, ref = data[f"input_{name}"], data[f"output_{name}"].double()
            with torch.no_grad():
                out = model(x.to(model.dtype)).reconstruction.double()
            rows.append(((out - ref).abs().max().item(), f"{case}/{name}", ref.abs().max().item()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures/official_parity"))
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    if not (args.fixtures / "INDEX.json").is_file():
        parser.error(f"{args.fixtures} holds no INDEX.json: pass the official_parity fixture folder")
    runs = [("matmul", "float32"), ("sdpa", "float32"), ("matmul", "float64")]
    print(f"{'kernel':8} {'dtype':8} {'worst':>9}  {'where':28} {'|ref| max':>9}  over {args.tolerance:g}")
    for kernel, dtype in runs:
        os.environ["SWINIR_CPU_ATTENTION"] = kernel  # read per forward pass
        rows = sorted(distances(args.fixtures, dtype), reverse=True)
        worst, where, magnitude = rows[0]
        over = sum(d > args.tolerance for d, _, _ in rows)
        print(f"{kernel:8} {dtype:8} {worst:9.3g}  {where:28} {magnitude:9.2f}  {over} of {len(rows)}")


if __name__ == "__main__":
    main()
