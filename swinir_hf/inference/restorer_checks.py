"""What a `SwinIRRestorer` refuses, each with a message that says what to pass instead: a model that is not a SwinIR
one, options out of range or unknown to it, inputs that are not images, pixel values that are not [0, 1]."""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from ..models.constants_swinir import dtype_name
from ..models.image_files_swinir import tensor_as_array
from ..models.pixels_swinir import FLOAT_RANGE
from ..models.tiling_swinir import check_tile, check_tile_overlap, is_int
from ..other_tools import unexpected_keywords
from .devices import DTYPES
from .options import PADDINGS, EngineOptions


def check_restore_keywords(options: Mapping[str, Any], engine_given: bool, restorer: Callable[..., Any]) -> None:
    """Raise a TypeError for keyword arguments of `restore()` that the `restorer` (`SwinIRRestorer.__init__`) does
    not take (saying what Real-ESRGAN's are here), or that are given both one by one and in an engine."""
    if unknown := [name for name in options if name not in inspect.signature(restorer).parameters]:
        raise TypeError(unexpected_keywords("restore()", unknown))
    # The signature's names: its fields and `batch_size`, tiles_per_pass's earlier name (an InitVar, no field).
    if engine_given and (twice := [name for name in inspect.signature(EngineOptions).parameters if name in options]):
        raise TypeError(f"{', '.join(twice)} is given twice: in engine and as an argument; set it in one place")


def check_options(
    tile: Any, tile_overlap: Any, ensemble: Any, dtype: Any, tiles_per_pass: Any, memory_budget: Any, padding: Any
) -> None:
    """Raise a ValueError naming the first of the restorer's options that is not of its kind or range."""
    check_tile(tile)
    check_tile_overlap(tile_overlap)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got {dtype!r}")
    if not (tiles_per_pass is None or (is_int(tiles_per_pass) and tiles_per_pass >= 1)):
        raise ValueError(f"tiles_per_pass must be an int ≥ 1, got {tiles_per_pass!r}")
    if not (memory_budget is None or (_is_number(memory_budget) and memory_budget > 0)):
        raise ValueError(f"memory_budget must be None or a positive number of bytes, got {memory_budget!r}")
    if not isinstance(ensemble, (bool, np.bool_)):
        raise ValueError(f"ensemble must be True or False, got {ensemble!r}")
    if not (isinstance(padding, str) and padding in PADDINGS):  # a str: a list would be compared to each
        raise ValueError(f"padding must be {' or '.join(map(repr, PADDINGS))}, got {padding!r}")


def not_an_image(image: Any) -> TypeError:
    """The error for what `SwinIRRestorer.__call__` does not take, pointing lists and tensors to what does."""
    if isinstance(image, (list, tuple)):
        return TypeError(
            "restore takes one image: call it per image (a SwinIRRestorer keeps the options; its restore_images "
            "takes a list of images, each size's in one batch), or restore folders with `swinir-hf restore` and "
            "datasets with restore_dataset"
        )
    if isinstance(image, torch.Tensor):
        return TypeError(
            f"restore takes images, not tensors: pass one (C, H, W) image as {tensor_as_array(image)}, or "
            "SwinIRRestorer(model).restore_tensor(x) restores (N, C, H, W) floats in [0, 1] as a tensor"
        )
    got = f"expected a PIL image, numpy array or path, got {type(image).__name__}"
    if isinstance(image, (bytes, bytearray, memoryview)):  # a file's bytes (a download, an upload), not pixels
        return TypeError(f"{got}: open an image file's bytes with PIL.Image.open(io.BytesIO(data)), and restore that")
    if hasattr(image, "read"):  # a file object (BytesIO, open(..., "rb"))
        return TypeError(f"{got}: open an image file object with PIL.Image.open(file), and restore that")
    return TypeError(got)


def check_tensor_batch(x: torch.Tensor, channels: int) -> None:
    """`restore_tensor`'s input: (N, C, H, W) floats in [0, 1] that hold pixels (not meta, not empty), C the
    model's `channels`."""
    if x.ndim != 4 or not x.is_floating_point():
        got = f"{tuple(x.shape)} {dtype_name(x.dtype)}"
        raise ValueError(f"restore_tensor takes (N, C, H, W) floats in [0, 1], got shape {got}")
    if x.shape[1] != channels:  # else the model's own check names pixel_values, which the caller never passed
        raise ValueError(
            f"restore_tensor: this model takes {channels}-channel pixels, (N, {channels}, H, W), got shape "
            f"{tuple(x.shape)}: pass images to restore() or restore_images(), which convert grey and colour and "
            "restore an alpha channel"
        )
    if x.is_meta:
        raise ValueError("restore_tensor: a tensor on the meta device holds no pixels: pass one with data")
    if x.numel() == 0:  # (a division by zero further on)
        raise ValueError(f"restore_tensor: the batch is empty, shape {tuple(x.shape)}: there is nothing to restore")
    check_pixel_range(x)


def check_pixel_range(x: torch.Tensor) -> None:
    """Raise a ValueError when `x` is not [0, 1] pixels, as images are checked (`check_float_range`): NaN /
    infinite values, or values beyond `FLOAT_RANGE` (0..255 floats), which the model would turn into a silently
    wrong image. Computed where `x` lies (no copy off a GPU), in one pass: NaN makes the extremes NaN, and only
    then are the bad values counted (a bool copy of `x`, summed: 0.5-0.7 s for 6 megapixels here, 40× the pass)."""
    if not x.numel():
        return
    x = x.detach()  # the values only: torch warns on reading a scalar of a tensor that needs grad
    low, high = (float(v) for v in torch.aminmax(x))
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"the pixel values hold {bad} NaN / infinite values: replace them (torch.nan_to_num) first")
    if low < FLOAT_RANGE[0] or high > FLOAT_RANGE[1]:
        raise ValueError(
            f"restore_tensor takes floats in [0, 1] (noise may overshoot it, up to [{FLOAT_RANGE[0]:g}, "
            f"{FLOAT_RANGE[1]:g}]), these span [{low:g}, {high:g}]: divide them by their range (255 for 8-bit data)"
        )


def check_model(model: Any) -> None:
    """Raise a TypeError saying how to load a model when `model` is not a SwinIR one (a name, a path, another
    network), a ValueError when it has no weights (meta tensors). Checked by `model_type`, so that a model loaded
    from a Hub folder's remote code passes too."""
    if isinstance(model, torch.nn.Module) and getattr(getattr(model, "config", None), "model_type", None) == "swinir":
        if any(p.is_meta for p in model.parameters()):  # torch's own error came from deep in the first copy
            raise ValueError(
                "the model's weights are not loaded (it is on the meta device): load it with "
                "SwinIRForImageRestoration.from_pretrained(...) or swinir_hf.load_model(...), or give it weights "
                "(model.to_empty(device='cpu'), then load_state_dict)"
            )
        return
    if isinstance(model, (str, os.PathLike)):
        got, how = f"the name {str(model)!r}", f"load it with swinir_hf.load_model({str(model)!r})"
    else:
        got, how = f"a {type(model).__name__}", "load one with swinir_hf.load_model('sr-x4')"
    raise TypeError(
        f"restore needs a loaded SwinIR model, got {got}: {how} (a bundled name, model folder, authors' .pth or Hub id)"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
