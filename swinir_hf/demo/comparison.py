"""The result's download and the files the before / after slider shows, written by the demo itself at full
resolution (the slider is for zooming into the detail), cheaply.

The download is a PNG at zlib level 1 (`FAST_PNG_LEVEL`, OpenCV's default, which the authors' scripts write with),
several times faster than Pillow's 6 for a few more bytes; `swinir-hf restore` keeps Pillow's level.

Given PIL images, gradio's `gr.ImageSlider` encodes them as PNG at zlib level 6, many seconds for a large result
(benchmarks/slider.py; figures in benchmarks/README.md). Given paths it sends the files as they are, so the demo
writes them:

- *after*: the download itself where a browser shows it (PNG, the input's depth and transparency, encoded once; or
  the JPEG / WebP asked for: the slider shows what the download holds); else (a TIFF) an 8-bit PNG at zlib level 1,
  several times faster than level 6 for a few more bytes
  (lossless WebP at method 0 is no faster on a photo, and holds no side over 16383 px).
- *before*: the input enlarged with bicubic interpolation, a smooth image with nothing to compare at the last bit:
  JPEG at quality 95 without chroma subsampling, an order of magnitude faster and smaller than PNG. One with
  transparency, or a side past JPEG's 65535 px, is a PNG at level 1.

Both carry the download's ICC profile, so a colour-managed browser shows both sides in the same colours.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..inference.image_io import ImageData
from ..inference.image_writing import write_image
from ..inference.jobs import JPEG_SUFFIXES
from ..inference.photo_metadata import scaled_dpi
from .request_options import download_suffix, lossless_webp
from .uploads import preview, safe_stem, size_of

BEFORE_QUALITY = 95
# zlib level of the download and the slider's PNGs (Pillow's default, 6, is several times slower for few fewer bytes).
FAST_PNG_LEVEL = 1
JPEG_MAX_SIDE = 65535
# Download formats a browser's <img> shows (a TIFF: none does).
SHOWN_SUFFIXES = (".png", *JPEG_SUFFIXES, ".webp")


def write_output(
    output_path: Callable[[str], Path],
    upload: str,
    tag: str,
    pixels: Image.Image | np.ndarray,
    data: ImageData,
    factor: float | tuple[float, float],
    fmt: str = "png",
    alpha_dropped: Callable[[Path], None] | None = None,
) -> Path:
    """Write `pixels`, the `upload` (decoded: `data`) restored or resized `factor` × (or (x, y) factors), as
    `<upload name>_<tag>.png` (.tiff for float pixels; the format `fmt` of `formats.FORMATS`, its suffix) where
    `output_path` puts that name, with the upload's colour profile, EXIF and print size, PNGs at `FAST_PNG_LEVEL`
    → its path: the download, or a shrunk upload. `alpha_dropped`: as `write_image`'s (JPEG)."""
    out = output_path(f"{safe_stem(upload)}_{tag}{download_suffix(upload, pixels, fmt)}")
    dpi = scaled_dpi(data.dpi, factor)
    lossless = lossless_webp(upload, fmt)
    write_image(
        out,
        pixels,
        data.icc_profile,
        exif=data.exif,
        dpi=dpi,
        compress_level=FAST_PNG_LEVEL,
        lossless=lossless,
        alpha_dropped=alpha_dropped,
    )
    return out


def comparison_files(
    download: Path, result: Image.Image | np.ndarray, upload: Image.Image | np.ndarray, icc_profile: bytes | None
) -> tuple[Path, Path]:
    """(before, after) files for the slider, beside `download` (the written `result`): the `upload`'s pixels enlarged
    to the result's size, and the result as the browser shows it."""
    size = size_of(result)
    before = preview(upload)
    if before.size != size:
        before = before.resize(size, Image.Resampling.BICUBIC)
    lossy = before.mode in ("L", "RGB") and max(size) <= JPEG_MAX_SIDE
    before_path = download.with_name(f"{download.stem}_before{'.jpg' if lossy else '.png'}")
    write_image(before_path, before, icc_profile, quality=BEFORE_QUALITY, compress_level=FAST_PNG_LEVEL)
    if download.suffix.lower() in SHOWN_SUFFIXES:
        return before_path, download
    after_path = download.with_name(f"{download.stem}_after.png")
    write_image(after_path, preview(result), icc_profile, compress_level=FAST_PNG_LEVEL)
    return before_path, after_path
