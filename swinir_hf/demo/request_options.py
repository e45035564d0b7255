"""Options of a restoration request checked and read here: the tile size (`parse_tile`) and the download's format,
the Format control's choice, written as `swinir-hf restore --ext` writes it (its suffix rule, `inference.jobs`; its
encoders, quality and alpha / 16-bit handling, `inference.image_writing`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..inference.jobs import DEFAULT_QUALITY, OutputOptions, check_encodable, output_suffix, writes_lossless
from ..inference.options import tile_option
from .errors import user_error
from .limits import MIN_TILE
from .uploads import is_float

# (label, value) pairs; the values are `--ext`'s. PNG, the default, keeps a float TIFF's pixels as a float TIFF.
FORMAT_CHOICES = [
    ("PNG (lossless)", "png"),
    (f"JPEG (quality {DEFAULT_QUALITY})", "jpg"),
    (f"WebP (quality {DEFAULT_QUALITY})", "webp"),
    ("Same as the input", "auto"),
]
FORMATS = tuple(value for _, value in FORMAT_CHOICES)
FORMAT_INFO = (
    "PNG keeps every bit and the transparency; JPEG and WebP are several times smaller (8-bit; JPEG drops "
    "transparency). Same as the input: PNG, JPEG, WebP and TIFF are kept, other formats give PNG"
)
# The result line's note where JPEG dropped a (not opaque) alpha channel, as `swinir-hf restore` warns.
ALPHA_DROPPED_NOTE = "⚠ JPEG has no transparency: the alpha channel was dropped (PNG and WebP keep it)"


def download_suffix(upload: str, pixels: Image.Image | np.ndarray, fmt: str) -> str:
    """The download's suffix for the `upload` restored to `pixels` in the format `fmt` (one of `FORMATS`): PNG's is
    .tiff for float pixels (the demo's download before the choice), the others `--ext`'s."""
    if fmt == "png":
        return ".tiff" if is_float(pixels) else ".png"
    return output_suffix(Path(upload), fmt)


def lossless_webp(upload: str, fmt: str) -> bool:
    """Whether the download is a lossless WebP: a lossless WebP upload's as WebP or "Same as the input", as
    `--ext webp` (with no --quality) and `--ext auto` keep it."""
    return fmt != "png" and writes_lossless(Path(upload), OutputOptions(ext=fmt))


def check_format(fmt: str | None, upload: str, size: tuple[int, int]) -> None:
    """Raise a user error for a format that is none of `FORMATS` (API calls; a radio lets None in) or too small for
    the (W, H) result: said before the model runs (WebP holds 16383 pixels a side)."""
    if fmt not in FORMATS:
        raise user_error(f"Unknown format {fmt!r}: send one of {', '.join(map(repr, FORMATS))}.")
    try:
        check_encodable(Path(f"result{output_suffix(Path(upload), fmt)}"), size, 'pick PNG in "Download format"')
    except ValueError as err:
        raise user_error(f"{str(err)[0].upper()}{str(err)[1:]}.") from None


def parse_tile(value: str | int | None) -> int | str | None:
    """Tile control value → `restore`'s `tile`: 'auto', None (whole image: 'none' or 0, as `--tile 0`) or a number of
    pixels ≥ `MIN_TILE`."""
    try:
        tile = tile_option(str(value) if value is not None else "none")
    except ValueError:
        tile = 0  # refused below
    if tile is not None and tile != "auto" and tile < MIN_TILE:
        # In the page's words and the API's: the page shows "Automatic" and "Whole image (no tiles)", not their values.
        raise user_error(
            f"Tile size must be Automatic ('auto'), Whole image ('none') or a whole number of pixels ≥ {MIN_TILE}, "
            f"not {value!r}."
        )
    return tile
