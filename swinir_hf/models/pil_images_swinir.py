"""Pillow images read faithfully: what Pillow warns of while reading collected (`pillow_warnings`), an image made
upright and its colour key, CMYK profile and MinIsWhite levels made what they stand for (`normalize_pil`), the bit
depth of a file Pillow reads at 8 bits found and refused (`colour_bit_depth`, `check_colour_depth`), a 16-bit grey
image's colour key as its alpha (`keyed_grey16`), and HEIF files told apart (`is_heif`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps

logger = logging.getLogger(__name__)


# The `ftyp` brands of HEIF files (HEIC photos, image sequences); AVIF ones Pillow reads itself.
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")


def is_heif(head: bytes) -> bool:
    """Whether a file whose first bytes (12 or more) are `head` is a HEIF file, which Pillow opens only through
    pillow-heif's plugin."""
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


_WARNINGS_TURN = threading.Lock()
_PIL_DIR = os.path.dirname(Image.__file__)
_COLLECTING = threading.local()  # `.warnings`: the list of this thread's `pillow_warnings` block, while it runs
_SHOWN_BY: list[Callable[..., None]] = []  # the `showwarning` that `_keep_pillows` passes the others to


def _keep_pillows(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """`warnings.showwarning` while a `pillow_warnings` block runs: Pillow's warnings of that block's thread into its
    list, the others shown as before."""
    caught = getattr(_COLLECTING, "warnings", None)
    if caught is not None and os.path.dirname(filename) == _PIL_DIR:
        caught.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
    else:
        _SHOWN_BY[0](message, category, filename, lineno, file, line)


@contextlib.contextmanager
def pillow_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Collects what Pillow warns of on this thread inside the block (damaged EXIF: "Corrupt EXIF data", each time)
    into the list it gives, instead of showing it; every other warning, of this thread or another, is shown (or
    raised) as the program's filters say.

    The warnings state is process-wide (before Python 3.14), so the blocks take turns (keep them to header and EXIF
    reads) and undo only what they did ("always" for Pillow's warnings, `_keep_pillows`), where it still is: a
    snapshot put back (`warnings.catch_warnings`) would undo what another thread's `catch_warnings` did meanwhile
    (gradio's "ignore", left for good, silenced every warning). Another thread's `catch_warnings` may itself put
    this block's changes back after it; they are harmless there (`_keep_pillows` collects only inside a block).
    Not re-entrant: a block inside another on one thread would wait for its own turn.
    """
    caught: list[warnings.WarningMessage] = []
    with _WARNINGS_TURN:
        if warnings.showwarning is not _keep_pillows:
            _SHOWN_BY[:] = [warnings.showwarning]
            warnings.showwarning = _keep_pillows
        warnings.filterwarnings("always", module=r"PIL\.")
        always = warnings.filters[0]
        _COLLECTING.warnings = caught
        try:
            yield caught
        finally:
            _COLLECTING.warnings = None
            with contextlib.suppress(ValueError):
                warnings.filters.remove(always)
            if warnings.showwarning is _keep_pillows:
                warnings.showwarning = _SHOWN_BY[0]


def normalize_pil(image: Image.Image, name: str = "the image") -> Image.Image:
    """Apply the EXIF orientation; make a colour key (a PNG's tRNS on a 1-bit, grey or RGB image) the alpha it
    stands for (LA / RGBA); convert CMYK with an embedded profile to sRGB through that profile (a profile that cannot
    be used is dropped with a warning naming `name`, and Pillow's conversion applies); drop a LAB image's profile,
    which describes Lab, not the RGB it becomes; make a 16-bit or float MinIsWhite TIFF's levels MinIsBlack.

    Every other mode is returned as it is (`image_to_float` knows how to read it).
    """
    load_pixels(image)  # decoded outside the EXIF read's turn (what the decode warns of is shown)
    negative = _min_is_white_deep(image)  # read from the TIFF's tags, which the turned copy below no longer has
    with pillow_warnings():  # damaged EXIF: Pillow said so when the file was opened (`open_image` names it)
        image = ImageOps.exif_transpose(image)
    if negative:
        white = 1.0 if image.mode == "F" else 65535  # float levels are [0, 1]-scaled
        image = image.point(lambda level: white - level)  # info (ICC profile) kept
    if image.mode in ("1", "L", "RGB") and "transparency" in image.info:
        image = image.convert("RGBA" if image.mode == "RGB" else "LA")
    if image.mode == "LAB":
        image.info.pop("icc_profile", None)
    icc = image.info.get("icc_profile")
    if image.mode == "CMYK" and icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (OSError, ImageCms.PyCMSError) as err:  # corrupt, or not a CMYK profile: viewers ignore it too
            logger.warning(f"{name}: its ICC profile is not a usable CMYK profile ({err}); converted to RGB without it")
        else:
            image = converted
        # A CMYK profile does not describe the RGB result.
        image.info.pop("icc_profile", None)
    return image


def load_pixels(image: Image.Image) -> None:
    """`image.load()`, but a TIFF whose Orientation turns it a quarter (5-8) is read, not memory-mapped: Pillow 12
    maps an uncompressed one (grey, RGBA, 16-bit grey) with its turned size instead of its stored one, and the
    pixels come out scrambled, not upright."""
    turned = image.format == "TIFF" and image.tile and getattr(image, "tag_v2", {}).get(274, 1) in (5, 6, 7, 8)
    if not turned:
        image.load()
        return
    name, image.filename = image.filename, ""  # Pillow maps only a file it opened by name
    try:
        image.load()
    finally:
        image.filename = name


def _min_is_white_deep(image: Image.Image) -> bool:
    """Whether `image` is a 16-bit or float grey TIFF stored MinIsWhite (photometric 0: 0 is white, as some scanners
    and X-ray exports write), whose levels Pillow gives as stored, a negative (it inverts 1- to 8-bit MinIsWhite
    ones)."""
    tags = getattr(image, "tag_v2", None) if image.format == "TIFF" else None
    return (image.mode.startswith("I;16") or image.mode == "F") and tags is not None and tags.get(262) == 0


def colour_bit_depth(image: Image.Image) -> int:
    """Bits per channel stored in an opened (not loaded) colour PNG / TIFF / PPM / SGI, which Pillow reads as 8-bit
    RGB(A) whatever they are; 8 for any other image."""
    if image.mode not in ("RGB", "RGBA") or not getattr(image, "tile", None):  # only a file not yet loaded has tiles
        return 8
    if image.format == "SGI":
        return sgi_bit_depth(image)
    if image.format == "PPM":  # its maxval (65535 from dcraw -6 or netpbm), which Pillow scales to 255
        args = image.tile[0][3]  # (rawmode, maxval), but a binary one of maxval 255 has the raw decoder's: no maxval
        return max(8, int(args[1]).bit_length()) if isinstance(args, tuple) else 8
    if image.format == "TIFF":  # a planar TIFF's rawmode is one 8-bit plane ("R") whatever its depth
        bits = image.tag_v2.get(258, 8)
        return max(bits if isinstance(bits, tuple) else (bits,))
    rawmode = image.tile[0][3]  # (decoder, extents, offset, args): a plain tuple before Pillow 11, a named one since
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    return 16 if isinstance(rawmode, str) and ";16" in rawmode else 8  # PNG: "RGB;16B" for 16 bits


def sgi_bit_depth(image: Image.Image) -> int:
    """Bits per sample of an opened (not loaded) SGI image, grey or colour: Pillow reads 16-bit ones at 8 bits."""
    decoder, _, _, args = image.tile[0]  # verbatim 16-bit: the "SGI16" decoder; RLE: (rawmode, orientation, bytes)
    return 16 if decoder == "SGI16" or (decoder == "sgi_rle" and args[2] == 2) else 8


def check_colour_depth(image: Image.Image, source: str | None = None) -> None:
    """Raise ValueError (saying what to do) for an opened, not yet loaded, colour PNG / TIFF / PPM / SGI or grey SGI
    of more than 8 bits per channel: Pillow reads it as 8-bit RGB(A) / L, and restoring that would quietly drop the
    depth a 16-bit output keeps."""
    grey_sgi = image.format == "SGI" and image.mode == "L" and bool(getattr(image, "tile", None))
    if (bits := sgi_bit_depth(image) if grey_sgi else colour_bit_depth(image)) > 8:
        source = source or getattr(image, "filename", "") or "the image"
        kind, shape = ("grey", "(H, W)") if grey_sgi else ("colour", "(H, W, C)")
        raise ValueError(
            f"{source}: a {bits}-bit {kind} image, which Pillow reads at 8 bits: pass its pixels as an {shape} "
            "uint16 array (swinir_hf.inference.image_io.read_image(path).pixels, tifffile.imread or pypng), or "
            "restore the file with swinir_hf.restore(model, path)"
        )


def keyed_grey16(image: Image.Image) -> np.ndarray | None:
    """A 16-bit grey image (`I;16`, `I`) with a colour key (a PNG's tRNS: one level meaning transparent) as the
    (H, W, 2) uint16 grey + alpha array it stands for (Pillow has no 16-bit grey + alpha mode); None for any other
    image. `normalize_pil` makes the key of an 8-bit image its alpha; this is the 16-bit case."""
    if not (image.mode.startswith("I") and isinstance(key := image.info.get("transparency"), int)):
        return None
    levels = np.asarray(image).astype(np.uint16)
    return np.dstack([levels, np.where(levels == key, 0, 65535).astype(np.uint16)])
