"""Image files → in-memory images, upright, with colour profile, EXIF and bit depth kept.

Pillow reads 16-bit-per-channel colour images as 8-bit RGB, so those go through `pypng` (PNG) and `tifffile`
(TIFF) and are held as (H, W, C) uint16 numpy arrays, as are 10- / 12-bit colour HEIC / HEIF photos (through
`pillow_heif`, their levels scaled to 0..65535; grey ones become `I;16` images): those decoders are in
`deep_decoders`. Grey + alpha HEIFs, which libheif hands over as RGBA, are taken back to grey + alpha; floating-point
colour TIFFs, which Pillow cannot open, go through `tifffile` and are held as (H, W, C) float32 arrays (16-bit grey +
alpha as uint16 ones); everything else is a PIL image. Writing them back is `image_writing`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..console import shown_name
from ..models.frames_swinir import warn_if_animated
from ..models.pil_images_swinir import is_heif, keyed_grey16, load_pixels, normalize_pil, pillow_warnings
from ..models.pixels_swinir import check_float_range, check_level_range
from ..storage.atomic_writes import os_reason
from .deep_decoders import ORIENT, cmyk_tiff_bits, grey_alpha_heif, is_deep, page_layout, quiet_tifffile, read_deep
from .photo_metadata import file_dpi, info_orientation, photo_exif, upright, upright_size
from .webp_header import WebPHeader, read_webp_header

logger = logging.getLogger(__name__)


@dataclass
class ImageData:
    """An upright image, the colour profile it was stored with and the EXIF worth keeping (`photo_exif`).

    `pixels` is a PIL image, or an (H, W, C) array for what no PIL mode holds: uint16 for 16-bit colour (and grey +
    alpha), float32 (values in [0, 1]) for a floating-point colour (or grey + alpha) TIFF.
    """

    pixels: Image.Image | np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None  # (x, y) pixels per inch of the upright image, as the file states them


def pixel_range_problem(pixels: Image.Image | np.ndarray) -> str | None:
    """What makes a file's 32-bit pixels no image to restore (floats outside [0, 1] or NaN, mode I integers beyond
    16-bit levels), or None: the reason alone, as the readers' advice (divide the array by its range) is for callers
    holding arrays."""
    kind = _kind(pixels)
    try:
        if kind in ("f", "F"):
            check_float_range(np.asarray(pixels, dtype=np.float32))
        elif kind == "I":
            check_level_range(np.asarray(pixels))
    except ValueError as err:
        return str(err).split(":", 1)[0]
    return None


def unrestorable(pixels: Image.Image | np.ndarray, reason: str) -> str:
    """What to say of a file whose 32-bit `pixels` `pixel_range_problem` refuses for `reason`, and how to save it."""
    if _kind(pixels) == "I":
        return f"a 32-bit integer image that cannot be restored ({reason}): save it as an 8- or 16-bit image"
    return (
        f"a floating-point image that cannot be restored ({reason}): save it with values in [0, 1], or as an 8- or "
        "16-bit image"
    )


def _kind(pixels: Image.Image | np.ndarray) -> str:
    """An array's dtype kind ("f", "u") or a PIL image's mode ("F", "I", "RGB")."""
    return pixels.dtype.kind if isinstance(pixels, np.ndarray) else pixels.mode


def read_restorable(path: str | os.PathLike) -> ImageData:
    """`read_image` of a file the engine can restore: 32-bit pixels that `pixel_range_problem` refuses (a float TIFF
    of 0..255 levels) are a `ValueError` naming the file and saying how to save it. Floats beyond [0, 1] that it
    takes (a noisy image overshoots) are the restorer's to warn of (`warn_if_clamped`), as it clamps their output."""
    data = read_image(path)
    pixels = data.pixels
    if reason := pixel_range_problem(pixels):
        raise ValueError(f"{path}: {unrestorable(pixels, reason)}")
    return data


def read_image(path: str | os.PathLike) -> ImageData:
    """Read an image file upright, with its ICC profile; 16-bit colour PNG / TIFF stay 16-bit, and 10- / 12-bit
    HEIC / HEIF become 16-bit.

    Raises:
        ValueError: the file is missing, unreadable or not an image Pillow can decode (message names the file and
            why, e.g. "No such file or directory"); a URL, unfetched, says so.
    """
    if isinstance(path, str) and path.startswith(("http://", "https://")) and not os.path.exists(path):  # not http:/
        raise ValueError(
            f"{path}: a URL, not a file: open its downloaded bytes with PIL.Image.open(io.BytesIO(data)) "
            "(the image-restoration pipeline fetches URLs)"
        )
    path = Path(path)
    try:
        return _read_image(path)
    except MemoryError:
        raise
    except Exception as err:  # damaged data fails in the decoders with almost any type (IndexError, struct.error...)
        if isinstance(err, ValueError) and str(err).startswith(f"{path}: "):  # ours; the name on one line: shown_name
            raise ValueError(shown_name(path) + str(err)[len(str(path)) :]) from err.__cause__  # its cause, as raised
        text = err.args[0].decode(errors="replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        why = text if isinstance(err, ValueError) and text else f"{type(err).__name__}: {text}"
        raise ValueError(f"{shown_name(path)}: not a readable image ({why})") from err


def _read_image(path: Path) -> ImageData:
    """`read_image`, raising the decoders' own errors where it has no better message."""
    try:
        image, deep, tiff_dpi = _open_decoded(path)
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: {_bomb_reason(err)}") from err
    except (OSError, SyntaxError) as err:
        array = _read_tiff_array(path) if isinstance(err, UnidentifiedImageError) else None
        if array is not None:
            return array
        # An empty file (an interrupted copy or download) is worth naming: Pillow only says it cannot identify it.
        why = "empty file" if isinstance(err, UnidentifiedImageError) and _is_empty(path) else os_reason(err, path)
        raise ValueError(f"{path}: not a readable image ({why})") from err
    try:
        return _image_data(path, image, deep, tiff_dpi)
    except BaseException:  # a multi-frame file cut short fails counting its frames: closed, not left to the gc
        image.close()
        raise


def _image_data(
    path: Path, image: Image.Image, deep: np.ndarray | None, tiff_dpi: tuple[float, float] | None
) -> ImageData:
    """The `ImageData` of an opened, decoded image (`_open_decoded`, with a TIFF's resolution read before decoding),
    holding no open file."""
    warn_if_animated(image, str(path))
    _warn_if_read_at_8_bits(image, path)
    dpi = tiff_dpi if image.format == "TIFF" else file_dpi(image)
    heif = image.format == "HEIF"
    if deep is not None:
        deep = grey_alpha_heif(path, deep) if heif else deep
        # Grey is a PIL image (`I;16`), as Pillow reads a 16-bit grey PNG.
        pixels = Image.fromarray(deep) if deep.ndim == 2 else deep
        return _detached(ImageData(pixels, image.info.get("icc_profile"), photo_exif(image), dpi), image)
    exif = photo_exif(image)
    opened, image = image, normalize_pil(image, str(path))
    icc = image.info.get("icc_profile")
    if (keyed := keyed_grey16(image)) is not None:  # a 16-bit grey PNG's colour key (tRNS), as its alpha
        return _detached(ImageData(keyed, icc, exif, dpi), opened)
    return _detached(ImageData(grey_alpha_heif(path, image) if heif else image, icc, exif, dpi), opened)


def _open_decoded(path: Path) -> tuple[Image.Image, np.ndarray | None, tuple[float, float] | None]:
    """The opened image, decoded, for a deep one its uint16 pixels (`read_deep`), and for a TIFF its upright
    resolution (`file_dpi`); closed when decoding fails: a truncated file's image stayed open, held by the error's
    traceback, until garbage collection (a ResourceWarning, and a file descriptor for every bad file of a folder)."""
    image = open_image(path)
    try:
        # Read before decoding: Pillow turns a TIFF by its EXIF orientation as it loads it and drops the tag, which
        # says that the resolution it states (of the stored image) swaps x and y.
        tiff_dpi = file_dpi(image) if image.format == "TIFF" else None
        deep = read_deep(path, image) if is_deep(image) else None
        if deep is None:
            load_pixels(image)
    except BaseException:
        image.close()
        raise
    return image, deep, tiff_dpi


def _warn_if_read_at_8_bits(image: Image.Image, path: Path) -> None:
    """Log a warning naming the file when Pillow decodes a deeper image at 8 bits (an AVIF of 10 / 12 bits, a CMYK
    TIFF of 16) and no installed decoder reads it deeper: its output cannot keep the levels the file had."""
    if image.format == "AVIF" and (bits := _avif_bit_depth(path)) > 8:
        # Pillow decodes AVIF at 8 bits, and pillow-heif's libheif here has no AVIF decoder.
        logger.warning(
            f"{shown_name(path)}: a {bits}-bit AVIF, read at 8 bits (Pillow decodes AVIF at 8 bits); to keep all its "
            "levels, convert it to a 16-bit PNG first (avifdec --depth 16 FILE.avif FILE.png)"
        )
    if (bits := cmyk_tiff_bits(image)) > 8:
        # 16-bit CMYK (print workflows): Pillow's colour management, which converts it to RGB, is 8-bit only.
        logger.warning(
            f"{shown_name(path)}: a {bits}-bit CMYK TIFF, read at 8 bits (Pillow reads CMYK at 8 bits) and restored as "
            "8-bit RGB; to keep all its levels, convert it to 16-bit RGB first (in the program that made it)"
        )


def _detached(data: ImageData, opened: Image.Image) -> ImageData:
    """`data` holding no open file: Pillow keeps a GIF, an APNG or a multi-page TIFF open after decoding its first
    frame, to seek the others, until the image is closed or garbage ("ResourceWarning: unclosed file")."""
    if data.pixels is opened:
        if not getattr(opened, "is_animated", False) and opened.format != "GIF":
            return data  # Pillow closed the file once it had decoded the only frame
        data = replace(data, pixels=opened.copy())
    opened.close()
    return data


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
            logger.warning(f"{shown_name(path)}: {str(warning.message).strip()}")
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
            return upright_size(image)
    except UnidentifiedImageError:
        import tifffile

        from .deep_decoders import upright_page_size

        try:
            with quiet_tifffile(), tifffile.TiffFile(path) as tif:
                return upright_page_size(tif.pages[0])
        except Exception:  # not a TIFF either: Pillow's error says so
            pass
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, MemoryError):
        raise
    except Exception as err:  # a damaged header fails in the plugins with almost any type
        raise OSError(f"{type(err).__name__}: {err}") from err


def header_size(path: str | os.PathLike, webp: WebPHeader | None = None) -> tuple[int, int] | None:
    """`image_size`, or None where the header cannot be read (the read that decodes the image says why); a WebP's
    from its chunks (`webp_header`; `webp`: those of `path`, walked already): Pillow reads a whole WebP to open it."""
    try:
        if webp is None and Path(path).suffix.lower() == ".webp":
            webp = read_webp_header(path)
        if webp is None or webp.size is None:
            return image_size(path)
        metadata = {"exif": webp.exif, "xmp": webp.xmp}  # where Pillow's WebP reader puts them
        with pillow_warnings():  # damaged EXIF: the read that decodes the image reports it
            return upright(webp.size, info_orientation({k: v for k, v in metadata.items() if v is not None}))
    except Exception:  # a damaged header fails with almost any type (`image_size`): unreadable
        return None


def _is_heif(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return is_heif(f.read(12))


def _bomb_reason(err: Image.DecompressionBombError) -> str:
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"too many pixels to decode safely ({err}); Pillow refuses images over {limit:,} pixels as possible "
        "decompression bombs: if the file is trusted, raise that limit (swinir-hf restore --max-image-pixels N "
        "refuses over 2N; 0: none; in Python PIL.Image.MAX_IMAGE_PIXELS), or downscale it first"
    )


def _read_tiff_array(path: Path) -> ImageData | None:
    """A TIFF Pillow cannot open — float64 / float16 grey, floating-point grey + alpha / RGB / RGBA, 16-bit grey +
    alpha — (first page, upright, with its ICC profile) as float32 (a mode F image for grey) / uint16 pixels, or None
    when the file is no such TIFF (so the caller reports Pillow's error).

    Raises:
        ValueError: it is one, but too large to decode safely, or not decodable (corrupt, a codec missing).
    """
    import tifffile

    try:
        with quiet_tifffile():
            tif = tifffile.TiffFile(path)
    except Exception:  # tifffile raises many kinds on a damaged header; Pillow's error then stands
        return None
    with tif, quiet_tifffile():
        try:
            page = tif.pages[0]
            planar, height, width, samples = page_layout(page)
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
        icc, orientation = page.tags.valueof(34675), page.tags.valueof(274, 1)
        dpi = _tiff_dpi(page, orientation)
        if (frames := len(tif.pages)) > 1:  # as `warn_if_animated` says it of a TIFF Pillow opens
            logger.warning(f"{shown_name(path)} has {frames} frames: only frame 1 is restored")
    arr = np.moveaxis(arr, 0, -1) if planar else arr
    arr = ORIENT.get(int(orientation), lambda a: a)(arr)
    arr = np.ascontiguousarray(arr, dtype=np.float32 if floats else np.uint16)
    grey = arr if grey_float else arr[..., 0]
    if page.photometric == 0:  # MinIsWhite (0 is white): made MinIsBlack, as 16-bit grey is (floats are [0, 1])
        grey[...] = (1.0 if floats else 65535) - grey
    pixels = Image.fromarray(arr) if grey_float else arr  # mode F, as Pillow reads a float32 grey TIFF
    return ImageData(pixels, bytes(icc) if icc is not None else None, dpi=dpi)


def _tiff_dpi(page: Any, orientation: int) -> tuple[float, float] | None:
    """A tifffile page's (x, y) pixels per inch, of its upright copy; None when it states none in inches or
    centimetres (tifffile writes 1 × 1 without a unit when not asked)."""
    unit = int(page.tags.valueof(296, 2))  # the TIFF default: inches
    if 282 not in page.tags or unit not in (2, 3):
        return None
    x, y = (value * (2.54 if unit == 3 else 1.0) for value in page.resolution)
    return upright((x, y), orientation) if x > 0 and y > 0 else None


def is_lossless_webp(path: str | os.PathLike) -> bool:
    """Whether a file is a WebP whose image is VP8L (lossless), not VP8 (lossy); False for anything else. Pillow does
    not say which: its chunks do (an animated one's first frame's)."""
    header = read_webp_header(path)
    return header is not None and header.lossless
