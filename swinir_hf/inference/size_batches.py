"""Decoded images restored by size (`SwinIRRestorer.restore_images`): those of one W × H through one forward pass
(and their alphas the model upscales through one more), one at a time where the batch cannot fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from ..models.memory_swinir import ImageTooLargeError
from ..models.pixels_swinir import (
    ImageLayout,
    batched,
    compose_image,
    from_reconstruction,
    split_image,
    to_pixel_values,
)
from .jobs import output_size, resize_float

if TYPE_CHECKING:
    from .restoration import SwinIRRestorer

_Input = tuple[torch.Tensor, int, ImageLayout]  # a decoded image's (k, C, H, W) pixel values, channels, layout


def restore_by_size(
    restorer: SwinIRRestorer, images: list[Image.Image | np.ndarray], outscale: float | None, names: list[str]
) -> list[Image.Image | np.ndarray]:
    """`restore_images` of decoded images, named in warnings as `names` say: each size's in one batch."""
    channels = restorer.model.config.num_channels
    # Each image's float colour is let go once its pixel values are made: a huge image's copies are gigabytes.
    inputs = [(to_pixel_values(c, channels), c.shape[-1], lay) for c, lay in map(split_image, images, names)]
    sizes: dict[tuple[int, int], list[int]] = {}
    for i, item in enumerate(inputs):
        sizes.setdefault(tuple(item[0].shape[-2:]), []).append(i)
    restored: list = [None] * len(inputs)
    for members in sizes.values():
        for i, image in zip(members, _restore_size(restorer, [inputs[i] for i in members], outscale), strict=True):
            restored[i] = image
    return restored


def _restore_size(
    restorer: SwinIRRestorer, inputs: list[_Input], outscale: float | None
) -> list[Image.Image | np.ndarray]:
    """Images of one size in one batch, or one at a time where the batch cannot fit."""
    try:
        return _restore_split(restorer, inputs, outscale)
    except ImageTooLargeError:
        if len(inputs) == 1:
            raise
    # Past the except block, whose traceback would keep the refused pass's tensors.
    return [_restore_split(restorer, [item], outscale)[0] for item in inputs]


def _restore_split(
    restorer: SwinIRRestorer, inputs: list[_Input], outscale: float | None
) -> list[Image.Image | np.ndarray]:
    """Inputs of one size restored and composed again, all in one batch."""
    h, w = inputs[0][0].shape[-2:]
    size = output_size(w, h, outscale) if outscale is not None else None
    alphas = sum(restorer.alpha_passes(layout) for _, _, layout in inputs)  # planned with the colour's memory
    out = restorer.restore_tensor(batched([x for x, _, _ in inputs]), size, more_outputs=alphas)
    layouts = restorer.restore_alphas([layout for _, _, layout in inputs], size)
    images, start = [], 0
    for (x, channels, _), layout in zip(inputs, layouts, strict=True):
        restored = from_reconstruction(out[start : start + len(x)], channels)
        start += len(x)
        images.append(compose_image(restored if size is None else resize_float(restored, size), layout))
    return images
