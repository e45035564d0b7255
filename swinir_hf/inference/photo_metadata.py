"""The metadata of a photo that stays true of its restored copy: its EXIF (`photo_exif`: camera, lens, exposure,
dates, GPS, description and copyright kept, as stored; what the output makes untrue, the orientation, the pixel
size, the thumbnail, maker notes, a TIFF's storage tags, dropped), its resolution scaled to keep the print size
(`file_dpi`, `scaled_dpi`), what a PIL output's `info` keeps of its input (`kept_info`), and its orientation and
stored size read without decoding (`header_orientation`, `stored_size`)."""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..models.pil_images_swinir import pillow_warnings

if TYPE_CHECKING:
    from .image_io import ImageData

# EXIF tags of the first IFD that describe the photo (a TIFF's first IFD also holds how its pixels are stored).
_EXIF_DESCRIPTIVE = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)  # description, make, model, software,
# date, artist, copyright. Exif sub-IFD tags that an output makes untrue or unreadable: the pixel size, and blocks
# holding offsets into the original file (maker notes, the interoperability IFD).
_EXIF_STALE = (0xA002, 0xA003, 0x927C, 0xA005)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_JPEG_EXIF_MAX = 65_000  # one APP1 segment


def photo_exif(image: Image.Image) -> bytes | None:
    """The EXIF of an opened image that stays true of a restored, upright copy, as an EXIF block (`Exif\\0\\0`
    and a TIFF header), or None when nothing is left.

    Kept: camera, lens, exposure, dates, GPS, description, copyright. Dropped: the orientation (the pixels are
    upright), the pixel size, the thumbnail, maker notes (their offsets point into the original file) and, in a
    TIFF, how the pixels were stored. Damaged EXIF is dropped rather than failing the image.
    """
    try:
        with pillow_warnings():  # Pillow's "Corrupt EXIF data": what is readable is kept, the rest dropped
            source = image.getexif()
            settings = {tag: v for tag, v in source.get_ifd(_EXIF_IFD).items() if tag not in _EXIF_STALE}
            gps = dict(source.get_ifd(_GPS_IFD))
        kept = Image.Exif()
        for tag in _EXIF_DESCRIPTIVE if not _written_by_tifffile(source) else ():
            if tag in source:
                kept[tag] = _stored_bytes(source[tag])
        if settings:
            kept[_EXIF_IFD] = {tag: _stored_bytes(v) for tag, v in settings.items()}
        if gps:
            kept[_GPS_IFD] = {tag: _stored_bytes(v) for tag, v in gps.items()}
        block = kept.tobytes() if len(kept) else None
    except Exception:  # Pillow's EXIF parser fails with many types on damaged data
        return None
    return block if block and len(block) <= _JPEG_EXIF_MAX else None


def _stored_bytes(value: Any) -> Any:
    """A non-ASCII text tag as the bytes it was stored as (Pillow reads them as Latin-1 and would write them back
    as ASCII, with "?" for each UTF-8 byte of `José`); other values as they are."""
    return value.encode("latin-1", "replace") if isinstance(value, str) and not value.isascii() else value


def _written_by_tifffile(exif: Image.Exif) -> bool:
    """Whether a TIFF's first IFD is tifffile's: its description is then a JSON shape and its software tifffile."""
    return exif.get(0x0131) == "tifffile.py"


def file_dpi(image: Image.Image) -> tuple[float, float] | None:
    """The (x, y) resolution in pixels per inch an opened image states (a PNG's pHYs, a JPEG's JFIF density, a
    TIFF's), of its upright copy (an EXIF orientation that turns it swaps them); None if it states none.

    Pillow turns a TIFF by its orientation as it loads it, drops the tag and keeps the stored resolution: a loaded
    TIFF turned a quarter is told by its size, its stored size swapped (`stored_size`), but a square one's turn
    leaves no trace and its resolution is given as stored. Read it before the pixels load (`read_image` and
    `restore` do)."""
    dpi = image.info.get("dpi")
    try:
        x, y = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return None
    if not (x > 0 and y > 0 and _states_resolution(image)):
        return None
    with pillow_warnings():
        orientation = image.getexif().get(0x0112) or _turned_as_loaded(image)
    return upright((x, y), orientation)


def _turned_as_loaded(image: Image.Image) -> int:
    """6 (a quarter turn) for a TIFF that Pillow turned a quarter as it loaded it (dropping its orientation): not
    square, its size its stored size swapped; else 1."""
    width, height = image.size
    return 6 if image.format == "TIFF" and width != height and stored_size(image) == (height, width) else 1


def header_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) of an opened image, read without decoding its pixels: Pillow's `getexif()` decodes
    a whole PNG to look for an eXIf chunk after them (gigabytes for a small file of many pixels), whose chunks are
    skipped over here instead."""
    if image.format != "PNG" or "exif" in image.info or image.fp is None:
        return image.getexif().get(0x0112, 1)
    late, file = None, image.fp
    at = file.tell()
    try:
        file.seek(8)  # the signature
        while len(header := file.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            if kind in (b"eXIf", b"IEND"):
                late = b"Exif\x00\x00" + file.read(length) if kind == b"eXIf" else None  # as Pillow stores it
                break
            file.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    finally:
        file.seek(at)
    # Pillow's own reading of what it has (an XMP tiff:Orientation, a late eXIf), on a bare image: the PNG's
    # `getexif()` would decode it, and its EXIF, once read, is cached on it.
    return info_orientation({**image.info, **({"exif": late} if late else {})})


def info_orientation(info: dict[str, Any]) -> int:
    """The EXIF orientation (1-8) that Pillow reads from an image's `info` (its "exif", else an XMP
    tiff:Orientation in its "xmp"), read on a bare image: no file is opened or decoded."""
    bare = Image.Image()
    bare.info = info
    return Image.Image.getexif(bare).get(0x0112, 1)


def stored_size(image: Image.Image) -> tuple[int, int]:
    """An opened image's (width, height) as its file stores them, before its EXIF orientation turns it.

    Pillow 12 gives a TIFF that its orientation turns a quarter (5-8) at its upright size already, and turns it as it
    loads (other versions may not): a TIFF's ImageWidth / ImageLength tags are its stored size whichever version reads
    it, so that `upright` of this size turns it once."""
    tags = getattr(image, "tag_v2", None) if image.format == "TIFF" else None
    width, height = (tags.get(256), tags.get(257)) if tags is not None else (None, None)
    return (width, height) if isinstance(width, int) and isinstance(height, int) else image.size


def upright_size(image: Image.Image) -> tuple[int, int]:
    """An opened image's upright (width, height), from its header without decoding: `stored_size` turned by
    `header_orientation` (damaged EXIF is the decoding read's to report)."""
    with pillow_warnings():
        orientation = header_orientation(image)
    return upright(stored_size(image), orientation)


def upright(pair: tuple[Any, Any], orientation: int) -> tuple[Any, Any]:
    """An (x, y) pair of a stored image (its size, its resolution) as its upright copy has it: swapped when its EXIF
    orientation (5-8) turns it a quarter."""
    return (pair[1], pair[0]) if int(orientation) in (5, 6, 7, 8) else pair


def _states_resolution(image: Image.Image) -> bool:
    """Whether the file itself states the resolution Pillow gives: Pillow makes one up for a TIFF without
    (1 dpi: XResolution absent, or no unit) and for a JPEG whose EXIF has none (72 dpi), which scaled and written
    would misstate the print size."""
    if image.format == "TIFF":
        tags = getattr(image, "tag_v2", {})
        return 282 in tags and tags.get(296, 2) in (2, 3)  # inches (the default) or centimetres
    if image.format in ("JPEG", "MPO") and image.info.get("jfif_unit") not in (1, 2):
        with pillow_warnings():
            return 0x011A in image.getexif()  # EXIF XResolution
    return True


def kept_info(source: ImageData | Image.Image, factor: float, dpi: tuple[float, float] | None = None) -> dict[str, Any]:
    """What a PIL output's `info` keeps of its input, a file read (`ImageData`) or a PIL image (whose ICC profile
    goes along with its pixels): the ICC profile, the EXIF true of the upright output, the resolution that keeps its
    print size once `factor` × larger (a PIL image's: `dpi`, its `file_dpi` read before it loaded, else read now)."""
    if isinstance(source, Image.Image):
        info = {"exif": photo_exif(source), "dpi": dpi or file_dpi(source)}
    else:
        info = {"icc_profile": source.icc_profile, "exif": source.exif, "dpi": source.dpi}
    info["dpi"] = scaled_dpi(info["dpi"], factor)
    return {key: value for key, value in info.items() if value is not None}


def scaled_dpi(dpi: tuple[float, float] | None, factor: float | tuple[float, float]) -> tuple[float, float] | None:
    """`dpi` of an image for its copy resized `factor` × (or (x, y) factors): the same print size."""
    fx, fy = factor if isinstance(factor, tuple) else (factor, factor)
    return None if dpi is None else (dpi[0] * fx, dpi[1] * fy)
