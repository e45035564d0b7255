"""Pixels ↔ images: any image (PIL, array, tensor) as [0, 1] floats and its alpha (`image_to_float`), float pixels
back as 8- / 16-bit images (`float_to_image`), channels matched to a model's (`match_channels`), and the one data path
of the restoration engine and the pipeline: `split_image` → `to_pixel_values` → (model) → `from_reconstruction` →
`compose_image`, which gives a restoration back as the kind of image its input was (`ImageLayout`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
from PIL import Image

from .alpha_swinir import composed_rows, fill_hidden_colour
from .frames_swinir import warn_if_animated
from .pil_images_swinir import check_colour_depth, keyed_grey16, normalize_pil

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
    if arr.dtype in (np.uint8, np.uint16):
        peak = 255.0 if arr.dtype == np.uint8 else 65535.0
        arr = arr.astype(np.float32)
        arr /= peak  # in place: `/` would make a second float image
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
        pixels = levels.astype(np.float32)
        pixels /= 65535.0  # in place, as `image_to_float` divides
        return pixels[..., None], None
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


def equal_colour_channels(arr: np.ndarray) -> bool:
    """Whether an (H, W, C ≥ 3) image's three colour channels are equal (alpha aside): a grey image stored as
    RGB / RGBA, as `match_channels` makes one."""
    return bool(np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]))


def check_image_channels(channels: int) -> None:
    """Raise ValueError unless a model of `channels` channels takes images: grey (1) or RGB (3), alpha aside."""
    if channels not in (1, 3):
        raise ValueError(
            f"a {channels}-channel model takes no image: images map to 1 (grey) or 3 (RGB) channels, an alpha "
            f"channel aside; pass its (N, {channels}, H, W) tensors to the model itself"
        )


def float_to_image(arr: np.ndarray, bit_depth: int = 8, output_type: str = "pil") -> Image.Image | np.ndarray:
    """(H, W, C) float image → clamped, rounded uint8 / uint16 PIL image or array (C = 1 gives greyscale)."""
    return _rows_to_image(lambda top, stop: arr[top:stop], arr.shape, bit_depth, output_type)


def _rows_to_image(
    rows_of: Callable[[int, int], np.ndarray], shape: tuple[int, ...], bit_depth: int, output_type: str
) -> Image.Image | np.ndarray:
    """`float_to_image` of the (H, W, C) float image of `shape` whose rows top:stop `rows_of` gives."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if output_type not in ("pil", "np"):
        raise ValueError(f"output_type must be 'pil' or 'np', got {output_type!r}")
    if output_type == "pil" and bit_depth == 16 and len(shape) == 3 and shape[-1] != 1:
        raise ValueError("PIL has no 16-bit RGB mode: use output_type='np' for 16-bit colour")
    if output_type == "np":
        out = _rows_to_array(rows_of, shape, np.dtype(np.uint8 if bit_depth == 8 else np.uint16))
        return out[..., 0] if len(shape) == 3 and shape[-1] == 1 else out
    # A PIL result is pasted into block by block: a whole uint8 array first would be one more copy of the output.
    image = None
    rows = _block_rows(shape)
    for top in range(0, max(shape[0], 1), rows):
        part = Image.fromarray(_levels(rows_of(top, top + rows), bit_depth))  # uint16 (h, W) is mode I;16
        image = Image.new(part.mode, (shape[1], shape[0])) if image is None else image
        image.paste(part, (0, top))
    return image


def _rows_to_array(rows_of: Callable[[int, int], np.ndarray], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The (H, W, C) `dtype` array of the float image of `shape` whose rows top:stop `rows_of` gives: uint8 / uint16
    levels (clamped, rounded), or floats clamped to [0, 1]. By blocks of rows into a C-ordered result: a whole-image
    float temporary is 805 MB for an 8192² RGB image, and a transposed input (the model output's view) would give a
    transposed result (a second copy to reorder)."""
    out, rows = np.empty(shape, dtype), _block_rows(shape)
    peak = None if np.issubdtype(dtype, np.floating) else float(np.iinfo(dtype).max)
    for top in range(0, shape[0], rows):
        block, into = rows_of(top, top + rows), out[top : top + rows]
        if peak is None:
            np.clip(block, 0.0, 1.0, out=into)  # straight into the result
        else:
            into[...] = _rounded(block, peak)  # the levels cast as they are stored: no block of them made first
    return out


def _block_rows(shape: tuple[int, ...]) -> int:
    """Rows of an image of `shape` in a block of ≈ 4 MiB of float32 (at least 1: an image of 0 rows has 1 block)."""
    return max(1, (1 << 20) // max(1, math.prod(shape[1:])))


def _rounded(block: np.ndarray, peak: float) -> np.ndarray:
    """Floats → a new float array of them clamped to [0, 1], times `peak` (the largest level), rounded: the levels
    before their cast."""
    block = np.clip(block, 0.0, 1.0)
    block *= peak
    return np.rint(block, out=block)


def _levels(block: np.ndarray, bit_depth: int) -> np.ndarray:
    """(h, W, C) floats → clamped, rounded uint8 / uint16 levels ((h, W) for C = 1)."""
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    levels = _rounded(block, float(np.iinfo(dtype).max)).astype(dtype)
    return levels[..., 0] if levels.shape[-1] == 1 else levels


# Pillow's modes of 16-bit grey levels, by the byte order they hold them in ("I;16" is little-endian).
GREY16_ORDER = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2", "I;16N": "=u2"}


def grey16_image(levels: np.ndarray, mode: str = "I;16") -> Image.Image:
    """(H, W) 16-bit `levels` as a PIL image of `mode`, one of `GREY16_ORDER` (`Image.fromarray` makes I;16 of
    native uint16 alone)."""
    return Image.frombytes(mode, levels.shape[::-1], np.ascontiguousarray(levels, GREY16_ORDER[mode]).tobytes())


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


def split_image(image: Image.Image | np.ndarray, name: str = "the image") -> tuple[np.ndarray, ImageLayout]:
    """A PIL image (made upright, CMYK through its profile) or a uint8 / uint16 / float array →
    ((H, W, C) float32 colour in [0, 1], hidden colour filled (`fill_hidden_colour`), its `ImageLayout`). A 16-bit
    colour file opened with Pillow (at 8 bits) is a ValueError (`check_colour_depth`); `name` is what the warnings
    of an animated image's other frames and of an unusable CMYK profile call it."""
    if isinstance(image, Image.Image):
        check_colour_depth(image)
        warn_if_animated(image, name)
        image = normalize_pil(image, name)
        if (keyed := keyed_grey16(image)) is not None:  # as `read_image` gives such a file: restored as an array
            return split_image(keyed, name)
        colour, alpha = image_to_float(image)
        colour, hidden = fill_hidden_colour(colour, alpha)
        return colour, ImageLayout(image.mode, None, None, alpha, image.info.get("icc_profile"), hidden)
    if isinstance(image, np.ndarray):
        colour, alpha = image_to_float(image)
        colour, hidden = fill_hidden_colour(colour, alpha)
        native = image.dtype.newbyteorder("=")  # a big-endian array's restoration is in native order
        return colour, ImageLayout(None, native, image.shape, alpha, hidden_colour=hidden)
    raise TypeError(f"expected a PIL image or numpy array, got {type(image).__name__}")


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


def batched(pixel_values: list[torch.Tensor]) -> torch.Tensor:
    """Same-size `pixel_values` as one (N, C, H, W) batch: a lone one as it is (a copy of a huge image's floats
    would hold gigabytes more throughout its restoration), several concatenated."""
    return pixel_values[0] if len(pixel_values) == 1 else torch.cat(pixel_values)


def from_reconstruction(reconstruction: torch.Tensor, channels: int) -> np.ndarray:
    """Inverse of `to_pixel_values` on the model output: → (H', W', channels) float32, not clamped. Grey inputs
    of an RGB model come back as BT.601 luma."""
    y = reconstruction.detach().float().cpu().numpy()
    if y.shape[1] == 1 and channels > 1:
        return y[:, 0].transpose(1, 2, 0)
    return match_channels(y[0].transpose(1, 2, 0), channels) if channels == 1 else y[0].transpose(1, 2, 0)


def compose_image(colour: np.ndarray, layout: ImageLayout) -> Image.Image | np.ndarray:
    """Restored (H', W', C) float colour + the input's layout → the input's kind of image at H' × W': the same
    PIL mode family (8-bit, 16-bit grey in the input's byte order, float `F`; RGBX as RGBX) or array dtype and channel
    layout, alpha of another size (not upscaled by the model: `with_alpha`) resized bicubically,
    `fill_hidden_colour`'s colour put back where the alpha comes out fully transparent, the ICC profile kept."""
    rows_of, shape = composed_rows(colour, layout)
    if layout.mode is None:  # an array: uint8 / uint16 levels or floats, C-ordered (`colour` is a transposed view)
        return _rows_to_array(rows_of, shape, np.dtype(layout.dtype)).reshape(shape[:2] + layout.shape[2:])
    if layout.mode == "F":
        image = Image.fromarray(np.clip(colour[..., 0], 0.0, 1.0).astype(np.float32))
    else:
        image = _rows_to_image(rows_of, shape, bit_depth=16 if layout.mode.startswith("I") else 8, output_type="pil")
    if layout.mode in GREY16_ORDER and image.mode != layout.mode:  # a big-endian TIFF's I;16B stays I;16B
        image = grey16_image(np.asarray(image), layout.mode)
    elif layout.mode == "RGBX" and image.mode == "RGB":  # RGB in 4 bytes a pixel: its padding 255, as Pillow pads
        image = image.convert("RGBX")
    if layout.icc_profile:
        image.info["icc_profile"] = layout.icc_profile
    return image
