"""Image files ↔ in-memory images with orientation, colour profile and bit depth kept.

Pillow reads 16-bit-per-channel colour images as 8-bit RGB, so those go through `pypng` (PNG) and `tifffile`
(TIFF) and are held as (H, W, C) uint16 numpy arrays; everything else is a PIL image.
"""

from __future__ import annotations

import glob
import io
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

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


@dataclass
class ImageData:
    """An upright image and the colour profile it was stored with.

    `pixels` is a PIL image, or an (H, W, C) uint16 array for 16-bit colour (no PIL mode holds it).
    """

    pixels: Image.Image | np.ndarray
    icc_profile: bytes | None = None


def normalize_pil(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, and convert CMYK with an embedded profile to sRGB through that profile.

    Every other mode is returned as it is (the image processor knows how to read it).
    """
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile")
    if image.mode == "CMYK" and icc:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        image.info.pop("icc_profile", None)
    return image


def _is_16bit_colour(image: Image.Image) -> bool:
    if image.mode not in ("RGB", "RGBA") or not image.tile:
        return False
    rawmode = image.tile[0].args
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    return isinstance(rawmode, str) and ";16" in rawmode


def read_image(path: str | os.PathLike) -> ImageData:
    """Read an image file upright, with its ICC profile; 16-bit colour PNG / TIFF stay 16-bit.

    Raises:
        ValueError: the file is not an image Pillow can decode (message names the file).
    """
    path = Path(path)
    try:
        image = Image.open(path)
        if _is_16bit_colour(image):
            return ImageData(_read_16bit_colour(path, image), image.info.get("icc_profile"))
        image.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    image = normalize_pil(image)
    return ImageData(image, image.info.get("icc_profile"))


def _read_16bit_colour(path: Path, header: Image.Image) -> np.ndarray:
    if header.format == "PNG":
        import png

        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, info["planes"])
    elif header.format == "TIFF":
        import tifffile

        arr = tifffile.imread(path)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise ValueError(f"{path}: unsupported 16-bit TIFF layout {arr.shape}")
    else:
        raise ValueError(f"{path}: 16-bit colour {header.format} is not supported")
    orientation = header.getexif().get(0x0112, 1)
    return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(arr).astype(np.uint16))


def write_image(path: str | os.PathLike, image: Image.Image | np.ndarray, icc_profile: bytes | None = None) -> None:
    """Write atomically (temporary file, then rename), format from the suffix, ICC profile embedded.

    16-bit colour arrays are written as 16-bit PNG / TIFF; for formats without 16 bits (JPEG, WebP) 16-bit
    images are reduced to 8 bits, and JPEG drops alpha.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {suffix!r}")
    if isinstance(image, np.ndarray) and fmt not in ("PNG", "TIFF"):
        image = Image.fromarray((image.astype(np.float32) / 257.0).round().astype(np.uint8))
    if isinstance(image, Image.Image):
        if fmt in ("JPEG", "WEBP") and image.mode.startswith("I"):
            image = image.point(lambda v: v / 257.0).convert("L")
        if fmt == "JPEG" and image.mode not in ("L", "RGB"):
            image = image.convert("RGB" if image.mode in ("RGBA", "P", "PA") else "L")
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix=".swinir-", dir=path.parent)
    os.close(fd)
    try:
        if isinstance(image, np.ndarray):
            _write_16bit_colour(Path(tmp), image, fmt, icc_profile)
        else:
            extra = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
            if icc_profile:
                extra["icc_profile"] = icc_profile
            image.save(tmp, format=fmt, **extra)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_16bit_colour(path: Path, arr: np.ndarray, fmt: str, icc_profile: bytes | None) -> None:
    h, w, c = arr.shape
    if fmt == "TIFF":
        import tifffile

        extratags = [(34675, 7, len(icc_profile), icc_profile, True)] if icc_profile else []
        tifffile.imwrite(path, arr, photometric="rgb", extratags=extratags)
        return
    import png

    writer = png.Writer(w, h, greyscale=False, alpha=c == 4, bitdepth=16)
    with open(path, "wb") as f:
        writer.write(f, arr.reshape(h, w * c))
    if icc_profile:
        # pypng writes no iCCP chunk; insert one after IHDR.
        chunks = list(png.Reader(filename=str(path)).chunks())
        chunks.insert(1, (b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile)))
        with open(path, "wb") as f:
            png.write_chunks(f, chunks)


def collect_inputs(inputs: Iterable[str], recursive: bool = False) -> list[tuple[Path, Path]]:
    """Files, folders and glob patterns → sorted unique (file, path relative to its root) pairs.

    A folder contributes every non-hidden file in it (its sub-folders too with `recursive`), so that files
    that are not images get reported rather than silently skipped.

    Raises:
        FileNotFoundError: an input that names nothing.
    """
    found: dict[Path, Path] = {}
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            files = path.rglob("*") if recursive else path.iterdir()
            for f in files:
                rel = f.relative_to(path)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    found.setdefault(f.resolve(), rel)
        elif path.is_file():
            found.setdefault(path.resolve(), Path(path.name))
        else:
            matches = [Path(m) for m in glob.glob(spec, recursive=recursive) if Path(m).is_file()]
            if not matches:
                raise FileNotFoundError(f"no such file, folder or matching files: {spec}")
            for m in matches:
                found.setdefault(m.resolve(), Path(m.name))
    return sorted(found.items())
