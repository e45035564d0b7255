"""An image's alpha channel through a restoration: the colour hidden under its fully transparent pixels filled from
the visible ones (`fill_hidden_colour`), its alpha enlarged by the model (`alpha_for_model` → model → `with_alpha`)
or, by `compose_image`, bicubically, and both put back on the restored colour by blocks of rows (`composed_rows`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .constants_swinir import ALPHA_MODES, AlphaMode

if TYPE_CHECKING:
    from .pixels_swinir import ImageLayout


def fill_hidden_colour(colour: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) `colour` with the colour under fully transparent pixels replaced by that of the nearest visible
    ones, and the colour replaced ((C,) float32), when every fully transparent pixel holds the same one: an
    exporter's placeholder (often black), which the model would blend into the visible pixels at the edges (a dark
    fringe). With no visible pixel to fill from, `colour` as it is and that colour, put back all the same. Otherwise
    (no such pixels, or colours that differ: maybe data) `colour` as it is and None.
    """
    if alpha is None:
        return colour, None
    hidden = alpha <= 0
    if not hidden.any():
        return colour, None
    under = colour[hidden]
    if (under != under[0]).any():
        return colour, None
    if hidden.all():  # the model's near-values of the placeholder would come back in its place
        return colour, under[0].copy()
    return np.where(hidden[..., None], _push_pull(colour, ~hidden), colour), under[0].copy()


def _push_pull(colour: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W, C) estimate of `colour` from its `known` pixels ((H, W) bool, at least one): at each pixel the mean of
    the known ones in the smallest aligned 2^k block that holds any, a cheap nearest-colour fill."""
    pyramid = [(colour * known[..., None], known.astype(np.float32))]
    while pyramid[-1][1].min() <= 0:  # blocks without a known pixel: coarser
        pyramid.append(tuple(_sum_2x2(a) for a in pyramid[-1]))
    estimate = None
    for total, count in reversed(pyramid):
        mean = total / np.maximum(count, 1e-12)[..., None]
        if estimate is not None:
            coarse = np.repeat(np.repeat(estimate, 2, axis=0), 2, axis=1)[: mean.shape[0], : mean.shape[1]]
            mean = np.where(count[..., None] > 0, mean, coarse)
        estimate = mean
    return estimate.astype(np.float32)


def _sum_2x2(a: np.ndarray) -> np.ndarray:
    """Sums over 2 × 2 blocks of the first two axes (odd sizes padded with zeros)."""
    a = np.pad(a, [(0, a.shape[0] % 2), (0, a.shape[1] % 2)] + [(0, 0)] * (a.ndim - 2))
    return a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]


def check_alpha_mode(mode: Any) -> AlphaMode:
    """`mode` itself when it is one of `ALPHA_MODES`, else a ValueError naming them."""
    if mode not in ALPHA_MODES:
        raise ValueError(f"alpha must be {' or '.join(map(repr, ALPHA_MODES))}, got {mode!r}")
    return mode


def alpha_for_model(alpha: np.ndarray | None, scale: int, mode: AlphaMode = "model") -> np.ndarray | None:
    """The (H, W) `alpha` as the one-channel (H, W, 1) image the model is to upscale, or None where `compose_image`
    resizes it instead: `mode` "bicubic", no alpha, no upscaling (scale 1: alpha is kept as it is), or one constant
    value (an opaque RGBA image: bicubic keeps it exactly, without a forward pass)."""
    if check_alpha_mode(mode) == "bicubic" or alpha is None or scale == 1 or alpha.min() == alpha.max():
        return None
    return alpha[..., None]


def with_alpha(layout: ImageLayout, restored: np.ndarray) -> ImageLayout:
    """`layout` holding the alpha the model upscaled (`from_reconstruction`'s (H', W', 1) floats), clipped to
    [0, 1]: the model overshoots at hard edges as it does on colour. Where the input's alpha is fully opaque (or
    fully transparent) all around a pixel (its 3 × 3 neighbourhood), the enlarged pixels are exactly that: the model
    drifts there (opaque areas down to 226 / 255, a haze of 15 / 255 over transparent ones), and there is no edge
    to draw."""
    alpha = np.clip(restored[..., 0], 0.0, 1.0)
    source = layout.alpha
    scale = alpha.shape[0] // source.shape[0]
    h, w = source.shape
    padded = np.pad(source, 1, mode="edge")
    around = [padded[i : i + h, j : j + w] for i in range(3) for j in range(3)]
    for uniform, value in ((np.minimum.reduce(around) >= 1.0, 1.0), (np.maximum.reduce(around) <= 0.0, 0.0)):
        alpha[np.repeat(np.repeat(uniform, scale, axis=0), scale, axis=1)] = value
    return replace(layout, alpha=alpha)


def composed_rows(colour: np.ndarray, layout: ImageLayout) -> tuple[Callable[[int, int], np.ndarray], tuple[int, ...]]:
    """(rows_of, shape) of the (H', W', C + 1) float image of `colour` and `layout`'s alpha (resized to H' × W'),
    its hidden colour put back, which `rows_of(top, stop)` makes by blocks of rows: whole, the hidden colour and the
    alpha channel were one float copy of the output each. Without alpha, `colour`'s own rows and shape."""
    alpha, hidden = layout.alpha, layout.hidden_colour
    if alpha is None:
        return (lambda top, stop: colour[top:stop]), colour.shape
    if alpha.shape != colour.shape[:2]:
        h, w = colour.shape[:2]
        alpha = np.array(Image.fromarray(alpha.astype(np.float32)).resize((w, h), Image.Resampling.BICUBIC))
        np.clip(alpha, 0.0, 1.0, out=alpha)

    def rows_of(top: int, stop: int) -> np.ndarray:
        block, shown = colour[top:stop], alpha[top:stop]
        if hidden is not None:
            block = np.where(_transparent(shown, layout)[..., None], hidden, block)
        return np.concatenate([block, shown[..., None]], axis=-1)

    return rows_of, colour.shape[:2] + (colour.shape[2] + 1,)


def _transparent(alpha: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """(H, W) bool: where `alpha` comes out as 0 in `layout`'s kind of image (below half a level of 8 / 16 bits)."""
    if layout.mode is None:
        peak = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(np.dtype(layout.dtype))
    else:
        peak = 65535 if layout.mode.startswith("I") else 255
    return alpha < 0.5 / peak if peak else alpha <= 0
