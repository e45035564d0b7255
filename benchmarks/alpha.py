"""Alpha-channel upscaling benchmark (not a test): how close an upscaled alpha channel comes to the original, with the
model (`alpha="model"`, the default) and bicubically (`alpha="bicubic"`).

Each HR image of a test set gives three alpha masks: `shapes`, its luma blurred (Gaussian, σ = 8 px) and thresholded
at its median (smooth-edged cutouts, as logos and stickers), `hard`, its luma thresholded at one half (cutouts
with the image's fine detail in their edges), and `soft`, its luma itself (textured transparency). The RGBA image
(the HR colour and the mask) is shrunk by the model's scale with MATLAB's bicubic `imresize`, restored both ways, and
the restored alpha scored against the HR mask (8-bit PSNR over the whole image); the seconds are per image, colour
and alpha together.

    python benchmarks/alpha.py --model sr-x4 --dataset ../shared/testsets/Set14
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from swinir_hf import restore
from swinir_hf.evaluation.degradations import imresize
from swinir_hf.evaluation.metrics import psnr as alpha_psnr
from swinir_hf.loading import load_model
from swinir_hf.models.image_processing_swinir import LUMA

MODES = ("model", "bicubic")


def masks(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """(H, W, 3) uint8 → the three uint8 alpha masks of the module docstring."""
    luma = (rgb.astype(np.float32) @ LUMA).round().astype(np.uint8)
    blurred = np.asarray(Image.fromarray(luma).filter(ImageFilter.GaussianBlur(8)))
    return {
        "shapes": np.where(blurred >= np.median(blurred), 255, 0).astype(np.uint8),
        "hard": np.where(luma >= 128, 255, 0).astype(np.uint8),
        "soft": luma,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sr-x4", help="what `load_model` takes (default sr-x4)")
    parser.add_argument("--dataset", default="../shared/testsets/Set14", help="a test set folder with HR/ images")
    args = parser.parse_args()

    files = sorted((Path(args.dataset) / "HR").glob("*.png"))
    if not files:
        raise SystemExit(f"error: no HR/*.png in {args.dataset}")
    model = load_model(args.model)
    scale = model.config.upscale
    scores: dict[tuple[str, str], list[float]] = {}
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    for path in files:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        h, w = rgb.shape[0] // scale * scale, rgb.shape[1] // scale * scale
        rgb = rgb[:h, :w]
        for kind, mask in masks(rgb).items():
            small = imresize(np.dstack([rgb, mask]), 1 / scale)
            for mode in MODES:
                start = time.perf_counter()
                out = np.asarray(restore(model, small, alpha=mode, tile=None, dtype="float32"))
                seconds[mode].append(time.perf_counter() - start)
                scores.setdefault((kind, mode), []).append(alpha_psnr(out[..., 3], mask))
    print(f"{args.model} (x{scale}) on {len(files)} images of {args.dataset}: alpha PSNR (dB) against the HR mask\n")
    print("| mask | " + " | ".join(f"alpha={m}" for m in MODES) + " |")
    print("|:--|" + "--:|" * len(MODES))
    for kind in ("shapes", "hard", "soft"):
        print(f"| {kind} | " + " | ".join(f"{statistics.mean(scores[kind, m]):.2f}" for m in MODES) + " |")
    print("| s / image | " + " | ".join(f"{statistics.mean(seconds[m]):.2f}" for m in MODES) + " |")


if __name__ == "__main__":
    main()
