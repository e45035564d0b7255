"""The uploaded image: its header checked before decoding, its pixels, the facts the controls need (size, colour,
JPEG quality), previews for the browser, and shrinking to the size limit.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..console import shown_name
from ..inference.deep_decoders import cmyk_tiff_bits
from ..inference.image_io import ImageData, image_size, open_image, pixel_range_problem, read_image, unrestorable
from ..inference.reader_logs import named_as
from ..models.frames_swinir import frame_count, frames_said
from ..models.pixels_swinir import float_to_image, image_to_float
from .errors import user_error
from .limits import UPLOAD_MAX_AGE_S

PREVIEW_SIDE = 512
FACTS_KEPT = 64  # uploads whose facts `UploadFacts` keeps (a few dozen bytes each)
NAME_BYTES = 100  # of a download's stem: with its tag and suffix well within the 255 bytes file systems take
# IJG's standard luminance quantisation table (quality 50), scaled per quality as libjpeg does.
IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29]
    + [51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103]
    + [121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
)


def jpeg_quality(path: str | os.PathLike) -> int | None:
    """Estimated IJG quality (1-100) of a JPEG file from its luminance table; None for other files."""
    try:
        with open_image(path, report=False) as image:  # damaged EXIF: the decode says so, naming the file
            tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if not tables:
        return None
    luma = np.sort(np.asarray(tables[min(tables)]))
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 // qualities, 200 - 2 * qualities)
    candidates = np.clip((IJG_LUMA[None] * scales[:, None] + 50) // 100, 1, 255)
    error = np.abs(np.sort(candidates, axis=1) - luma[None]).sum(axis=1)
    return int(qualities[np.argmin(error)])


def safe_stem(path: str | os.PathLike) -> str:
    """The upload's file name without its suffix, made safe for a download's name: runs of anything but letters
    (any script), digits, '_' and '-' become '_', none at either end, at most `NAME_BYTES` bytes; 'image' if
    nothing is left."""
    stem = re.sub(r"[^\w-]+", "_", Path(path).stem).strip("_-")
    stem = stem.encode()[:NAME_BYTES].decode(errors="ignore").rstrip("_-")
    return stem or "image"


def preview(pixels: Image.Image | np.ndarray) -> Image.Image:
    """Any image (PIL, or (H, W, C) uint16 array) → 8-bit L / LA / RGB / RGBA PIL image for the browser."""
    arr, alpha = image_to_float(pixels)
    if alpha is not None:
        arr = np.concatenate([arr, alpha[..., None]], axis=-1)
    return float_to_image(arr)


def thumbnail(pixels: Image.Image | np.ndarray, side: int = PREVIEW_SIDE) -> Image.Image:
    """A small 8-bit view of an image (the input preview only needs to show what was uploaded)."""
    image = preview(pixels)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def size_of(pixels: Image.Image | np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels."""
    return pixels.size if isinstance(pixels, Image.Image) else (pixels.shape[1], pixels.shape[0])


def colour_channels(pixels: Image.Image | np.ndarray) -> int:
    """1 for grey images (with or without alpha), else 3."""
    if isinstance(pixels, np.ndarray):
        return 1 if pixels.ndim == 2 or pixels.shape[-1] in (1, 2) else 3
    return 1 if pixels.mode in ("1", "L", "LA", "La", "I", "F") or pixels.mode.startswith("I;16") else 3


def describe(pixels: Image.Image | np.ndarray, path: str | os.PathLike | None = None) -> str:
    """'W×H, kind' of an image, e.g. '480×320 RGBA 8-bit' ('palette+alpha 8-bit' for a palette with a transparent
    entry, restored as RGBA). With the `path` the pixels were read from, a CMYK TIFF of
    16 bits, which Pillow reads at 8, says so: 'CMYK 16-bit (read at 8 bits)' (it said 'CMYK 8-bit')."""
    w, h = size_of(pixels)
    if isinstance(pixels, np.ndarray):
        colour = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}[1 if pixels.ndim == 2 else pixels.shape[-1]]
        kind = f"{colour} {'32-bit float' if pixels.dtype.kind == 'f' else f'{pixels.dtype.itemsize * 8}-bit'}"
    else:
        kind = {
            "L": "grey 8-bit",
            "LA": "grey+alpha 8-bit",
            "RGB": "RGB 8-bit",
            "RGBA": "RGBA 8-bit",
            "La": "grey+alpha 8-bit (premultiplied)",
            "RGBa": "RGBA 8-bit (premultiplied)",
            "F": "grey 32-bit float",
            "I": "grey 32-bit",
            "1": "black and white 1-bit",
            "P": "palette 8-bit",
            "PA": "palette+alpha 8-bit",
            "CMYK": "CMYK 8-bit",
            "YCbCr": "YCbCr 8-bit",
        }.get(pixels.mode, "grey 16-bit" if pixels.mode.startswith("I;16") else pixels.mode)
        if pixels.mode == "P" and "transparency" in pixels.info:
            kind = "palette+alpha 8-bit"  # a transparent palette entry (GIF, PNG tRNS): restored as RGBA
        if path is not None and pixels.mode == "CMYK" and (bits := _stored_cmyk_bits(path)) > 8:
            kind = f"CMYK {bits}-bit (read at 8 bits)"
    return f"{w}×{h} {kind}"


def _stored_cmyk_bits(path: str | os.PathLike) -> int:
    with open_image(path, report=False) as image:
        return cmyk_tiff_bits(image)


def frames_note(path: str | os.PathLike) -> str:
    """' · animated (N frames): only the first is restored' for an animated file (GIF, APNG, WebP, multi-page
    TIFF), else '': the restoration reads one frame, and the user should know the rest are not in the result."""
    try:
        with Image.open(path) as image:
            frames = frame_count(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return ""
    return f" · animated ({frames_said(frames)}): only the first is restored" if frames > 1 else ""


def _bomb_message(name: str) -> str:
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; it refuses (DecompressionBombError) above.
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"{name} has too many pixels to open safely (Pillow's decompression-bomb limit is {limit:,} pixels): "
        "shrink it before uploading."
    )


def open_header(path: str) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels.

    Raises:
        gr.Error: not an image, or more pixels than Pillow will decode (a decompression bomb).
    """
    name = Path(path).name
    try:
        return image_size(path)
    except Image.DecompressionBombError:
        raise user_error(_bomb_message(name)) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise undecodable(path, err) from None


def decode(path: str) -> ImageData:
    """The file's pixels and ICC profile (`read_image`), or a plain gr.Error; float pixels must be a [0, 1] image,
    32-bit integer ones 16-bit levels. Its warnings (an animated file's frames) name the upload as the page does, not
    by the server's temporary path."""
    try:
        with named_as(path, shown_name(Path(path).name)):
            data = read_image(path)
    except ValueError as err:
        if isinstance(err.__cause__, Image.DecompressionBombError):
            raise user_error(_bomb_message(Path(path).name)) from None
        raise undecodable(path, err) from None
    if reason := pixel_range_problem(data.pixels):
        raise user_error(f"{Path(path).name} is {unrestorable(data.pixels, reason)}.")
    return data


def unreadable(path: str):
    """The gr.Error for a file that cannot be read: not an image, or an upload gradio has since deleted (a page
    left open for longer than `UPLOAD_MAX_AGE_S`)."""
    name = Path(path).name
    if not Path(path).exists():
        kept = f"uploads are kept for {UPLOAD_MAX_AGE_S // 60} minutes"
        return user_error(f"{name} is no longer on the server ({kept}): upload it again.")
    return user_error(f"{name} is not an image this demo can read (PNG, JPEG, TIFF, WebP, HEIC, BMP…).")


def undecodable(path: str, err: Exception):
    """The gr.Error for an upload that `open_header` or `read_image` could not read (`err`): not an image
    (`unreadable`), or one whose format was recognised but whose data could not be decoded, cut short (a partial
    download) or damaged, said with the decoder's reason, without the server's path. "Not an image this demo can read
    (PNG, JPEG, …)" told the owner of a truncated JPEG that JPEGs are not read."""
    name = Path(path).name
    unknown = (UnidentifiedImageError, SyntaxError)  # no decoder knows the file (`read_image`'s error wraps it)
    if not Path(path).exists() or isinstance(err, unknown) or isinstance(err.__cause__, unknown):
        return unreadable(path)
    reason = str(err).removeprefix(f"{shown_name(path)}: ")  # `read_image`'s way of naming it
    if found := re.fullmatch(r"not a readable [^(]*\((.*)\)", reason, re.DOTALL):
        reason = found[1]  # `read_image`'s "not a readable image (why)"
    elif not isinstance(err, OSError):
        return user_error(f"{name}: {reason}.")  # ours, saying what to do (a package to install)
    return user_error(f"{name} could not be decoded ({reason}): it may be damaged or incomplete.")


# PIL modes PNG cannot hold → the one the shrunk upload is stored in.
_PNG_MODE = {"CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "RGBa": "RGBA", "La": "LA"}


def shrink(pixels: Image.Image | np.ndarray, max_pixels: int) -> Image.Image | np.ndarray:
    """The image scaled down (same kind, mode and bit depth; for a mode PNG cannot hold, RGB, or RGBA / LA for
    premultiplied alpha) to at most `max_pixels`."""
    if isinstance(pixels, Image.Image) and pixels.mode in _PNG_MODE:
        # A CMYK JPEG without a profile stays CMYK when read, a premultiplied-alpha HEIF is RGBa; the shrunk file is
        # a PNG, and restoring converts them too.
        pixels = pixels.convert(_PNG_MODE[pixels.mode])
    w, h = size_of(pixels)
    factor = math.sqrt(max_pixels / (w * h))
    size = (max(1, int(w * factor)), max(1, int(h * factor)))
    if isinstance(pixels, Image.Image):
        return pixels.resize(size, Image.Resampling.LANCZOS)
    x = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1)[None]
    y = torch.nn.functional.interpolate(x, size=size[::-1], mode="bicubic", antialias=True, align_corners=False)
    y = y[0].permute(1, 2, 0)
    if pixels.dtype.kind == "f":
        return y.clamp(0.0, 1.0).numpy()
    return y.round().clamp(0, 65535).numpy().astype(np.uint16)


def is_float(pixels: Image.Image | np.ndarray) -> bool:
    """Whether an image holds 32-bit float or integer pixels (TIFF keeps them; PNG cannot)."""
    if isinstance(pixels, np.ndarray):
        return pixels.dtype.kind == "f"
    return pixels.mode in ("F", "I")


class UploadFacts:
    """The facts the control callbacks need of the last uploads (size, colour, JPEG quality, or why it cannot be
    used), by path and file stamp: each change of a control asks for them, and decoding the upload again is slow
    for a large or 16-bit file and logs an animated file's warning once more."""

    def __init__(self, kept: int = FACTS_KEPT) -> None:
        self._facts: OrderedDict[tuple[str, int, int], dict] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()  # the control callbacks run outside the queue, on gradio's threads

    @staticmethod
    def key(path: str | os.PathLike) -> tuple[str, int, int] | None:
        """(path, modification time, size) of the file; None when it is gone (gradio deleted it: not kept)."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return str(path), stat.st_mtime_ns, stat.st_size

    def get(self, key: tuple[str, int, int]) -> dict | None:
        with self._lock:
            if key not in self._facts:
                return None
            self._facts.move_to_end(key)
            return dict(self._facts[key])

    def put(self, key: tuple[str, int, int], facts: dict) -> None:
        with self._lock:
            self._facts[key] = {k: v for k, v in facts.items() if k != "pixels"}  # not the image itself
            self._facts.move_to_end(key)
            while len(self._facts) > self._kept:
                self._facts.popitem(last=False)
