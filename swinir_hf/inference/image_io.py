"""Image files ↔ in-memory images with orientation, colour profile, EXIF and bit depth kept.

Pillow reads 16-bit-per-channel colour images as 8-bit RGB, so those go through `pypng` (PNG) and `tifffile`
(TIFF) and are held as (H, W, C) uint16 numpy arrays, as are 10- / 12-bit colour HEIC / HEIF photos (through
`pillow_heif`, their levels scaled to 0..65535; grey ones become `I;16` images); grey + alpha HEIFs, which libheif
hands over as RGBA, are taken back to grey + alpha; floating-point colour TIFFs, which Pillow cannot open, go
through `tifffile` and are held as (H, W, C) float32 arrays (16-bit grey + alpha as uint16 ones); everything else
is a PIL image.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..models.image_processing_swinir import (
    colour_bit_depth,
    is_heif,
    normalize_pil,
    pillow_warnings,
    warn_if_animated,
)
from .files import os_reason, written_atomically

logger = logging.getLogger(__name__)

# EXIF orientation → the numpy operation that makes the image upright (as `ImageOps.exif_transpose`).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}

# EXIF tags of the first IFD that describe the photo (a TIFF's first IFD also holds how its pixels are stored).
_EXIF_DESCRIPTIVE = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)  # description, make, model, software,
# date, artist, copyright. Exif sub-IFD tags that an output makes untrue or unreadable: the pixel size, and blocks
# holding offsets into the original file (maker notes, the interoperability IFD).
_EXIF_STALE = (0xA002, 0xA003, 0x927C, 0xA005)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_JPEG_EXIF_MAX = 65_000  # one APP1 segment

# TIFF outputs are deflate-compressed (lossless): tifffile decodes deflate by itself, LZW only with imagecodecs,
# so a 16-bit or float colour output stays readable by `read_image` (and Photoshop, GIMP, libtiff read both).
_TIFF_COMPRESSION = {"pillow": "tiff_adobe_deflate", "tifffile": "zlib"}

# The image files that folders of images (datasets, benchmarks) are read from; HEIC / HEIF need the `heif` extra.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp", ".ppm", ".pgm", ".heic", ".heif")


@dataclass
class ImageData:
    """An upright image, the colour profile it was stored with and the EXIF worth keeping (`photo_exif`).

    `pixels` is a PIL image, or an (H, W, C) array for what no PIL mode holds: uint16 for 16-bit colour (and grey +
    alpha), float32 (values in [0, 1]) for a floating-point colour (or grey + alpha) TIFF.
    """

    pixels: Image.Image | np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None


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


def _is_deep(image: Image.Image) -> bool:
    """Whether Pillow would not give `image`'s levels as they are: colour of more than 8 bits per channel (read as
    8-bit RGB(A)), or a 10- / 12-bit HEIF (pillow-heif's plugin gives colour at 8 bits, grey shifted to 16 bits)."""
    if image.format == "HEIF":
        return image.info.get("bit_depth", 8) > 8
    return colour_bit_depth(image) > 8


def read_image(path: str | os.PathLike) -> ImageData:
    """Read an image file upright, with its ICC profile; 16-bit colour PNG / TIFF stay 16-bit, and 10- / 12-bit
    HEIC / HEIF become 16-bit.

    Raises:
        ValueError: the file is not an image Pillow can decode (message names the file).
    """
    path = Path(path)
    try:
        return _read_image(path)
    except MemoryError:
        raise
    except Exception as err:  # damaged data fails in the decoders with almost any type (IndexError, struct.error...)
        if isinstance(err, ValueError) and str(err).startswith(f"{path}: "):
            raise  # ours, naming the file and the problem
        text = err.args[0].decode(errors="replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        why = text if isinstance(err, ValueError) and text else f"{type(err).__name__}: {text}"
        raise ValueError(f"{path}: not a readable image ({why})") from err


def _read_image(path: Path) -> ImageData:
    """`read_image`, raising the decoders' own errors where it has no better message."""
    try:
        image = open_image(path)
        deep = _read_deep(path, image) if _is_deep(image) else None
        if deep is None:
            image.load()
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: {_bomb_reason(err)}") from err
    except (OSError, SyntaxError) as err:
        array = _read_tiff_array(path) if isinstance(err, UnidentifiedImageError) else None
        if array is not None:
            return array
        # An empty file (an interrupted copy or download) is worth naming: Pillow only says it cannot identify it.
        why = "empty file" if isinstance(err, UnidentifiedImageError) and _is_empty(path) else os_reason(err, path)
        raise ValueError(f"{path}: not a readable image ({why})") from err
    warn_if_animated(image, str(path))
    if image.format == "AVIF" and (bits := _avif_bit_depth(path)) > 8:
        # Pillow decodes AVIF at 8 bits, and pillow-heif's libheif here has no AVIF decoder.
        logger.warning(
            f"{path}: a {bits}-bit AVIF, read at 8 bits (Pillow decodes AVIF at 8 bits); to keep all its levels, "
            "convert it to a 16-bit PNG first (avifdec --depth 16 FILE.avif FILE.png)"
        )
    heif = image.format == "HEIF"
    if deep is not None:
        deep = _grey_alpha_heif(path, deep) if heif else deep
        # Grey is a PIL image (`I;16`), as Pillow reads a 16-bit grey PNG.
        pixels = Image.fromarray(deep) if deep.ndim == 2 else deep
        return ImageData(pixels, image.info.get("icc_profile"), photo_exif(image))
    exif = photo_exif(image)
    image = normalize_pil(image, str(path))
    icc = image.info.get("icc_profile")
    if image.mode.startswith("I") and isinstance(key := image.info.get("transparency"), int):
        # A 16-bit grey PNG's colour key (tRNS): Pillow has no 16-bit grey + alpha mode to make it the alpha of.
        levels = np.asarray(image).astype(np.uint16)
        return ImageData(np.dstack([levels, np.where(levels == key, 0, 65535).astype(np.uint16)]), icc, exif)
    return ImageData(_grey_alpha_heif(path, image) if heif else image, icc, exif)


def _avif_bit_depth(path: Path) -> int:
    """The deepest bit depth among an AVIF's still images (colour and alpha), from their AV1 configuration
    (`meta/iprp/ipco/av1C` boxes); 8 where none is found."""
    meta = _box(path.read_bytes(), b"meta")[4:]  # a full box: version and flags first
    depths = [8]
    for kind, payload in _boxes(_box(_box(meta, b"iprp"), b"ipco")):
        if kind == b"av1C" and len(payload) >= 3:
            high, twelve = payload[2] & 0x40, payload[2] & 0x20  # high_bitdepth, twelve_bit
            depths.append(12 if high and twelve else 10 if high else 8)
    return max(depths)


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of the ISO base media file format boxes one after another in `data`."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind, head = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8], 8
        if size == 1:  # a 64-bit size follows the type
            size, head = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:  # to the end
            size = len(data) - pos
        if size < head:  # damaged: stop rather than loop
            return
        yield kind, data[pos + head : pos + size]
        pos += size


def _box(data: bytes, kind: bytes) -> bytes:
    """The payload of the first box of type `kind` in `data`, empty when there is none."""
    return next((payload for k, payload in _boxes(data) if k == kind), b"")


def _grey_alpha_heif(path: Path, pixels: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
    """A HEIF's pixels, grey + alpha (LA / La, or (H, W, 2) uint16) where libheif handed a grey + alpha image over
    as RGBA: stored monochrome, or, where pillow-heif does not say, with three equal colour channels."""
    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[-1] != 4:
        return pixels
    grey = _heif_colourspace_is_grey(path)
    if grey is None:
        grey = bool(np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2]))
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


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def open_image(path: str | os.PathLike, report: bool = True) -> Image.Image:
    """`Image.open`, plus HEIC / HEIF (phone photos) through pillow-heif, registered with Pillow on first need.

    What Pillow warns of while opening (damaged EXIF: "Corrupt EXIF data") is logged as one warning naming the file
    when `report`; a header-only read passes `report=False`, leaving it to the read that decodes the pixels.

    Raises:
        ValueError: a HEIF file without pillow-heif installed (the message says how to install it).
        OSError: what `Image.open` raises for other unreadable files.
    """
    try:
        with pillow_warnings() as caught:
            image = Image.open(path)
    except UnidentifiedImageError:  # the plugins' warnings while guessing ("Corrupt EXIF data") are noise then
        if not _is_heif(path):
            raise
    else:
        for warning in caught if report else ():
            logger.warning(f"{path}: {str(warning.message).strip()}")
        return image
    from ..extras import MissingExtraError, require

    try:
        require("pillow_heif", "heif", "reading HEIC / HEIF images").register_heif_opener()
    except MissingExtraError as err:
        raise ValueError(f"{path}: {err}") from None
    return Image.open(path)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Upright (width, height) of an image file, as `read_image` gives it (an EXIF orientation that turns the image
    swaps them), from its header without decoding the pixels; TIFFs that only tifffile reads (float colour) included.

    Raises:
        Image.DecompressionBombError: more pixels than Pillow decodes.
        ValueError: a HEIF file without pillow-heif.
        OSError, SyntaxError: not an image (a damaged header's other exception types become an OSError).
    """
    try:
        with open_image(path, report=False) as image:
            with pillow_warnings():  # damaged EXIF: the read that decodes the image reports it
                orientation = image.getexif().get(0x0112, 1)
            return _upright(image.size, orientation)
    except UnidentifiedImageError:
        import tifffile

        try:
            with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
                _, height, width, _ = _page_layout(tif.pages[0])
                orientation = tif.pages[0].tags.valueof(274, 1)
        except Exception:  # not a TIFF either: Pillow's error says so
            pass
        else:
            return _upright((width, height), orientation)
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, MemoryError):
        raise
    except Exception as err:  # a damaged header fails in the plugins with almost any type
        raise OSError(f"{type(err).__name__}: {err}") from err


def _upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """A stored (width, height) as shown: EXIF orientations 5-8 turn the image a quarter."""
    return size[::-1] if int(orientation) in (5, 6, 7, 8) else size


def _page_layout(page: Any) -> tuple[bool, int, int, int]:
    """(planar, height, width, samples per pixel) of a tifffile page: planar pages store one plane per sample."""
    planar = page.axes.startswith("S")
    height, width = page.shape[1:3] if planar else page.shape[:2]
    samples = page.shape[0] if planar else (page.shape[2] if len(page.shape) > 2 else 1)
    return planar, height, width, samples


@contextlib.contextmanager
def _quiet_tifffile() -> Iterator[None]:
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


def _is_heif(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return is_heif(f.read(12))


def _bomb_reason(err: Image.DecompressionBombError) -> str:
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"too many pixels to decode safely ({err}); Pillow refuses images over {limit:,} pixels as possible "
        "decompression bombs: if the file is trusted, raise PIL.Image.MAX_IMAGE_PIXELS, or downscale it first"
    )


def _read_deep(path: Path, header: Image.Image) -> np.ndarray:
    """The pixels of a 16-bit colour PNG / TIFF or a 10- / 12-bit HEIF, upright, as uint16: (H, W, C), or (H, W)
    for a grey HEIF.

    Raises:
        OSError: the file cannot be decoded (corrupt, truncated), as Pillow reports it for other images.
        ValueError: a layout or format that is not supported.
    """
    if header.format == "PNG":
        import png

        try:
            reader = png.Reader(filename=str(path))
            reader.preamble()
            # An sBIT chunk (12 significant bits, as scanners write) would make asDirect shift the samples down to
            # that depth: the stored 16-bit levels are the image.
            reader.sbit = None
            width, height, rows, info = reader.asDirect()
            arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, info["planes"])
        except png.Error as err:
            raise OSError(str(err)) from err
    elif header.format == "TIFF":
        import tifffile

        page = None
        try:
            with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
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
    else:
        raise ValueError(f"{path}: 16-bit colour {header.format} is not supported")
    # A HEIF's rotation is applied by libheif: the plugin's header then says 1, while pillow-heif's EXIF keeps it.
    orientation = header.getexif().get(0x0112, 1)
    return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(arr).astype(np.uint16))


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


def _read_tiff_array(path: Path) -> ImageData | None:
    """A TIFF Pillow cannot open — float64 / float16 grey, floating-point grey + alpha / RGB / RGBA, 16-bit grey +
    alpha — (first page, upright, with its ICC profile) as float32 (a mode F image for grey) / uint16 pixels, or None
    when the file is no such TIFF (so the caller reports Pillow's error).

    Raises:
        ValueError: it is one, but too large to decode safely, or not decodable (corrupt, a codec missing).
    """
    import tifffile

    try:
        with _quiet_tifffile():
            tif = tifffile.TiffFile(path)
    except Exception:  # tifffile raises many kinds on a damaged header; Pillow's error then stands
        return None
    with tif, _quiet_tifffile():
        try:
            page = tif.pages[0]
            planar, height, width, samples = _page_layout(page)
        except Exception:
            return None
        floats = page.dtype is not None and page.dtype.kind == "f"
        grey_alpha16 = page.dtype == np.uint16 and samples == 2
        grey_float = floats and len(page.shape) == 2  # float64 / float16 grey: Pillow reads float32 only
        if not grey_float and (len(page.shape) != 3 or samples not in (2, 3, 4) or not (floats or grey_alpha16)):
            return None
        if Image.MAX_IMAGE_PIXELS and height * width > 2 * Image.MAX_IMAGE_PIXELS:
            err = Image.DecompressionBombError(f"{height * width} pixels")
            raise ValueError(f"{path}: {_bomb_reason(err)}")
        try:
            arr = page.asarray()
        except (ValueError, ImportError) as err:
            codec = "'imagecodecs'" in str(err) or isinstance(err, ImportError)
            hint = f"{page.compression.name} compression needs 'imagecodecs': pip install imagecodecs" if codec else err
            raise ValueError(f"{path}: not a readable {page.dtype} TIFF ({hint})") from err
        icc = page.tags.valueof(34675)
        orientation = page.tags.valueof(274, 1)
    arr = np.moveaxis(arr, 0, -1) if planar else arr
    arr = _ORIENT.get(int(orientation), lambda a: a)(arr)
    arr = np.ascontiguousarray(arr, dtype=np.float32 if floats else np.uint16)
    pixels = Image.fromarray(arr) if grey_float else arr  # mode F, as Pillow reads a float32 grey TIFF
    return ImageData(pixels, bytes(icc) if icc is not None else None)


def write_image(
    path: str | os.PathLike,
    image: Image.Image | np.ndarray,
    icc_profile: bytes | None = None,
    *,
    exif: bytes | None = None,
    quality: int = 95,
    lossless: bool = False,
    replace: bool = True,
) -> None:
    """Write atomically (temporary file, then rename), format from the suffix, ICC profile embedded, and `exif` (an
    EXIF block, as `photo_exif` gives) in JPEG, PNG and WebP files (TIFFs get none: Pillow and tifffile cannot write
    its sub-IFDs). `replace` False keeps a file found at `path` when the write ends (`files.AppearedError`).

    TIFFs are deflate-compressed (lossless). uint8 arrays ((H, W), (H, W, 1), RGB, RGBA) are written as 8-bit
    images, uint16 colour arrays as 16-bit PNG / TIFF, float32 ones as float TIFF (16-bit as PNG); formats without 16
    bits (JPEG, WebP) get 8 bits, and JPEG drops alpha (with a warning when it is not opaque).
    `quality` (1-100) applies to JPEG (written without chroma subsampling, 4:4:4) and lossy WebP; `lossless` writes
    lossless WebP (ignored by the other formats).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {suffix!r}")
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:  # the 16-bit writer would take them as 16-bit levels
        image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
    if isinstance(image, np.ndarray) and fmt not in ("PNG", "TIFF"):
        image = Image.fromarray(_array_to_bits(image, 8))
    elif isinstance(image, np.ndarray) and fmt == "PNG":
        image = _array_to_bits(image, 16)
    # Floats first: Pillow's own F → L conversion would read [0, 1] as 0..1 grey levels (black).
    if isinstance(image, Image.Image) and image.mode == "F" and fmt != "TIFF":
        image = _float_to_storable(image, fmt)
    if isinstance(image, Image.Image):
        if fmt in ("JPEG", "WEBP") and image.mode.startswith("I"):  # 16-bit levels, rounded to the nearest 8-bit one
            levels = np.asarray(image, dtype=np.float64) / 257
            image = Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8))
        if fmt == "JPEG" and image.mode not in ("L", "RGB"):
            if "A" in image.getbands() and image.getchannel("A").getextrema()[0] < 255:
                # The colour under transparent pixels is arbitrary (often black): it shows once alpha is gone.
                logger.warning(
                    f"{path}: JPEG has no transparency, so the alpha channel is dropped (png / webp keep it)"
                )
            image = image.convert("RGB" if image.mode in ("RGBA", "P", "PA") else "L")
        if fmt == "WEBP" and image.mode in ("L", "LA") and icc_profile:
            image, icc_profile = _grey_as_srgb(image, icc_profile)
    with written_atomically(path, replace) as tmp:
        if isinstance(image, np.ndarray):
            _write_colour_array(tmp, image, fmt, icc_profile, exif)
        else:
            options = _save_options(fmt, quality, lossless, icc_profile)
            image.save(tmp, format=fmt, **options, **({"exif": exif} if exif and fmt != "TIFF" else {}))


def _grey_as_srgb(image: Image.Image, icc_profile: bytes) -> tuple[Image.Image, bytes | None]:
    """A grey (L / LA) image and its grey profile → RGB(A) in sRGB and the sRGB profile: WebP stores grey as RGB,
    where a grey profile is invalid (colour-managed viewers drop it). A profile that cannot be used: as they are."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        rgb = ImageCms.profileToProfile(image.convert("L"), source, srgb, outputMode="RGB")
    except (OSError, ImageCms.PyCMSError):
        return image, icc_profile
    if image.mode == "LA":
        rgb.putalpha(image.getchannel("A"))
    return rgb, srgb.tobytes()


def _save_options(fmt: str, quality: int, lossless: bool, icc_profile: bytes | None) -> dict[str, Any]:
    """Pillow's `save` options for `write_image`."""
    if fmt == "WEBP" and lossless:
        # exact: keep the colour under fully transparent pixels, as the PNG / TIFF outputs do.
        options: dict[str, Any] = {"lossless": True, "exact": True}
    elif fmt == "JPEG":
        # 4:4:4: halving the chroma (Pillow's 4:2:0) would blur the colour detail the model restored.
        options = {"quality": quality, "subsampling": 0}
    elif fmt == "WEBP":
        options = {"quality": quality}
    elif fmt == "TIFF":
        options = {"compression": _TIFF_COMPRESSION["pillow"]}
    else:
        options = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    return options


def _array_to_bits(arr: np.ndarray, bits: int) -> np.ndarray:
    """A uint16 or float ([0, 1]) colour array as uint8 (`bits` 8) or uint16 (`bits` 16) levels."""
    if arr.dtype.kind == "f":
        peak = 255.0 if bits == 8 else 65535.0
        return np.rint(np.clip(np.nan_to_num(arr), 0.0, 1.0) * peak).astype(np.uint8 if bits == 8 else np.uint16)
    return (arr.astype(np.float32) / 257.0).round().astype(np.uint8) if bits == 8 else arr


def _float_to_storable(image: Image.Image, fmt: str) -> Image.Image:
    """A mode F image (floats in [0, 1]) for a format without float pixels: 16-bit grey for PNG, 8-bit otherwise."""
    return Image.fromarray(_array_to_bits(np.asarray(image, dtype=np.float32), 16 if fmt == "PNG" else 8))


def is_lossless_webp(path: str | os.PathLike) -> bool:
    """Whether a file is a WebP whose image is VP8L (lossless), not VP8 (lossy); False for anything else.

    Pillow does not say which, so this walks the RIFF chunks (an extended `VP8X` file has ICC / EXIF / ALPH
    chunks before the image chunk; an animated one, the first frame's inside its `ANMF` chunk).
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WEBP":
            return False
        while chunk := f.read(8):
            if len(chunk) < 8:
                return False
            fourcc, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if fourcc in (b"VP8L", b"VP8 "):
                return fourcc == b"VP8L"
            if fourcc == b"ANMF":  # an animation's first frame (the one restored): its chunks follow its 16-byte header
                f.seek(16, os.SEEK_CUR)
                continue
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even size
    return False


def _write_colour_array(
    path: Path, arr: np.ndarray, fmt: str, icc_profile: bytes | None, exif: bytes | None = None
) -> None:
    """An (H, W, C) uint16 array as 16-bit PNG / TIFF, a float32 one as float TIFF; C is 2 (grey + alpha), 3 or 4;
    `exif` goes into PNGs only.

    Raises:
        OSError: the encoder failed (as Pillow reports it for other images).
    """
    h, w, c = arr.shape
    grey, alpha = c in (1, 2), c in (2, 4)
    if fmt == "TIFF":
        import tifffile

        extratags = [(34675, 7, len(icc_profile), icc_profile, True)] if icc_profile else []
        photometric = "minisblack" if grey else "rgb"
        extrasamples = [2] if alpha else None  # 2: unassociated alpha, as the input's
        tifffile.imwrite(
            path,
            arr,
            photometric=photometric,
            planarconfig="contig",
            extrasamples=extrasamples,
            extratags=extratags,
            compression=_TIFF_COMPRESSION["tifffile"],
            metadata=None,  # no JSON shape description, no "tifffile.py" software tag: they would read as the photo's
            software=False,
        )
        return
    import png

    try:
        writer = png.Writer(w, h, greyscale=grey, alpha=alpha, bitdepth=16)
        with open(path, "wb") as f:
            writer.write(f, arr.reshape(h, w * c))
        # pypng writes no iCCP or eXIf chunk: inserted after IHDR.
        extra = [(b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))] if icc_profile else []
        extra += [(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))] if exif else []
        if extra:
            chunks = list(png.Reader(filename=str(path)).chunks())
            with open(path, "wb") as f:
                png.write_chunks(f, chunks[:1] + extra + chunks[1:])
    except png.Error as err:
        raise OSError(f"16-bit PNG encoder: {err}") from err
