"""Tiled inference: overlapping tiles run in batches and blended with a raised-cosine window.

Between two neighbouring tiles, one tile's weight rises as sin² across a blend strip of `overlap` pixels while the
other's falls as cos². The strip is the last `overlap` pixels of the first tile, inside their shared part, so
strips never collide (even where the tile snapped to the image's border overlaps its neighbour by more), and:
the weights are a partition of unity (they sum to one at every pixel, so the tiles of a pointwise operation give
its exact result), every weight is continuous (no step larger than one of a ramp across `overlap` pixels), and
each tile's edge inside the image (where its padding makes it least accurate) gets almost no weight.

Shipped as remote code: the engine (`swinir_hf.restore`) and a Hub folder's own pipeline and endpoint handler tile
with these functions, so that `tile=` gives the same pixels through each. Pure functions: torch and the stdlib
(and `constants_swinir`'s default overlap) only.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from .constants_swinir import TILE_OVERLAP  # noqa: F401  (the default overlap: here, with the tiles)


class CanvasAllocationError(MemoryError):
    """The full-size output could not be allocated: smaller tiles would not help."""


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Offsets of tiles of `tile` pixels covering [0, length), neighbours sharing at least `overlap` pixels."""
    if length <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def axis_weights(starts: list[int], tile: int, overlap: int, scale: int) -> list[torch.Tensor]:
    """One (scale·tile,) weight profile per tile along one axis, in output pixels, for `tile_starts(..., overlap)`.

    Tile k is 0 before the strip it shares with tile k - 1 (the last `overlap` pixels of tile k - 1), rises (sin²)
    across it, is 1 up to its own last `overlap` pixels and falls (cos²) across those when a tile follows.
    """
    n, ramp = tile * scale, overlap * scale
    profiles = []
    for k, start in enumerate(starts):
        w = torch.ones(n)
        if k > 0:  # where tile k - 1 ends, in tile k's output pixels
            end = (starts[k - 1] + tile - start) * scale
            w[: end - ramp] = 0.0
            w[end - ramp : end] = _rising(ramp)
        if k + 1 < len(starts):
            w[n - ramp :] = _rising(ramp).flip(0)
        profiles.append(w)
    return profiles


def _rising(n: int) -> torch.Tensor:
    """(n,) sin² ramp sampled at pixel centres: rising(n)[i] + rising(n)[n-1-i] = 1."""
    return torch.sin((torch.arange(n) + 0.5) * (math.pi / (2 * max(n, 1)))) ** 2


def rounded_tile(tile: int, window_size: int) -> int:
    """The tile size the restorer runs for `tile` pixels asked: a multiple of the window, rounded down, one window at
    least (the model pads each tile to one anyway)."""
    return max(window_size, tile // window_size * window_size)


def fewest_tiles(h: int, w: int, pixels: float, overlap: int, window_size: int) -> int:
    """The tile for an H × W image whose tiles may hold `pixels` pixels each: as few tiles per axis as the largest such
    tile needs, then the smallest tile giving that count (a 256² image with a 240 budget: 2 × 2 tiles of 144, not
    2 × 2 tiles of 240 that are almost all overlap); a multiple of the window, one window at least.

    The budget alone sets the tile: an overlap over half of it is cut to half (`used_overlap`), rather than the tile
    grown to fit the overlap, which a huge overlap would make the whole image."""
    largest = rounded_tile(int(math.sqrt(pixels)), window_size)
    ov = used_overlap(largest, overlap)
    counts = [math.ceil(max(n - ov, 1) / max(largest - ov, 1)) for n in (h, w)]
    balanced = max(math.ceil((n + (k - 1) * ov) / k) for n, k in zip((h, w), counts, strict=True))
    return min(largest, -(-balanced // window_size) * window_size)


def used_overlap(tile: int, overlap: int) -> int:
    """The overlap tiles of `tile` pixels get when `overlap` is asked: at most half a tile."""
    # Half a tile at most: blend strips then never collide, and a larger overlap would leave a stride of a few
    # pixels, i.e. thousands of tiles.
    return min(overlap, tile // 2)


def tile_grid(h: int, w: int, tile: int, overlap: int) -> tuple[list[int], list[int], int]:
    """The tiles `tiled_apply` cuts an H × W image into: (top offsets, left offsets, the overlap used). Tiles are
    min(tile, H) × min(tile, W); the overlap is at most half a tile."""
    overlap = used_overlap(tile, overlap)
    return tile_starts(h, min(tile, h), overlap), tile_starts(w, min(tile, w), overlap), overlap


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    batch_size: int = 1,
    advance: Callable[[int], object] | None = None,
) -> torch.Tensor:
    """Apply `fn` ((B, C, h, w) → (B, C', scale·h, scale·w)) to x (N, C, H, W) tile by tile.

    Tiles are at most `tile` × `tile` input pixels, overlap by at least `overlap` pixels (at most half a tile: a
    larger overlap is reduced to that) and are run `batch_size` at a time (each carrying all N images); `advance`
    is called with the number of tiles each run has done (a progress bar's `update`). Returns
    (N, C', scale·H, scale·W) float32 on x's device.

    Raises `CanvasAllocationError` when that output cannot be allocated (whatever the tile size), and passes on
    any error of `fn`.
    """
    n, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    ys, xs, overlap = tile_grid(h, w, tile, overlap)
    wy, wx = axis_weights(ys, th, overlap, scale), axis_weights(xs, tw, overlap, scale)
    boxes = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    out = None
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
        if advance is not None:
            advance(len(chunk))
    # Separable partitions of unity along each axis make one over the plane: no normalisation needed.
    return out


def runs_whole(tile: int | None, h: int, w: int) -> bool:
    """Whether an H × W image runs in one pass with `tile` (a `rounded_tile`, or None): no tile, or one covering it."""
    return tile is None or (tile >= h and tile >= w)


def apply_in_tiles(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int | None,
    overlap: int,
    batch_size: int = 1,
    advance: Callable[[int], object] | None = None,
) -> torch.Tensor:
    """`fn(x)` in one pass where `runs_whole(tile, H, W)`, else `tiled_apply` (arguments as there)."""
    if runs_whole(tile, *x.shape[-2:]):
        return fn(x)
    return tiled_apply(fn, x, scale, tile, overlap, batch_size, advance)


def tiles_per_pass(device: torch.device) -> int:
    """Tiles run in one forward pass by default on `device`: 4 on CUDA, where a small tile's pass is mostly launch
    overhead, 1 elsewhere (no faster batched, and the least memory)."""
    return 4 if device.type == "cuda" else 1


def check_tile(tile: object, auto: bool = True) -> None:
    """Raise a ValueError unless `tile` is None or 0 (whole images), a positive int (input pixels a tile side) or,
    where `auto` (the engine's memory planner) is offered, "auto"."""
    if tile is None or (auto and tile == "auto") or (is_int(tile) and tile >= 0):
        return
    if auto:
        raise ValueError(f"tile must be None (or 0), 'auto' or a positive int, got {tile!r}")
    message = f"tile must be None (or 0) or a positive int (input pixels a tile side, as 512), got {tile!r}"
    if tile == "auto":  # the planner needs the engine's memory policy, which is not shipped
        message += ": tiles sized to the free memory are the swinir-hf package's (swinir_hf.restore(..., tile='auto'))"
    raise ValueError(message)


def check_tile_overlap(tile_overlap: object) -> None:
    """Raise a ValueError unless `tile_overlap` is an int ≥ 0."""
    if not (is_int(tile_overlap) and tile_overlap >= 0):
        raise ValueError(f"tile_overlap must be an int ≥ 0, got {tile_overlap!r}")


def is_int(value: object) -> bool:
    """An integer (numpy's too), not a bool: what counts options (pixels, tiles) take."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _canvas(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    try:
        return x.new_zeros(shape, dtype=torch.float32)
    except (RuntimeError, MemoryError) as err:  # CUDA / CPU allocation failures
        gib = math.prod(shape) * 4 / 2**30
        raise CanvasAllocationError(f"cannot allocate the {gib:.1f} GiB output {tuple(shape)} on {x.device}") from err
