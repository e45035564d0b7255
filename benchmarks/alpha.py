"""Alpha-channel upscaling benchmark (not a test): how close an upscaled alpha channel comes to the original, with the
model (`alpha="model"`, the default) and bicubically (`alpha="bicubic"`).

Each HR image of a test set gives three alpha masks: `shapes`, its luma blurred (Gaussian, σ = 8 px) and thresholded
at its median (smooth-edged cutouts, as logos and stickers), `hard`, its luma thresholded at one half (cutouts
with the image's fine detail in their edges), and `soft`, its luma itself (textured transparency). The RGBA image
(the HR colour and the mask) is shrunk by the model's scale with MATLAB's bicubic `imresize`, restored both ways, and
the restored alpha scored against the HR mask (8-bit PSNR over the whole image); the seconds are per image, colour
and alpha together.

Then the colour at transparent edges: the `shapes` cutout is shrunk as an editor does (premultiplied, so no colour
of the hidden photo leaks in) and stored with black under its fully transparent pixels, as many exporters write it.
Restored as it is, the engine fills that placeholder with the nearest visible colour (`fill_hidden_colour`); with
black ± 1 level of noise there instead (the same picture, but not one colour: left as it is) the model blends the
black into the edge. Scored: the result composited over white against the HR cutout over white (8-bit PSNR over
the whole image and within 3 px of the cutout's edge), and the size of the result as a PNG.

    python benchmarks/alpha.py --model sr-x4 --dataset ../shared/testsets/Set14
"""

from __future__ import annotations

import io
import statistics
import time

import hr_testset  # beside this script
import numpy as np
from arguments import loaded_model
from PIL import Image, ImageFilter

MODES = ("model", "bicubic")


def masks(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """(H, W, 3) uint8 → the three uint8 alpha masks of the module docstring."""
    from swinir_hf.models.pixels_swinir import LUMA

    luma = (rgb.astype(np.float32) @ LUMA).round().astype(np.uint8)
    blurred = np.asarray(Image.fromarray(luma).filter(ImageFilter.GaussianBlur(8)))
    return {
        "shapes": np.where(blurred >= np.median(blurred), 255, 0).astype(np.uint8),
        "hard": np.where(luma >= 128, 255, 0).astype(np.uint8),
        "soft": luma,
    }


def over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) → (H, W, 3) float64: the image composited over white."""
    alpha = rgba[..., 3:].astype(np.float64) / 255
    return rgba[..., :3] * alpha + 255 * (1 - alpha)


def _psnr(mean_squared_error: float) -> float:
    return 10 * np.log10(255**2 / mean_squared_error)


def fringe(model, rgb: np.ndarray, cutout: np.ndarray, rng: np.random.Generator) -> dict[str, tuple]:
    """The colour-at-edges scores of the module docstring for one image: {placeholder: (PSNR, edge PSNR, PNG
    bytes)}, `cutout` a 0 / 255 mask."""
    from swinir_hf import restore
    from swinir_hf.degradations.synthetic import imresize

    scale = model.config.upscale
    coverage = cutout.astype(np.float64) / 255
    premultiplied = imresize(rgb * coverage[..., None], 1 / scale)
    alpha = np.clip(imresize(coverage, 1 / scale), 0, 1)
    levels = (alpha * 255).round()
    colour = np.clip(premultiplied / np.maximum(alpha, 1e-6)[..., None], 0, 255).round()
    hidden = (levels == 0)[..., None]
    reference = over_white(np.dstack([rgb, cutout]))
    mask = Image.fromarray(cutout)
    edge = np.asarray(mask.filter(ImageFilter.MaxFilter(7))) != np.asarray(mask.filter(ImageFilter.MinFilter(7)))
    out = {}
    for placeholder, under in (("black", 0), ("black ± 1", rng.integers(0, 2, colour.shape))):
        small = np.dstack([np.where(hidden, under, colour), levels]).astype(np.uint8)
        result = np.asarray(restore(model, small, tile=None, dtype="float32"))
        error = (over_white(result) - reference) ** 2
        png = io.BytesIO()
        Image.fromarray(result).save(png, "PNG")
        out[placeholder] = (_psnr(error.mean()), _psnr(error[edge].mean()), png.tell())
    return out


def main() -> None:
    args = hr_testset.parser(__doc__.split("\n\n")[0], "../shared/testsets/Set14").parse_args()
    files = hr_testset.hr_files(args.dataset)
    from swinir_hf import restore
    from swinir_hf.degradations.synthetic import imresize
    from swinir_hf.evaluation.metrics import psnr as alpha_psnr

    model = loaded_model(args.model)
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

    rng = np.random.default_rng(0)
    edges: dict[str, list[tuple]] = {}
    for path in files:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        rgb = rgb[: rgb.shape[0] // scale * scale, : rgb.shape[1] // scale * scale]
        for placeholder, row in fringe(model, rgb, masks(rgb)["shapes"], rng).items():
            edges.setdefault(placeholder, []).append(row)
    print("\nColour at transparent edges (shapes cutouts): the result over white against the HR cutout over white\n")
    print("| under transparent pixels | PSNR | within 3 px of the edge | PNG KiB (all images) |")
    print("|:--|--:|--:|--:|")
    for placeholder, rows in edges.items():
        psnr_all, psnr_edge, size = zip(*rows, strict=True)
        print(f"| {placeholder} | {np.mean(psnr_all):.2f} | {np.mean(psnr_edge):.2f} | {sum(size) / 1024:.0f} |")


if __name__ == "__main__":
    main()
