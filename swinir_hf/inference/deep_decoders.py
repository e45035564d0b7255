"""Decoders for the levels Pillow loses: 16-bit colour PNG (`pypng`) and TIFF (`tifffile`), 10- / 12-bit HEIC / HEIF
(`pillow_heif`, levels scaled to 0..65535), colour PPM of more than 8 bits (white at 65535), 16-bit SGI (grey or
colour), grey + alpha HEIFs that libheif hands over as RGBA, and the tifffile helpers `image_io` shares for the
TIFFs Pillow cannot open.
"""

from __future__ import annotations

import contextlib
import logging
import re
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..models.pil_images_swinir import colour_bit_depth, sgi_bit_depth
from ..models.pixels_swinir import equal_colour_channels
from .photo_metadata import upright

# EXIF orientation → the numpy operation that makes the image upright (as `ImageOps.exif_transpose`).
ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def cmyk_tiff_bits(image: Image.Image) -> int:
    """Bits per channel stored in an opened CMYK TIFF (print workflows: 8 or 16), which Pillow reads at 8 bits; 8
    for any other image."""
    bits = image.tag_v2.get(258, 8) if image.mode == "CMYK" and image.format == "TIFF" else 8
    return max(bits if isinstance(bits, tuple) else (bits,))


def is_deep(image: Image.Image) -> bool:
    """Whether Pillow would not give `image`'s levels as they are: colour of more than 8 bits per channel (read as
    8-bit RGB(A)), a 16-bit SGI (grey read as L too), or a 10- / 12-bit HEIF (pillow-heif's plugin gives colour at 8
    bits, grey shifted to 16 bits)."""
    if image.format == "HEIF":
        return image.info.get("bit_depth", 8) > 8
    if image.format == "SGI" and getattr(image, "tile", None):  # grey too: Pillow reads a 16-bit one as L
        return sgi_bit_depth(image) > 8
    return colour_bit_depth(image) > 8


def read_deep(path: Path, header: Image.Image) -> np.ndarray:
    """The pixels of a 16-bit colour PNG / TIFF, a colour PPM of more than 8 bits, a 16-bit SGI or a 10- / 12-bit
    HEIF, upright, as uint16: (H, W, C), or (H, W) for a grey HEIF or SGI.

    Raises:
        OSError: the file cannot be decoded (corrupt, truncated), as Pillow reports it for other images.
        ValueError: a layout or format that is not supported.
    """
    if header.format == "PNG":
        import png

        try:
            # Our own file object: pypng never closes one it opens ("ResourceWarning: unclosed file").
            with open(path, "rb") as file:
                reader = png.Reader(file=file)
                reader.preamble()
                # An sBIT chunk (12 significant bits, as scanners write) would make asDirect shift the samples down
                # to that depth: the stored 16-bit levels are the image.
                reader.sbit = None
                width, height, rows, info = reader.asDirect()
                arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
            arr = arr.reshape(height, width, info["planes"])
        except png.Error as err:
            raise OSError(str(err)) from err
    elif header.format == "TIFF":
        import tifffile

        page = None
        try:
            with quiet_tifffile(), tifffile.TiffFile(path) as tif:
                page = tif.pages[0]  # the first of several pages, as Pillow reads
                arr = page.asarray()
                if page.axes.startswith("S"):  # planar: one plane per channel
                    arr = np.moveaxis(arr, 0, -1)
                premultiplied = tuple(page.extrasamples or ())[:1] == (1,)  # EXTRASAMPLE_ASSOCALPHA
        except (ValueError, ImportError) as err:
            # tifffile's errors (truncated, corrupt) are ValueErrors; a codec it lacks is a ValueError naming
            # imagecodecs or, for ZSTD before Python 3.14, a ModuleNotFoundError.
            if page is not None and (isinstance(err, ImportError) or "'imagecodecs'" in str(err)):
                # Alone, tifffile decodes uncompressed, ZIP, LZMA and PackBits TIFFs. Pillow would read LZW (Photoshop's
                # default) at 8 bits: the fix is named rather than an output made that lost the 16 bits asked for.
                raise ValueError(
                    f"{path}: reading this 16-bit colour TIFF ({page.compression.name} compression) needs the "
                    "'imagecodecs' package: pip install imagecodecs"
                ) from err
            raise OSError(str(err)) from err
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise ValueError(f"{path}: unsupported 16-bit TIFF layout {arr.shape}")
        if premultiplied and arr.shape[-1] == 4:  # colour times alpha, as Pillow's RGBa: divided out, as it does
            arr = _unpremultiply(arr)
    elif header.format == "HEIF":
        arr = _read_heif_levels(path)
    elif header.format == "PPM":
        arr = _read_ppm_levels(path, header)
    elif header.format == "SGI":
        arr = _read_sgi_levels(path)
    else:
        raise ValueError(f"{path}: 16-bit colour {header.format} is not supported")
    # A HEIF's rotation is applied by libheif: the plugin's header then says 1, while pillow-heif's EXIF keeps it.
    orientation = header.getexif().get(0x0112, 1)
    return np.ascontiguousarray(ORIENT.get(orientation, lambda a: a)(arr).astype(np.uint16))


def _read_ppm_levels(path: Path, header: Image.Image) -> np.ndarray:
    """The pixels of a colour PPM of more than 8 bits (maxval 256..65535; binary P6 or plain P3) as (H, W, 3)
    uint16, white at 65535, as Pillow scales a grey one's.

    Raises:
        OSError: the file holds fewer samples than its header says (truncated).
    """
    decoder, _, offset, (_, maxval) = header.tile[0]
    width, height = header.size
    count = width * height * 3
    data = path.read_bytes()[offset:]
    if decoder == "ppm_plain":  # decimal text, where Pillow skips "#" comments (to the line's end) as in the header
        # Split no further than the samples needed: a 1×1 header over 48 MB of text became 16 M Python objects.
        levels = np.array(re.sub(rb"#[^\r\n]*", b"", data).split(maxsplit=count)[:count], dtype=np.uint32)
    else:  # two bytes a sample, most significant first
        levels = np.frombuffer(data[: 2 * min(count, len(data) // 2)], dtype=">u2").astype(np.uint32)
    if levels.size < count:
        raise OSError(f"image file is truncated ({levels.size} of {count} samples)")
    scaled = (np.minimum(levels, maxval) * 65535 + maxval // 2) // maxval
    return scaled.reshape(height, width, 3).astype(np.uint16)


def _read_sgi_levels(path: Path) -> np.ndarray:
    """The samples of a 16-bit SGI image, verbatim or RLE, top row first: (H, W, C) uint16, (H, W) for grey.

    Raises:
        OSError: the file holds fewer samples than its header says (truncated, corrupt).
    """
    data = path.read_bytes()
    width, height, planes = struct.unpack(">3H", data[6:12])
    rows = height * planes  # plane by plane, each bottom row first
    if data[2]:  # RLE: a table of each row's offset, then one of their lengths
        table = _whole_samples(data[512 : 512 + 8 * rows], ">u4")
        if table.size < 2 * rows:
            raise OSError("image file is truncated (its RLE row table)")
        arr = np.stack([_sgi_rle_row(data[s : s + n], width) for s, n in zip(table[:rows], table[rows:], strict=True)])
    else:
        arr = _whole_samples(data[512 : 512 + 2 * width * rows], ">u2")
        if arr.size < width * rows:
            raise OSError(f"image file is truncated ({arr.size} of {width * rows} samples)")
    arr = np.moveaxis(arr.reshape(planes, height, width)[:, ::-1], 0, -1)
    return arr[..., 0] if planes == 1 else arr


def _sgi_rle_row(data: bytes, width: int) -> np.ndarray:
    """One row of 16-bit SGI RLE: big-endian samples, each run led by one whose low 7 bits are its length (bit 8 set:
    that many samples follow as they are; clear: the next one, repeated); a length of 0 ends the row."""
    words = _whole_samples(data, ">u2")
    runs, i = [], 0
    while i < words.size and (count := int(words[i]) & 0x7F):
        literal = bool(words[i] & 0x80)
        if not literal and i + 1 == words.size:  # a repeat run cut off before its sample
            break
        runs.append(words[i + 1 : i + 1 + count] if literal else np.full(count, words[i + 1 : i + 2]))
        i += 1 + (count if literal else 1)
    row = np.concatenate(runs) if runs else words[:0]
    if row.size < width:
        raise OSError(f"image file is truncated (an RLE row of {row.size} of {width} samples)")
    return row[:width]


def _whole_samples(data: bytes, dtype: str) -> np.ndarray:
    """`data` as samples of `dtype`, a cut-off last one left out: a truncated file's bytes need not fill whole
    samples, and numpy's 'buffer size must be a multiple of element size' would be the error."""
    size = np.dtype(dtype).itemsize
    return np.frombuffer(data[: len(data) // size * size], dtype)


def _unpremultiply(arr: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint16 colour premultiplied by its alpha (last) → straight colour, rounded; transparent pixels 0."""
    alpha = arr[..., 3:].astype(np.float64)
    colour = np.divide(arr[..., :3] * 65535.0, alpha, out=np.zeros(arr[..., :3].shape), where=alpha > 0)
    return np.concatenate([np.clip(np.rint(colour), 0, 65535), alpha], axis=-1).astype(np.uint16)


def _read_heif_levels(path: Path) -> np.ndarray:
    """The primary image of a 10- / 12-bit HEIF (the one the plugin opens), with white at 65535: (H, W) grey or
    (H, W, C) colour uint16, premultiplied alpha divided out.

    Raises:
        OSError: libheif cannot decode it.
    """
    import pillow_heif

    try:
        # Levels in 0..2^bits - 1: pillow-heif's own 16-bit conversion shifts them, so that white would be 65472 for
        # 10 bits, not 65535.
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False, hdr_to_16bit=False)
        levels = np.asarray(heif).astype(np.uint32)
    except (ValueError, RuntimeError) as err:  # libheif's decoding errors
        raise OSError(str(err)) from err
    peak = (1 << heif.info["bit_depth"]) - 1
    # Integer rounding: exact, and half the memory of float64.
    scaled = (levels * 65535 + peak // 2) // peak
    if heif.premultiplied_alpha:  # colour × alpha, as Pillow's RGBa; a lossy file can hold colour above its alpha
        colour, alpha = np.minimum(levels[..., :-1], levels[..., -1:]), levels[..., -1:]
        straight = (colour * 65535 + alpha // 2) // np.maximum(alpha, 1)
        scaled[..., :-1] = np.where(alpha > 0, straight, scaled[..., :-1])
    return scaled.astype(np.uint16)


def grey_alpha_heif(path: Path, pixels: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
    """A HEIF's pixels, grey + alpha (LA / La, or (H, W, 2) uint16) where libheif handed a grey + alpha image over
    as RGBA: stored monochrome, or, where pillow-heif does not say, with three equal colour channels."""
    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[-1] != 4:
        return pixels
    grey = _heif_colourspace_is_grey(path)
    if grey is None:
        grey = equal_colour_channels(array)
    if not grey:
        return pixels
    if isinstance(pixels, np.ndarray):
        return np.ascontiguousarray(pixels[..., [0, 3]])
    # The channels as they are (a premultiplied RGBa stays premultiplied): a conversion would recompute grey.
    return Image.merge("La" if pixels.mode == "RGBa" else "LA", (pixels.getchannel(0), pixels.getchannel(3)))


def _heif_colourspace_is_grey(path: Path) -> bool | None:
    """Whether a HEIF's primary image is stored monochrome, or None where pillow-heif does not say (it keeps the
    colour space on its private decoder object only)."""
    import pillow_heif
    from pillow_heif.constants import HeifColorspace

    try:
        heif = pillow_heif.open_heif(path)  # the header only: pixels are decoded on first access
    except (ValueError, RuntimeError):  # libheif's errors: the pixels, already decoded, then decide
        return None
    colourspace = getattr(getattr(heif[heif.primary_index], "_c_image", None), "colorspace", None)
    return None if colourspace is None else colourspace == HeifColorspace.MONOCHROME


def page_layout(page: Any) -> tuple[bool, int, int, int]:
    """(planar, height, width, samples per pixel) of a tifffile page: planar pages store one plane per sample."""
    planar = page.axes.startswith("S")
    height, width = page.shape[1:3] if planar else page.shape[:2]
    samples = page.shape[0] if planar else (page.shape[2] if len(page.shape) > 2 else 1)
    return planar, height, width, samples


def upright_page_size(page: Any) -> tuple[int, int]:
    """(W, H) of a tifffile page's upright copy: its Orientation tag turning it a quarter swaps them."""
    _, height, width, _ = page_layout(page)
    return upright((width, height), page.tags.valueof(274, 1))


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[None]:
    """tifffile logs what it finds wrong in a damaged file; the caller's one-line error says it already.

    Silences this thread's records only: a logger's level is process-wide, and threads reading at once would
    restore each other's (a reader thread of `swinir-hf restore` could leave tifffile silent for good)."""
    log, thread = logging.getLogger("tifffile"), threading.get_ident()

    def others(record: logging.LogRecord) -> bool:
        return record.thread != thread

    log.addFilter(others)
    try:
        yield
    finally:
        log.removeFilter(others)
