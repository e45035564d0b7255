"""JPEG outputs benchmark (not a test): how much of a restoration survives being written as JPEG, with full-resolution
colour (4:4:4, what `write_image` writes) and with halved colour (4:2:0, Pillow's and OpenCV's default).

Each HR image of a test set is shrunk by the model's scale with MATLAB's bicubic `imresize`, restored, rounded to
8 bits (the PNG output), and written as JPEG both ways at one quality. Scored: RGB PSNR (dB) over the whole image
against the HR image and against the PNG output (what writing it lost), and the mean file size.

    python benchmarks/jpeg_output.py --model sr-x4 --dataset ../shared/testsets/Kodak24 --quality 95
"""

from __future__ import annotations

import io
import statistics

import hr_testset  # beside this script
import numpy as np
from arguments import loaded_model
from PIL import Image

SUBSAMPLINGS = {"4:4:4": 0, "4:2:0": 2}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def main() -> None:
    parser = hr_testset.parser(__doc__.split("\n\n")[0], "../shared/testsets/Kodak24")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95, `restore`'s)")
    args = parser.parse_args()
    files = hr_testset.hr_files(args.dataset)
    from swinir_hf import restore
    from swinir_hf.degradations.synthetic import imresize

    model = loaded_model(args.model)
    scale = model.config.upscale
    scores: dict[str, list[float]] = {"PNG": [], **{name: [] for name in SUBSAMPLINGS}}
    kept: dict[str, list[float]] = {name: [] for name in SUBSAMPLINGS}
    sizes: dict[str, list[int]] = {name: [] for name in scores}
    for path in files:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        rgb = rgb[: rgb.shape[0] // scale * scale, : rgb.shape[1] // scale * scale]
        small = np.clip(imresize(rgb, 1 / scale), 0, 255).round().astype(np.uint8)
        out = Image.fromarray(restore(model, small, tile=None, dtype="float32"))
        for name, subsampling in (("PNG", None), *SUBSAMPLINGS.items()):
            buffer = io.BytesIO()
            if subsampling is None:
                out.save(buffer, "PNG")
            else:
                out.save(buffer, "JPEG", quality=args.quality, subsampling=subsampling)
            sizes[name].append(buffer.tell())
            written = np.asarray(Image.open(buffer).convert("RGB"))
            scores[name].append(_psnr(written, rgb))
            if name in kept:
                kept[name].append(_psnr(written, np.asarray(out)))
    print(f"{args.model} (x{scale}) on {len(files)} images of {args.dataset}, JPEG quality {args.quality}\n")
    print("| output | RGB PSNR (dB) vs HR | vs the PNG output | mean size (KiB) |")
    print("|:--|--:|--:|--:|")
    for name in scores:
        own = f"{statistics.mean(kept[name]):.2f}" if name in kept else "-"
        print(f"| {name} | {statistics.mean(scores[name]):.2f} | {own} | {statistics.mean(sizes[name]) / 1024:.0f} |")


if __name__ == "__main__":
    main()
