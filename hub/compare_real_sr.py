"""Side-by-side crops of real photos upscaled ×4 three ways, for docs/evaluation.md: bicubic, the bundled `sr-x4`
(trained on bicubic downscaling) and the bundled `real-sr-x4` (trained on the BSRGAN-style degradation). Real photos
have no ground truth, so this is the comparison to look at; `swinir-hf eval --real` gives the numbers.

    python hub/compare_real_sr.py --shared ../shared --out docs/images/real_sr

Writes one JPEG per image (the three panels left to right, a 2-pixel white gap between them) and prints the Markdown
that shows them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from swinir_hf import restore
from swinir_hf.degradations.synthetic import imresize
from swinir_hf.loading import load_default

IMAGES = ("Lincoln.png", "oldphoto2.png", "chip.png", "comic1.png")
CROP = 96  # LR pixels: 384² per panel
GAP = 2


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    """The central `size`² region (the whole image where it is smaller)."""
    w, h = image.size
    left, top = max(0, (w - size) // 2), max(0, (h - size) // 2)
    return image.crop((left, top, min(w, left + size), min(h, top + size)))


def panels(lr: Image.Image, models: list) -> Image.Image:
    """Bicubic ×4 of `lr`, then each model's output, side by side."""
    outputs = [Image.fromarray(imresize(np.asarray(lr), 4))]
    # float32 everywhere: `dtype="auto"` is bfloat16 on CPUs that have it, and the committed panels would change.
    outputs += [restore(model, lr, dtype="float32") for model in models]
    w, h = outputs[0].size
    canvas = Image.new("RGB", (len(outputs) * w + (len(outputs) - 1) * GAP, h), "white")
    for i, out in enumerate(outputs):
        canvas.paste(out, (i * (w + GAP), 0))
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding testsets/")
    parser.add_argument("--out", type=Path, default=Path("docs/images/real_sr"), help="output folder")
    parser.add_argument("--quality", type=int, default=88, help="JPEG quality of the written figures")
    args = parser.parse_args(argv)

    source = args.shared / "testsets" / "RealSRSet+5images" / "LR"
    missing = [name for name in IMAGES if not (source / name).is_file()]
    if missing:
        print(f"error: {', '.join(missing)} not in {source}", file=sys.stderr)
        return 1
    models = [load_default("sr-x4"), load_default("real-sr-x4")]
    args.out.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        with Image.open(source / name) as image:
            lr = centre_crop(image.convert("RGB"), CROP)
        target = args.out / f"{Path(name).stem}.jpg"
        panels(lr, models).save(target, quality=args.quality)
        print(f"![{Path(name).stem}: bicubic, sr-x4, real-sr-x4]({target.as_posix().removeprefix('docs/')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
