"""In-memory images → image files, written atomically, with colour profile, EXIF and bit depth kept.

PIL images go through Pillow; (H, W, C) uint16 arrays (16-bit colour, grey + alpha) become 16-bit PNG (`pypng`) or
TIFF (`tifffile`), float32 ones float TIFF; formats without 16 bits (JPEG, WebP) get 8. `image_io` reads them.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..console import shown_name, some_names
from ..models.pixels_swinir import grey16_image
from ..storage.atomic_writes import written_atomically
from .jobs import DEFAULT_QUALITY

logger = logging.getLogger(__name__)

# TIFF outputs are deflate-compressed (lossless): tifffile decodes deflate by itself, LZW only with imagecodecs,
# so a 16-bit or float colour output stays readable by `read_image` (and Photoshop, GIMP, libtiff read both).
_TIFF_COMPRESSION = {"pillow": "tiff_adobe_deflate", "tifffile": "zlib"}


def write_image(
    path: str | os.PathLike,
    image: Image.Image | np.ndarray,
    icc_profile: bytes | None = None,
    *,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    quality: int = DEFAULT_QUALITY,
    lossless: bool = False,
    compress_level: int | None = None,
    replace: bool = True,
    made_by: str | None = None,
    alpha_dropped: Callable[[Path], None] | None = None,
) -> None:
    """Write atomically (temporary file, then rename), format from the suffix, ICC profile embedded, and `exif` (an
    EXIF block, as `photo_exif` gives) in JPEG, PNG and WebP files (TIFFs get none: Pillow and tifffile cannot write
    its sub-IFDs), and the (x, y) resolution `dpi` in PNG, JPEG and TIFF files (WebP has none). `replace` False keeps
    a file found at `path` when the write ends (`atomic_writes.AppearedError`). `made_by` (ASCII text: a
    `provenance.Provenance` record) goes where each format names the software that wrote it.

    TIFFs are deflate-compressed (lossless). Arrays are (H, W) or (H, W, C), C in 1..4: uint8 ones are written as
    8-bit images, uint16 ones as 16-bit PNG / TIFF, float ones ([0, 1]) as float TIFF (16-bit as PNG); formats without
    16 bits (JPEG, WebP) get 8 bits, and JPEG drops alpha (with a warning when it is not opaque: `alpha_dropped`
    is called with `path` instead, by a run that says it once for all its outputs: `warn_alpha_dropped`).
    `quality` (1-100) applies to JPEG (written without chroma subsampling, 4:4:4) and lossy WebP; `lossless` writes
    lossless WebP (ignored by the other formats); `compress_level` (0-9) is PNG's zlib level (None: Pillow's 6).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {suffix!r}")
    # uint8 arrays are PIL images (the 16-bit writer would take them as 16-bit levels), and so are grey uint16 / float
    # ones (as `restore` returns for such inputs: I;16 / F, written below); the colour-array writers take the rest.
    if isinstance(image, np.ndarray) and (image.dtype == np.uint8 or image.ndim == 2 or image.shape[-1] == 1):
        pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        image = Image.fromarray(pixels.astype(np.float32) if pixels.dtype.kind == "f" else pixels)
    if isinstance(image, np.ndarray) and fmt not in ("PNG", "TIFF"):
        image = Image.fromarray(_array_to_bits(image, 8))
    elif isinstance(image, np.ndarray) and fmt == "PNG":
        image = _array_to_bits(image, 16)
    # Floats first: Pillow's own F → L conversion would read [0, 1] as 0..1 grey levels (black).
    if isinstance(image, Image.Image) and image.mode == "F" and fmt != "TIFF":
        image = _float_to_storable(image, fmt)
    if isinstance(image, Image.Image):
        if image.mode in ("I;16L", "I;16N", "RGBX"):  # as `restore` gives them back; PNG holds neither (TIFF: I;16N)
            image = image.convert("RGB") if image.mode == "RGBX" else grey16_image(np.asarray(image))
        if fmt in ("JPEG", "WEBP") and image.mode.startswith("I"):  # 16-bit levels, rounded to the nearest 8-bit one
            levels = np.asarray(image, dtype=np.float64) / 257
            image = Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8))
        if fmt == "JPEG" and image.mode not in ("L", "RGB"):
            if "A" in image.getbands() and image.getchannel("A").getextrema()[0] < 255:
                # The colour under transparent pixels is arbitrary (often black): it shows once alpha is gone.
                if alpha_dropped is None:
                    warn_alpha_dropped([path])
                else:
                    alpha_dropped(path)
            image = image.convert("RGB" if image.mode in ("RGBA", "P", "PA") else "L")
        if fmt == "WEBP" and image.mode in ("L", "LA") and icc_profile:
            image, icc_profile = _grey_as_srgb(image, icc_profile, path)
    with written_atomically(path, replace) as tmp:
        if isinstance(image, np.ndarray):
            _write_colour_array(tmp, image, fmt, icc_profile, exif, dpi, made_by, compress_level)
        else:
            options = _save_options(fmt, quality, lossless, icc_profile, compress_level)
            options |= _software_option(fmt, made_by)
            options |= {"dpi": dpi} if dpi and fmt in ("PNG", "JPEG", "TIFF") else {}
            with open(tmp, "wb") as file:  # closing it flushes: a write that fails then raises too
                exif_option = {"exif": exif} if exif and fmt != "TIFF" else {}
                # libtiff checks its own writes, and without a descriptor builds the whole file in memory
                target = file if fmt == "TIFF" else _WrittenByPython(file)
                image.save(target, format=fmt, **options, **exif_option)


def warn_alpha_dropped(paths: Sequence[str | os.PathLike]) -> None:
    """Warn, once, that the JPEG outputs `paths` lost their (not opaque) alpha channel: named when one, else counted
    and the first few named (a folder of cut-outs written as JPEG said it once for each file)."""
    names = [str(path) for path in paths]
    which, their = (
        (shown_name(names[0]), "the") if len(names) == 1 else (f"{len(names)} outputs ({some_names(names)})", "their")
    )
    logger.warning(f"{which}: JPEG has no transparency, so {their} alpha channel is dropped (png / webp keep it)")


class _WrittenByPython:
    """A file for Pillow to encode into that has no `fileno()`, so that its encoders write through Python's `write`,
    which raises on a short write. Given a descriptor, Pillow's C encoders write to it themselves and ignore a short
    write: on a full disk, a cut-off JPEG was saved without an error and renamed into place as a finished output."""

    def __init__(self, file: io.BufferedWriter) -> None:
        self.file = file

    def write(self, data: bytes) -> int:
        return self.file.write(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def flush(self) -> None:
        self.file.flush()


def _grey_as_srgb(image: Image.Image, icc_profile: bytes, path: Path) -> tuple[Image.Image, bytes | None]:
    """A grey (L / LA) image and its grey profile → RGB(A) in sRGB and the sRGB profile: WebP stores grey as RGB,
    where a grey profile is invalid (colour-managed viewers drop it). A profile that cannot be used: the image as
    it is, without it, and a warning naming `path`."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        rgb = ImageCms.profileToProfile(image.convert("L"), source, srgb, outputMode="RGB")
    except (OSError, ImageCms.PyCMSError) as err:
        logger.warning(
            f"{shown_name(path)}: the grey image's ICC profile cannot be used "
            f"({str(err).strip() or type(err).__name__}), and a WebP holds grey as RGB, where a grey profile is "
            "invalid: written without a profile"
        )
        return image, None
    if image.mode == "LA":
        rgb.putalpha(image.getchannel("A"))
    return rgb, srgb.tobytes()


def _save_options(
    fmt: str, quality: int, lossless: bool, icc_profile: bytes | None, compress_level: int | None = None
) -> dict[str, Any]:
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
    elif fmt == "PNG" and compress_level is not None:
        options = {"compress_level": compress_level}
    else:
        options = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    return options


def _software_option(fmt: str, made_by: str | None) -> dict[str, Any]:
    """Pillow's `save` option that records `made_by` in a `fmt` file: not in EXIF, which is the input's."""
    if not made_by:
        return {}
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", made_by)
        return {"pnginfo": info}
    if fmt == "WEBP":
        from .provenance import xmp_packet

        return {"xmp": xmp_packet(made_by)}
    return {"comment": made_by} if fmt == "JPEG" else {"software": made_by} if fmt == "TIFF" else {}


def _array_to_bits(arr: np.ndarray, bits: int) -> np.ndarray:
    """A uint16 or float ([0, 1]) colour array as uint8 (`bits` 8) or uint16 (`bits` 16) levels."""
    if arr.dtype.kind == "f":
        peak = 255.0 if bits == 8 else 65535.0
        return np.rint(np.clip(np.nan_to_num(arr), 0.0, 1.0) * peak).astype(np.uint8 if bits == 8 else np.uint16)
    return (arr.astype(np.float32) / 257.0).round().astype(np.uint8) if bits == 8 else arr


def _float_to_storable(image: Image.Image, fmt: str) -> Image.Image:
    """A mode F image (floats in [0, 1]) for a format without float pixels: 16-bit grey for PNG, 8-bit otherwise."""
    return Image.fromarray(_array_to_bits(np.asarray(image, dtype=np.float32), 16 if fmt == "PNG" else 8))


def _write_colour_array(
    path: Path,
    arr: np.ndarray,
    fmt: str,
    icc_profile: bytes | None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    made_by: str | None = None,
    compress_level: int | None = None,
) -> None:
    """An (H, W, C) uint16 array as 16-bit PNG / TIFF, a float32 one as float TIFF; C is 2 (grey + alpha), 3 or 4;
    `exif` goes into PNGs only, `dpi` and `made_by` (ASCII) into both; `compress_level`: the PNG's zlib level.

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
            resolution=dpi,
            resolutionunit="INCH" if dpi else None,
            compression=_TIFF_COMPRESSION["tifffile"],
            metadata=None,  # no JSON shape description, no "tifffile.py" software tag: they would read as the photo's
            software=made_by or False,
        )
        return
    import png

    try:
        writer = png.Writer(w, h, greyscale=grey, alpha=alpha, bitdepth=16, compression=compress_level)
        with open(path, "wb") as f:
            writer.write(f, arr.reshape(h, w * c))
        # pypng writes no iCCP or eXIf chunk: inserted after IHDR.
        extra = [(b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))] if icc_profile else []
        extra += [(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))] if exif else []
        if dpi:  # pixels per metre (unit 1)
            extra += [(b"pHYs", struct.pack(">IIB", *(round(v / 0.0254) for v in dpi), 1))]
        extra += [(b"tEXt", b"Software\x00" + made_by.encode("ascii"))] if made_by else []
        if extra:
            with open(path, "rb") as f:  # not `Reader(filename=)`: pypng never closes the file it opens
                chunks = list(png.Reader(file=f).chunks())
            with open(path, "wb") as f:
                png.write_chunks(f, chunks[:1] + extra + chunks[1:])
    except png.Error as err:
        raise OSError(f"16-bit PNG encoder: {err}") from err
