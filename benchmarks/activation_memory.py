"""Activation-memory benchmark (not a test): the peak memory of one float32 CPU forward pass against the estimate
that `tile="auto"` plans with and the whole-image check refuses by (`activation_bytes_per_pixel` × pixels +
`fixed_activation_bytes`), for window sizes and image sides.

Each pass runs in a fresh process (OMP_NUM_THREADS=1, random weights; embed_dim 60, one RSTB of two layers, 6 heads,
×2 pixelshuffledirect, or the bundled models): the peak RSS above the process just before it (VmHWM after resetting it
through /proc/self/clear_refs; Linux only), for the first pass (the shift mask built, the attention kernels timed:
the libraries were warmed up by another model) and a second one.

    python benchmarks/activation_memory.py
    python benchmarks/activation_memory.py --windows 8 16 32 --sides 128 256 --models sr-x4 denoise-color
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
ONE_PASS = r"""
import ctypes, json, sys
import torch
from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, load_model

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

spec, side = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
if spec.isdigit():
    ws = int(spec)
    config = SwinIRConfig(embed_dim=60, depths=[2], num_heads=[6], window_size=ws, image_size=2 * ws, upscale=2,
                          upsampler="pixelshuffledirect")
    model = SwinIRForImageRestoration(config).eval()
else:
    model = load_model(spec).float()
# The libraries' own first-call allocations, by another model (whose attention kernels are timed at other shapes).
warm_up = SwinIRConfig(embed_dim=16, depths=[2], num_heads=[2], window_size=4, image_size=8, upscale=1)
with torch.no_grad():
    SwinIRForImageRestoration(warm_up).eval()(torch.rand(1, 3, 8, 8))
x, cpu, peaks = torch.rand(1, 3, side, side), torch.device("cpu"), []
for _ in range(2):
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with torch.no_grad():
        model(x)
    peaks.append(status("VmHWM") - before)
fixed, per_pixel = model.fixed_activation_bytes(cpu), model.activation_bytes_per_pixel(cpu)
print(json.dumps({"peaks": peaks, "estimate": fixed + per_pixel * side * side, "fixed": fixed}))
"""


def measure(spec: str, side: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", ONE_PASS, spec, str(side)], capture_output=True, text=True, env=env)
    if run.returncode:
        return {"error": (run.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(run.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="activation_memory.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=positive(2), nargs="*", default=[8, 16, 32], help="window sizes")
    parser.add_argument("--models", nargs="*", default=["sr-x4", "denoise-color"], help="bundled models too")
    parser.add_argument("--sides", type=positive(8), nargs="+", default=[128, 256], help="input sides (pixels)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/clear_refs").exists():
        sys.exit("error: this benchmark reads peak memory from Linux's /proc")
    mb = 1 << 20
    print("| model | input | estimate MB (fixed) | first pass MB | second pass MB | first / estimate |")
    print("|---|---|--:|--:|--:|--:|")
    for spec in [*map(str, args.windows), *args.models]:
        name = f"window {spec}" if spec.isdigit() else spec
        for side in args.sides:
            got = measure(spec, side)
            if "error" in got:
                print(f"| {name} | {side}² | – | {got['error']} | | |")
                continue
            (first, second), estimate = got["peaks"], got["estimate"]
            print(
                f"| {name} | {side}² | {estimate / mb:.0f} ({got['fixed'] / mb:.0f}) | {first / mb:.0f} | "
                f"{second / mb:.0f} | {first / estimate:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
