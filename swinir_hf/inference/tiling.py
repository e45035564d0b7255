"""Tiled inference: overlapping tiles run in batches and blended with a raised-cosine window.

Where two tiles overlap, one tile's weight rises as sin² across the shared strip while the other's falls as cos²,
so the weights sum to one and each tile's edge (where its padding makes it least accurate) gets almost no weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm


class CanvasAllocationError(MemoryError):
    """The full-size output could not be allocated: smaller tiles would not help."""


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of tiles of `tile` pixels covering [0, length), neighbours sharing at least `overlap` pixels."""
    if length <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def axis_weights(starts: list[int], tile: int, scale: int) -> list[torch.Tensor]:
    """One (scale·tile,) weight profile per tile along one axis, in output pixels.

    Each profile ramps up (sin²) over the strip it shares with the previous tile and down (cos²) over the strip
    it shares with the next one, so the profiles of two neighbours sum to exactly one there.
    """
    n = tile * scale
    profiles = []
    for i, start in enumerate(starts):
        w = torch.ones(n)
        before = (starts[i - 1] + tile - start) * scale if i > 0 else 0
        after = (start + tile - starts[i + 1]) * scale if i + 1 < len(starts) else 0
        if before > 0:
            w[:before] = _rising(before)
        if after > 0:
            w[n - after :] = _rising(after).flip(0)
        profiles.append(w)
    return profiles


def _rising(n: int) -> torch.Tensor:
    """(n,) sin² ramp sampled at pixel centres: rising(n)[i] + rising(n)[n-1-i] = 1."""
    return torch.sin((torch.arange(n) + 0.5) * (math.pi / (2 * n))) ** 2


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    batch_size: int = 1,
    progress: bool = False,
) -> torch.Tensor:
    """Apply `fn` ((B, C, h, w) → (B, C', scale·h, scale·w)) to x (N, C, H, W) tile by tile.

    Tiles are at most `tile` × `tile` input pixels, overlap by at least `overlap` pixels and are run
    `batch_size` at a time (each carrying all N images). Returns (N, C', scale·H, scale·W) float32 on x's device.

    Raises `CanvasAllocationError` when that output cannot be allocated (whatever the tile size), and passes on
    any error of `fn`.
    """
    n, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    wy, wx = axis_weights(ys, th, scale), axis_weights(xs, tw, scale)
    boxes = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    out = None
    with tqdm(total=len(boxes), disable=not progress, unit="tile", leave=False) as bar:
        for first in range(0, len(boxes), batch_size):
            chunk = boxes[first : first + batch_size]
            crops = torch.cat([x[:, :, ys[i] : ys[i] + th, xs[j] : xs[j] + tw] for i, j in chunk])
            result = fn(crops).float()
            if out is None:
                out = _canvas(x, (n, result.shape[1], h * scale, w * scale))
            for k, (i, j) in enumerate(chunk):
                weight = (wy[i][:, None] * wx[j][None, :]).to(out.device)
                y0, x0 = ys[i] * scale, xs[j] * scale
                out[:, :, y0 : y0 + th * scale, x0 : x0 + tw * scale] += result[k * n : (k + 1) * n] * weight
            bar.update(len(chunk))
    # The weights are separable over a product grid, so their sum is the outer product of per-axis sums
    # (one, except where three or more tiles overlap).
    total_y = _axis_total(wy, ys, h, scale).to(out.device)
    total_x = _axis_total(wx, xs, w, scale).to(out.device)
    return out.div_(total_y[:, None] * total_x[None, :])


def _canvas(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    try:
        return x.new_zeros(shape, dtype=torch.float32)
    except (RuntimeError, MemoryError) as err:  # CUDA / CPU allocation failures
        gib = math.prod(shape) * 4 / 2**30
        raise CanvasAllocationError(f"cannot allocate the {gib:.1f} GiB output {tuple(shape)} on {x.device}") from err


def _axis_total(profiles: list[torch.Tensor], starts: list[int], length: int, scale: int) -> torch.Tensor:
    total = torch.zeros(length * scale)
    for p, s in zip(profiles, starts, strict=True):
        total[s * scale : s * scale + p.numel()] += p
    return total
