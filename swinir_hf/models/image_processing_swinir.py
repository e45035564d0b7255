"""Image processor: images of any mode / bit depth ↔ `pixel_values` floats in [0, 1].

Shipped as remote code in every Hub folder (imports only PIL, numpy, torch and transformers). The functions
`split_image` → `to_pixel_values` → (model) → `from_reconstruction` → `compose_image` (with `alpha_for_model` →
(model) → `with_alpha` for an alpha channel the model upscales) are the one data path of both the restoration engine
and the pipeline, so the two give the same pixels.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import numbers
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ImagesKwargs

from .alpha_swinir import fill_hidden_colour
from .configuration_swinir import require_transformers
from .constants_swinir import ALPHA_MODES, AlphaMode, dtype_name  # noqa: F401  (re-exported: the pipeline's, the demo's)
from .frames_swinir import warn_if_animated
from .hub_push_swinir import SaidPush
from .moved_swinir import moved_names

# What lived here up to 0.1.0, before frames and alpha had modules of their own (`warn_if_animated` and
# `fill_hidden_colour`, which this module calls, import from here as before, without a warning).
if not TYPE_CHECKING:
    __getattr__ = moved_names(
        __name__,
        dict.fromkeys(
            (
                "FRAMES_COUNTED",
                "frame_count",
                "frames_said",
            ),
            "frames_swinir",
        )
        | dict.fromkeys(("alpha_for_model", "check_alpha_mode", "with_alpha"), "alpha_swinir"),
    )

if TYPE_CHECKING:
    # Never run. transformers ships a remote-code module's relative imports with it (from the Hub, and in the
    # `save_pretrained` of a class loaded with trust_remote_code=True), so the pipeline's line makes an image
    # processor saved again carry the pipeline that config.json's `custom_pipelines` names, which neither the model's
    # nor the config's save would copy (here rather than in the model, whose users may not have Pillow). The others
    # are the pipeline's own imports: transformers < 5.18 copies only the direct relative imports of a local folder's
    # module, then fails on the first file missing (FileNotFoundError, before the version check could speak).
    from .code_files_swinir import MODEL_AUTO_MAP  # noqa: F401
    from .image_files_swinir import open_image  # noqa: F401
    from .loading_swinir import WEIGHTS_LAYOUTS  # noqa: F401
    from .modeling_swinir import SwinIRForImageRestoration  # noqa: F401
    from .pipeline_swinir import ImageRestorationPipeline  # noqa: F401
    from .runtime_swinir import ImageTooLargeError  # noqa: F401
    from .tiling_swinir import tiled_apply  # noqa: F401

# An image processor loads before any config: on a transformers older than this code needs, one line saying so
# rather than the import below failing (5.18's image processor base without torchvision, which older ones lack).
require_transformers()
from transformers.image_processing_backends import PilBackend as _ImageProcessorBase  # noqa: E402

logger = logging.getLogger(__name__)

# ITU-R BT.601 luma weights, as Pillow's "L" conversion.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Float images are [0, 1]; noisy ones overshoot (σ = 75 grey levels reaches ≈ ±1.5 beyond). Values outside this
# range mean another convention (0..255, 0..65535), which clipping would turn white instead of restoring.
FLOAT_RANGE = (-4.0, 5.0)
# How far past [0, 1] float values may go before the clamping of their output is warned of: half a level of 8 bits,
# a rounding's overshoot.
FLOAT_SLACK = 0.5 / 255
# Where a 3-D array's channels are (transformers' `input_data_format` values); channel counts an image can have.
DataFormat = Literal["channels_first", "channels_last"]
DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)
_CHANNEL_COUNTS = (1, 2, 3, 4)


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


def check_data_format(value: Any, name: str = "input_data_format") -> DataFormat | None:
    """`value` ("channels_first", "channels_last", transformers' `ChannelDimension` or None) as a `DataFormat`."""
    value = getattr(value, "value", value)  # ChannelDimension.FIRST → "channels_first"
    if value is not None and value not in DATA_FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, DATA_FORMATS))} or None, got {value!r}")
    return value


def infer_data_format(shape: tuple[int, ...], default: DataFormat) -> DataFormat:
    """Where a 3-D image of `shape` keeps its channels: the end of the shape that holds 1-4 values, `default` (with a
    warning) when both ends do, as in a (3, 16, 4) image."""
    first, last = len(shape) == 3 and shape[0] in _CHANNEL_COUNTS, shape[-1] in _CHANNEL_COUNTS
    if first and last:
        logger.warning(
            f"the channels of a {tuple(shape)} image may be first or last: read as {default}; pass "
            "input_data_format to say which"
        )
        return default
    return "channels_first" if first else "channels_last"


def image_to_float(
    image: Image.Image | np.ndarray | torch.Tensor, input_data_format: DataFormat | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Any image → ((H, W, C) float32 in [0, 1], alpha (H, W) float32 or None).

    PIL modes 1, L, LA, La, P, PA, RGB, RGBA, RGBa, CMYK, YCbCr, I;16*, I and F are accepted; palettes are expanded
    (to RGBA when they have transparency), premultiplied alpha (La, RGBa) is divided out. uint8 / uint16 arrays
    are scaled by their range; float arrays (and mode F) are taken as [0, 1] and must be finite and within
    `FLOAT_RANGE` (else ValueError: 0..255 floats would come out white).
    Arrays and tensors are (H, W), (H, W, C) or (C, H, W) as `input_data_format` says; by default arrays are
    (H, W, C) and tensors (C, H, W) unless only their last dimension can hold channels (`infer_data_format`). 2 and 4
    channels carry alpha last.
    """
    if isinstance(image, Image.Image):
        return _pil_to_float(image)
    if isinstance(image, torch.Tensor):
        if image.is_meta:
            raise ValueError("a tensor on the meta device holds no pixels: pass one with data")
        if input_data_format is None and image.ndim == 3:
            input_data_format = infer_data_format(tuple(image.shape), "channels_first")
        t = image.detach().cpu()
        image = (t.float() if t.dtype == torch.bfloat16 else t).numpy()  # numpy has no bfloat16
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(image).__name__}")
    if isinstance(image, np.ma.MaskedArray):  # its data under the mask would be restored as pixels
        if np.ma.getmaskarray(image).any():
            raise ValueError(
                "a masked array: its masked pixels have no values to restore; pass image.filled(VALUE) (a value for "
                "them) or np.ma.getdata(image) (the data under the mask)"
            )
        image = np.ma.getdata(image)
    if input_data_format == "channels_first" and image.ndim == 3:
        image = image.transpose(1, 2, 0)
    if not image.dtype.isnative:  # big-endian data (a FITS or raw file read as '>u2'): its values, in native order
        image = image.astype(image.dtype.newbyteorder("="))
    arr = image[..., None] if image.ndim == 2 else image
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        hint = _shape_hint(image.shape)
        raise ValueError(f"image array must be (H, W) or (H, W, C) with C in 1..4, got shape {image.shape}{hint}")
    if 0 in arr.shape:  # a crop outside the image, say: its shape is right, it has no pixels (W×H, as elsewhere)
        raise ValueError(f"the image is empty ({arr.shape[1]}×{arr.shape[0]} pixels): there is nothing to restore")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = check_float_range(arr.astype(np.float32))
    else:
        raise ValueError(f"unsupported array dtype {arr.dtype}: use uint8, uint16 or float in [0, 1]")
    if arr.shape[-1] in (2, 4):
        return arr[..., :-1], arr[..., -1]
    return arr, None


def _shape_hint(shape: tuple[int, ...]) -> str:
    """What an array of `shape`, which is no (H, W[, C]) image, most likely is, and what to pass instead."""
    if len(shape) == 3 and shape[0] in (1, 2, 3, 4):  # PyTorch's / OpenCV-DNN's (C, H, W) layout
        return ": a channels-first (C, H, W) array? pass image.transpose(1, 2, 0)"
    if len(shape) == 4 and shape[0] == 1 and shape[1] in (1, 2, 3, 4) and shape[3] not in (1, 2, 3, 4):
        # PyTorch's batch of one, (1, C, H, W): `image[0]` alone would be refused as channels-first
        return ": a batch of one channels-first (1, C, H, W) image? pass image[0].transpose(1, 2, 0)"
    if len(shape) == 4 and shape[0] == 1:  # a batch of one, (1, H, W, C)
        return ": a batch of one image? pass image[0]"
    return ""


def check_float_range(arr: np.ndarray) -> np.ndarray:
    """`arr` (float32) itself, after checking that it is a [0, 1] image: finite, within `FLOAT_RANGE`.

    Raises:
        ValueError: NaN / infinite values, or values of another range (0..255), saying what to do.
    """
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        raise ValueError(f"the image has {bad} NaN / infinite values: replace them (e.g. np.nan_to_num) first")
    low, high = float(arr.min()), float(arr.max())
    if low < FLOAT_RANGE[0] or high > FLOAT_RANGE[1]:
        raise ValueError(
            f"float images must hold values in [0, 1] (noise may overshoot it, up to [{FLOAT_RANGE[0]:g}, "
            f"{FLOAT_RANGE[1]:g}]), this one spans [{low:g}, {high:g}]: divide by its range "
            "(255 for 8-bit data) or pass uint8 / uint16 pixels"
        )
    return arr


def warn_if_clamped(pixels: np.ndarray | Image.Image, name: str) -> None:
    """Log a warning naming `name` when float `pixels` go past [0, 1] (`clamping_note`)."""
    if note := clamping_note(pixels, name):
        logger.warning(note)


def clamping_note(pixels: np.ndarray | Image.Image, name: str) -> str | None:
    """What to say of float `pixels` (an array, a mode F image) that go past [0, 1] (`FLOAT_SLACK`), naming `name`:
    taken (a noisy image overshoots), but their output is clamped, and a [-1, 1] image (a `(x - 0.5) / 0.5`
    normalisation) loses its lower half to black. None within [0, 1], beyond `FLOAT_RANGE` (refused), and for
    integer pixels, which cannot leave it."""
    if isinstance(pixels, Image.Image) and pixels.mode != "F":
        return None
    values = np.asarray(pixels)
    if values.dtype.kind != "f":
        return None
    low, high = float(values.min()), float(values.max())
    if FLOAT_RANGE[0] <= low < -FLOAT_SLACK or 1 + FLOAT_SLACK < high <= FLOAT_RANGE[1]:
        return (
            f"{name}: its values span [{low:g}, {high:g}], beyond [0, 1]: the output is clamped to [0, 1], and what "
            "lies beyond (HDR highlights, a [-1, 1] image's lower half) is lost"
        )
    return None


def check_level_range(levels: np.ndarray) -> np.ndarray:
    """`levels` (a mode I image's integers) itself, after checking that they are 16-bit levels (0..65535).

    Raises:
        ValueError: 32-bit levels, which clipping would flatten to black / white, saying what to do.
    """
    low, high = int(levels.min()), int(levels.max())
    if low < 0 or high > 65535:
        raise ValueError(
            f"mode I images are read as 16-bit levels (0..65535), this one spans [{low}, {high}]: scale it "
            "to 0..65535, or pass floats in [0, 1] (mode F or a float array)"
        )
    return levels


def _pil_to_float(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = image.mode
    if mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        levels = check_level_range(np.asarray(image))
        return (levels.astype(np.float32) / 65535.0)[..., None], None
    if mode == "F":
        return check_float_range(np.asarray(image, dtype=np.float32))[..., None], None
    # Premultiplied alpha ("La", "RGBa": HEIF images) is divided out by the conversion, and the alpha kept.
    if mode == "La":
        image = image.convert("LA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if mode.endswith(("A", "a")) else "RGB")
    return image_to_float(np.asarray(image))


def match_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) → (H, W, channels): grey is replicated to RGB, RGB becomes BT.601 luma for 1-channel models."""
    check_image_channels(channels)
    c = arr.shape[-1]
    if c == channels:
        return arr
    if c == 1:
        return np.repeat(arr, channels, axis=-1)
    if channels == 1 and c == 3:
        return (arr @ LUMA)[..., None]
    raise ValueError(f"cannot map a {c}-channel image to a {channels}-channel model")


def check_image_channels(channels: int) -> None:
    """Raise ValueError unless a model of `channels` channels takes images: grey (1) or RGB (3), alpha aside."""
    if channels not in (1, 3):
        raise ValueError(
            f"a {channels}-channel model takes no image: images map to 1 (grey) or 3 (RGB) channels, an alpha "
            f"channel aside; pass its (N, {channels}, H, W) tensors to the model itself"
        )


def float_to_image(arr: np.ndarray, bit_depth: int = 8, output_type: str = "pil") -> Image.Image | np.ndarray:
    """(H, W, C) float image → clamped, rounded uint8 / uint16 PIL image or array (C = 1 gives greyscale)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    # By blocks of rows into a C-ordered result: a whole-image float temporary is 805 MB for an 8192² RGB image,
    # and a transposed input (the model output's view) would give a transposed result that Pillow copies again.
    out = np.empty(arr.shape, np.uint8 if bit_depth == 8 else np.uint16)
    rows = max(1, (1 << 20) // max(1, math.prod(arr.shape[1:])))  # ≈ 4 MiB of float32 a block; arr[0]: 0 rows fail
    for top in range(0, arr.shape[0], rows):
        block = np.clip(arr[top : top + rows], 0.0, 1.0)
        block *= peak
        out[top : top + rows] = np.rint(block, out=block)
    if out.shape[-1] == 1:
        out = out[..., 0]
    if output_type == "np":
        return out
    if output_type != "pil":
        raise ValueError(f"output_type must be 'pil' or 'np', got {output_type!r}")
    if bit_depth == 16 and out.ndim != 2:
        raise ValueError("PIL has no 16-bit RGB mode: use output_type='np' for 16-bit colour")
    return Image.fromarray(out)  # uint16 (H, W) is mode I;16


@dataclass(frozen=True)
class ImageLayout:
    """How an input image was held, so that its restoration comes back as the same kind of image.

    `mode` is the PIL mode (None for arrays), `dtype` / `shape` the array's (None for PIL images), `alpha` the
    (H, W) float alpha in [0, 1] the model does not see, `icc_profile` the PIL image's colour profile,
    `hidden_colour` the colour `fill_hidden_colour` replaced (put back under the result's fully transparent pixels).
    """

    mode: str | None
    dtype: np.dtype | None
    shape: tuple[int, ...] | None
    alpha: np.ndarray | None
    icc_profile: bytes | None = None
    hidden_colour: np.ndarray | None = None  # (C,): the one colour under every fully transparent pixel, if filled


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


def split_image(image: Image.Image | np.ndarray) -> tuple[np.ndarray, ImageLayout]:
    """A PIL image (made upright, CMYK through its profile) or a uint8 / uint16 / float array →
    ((H, W, C) float32 colour in [0, 1], hidden colour filled (`fill_hidden_colour`), its `ImageLayout`). A 16-bit
    colour file opened with Pillow (at 8 bits) is a ValueError (`check_colour_depth`)."""
    if isinstance(image, Image.Image):
        check_colour_depth(image)
        warn_if_animated(image)
        image = normalize_pil(image)
        if (keyed := keyed_grey16(image)) is not None:  # as `read_image` gives such a file: restored as an array
            return split_image(keyed)
        colour, alpha = image_to_float(image)
        colour, hidden = fill_hidden_colour(colour, alpha)
        return colour, ImageLayout(image.mode, None, None, alpha, image.info.get("icc_profile"), hidden)
    if isinstance(image, np.ndarray):
        colour, alpha = image_to_float(image)
        colour, hidden = fill_hidden_colour(colour, alpha)
        native = image.dtype.newbyteorder("=")  # a big-endian array's restoration is in native order
        return colour, ImageLayout(None, native, image.shape, alpha, hidden_colour=hidden)
    raise TypeError(f"expected a PIL image or numpy array, got {type(image).__name__}")


def keyed_grey16(image: Image.Image) -> np.ndarray | None:
    """A 16-bit grey image (`I;16`, `I`) with a colour key (a PNG's tRNS: one level meaning transparent) as the
    (H, W, 2) uint16 grey + alpha array it stands for (Pillow has no 16-bit grey + alpha mode); None for any other
    image. `normalize_pil` makes the key of an 8-bit image its alpha; this is the 16-bit case."""
    if not (image.mode.startswith("I") and isinstance(key := image.info.get("transparency"), int)):
        return None
    levels = np.asarray(image).astype(np.uint16)
    return np.dstack([levels, np.where(levels == key, 0, 65535).astype(np.uint16)])


def to_pixel_values(colour: np.ndarray, num_channels: int) -> torch.Tensor:
    """(H, W, C) float colour → float32 `pixel_values` for a `num_channels` model: (1, num_channels, H, W), or
    (C, 1, H, W) for colour into a 1-channel model, which restores each channel as a grey image (3× the work)."""
    if num_channels == 1 and colour.shape[-1] > 1:
        batch = colour.transpose(2, 0, 1)[:, None]
    else:
        batch = match_channels(colour, num_channels).transpose(2, 0, 1)[None]
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    # A read-only array (a mode F image's pixels) would make torch warn that it is not writable.
    return torch.from_numpy(batch if batch.flags.writeable else batch.copy())


def from_reconstruction(reconstruction: torch.Tensor, channels: int) -> np.ndarray:
    """Inverse of `to_pixel_values` on the model output: → (H', W', channels) float32, not clamped. Grey inputs
    of an RGB model come back as BT.601 luma."""
    y = reconstruction.detach().float().cpu().numpy()
    if y.shape[1] == 1 and channels > 1:
        return y[:, 0].transpose(1, 2, 0)
    return match_channels(y[0].transpose(1, 2, 0), channels) if channels == 1 else y[0].transpose(1, 2, 0)


def compose_image(colour: np.ndarray, layout: ImageLayout) -> Image.Image | np.ndarray:
    """Restored (H', W', C) float colour + the input's layout → the input's kind of image at H' × W': the same
    PIL mode family (8-bit, 16-bit grey `I;16`, float `F`) or array dtype and channel layout, alpha of another size
    (not upscaled by the model: `with_alpha`) resized bicubically, `fill_hidden_colour`'s colour put back where the
    alpha comes out fully transparent, the ICC profile kept."""
    alpha = layout.alpha
    if alpha is not None and alpha.shape != colour.shape[:2]:
        h, w = colour.shape[:2]
        resized = Image.fromarray(alpha.astype(np.float32)).resize((w, h), Image.Resampling.BICUBIC)
        alpha = np.clip(np.asarray(resized), 0.0, 1.0)
    if alpha is not None and layout.hidden_colour is not None:
        colour = np.where(_transparent(alpha, layout)[..., None], layout.hidden_colour, colour)
    if alpha is not None:
        colour = np.concatenate([colour, alpha[..., None]], axis=-1)
    if layout.mode is None:  # an array
        shape = colour.shape[:2] + layout.shape[2:]
        if layout.dtype in (np.uint8, np.uint16):
            out = float_to_image(colour, bit_depth=8 if layout.dtype == np.uint8 else 16, output_type="np")
        else:
            # Clipped straight into a C-order array, as the integer outputs are: `colour` is a channels-last view of
            # the model's channels-first output, which a clip copies as it is laid out (a second copy to reorder).
            out = np.clip(colour, 0.0, 1.0, out=np.empty(colour.shape, layout.dtype))
        return out.reshape(shape)
    if layout.mode == "F":
        image = Image.fromarray(np.clip(colour[..., 0], 0.0, 1.0).astype(np.float32))
    else:
        image = float_to_image(colour, bit_depth=16 if layout.mode.startswith("I") else 8)
    if layout.icc_profile:
        image.info["icc_profile"] = layout.icc_profile
    return image


def _transparent(alpha: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """(H, W) bool: where `alpha` comes out as 0 in `layout`'s kind of image (below half a level of 8 / 16 bits)."""
    if layout.mode is None:
        peak = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(np.dtype(layout.dtype))
    else:
        peak = 65535 if layout.mode.startswith("I") else 255
    return alpha < 0.5 / peak if peak else alpha <= 0


def _as_restored(image: Any) -> Any:
    """A PIL image as `split_image` reads it for `restore` and the pipeline: upright (EXIF orientation applied), CMYK
    through its profile, and a 16-bit colour file that Pillow opened at 8 bits refused (`check_colour_depth`), so
    that the processor's pixels are theirs; arrays and tensors as they are."""
    if not isinstance(image, Image.Image):
        return image
    check_colour_depth(image)
    return normalize_pil(image)


def _format_of(image: Any, given: DataFormat | None) -> DataFormat | None:
    """The `input_data_format` to read `image` with: `given`, else for a 3-D array the end of its shape that can
    hold channels (channels-last when both can, as numpy images are); tensors are left to `image_to_float`."""
    if given is None and isinstance(image, np.ndarray) and image.ndim == 3:
        return infer_data_format(image.shape, "channels_last")
    return given


# What each processor has warned of (`_warn_of_losses`): a dataset's transform calls it for every batch.
_SAID: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _warn_of_losses(processor: Any, converted: list[tuple[np.ndarray, np.ndarray | None]], channels: int) -> None:
    """Log what `pixel_values` cannot carry of the (pixels, alpha) images, each kind once per `processor`: an alpha
    channel, or colour for a grey model (the image-restoration pipeline restores both); and float values past
    [0, 1], which the restored image cannot keep (`clamping_note`)."""
    names = ["the image"] if len(converted) == 1 else [f"image {i} of the batch" for i in range(len(converted))]
    notes = {
        "alpha": any(alpha is not None for _, alpha in converted)
        and "SwinIRImageProcessor drops alpha channels (the model restores colour only): the image-restoration "
        "pipeline restores them too, and gives RGBA / LA images back",
        "grey": channels == 1
        and any(pixels.shape[-1] == 3 for pixels, _ in converted)
        and "SwinIRImageProcessor reduces colour images to grey (BT.601 luma) for this 1-channel model: the "
        "image-restoration pipeline restores each colour channel instead, and gives colour images back",
        "range": next(filter(None, (clamping_note(p, n) for (p, _), n in zip(converted, names, strict=True))), None),
    }
    said = _SAID.setdefault(processor, set())
    for kind, note in notes.items():
        if note and kind not in said:
            said.add(kind)
            logger.warning(note)


class SwinIRImageProcessorKwargs(ImagesKwargs, total=False):
    """The processor's own option: declared, so that `from_pretrained(..., num_channels=1)` and
    `processor(images, num_channels=1)` take it as transformers 5 expects of an image processor."""

    num_channels: int


# transformers' `rescale_factor` default, written into the preprocessor_config.json of earlier versions: what this
# processor does to 8-bit pixels, so accepted (and not saved).
_DEFAULT_RESCALE = 1 / 255
# Options of every transformers image processor that change no pixels here: images are always brought to the
# model's channels (`do_convert_rgb`), and nothing is grouped by size (`disable_grouping`).
_NO_EFFECT = ("do_convert_rgb", "disable_grouping")
# Options of one call (`preprocess` takes them), not settings of a processor.
_PER_CALL = ("input_data_format", "data_format", "device", "return_tensors")


def refuse_unsupported(processor: str, options: dict[str, Any]) -> None:
    """Raise a TypeError naming the `options` (other image processors' settings) that are set: this processor
    neither resizes, crops nor normalises, and ignoring them would hand the model something else than asked for.
    Unset (None / False) options, as generic callers pass them, the 1/255 `rescale_factor` and the options that
    change nothing here (`_NO_EFFECT`) are fine."""
    if per_call := sorted(k for k in _PER_CALL if options.get(k) is not None):
        raise TypeError(
            f"{processor} takes {', '.join(per_call)} per call, not as a setting: pass it to processor(images, ...)"
        )
    options = {k: v for k, v in options.items() if k not in _NO_EFFECT}
    factor = options.get("rescale_factor")
    if factor is not None and not math.isclose(factor, _DEFAULT_RESCALE, rel_tol=1e-9):
        raise TypeError(
            f"{processor} takes no rescale_factor other than 1/255: it scales integer pixels by their range (uint8 "
            "by 1/255, 16-bit by 1/65535) and takes floats as [0, 1]; divide other data yourself and pass "
            "do_rescale=False"
        )
    if asked := sorted(k for k, v in options.items() if k != "rescale_factor" and v is not None and v is not False):
        raise TypeError(
            f"{processor} takes no {', '.join(asked)}: it neither resizes, crops nor normalises (the model pads "
            "inside and returns exactly scale × the input)"
        )


def flat_images(images: Any) -> list[Any]:
    """`images` as a flat list: one image or a 4-D batch, or a list or tuple of them or of lists of images (one
    level of nesting, as transformers' image processors flatten it).

    Raises:
        ValueError: no images given.
        TypeError: an item that is no image, path or URL (a list nested deeper, bytes).
    """

    def batch(item: Any) -> list[Any]:
        is_batch = isinstance(item, (torch.Tensor, np.ndarray)) and item.ndim == 4
        return list(item) if is_batch or isinstance(item, (list, tuple)) else [item]

    top = images if isinstance(images, (list, tuple)) else batch(images)
    flat = [im for item in top for im in batch(item)]
    if not flat:
        raise ValueError("no images given")
    # Here, not in `image_to_float` (whose other callers take no paths): its message named no path or URL.
    if other := [im for im in flat if not isinstance(im, (Image.Image, np.ndarray, torch.Tensor, str, os.PathLike))]:
        got = type(other[0]).__name__
        raise TypeError(f"expected a PIL image, numpy array, torch tensor, file path or http(s) URL, got {got}")
    return flat


def integer_pixels(image: Any) -> str | None:
    """What integer pixels `image` holds ("uint8", "PIL mode RGB"), or None for float pixels (and non-images,
    which `image_to_float` refuses)."""
    if isinstance(image, Image.Image):
        return None if image.mode == "F" else f"PIL mode {image.mode}"
    if isinstance(image, torch.Tensor):
        return None if image.dtype.is_floating_point else dtype_name(image.dtype)
    if isinstance(image, np.ndarray):
        return None if np.issubdtype(image.dtype, np.floating) else str(image.dtype)
    return None


class SwinIRImageProcessor(SaidPush, _ImageProcessorBase):
    r"""Turns images into SwinIR `pixel_values` and model outputs back into images.

    No resizing, padding or normalising: the model pads and subtracts its mean internally, so the output is always
    exactly scale × the input. Other image processors' options are refused when set (`refuse_unsupported`). PIL
    images are read as `restore` and the pipeline read them: upright (EXIF orientation), CMYK through its profile,
    a 16-bit colour file that Pillow opened at 8 bits refused.

    Args:
        num_channels (`int`, defaults to 3): channels the model expects; grey inputs are replicated for RGB
            models and RGB inputs reduced to BT.601 luma for 1-channel models. Alpha is dropped.
        do_rescale (`bool`, defaults to `True`): scale integer pixels to [0, 1] by their range (uint8 / 8-bit PIL
            images by 1/255, uint16 / 16-bit ones by 1/65535); floats are taken as [0, 1] either way. `False`
            takes the pixels as they are, so only floats in [0, 1] are accepted.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = SwinIRImageProcessorKwargs
    num_channels = 3
    do_rescale = True
    rescale_factor = None  # transformers' 1/255 default is not saved: the factor follows the pixels' type

    def __init__(self, num_channels: int = 3, do_rescale: bool | None = True, **kwargs: Any) -> None:
        # Only the options every image processor has are checked: a saved config also holds `auto_map` and the like.
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in ImagesKwargs.__annotations__}
        refuse_unsupported(type(self).__name__, options)
        do_rescale = do_rescale is not False  # None (unset, as generic callers pass it) is the default
        # (A preprocessor_config.json's "x" loaded, and misled later: "a x-channel model takes no image".)
        whole = isinstance(num_channels, numbers.Real) and float(num_channels).is_integer()  # 3.0 too, as before
        if isinstance(num_channels, bool) or not whole or num_channels < 1:
            raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
        num_channels = int(num_channels)
        super().__init__(num_channels=num_channels, do_rescale=do_rescale, **kwargs)
        self.num_channels = num_channels
        self.do_rescale = do_rescale

    def preprocess(
        self,
        images: Any,
        return_tensors: str | None = "pt",
        num_channels: int | None = None,
        do_rescale: bool | None = None,
        input_data_format: DataFormat | None = None,
        data_format: DataFormat | None = None,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """One image, a list of same-size images (or of lists of them) or a batch (an (N, C, H, W) / (N, H, W, C)
        tensor or array) → `pixel_values` (N, C, H, W) float32 in [0, 1]; `num_channels` and `do_rescale` override
        the processor's for this call. An image is a PIL image, an array, a tensor, or a path or http(s) URL read
        as the image-restoration pipeline reads it.

        `input_data_format` ("channels_first" / "channels_last") says where arrays and tensors keep their channels;
        by default the end of their shape that can hold 1-4 of them, tensors channels-first and arrays
        channels-last when both can. `data_format` can only be "channels_first"; `device` moves the tensors there.

        Raises:
            TypeError: an option of other image processors (resizing, cropping, normalising) set, or an input that
                is no PIL image, array, tensor, path or URL.
            FileNotFoundError: a path that names no file.
            ValueError: integer pixels with `do_rescale=False`, or images this processor cannot read.
        """
        refuse_unsupported(type(self).__name__, kwargs)
        given_format = check_data_format(input_data_format)
        if check_data_format(data_format, "data_format") == "channels_last":
            raise ValueError(
                "pixel_values are (N, C, H, W), as the model takes them: data_format='channels_last' is not available"
            )
        if device is not None and return_tensors != "pt":
            raise ValueError(f"device={device!r} moves torch tensors: pass return_tensors='pt' with it")
        channels = num_channels or self.num_channels
        rescale = self.do_rescale if do_rescale is None else do_rescale
        images = flat_images(images)
        from .image_files_swinir import opened_files  # here: that module imports this one

        with contextlib.ExitStack() as files:
            images = opened_files(images, files)
            if not rescale and (kind := next(filter(None, map(integer_pixels, images)), None)):
                raise ValueError(
                    f"do_rescale=False takes pixel values as they are, floats in [0, 1]; got {kind} pixels: leave "
                    "do_rescale on (the default) to scale them by their range, or divide them yourself"
                )
            images = [_as_restored(im) for im in images]
            converted = [image_to_float(im, _format_of(im, given_format)) for im in images]
        _warn_of_losses(self, converted, channels)
        arrays = [match_channels(pixels, channels) for pixels, _ in converted]
        sizes = {a.shape[:2] for a in arrays}
        if len(sizes) > 1:
            raise ValueError(f"images of one batch must share one size (no padding here), got {sorted(sizes)}")
        batch = np.stack(arrays).transpose(0, 3, 1, 2)
        features = BatchFeature({"pixel_values": np.ascontiguousarray(batch)}, tensor_type=return_tensors)
        return features.to(device) if device is not None else features

    @overload
    def post_process_image_restoration(
        self, outputs: Any, output_type: Literal["pil"] = "pil", bit_depth: int = 8
    ) -> list[Image.Image]: ...
    @overload
    def post_process_image_restoration(
        self, outputs: Any, output_type: Literal["np"], bit_depth: int = 8
    ) -> list[np.ndarray]: ...
    def post_process_image_restoration(self, outputs: Any, output_type: str = "pil", bit_depth: int = 8) -> list[Any]:
        """Model output (its dataclass, its `return_dict=False` tuple, or its `reconstruction`, (N, C, H, W)) →
        list of N images, clamped to [0, 1] and rounded to `bit_depth` (8 or 16) bits: PIL images (`output_type`
        "pil"; 16 bits only for grey, as `I;16`) or uint8 / uint16 (H, W[, C]) arrays ("np")."""
        if isinstance(outputs, tuple):  # (loss?, reconstruction, hidden_states?, attentions?): None fields dropped
            outputs = next((v for v in outputs if isinstance(v, torch.Tensor) and v.ndim == 4), None)
        recon = getattr(outputs, "reconstruction", outputs)
        if not isinstance(recon, torch.Tensor) or recon.ndim != 4:
            raise ValueError("expected a model output or an (N, C, H, W) tensor")
        arrays = recon.detach().float().cpu().permute(0, 2, 3, 1).numpy()
        if nans := int(np.isnan(arrays).sum()):  # numpy would cast them to 0 with a bare RuntimeWarning
            logger.warning(
                f"the reconstruction holds {nans} NaN values, given as black pixels: a model run in float16 off its "
                "kept float32 layers overflows, say"
            )
            arrays = np.nan_to_num(arrays, nan=0.0)
        return [float_to_image(a, bit_depth=bit_depth, output_type=output_type) for a in arrays]
