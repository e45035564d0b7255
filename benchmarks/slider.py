"""The demo's before / after slider benchmark (not a test): seconds and bytes to prepare the slider's two images for
one result, as the demo did (PIL images, which gradio's `gr.ImageSlider` encodes as PNG) and as it does
(`swinir_hf.demo.comparison`: the download as the after, the before a 4:4:4 JPEG), both up to the files in gradio's
cache. The download itself (a PNG at the demo's `FAST_PNG_LEVEL`), written either way, is not counted; `--encoders`
times it at zlib levels 6 (Pillow's default), 3 and 1.

The input is a photo resized to `--megapixels`; the "result" stands in for the model's output (the input enlarged
`--scale` × with Lanczos, then sharpened): encoders' time depends on the content, not on who made it.

    python benchmarks/slider.py --megapixels 1 --scale 4
    python benchmarks/slider.py --encoders   # each candidate encoding of the before and the after, once
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageFilter

DEFAULT_IMAGE = Path(__file__).resolve().parents[1] / "../shared/testsets/Kodak24/HR/kodim01.png"


def old_way(result: Image.Image, upload: Image.Image, cache: str) -> list[str]:
    """main's `_restore` up to gradio's cache: 8-bit previews, gradio's PNG encoding, its copy into the cache."""
    from gradio import processing_utils

    from swinir_hf.demo.uploads import preview

    after = preview(result)
    before = preview(upload).resize(after.size, Image.Resampling.BICUBIC)
    saved = [processing_utils.save_pil_to_cache(image, cache, format="png") for image in (before, after)]
    return [processing_utils.save_file_to_cache(path, cache) for path in saved]


def new_way(download: Path, result: Image.Image, upload: Image.Image, cache: str) -> list[str]:
    """The demo's files (`comparison_files`), copied into gradio's cache as it does with any returned path."""
    from gradio import processing_utils

    from swinir_hf.demo.comparison import comparison_files

    files = comparison_files(download, result, upload, None)
    return [processing_utils.save_file_to_cache(path, cache) for path in files]


ENCODINGS = {
    "PNG, zlib level 6 (Pillow's and gradio's default)": {"format": "PNG"},
    "PNG, level 3": {"format": "PNG", "compress_level": 3},
    "PNG, level 1 (OpenCV's default; the demo's)": {"format": "PNG", "compress_level": 1},
    "WebP lossless, method 0": {"format": "WEBP", "lossless": True, "method": 0, "quality": 0},
    "JPEG quality 95, 4:4:4": {"format": "JPEG", "quality": 95, "subsampling": 0},
    "JPEG quality 90, 4:4:4": {"format": "JPEG", "quality": 90, "subsampling": 0},
}


def encoders(before: Image.Image, after: Image.Image) -> None:
    """Seconds and MB of each of `ENCODINGS` on the before and the after (JPEG: the before only, the after being
    the lossless download), and the PNG levels on the after as a 16-bit download (`write_image`'s pypng path)."""
    import numpy as np

    from swinir_hf.inference.image_writing import write_image

    deep = np.asarray(after, dtype=np.uint16) * 257
    print("| encoding | before: seconds, MB | after: seconds, MB | after, 16-bit: seconds, MB |\n|:--|--:|--:|--:|")
    for name, options in ENCODINGS.items():
        cells = []
        for image in (before, after) if options["format"] != "JPEG" else (before,):
            buffer = io.BytesIO()
            start = time.perf_counter()
            image.save(buffer, **options)
            cells.append(f"{time.perf_counter() - start:.2f}, {buffer.tell() / 1e6:.1f}")
        if options["format"] == "PNG":
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                write_image(Path(folder) / "deep.png", deep, compress_level=options.get("compress_level"))
                cells.append(
                    f"{time.perf_counter() - start:.2f}, {(Path(folder) / 'deep.png').stat().st_size / 1e6:.1f}"
                )
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="the photo (default: Kodak24's kodim01)")
    parser.add_argument("--megapixels", type=float, default=1.0, help="input size (default 1 MP)")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way (the median is shown)")
    parser.add_argument("--encoders", action="store_true", help="time each candidate encoding instead")
    args = parser.parse_args()
    import gradio.processing_utils  # noqa: F401 (imported before the clock starts: it takes seconds)

    from swinir_hf.demo.comparison import FAST_PNG_LEVEL
    from swinir_hf.inference.image_writing import write_image

    photo = Image.open(args.image).convert("RGB")
    factor = (args.megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    upload = photo.resize((round(photo.width * factor), round(photo.height * factor)), Image.Resampling.LANCZOS)
    big = (upload.width * args.scale, upload.height * args.scale)
    result = upload.resize(big, Image.Resampling.LANCZOS).filter(ImageFilter.UnsharpMask(2, 80, 2))
    print(f"input {upload.width}×{upload.height}, output {big[0]}×{big[1]} ({big[0] * big[1] / 1e6:.1f} MP)")
    if args.encoders:
        return encoders(upload.resize(big, Image.Resampling.BICUBIC), result)
    print("| way | seconds (median) | before MB | after MB | sent to the browser MB |")
    print("|:--|--:|--:|--:|--:|")
    for way in ("old", "new"):
        times, sizes = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as folder:
                download = Path(folder) / "result" / f"photo_x{args.scale}.png"
                download.parent.mkdir()
                write_image(download, result, compress_level=FAST_PNG_LEVEL)  # as the demo writes it, either way
                start = time.perf_counter()
                files = old_way(result, upload, folder) if way == "old" else new_way(download, result, upload, folder)
                times.append(time.perf_counter() - start)
                sizes = [Path(f).stat().st_size / 1e6 for f in files]
        row = f"| {way} | {statistics.median(times):.2f} | {sizes[0]:.1f} | {sizes[1]:.1f} | {sum(sizes):.1f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
