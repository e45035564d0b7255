"""Host memory of an output (not a test): what `swinir-hf restore` holds above its own baseline, per output pixel,
against the float32 canvas `check_output_memory` plans with (3 channels × 4 bytes per output pixel, twice that with
an alpha channel the model upscales).

A tiny 32 × 24 image (RGB, RGBA or 16-bit grey) goes through the bundled `sr-x4` with `--outscale F`, so that the
model's own work is negligible and the output (32F × 24F) is all that grows; every run is a fresh process under an
address-space cap (`--cap-gb`), and the run at `--outscale 4` is the baseline subtracted.

    python benchmarks/output_memory.py --outscales 100 200 300
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 32, 24
KINDS = ("rgb", "rgba", "grey16")


def make_input(kind: str, folder: Path) -> Path:
    """A 32 × 24 random image of `kind` in `folder`."""
    rng = np.random.default_rng(0)
    if kind == "rgb":
        image = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    elif kind == "rgba":
        pixels = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
        pixels[..., 3] = np.linspace(0, 255, W, dtype=np.uint8)[None]  # a gradient: neither opaque nor empty
        image = Image.fromarray(pixels)
    else:
        image = Image.fromarray(rng.integers(0, 65536, (H, W), dtype=np.uint16))
    path = folder / f"{kind}.png"
    image.save(path)
    return path


def peak_rss(source: Path, outscale: float, cap_bytes: int) -> int:
    """Peak RSS in bytes of one `swinir-hf restore SOURCE --outscale F` process (raises on its failure)."""
    with tempfile.TemporaryDirectory() as out:
        code = "import sys; from swinir_hf.cli import main; sys.exit(main(sys.argv[1:]))"
        command = [sys.executable, "-c", code, "restore", str(source), "-o", out, "--no-progress"]
        command += ["--model", "sr-x4", "--outscale", str(outscale), "--tile", "auto"]

        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

        script = (
            "import resource, subprocess, sys; "
            "subprocess.run(sys.argv[1:], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, *command], capture_output=True, text=True, preexec_fn=cap, check=False
        )
        if done.returncode:
            raise RuntimeError(f"--outscale {outscale} failed:\n{done.stderr[-2000:]}")
        return int(done.stdout.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def large_outscale(text: str) -> float:
    """An argparse `type`: an output scale large enough that the output, not the process, sets the peak."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 50:  # below it, the output's memory is lost in the baseline run's (--outscale 4) noise
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 50 (the output must dwarf the baseline run's)")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--outscales", nargs="+", type=large_outscale, default=[100.0, 200.0])
    parser.add_argument("--cap-gb", type=float, default=7.0, help="address-space cap of each run (GB)")
    args = parser.parse_args()
    cap = int(args.cap_gb * 1e9)
    print("| input | --outscale | output | peak above baseline | B / output px | canvases |")
    print("|:--|--:|:--|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds:
            source = make_input(kind, Path(folder))
            baseline = peak_rss(source, 4, cap)
            for outscale in args.outscales:
                ow, oh = int(W * outscale + 0.5), int(H * outscale + 0.5)
                held = peak_rss(source, outscale, cap) - baseline
                canvas = ow * oh * 3 * 4 * (2 if kind == "rgba" else 1)
                print(
                    f"| {kind} | {outscale:g} | {ow}×{oh} | {held / 2**20:.0f} MiB | {held / (ow * oh):.1f} | "
                    f"{held / canvas:.2f} |"
                )


if __name__ == "__main__":
    main()
