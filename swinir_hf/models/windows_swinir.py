"""SwinIR's window geometry: feature maps cut into ws×ws windows and put back (`window_partition`,
`window_reverse`), the cyclic shift's mask and the windows where it is not zero (`shift_window_mask`,
`shift_border_windows`, `window_range`), the relative-position index of a window's tokens
(`relative_position_index`), and how a model keeps them per device (`on_device`, `ShiftMaskCache`).

Derived from the config alone, never stored in a checkpoint; `modeling_swinir`'s layers use them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch


@lru_cache(maxsize=16)
def relative_position_index(window_size: int, device: torch.device | None = None) -> torch.Tensor:
    """(ws², ws²) int64 index into the (2·ws-1)² relative-position bias table, on `device` (None: the CPU)."""
    # Cached: built outside inference mode so that training may reuse it after an inference_mode() call.
    with torch.inference_mode(False):
        steps = torch.arange(window_size, device=device)
        coords = torch.stack(torch.meshgrid(steps, steps, indexing="ij"))
        coords = coords.flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
        return rel[..., 0] * (2 * window_size - 1) + rel[..., 1]


def on_device(build: Callable[..., torch.Tensor], args: tuple, device: torch.device) -> torch.Tensor:
    """`build(*args)` (`relative_position_index`, `shift_border_windows`) built on `device` and cached there by
    `build`'s own cache, since a copy from host memory per layer and step makes the host wait for the GPU each time
    (counted in the repository's benchmarks/README.md). Under torch.compile traced, not cached (dynamo warns on an
    lru_cache call), and still built on `device`: a compiled graph with a host tensor would copy it to the GPU at
    every step, and CUDA graphs (inductor's reduce-overhead mode) skip such a graph."""
    if torch.compiler.is_compiling():
        return build.__wrapped__(*args, device=device)
    return build(*args, device=device)


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, ws², C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.transpose(2, 3).reshape(-1, window_size * window_size, c)


def window_reverse(windows: torch.Tensor, window_size: int, h: int, w: int, b: int = -1) -> torch.Tensor:
    """(B·nW, ws², C) → (B, H, W, C); inverse of `window_partition`. `b`: B where known (-1: inferred), which
    keeps a traced B symbolic."""
    c = windows.shape[-1]
    x = windows.view(b, h // window_size, w // window_size, window_size, window_size, c)  # b given: no inferred size
    return x.transpose(2, 3).reshape(b, h, w, c)


def shift_window_mask(h: int, w: int, window_size: int, shift: int, device: torch.device | None = None) -> torch.Tensor:
    """(nW, ws², ws²) additive mask (0 / -100, as the authors) separating regions rolled into one window, on
    `device` (None: the CPU)."""
    region = torch.zeros(1, h, w, 1, device=device)
    bounds = (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None))
    for i, hs in enumerate(bounds):
        for j, ws in enumerate(bounds):
            region[:, hs, ws, :] = i * 3 + j
    region = window_partition(region, window_size).squeeze(-1)
    diff = region[:, None, :] - region[:, :, None]
    # In place: the mask takes ws² floats a pixel, and a comparison and a `where` beside it would more than double
    # that while it is built. (+ 0.0 turns ne_'s -0.0s times -100 into 0.0s.)
    return diff.ne_(0).mul_(-100.0).add_(0.0)


class ShiftMaskCache(dict):
    """A model's shift masks by (H, W, device): derived from its config alone, so a copy of the model starts with
    none. A deep copy that copied them would iterate this dict while another thread running the model may add a
    mask ("dictionary changed size during iteration": the engine copies a model that a thread is running to run it
    in another dtype)."""

    def __deepcopy__(self, memo: dict) -> ShiftMaskCache:
        return type(self)()

    def __reduce__(self) -> tuple:  # pickled (torch.save of a whole model) empty too
        return type(self), ()


@lru_cache(maxsize=64)  # a size per device and input size
def shift_border_windows(h: int, w: int, window_size: int, device: torch.device | None = None) -> torch.Tensor:
    """int64 indices, on `device` (None: the CPU), of the windows of an H×W map where `shift_window_mask` is not
    zero: the last row and column of windows, where rolled regions meet. From the geometry, not the mask, so that
    compilers and exporters see a fixed size (`nonzero` on the mask has a data-dependent one, which `torch.export`
    refuses)."""
    rows, cols = h // window_size, w // window_size
    with torch.inference_mode(False):  # cached, as `relative_position_index`
        # Tensor ops, not a Python loop over rows / cols: traced with symbolic sizes they stay symbolic.
        k = torch.arange(rows + cols - 1, device=device)  # the last column's first rows - 1 windows, then the last row
        return torch.where(k < rows - 1, k * cols + (cols - 1), (rows - 1) * cols + k - (rows - 1))


def window_range(windows: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """The indices in `windows` (sorted) that fall in [lo, hi), counted from lo: a chunk's own border windows."""
    first, last = (int(torch.searchsorted(windows, bound)) for bound in (lo, hi))
    return windows[first:last] - lo
