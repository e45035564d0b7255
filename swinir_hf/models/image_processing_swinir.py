"""Image processor: images of any mode / bit depth ↔ `pixel_values` floats in [0, 1].

Shipped as remote code in every Hub folder (imports only PIL, numpy, torch and transformers): its options and their
checks, and `SwinIRImageProcessor`. How it reads Pillow images is `pil_images_swinir`'s; how it turns pixels into
floats and back, `pixels_swinir`'s, whose `split_image` → `to_pixel_values` → (model) → `from_reconstruction` →
`compose_image` (with `alpha_for_model` → (model) → `with_alpha` for an alpha channel the model upscales) is the one
data path of both the restoration engine and the pipeline, so the two give the same pixels.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import weakref
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import torch
from PIL import Image
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ImagesKwargs

from .configuration_swinir import require_transformers
from .constants_swinir import ALPHA_MODES, AlphaMode, dtype_name  # noqa: F401  (re-exported: the pipeline's, the demo's)
from .hub_push_swinir import SaidPush
from .image_files_swinir import opened_file
from .moved_swinir import moved_names
from .pil_images_swinir import check_colour_depth, normalize_pil
from .pixels_swinir import (
    DataFormat,
    check_data_format,
    clamping_note,
    float_to_image,
    image_to_float,
    infer_data_format,
    match_channels,
)

# What lived here before frames, alpha (both after 0.1.0), Pillow reading and pixel conversion had modules of their
# own: importing it from here goes on working, with a warning naming its place. (The names this module still uses,
# `image_to_float`, `float_to_image`, `normalize_pil`..., import from here as before, without a warning.)
_MOVED = (
    dict.fromkeys(("FRAMES_COUNTED", "frame_count", "frames_said", "warn_if_animated"), "frames_swinir")
    | dict.fromkeys(("alpha_for_model", "check_alpha_mode", "fill_hidden_colour", "with_alpha"), "alpha_swinir")
    | dict.fromkeys(
        "HEIF_BRANDS colour_bit_depth is_heif keyed_grey16 load_pixels pillow_warnings sgi_bit_depth".split(),
        "pil_images_swinir",
    )
    | dict.fromkeys(
        "DATA_FORMATS FLOAT_RANGE FLOAT_SLACK LUMA ImageLayout check_float_range check_image_channels "
        "check_level_range compose_image from_reconstruction split_image to_pixel_values warn_if_clamped".split(),
        "pixels_swinir",
    )
)
if not TYPE_CHECKING:  # (type checkers would take any name here for one of these)
    __getattr__ = moved_names(__name__, _MOVED)

if TYPE_CHECKING:
    # Never run. transformers ships a remote-code module's relative imports with it (from the Hub, and in the
    # `save_pretrained` of a class loaded with trust_remote_code=True): so an image processor saved again carries the
    # pipeline config.json's `custom_pipelines` names, which neither the model's nor the config's save copies (here,
    # not in the model, whose users may lack Pillow). The others: the pipeline's imports, itself or through the model,
    # which transformers 5.4 (and 4.57) needs direct (it copies only those, then fails on the first file missing).
    from .alpha_swinir import with_alpha  # noqa: F401
    from .code_files_swinir import MODEL_AUTO_MAP  # noqa: F401
    from .frames_swinir import frame_count  # noqa: F401
    from .hub_files_swinir import hub_reachable  # noqa: F401
    from .loading_swinir import IncompatibleWeightsError  # noqa: F401
    from .memory_swinir import ImageTooLargeError  # noqa: F401
    from .modeling_swinir import SwinIRForImageRestoration  # noqa: F401
    from .pipeline_swinir import ImageRestorationPipeline  # noqa: F401
    from .presets_swinir import PRESETS  # noqa: F401
    from .runtime_swinir import running  # noqa: F401
    from .tiling_swinir import tiled_apply  # noqa: F401
    from .weight_files_swinir import WEIGHTS_LAYOUTS  # noqa: F401
    from .windows_swinir import window_partition  # noqa: F401

# An image processor loads before any config: on a transformers older than this code needs, one line saying so
# rather than the import below failing (5.18's image processor base without torchvision, which older ones lack).
require_transformers()
from transformers.image_processing_backends import PilBackend as _ImageProcessorBase  # noqa: E402

logger = logging.getLogger(__name__)


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


def _refuse_integer_pixels(images: list[Any]) -> None:
    """Raise the ValueError of `do_rescale=False` for the first of `images` that holds integer pixels."""
    if kind := next(filter(None, map(integer_pixels, images)), None):
        raise ValueError(
            f"do_rescale=False takes pixel values as they are, floats in [0, 1]; got {kind} pixels: leave "
            "do_rescale on (the default) to scale them by their range, or divide them yourself"
        )


def _read_pixels(image: Any, rescale: bool, given: DataFormat | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One image of a batch → its (pixels, alpha) floats (`image_to_float`): a path or URL is opened here and closed
    once its pixels are read, so that a batch of a few thousand paths holds one file open at a time."""
    with opened_file(image) as opened:
        if not rescale and opened is not image:  # a file's pixels; those given in memory are checked before any read
            _refuse_integer_pixels([opened])
        restored = _as_restored(opened)
        return image_to_float(restored, _format_of(restored, given))


# What each processor has warned of (`_Losses.warn`): a dataset's transform calls it for every batch.
_SAID: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


class _Losses:
    """What `pixel_values` cannot carry of a batch's images, gathered image by image (`add`) as each is read, so
    that no image's float pixels need be kept for it: an alpha channel, colour for a grey model (the
    image-restoration pipeline restores both), and float values past [0, 1], which the restored image cannot keep
    (`clamping_note`)."""

    def __init__(self, count: int, channels: int) -> None:
        self.count, self.channels = count, channels
        self.notes: dict[str, str | None] = {"alpha": None, "grey": None, "range": None}

    def add(self, index: int, pixels: np.ndarray, alpha: np.ndarray | None) -> None:
        """Note what image `index` of the batch, read as (`pixels`, `alpha`), loses."""
        if alpha is not None:
            self.notes["alpha"] = (
                "SwinIRImageProcessor drops alpha channels (the model restores colour only): the image-restoration "
                "pipeline restores them too, and gives RGBA / LA images back"
            )
        if self.channels == 1 and pixels.shape[-1] == 3:
            self.notes["grey"] = (
                "SwinIRImageProcessor reduces colour images to grey (BT.601 luma) for this 1-channel model: the "
                "image-restoration pipeline restores each colour channel instead, and gives colour images back"
            )
        if self.notes["range"] is None:  # the first image's that goes past [0, 1]
            name = "the image" if self.count == 1 else f"image {index} of the batch"
            self.notes["range"] = clamping_note(pixels, name)

    def warn(self, processor: Any) -> None:
        """Log each kind of loss noted, once per `processor`."""
        said = _SAID.setdefault(processor, set())
        for kind, note in self.notes.items():
            if note and kind not in said:
                said.add(kind)
                logger.warning(note)


def _pixel_batch(
    processor: Any, images: list[Any], rescale: bool, given: DataFormat | None, channels: int
) -> np.ndarray:
    """`images` → (N, channels, H, W) float32 `pixel_values`, each image read (`_read_pixels`) and written into its
    slot as it comes, rather than all converted, then stacked, then made contiguous (3× the batch at the peak).
    What they lose is warned of (`_Losses`).

    Raises:
        ValueError: images of different sizes (all of them read first, to name every size).
    """
    losses, batch, sizes = _Losses(len(images), channels), np.empty(0, np.float32), set()
    for index, image in enumerate(images):
        pixels, alpha = _read_pixels(image, rescale, given)
        losses.add(index, pixels, alpha)
        pixels = match_channels(pixels, channels)
        sizes.add(pixels.shape[:2])
        if index == 0:
            batch = np.empty((len(images), channels, *pixels.shape[:2]), np.float32)
        if len(sizes) == 1:
            batch[index] = pixels.transpose(2, 0, 1)
        del pixels, alpha  # not held while the next image is read
    losses.warn(processor)
    if len(sizes) > 1:
        raise ValueError(f"images of one batch must share one size (no padding here), got {sorted(sizes)}")
    return batch


def _levels_tensor(levels: np.ndarray, bit_depth: int) -> torch.Tensor:
    """uint8 / uint16 (H, W[, C]) levels → (C, H, W) float32 tensor of levels / (2**bit_depth - 1), in [0, 1]."""
    channels_first = levels.reshape(*levels.shape[:2], -1).transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(channels_first, dtype=np.float32)).div_(2**bit_depth - 1)


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
        if not rescale:  # the images given in memory, before any file is read
            _refuse_integer_pixels([im for im in images if not isinstance(im, (str, os.PathLike))])
        batch = _pixel_batch(self, images, rescale, given_format, channels)
        features = BatchFeature({"pixel_values": batch}, tensor_type=return_tensors)
        return features.to(device) if device is not None else features

    @overload
    def post_process_image_restoration(
        self, outputs: Any, output_type: Literal["pil"] = "pil", bit_depth: int = 8
    ) -> list[Image.Image]: ...
    @overload
    def post_process_image_restoration(
        self, outputs: Any, output_type: Literal["np"], bit_depth: int = 8
    ) -> list[np.ndarray]: ...
    @overload
    def post_process_image_restoration(
        self, outputs: Any, output_type: Literal["pt"], bit_depth: int = 8
    ) -> list[torch.Tensor]: ...
    def post_process_image_restoration(self, outputs: Any, output_type: str = "pil", bit_depth: int = 8) -> list[Any]:
        """Model output (its dataclass, its `return_dict=False` tuple, or its `reconstruction`, (N, C, H, W)) →
        list of N images, clamped to [0, 1] and rounded to `bit_depth` (8 or 16) bits: PIL images (`output_type`
        "pil"; 16 bits only for grey, as `I;16`), uint8 / uint16 (H, W[, C]) arrays ("np"), or (C, H, W) float32
        CPU tensors in [0, 1] ("pt", as `pixel_values` and diffusers' "pt": the "np" levels / (2**bit_depth - 1))."""
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        if isinstance(outputs, tuple):  # (loss?, reconstruction, hidden_states?, attentions?): None fields dropped
            outputs = next((v for v in outputs if isinstance(v, torch.Tensor) and v.ndim == 4), None)
        recon = getattr(outputs, "reconstruction", outputs)
        if not isinstance(recon, torch.Tensor) or recon.ndim != 4:
            raise ValueError("expected a model output or an (N, C, H, W) tensor")
        # Image by image: a float32 copy of a whole half-precision or CUDA batch, and a NaN mask of a whole batch,
        # would each add to the batch's memory.
        images, nans, kind = [], 0, "np" if output_type == "pt" else output_type  # "pt": the "np" levels as floats
        for one in recon.detach():
            pixels = one.float().cpu().permute(1, 2, 0).numpy()
            if bad := int(np.isnan(pixels).sum()):  # numpy would cast them to 0 with a bare RuntimeWarning
                nans += bad
                pixels = np.nan_to_num(pixels, nan=0.0)
            image = float_to_image(pixels, bit_depth=bit_depth, output_type=kind)
            images.append(_levels_tensor(image, bit_depth) if output_type == "pt" else image)
        if nans:
            logger.warning(
                f"the reconstruction holds {nans} NaN values, given as black pixels: a model run in float16 off its "
                "kept float32 layers overflows, say"
            )
        return images
