"""The authors' test-time padding (`main_test_swinir.py`): the input the model runs on with `padding="authors"`, and
with `swinir-hf eval`'s paper protocol. Without torch or numpy: it indexes whichever array it is given."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import torch

_Array = TypeVar("_Array", "np.ndarray", "torch.Tensor")


def authors_padding(x: _Array, window: int) -> _Array:
    """Channels-first (..., H, W) → (..., H', W'), a copy (an (H, W, C) image would be padded in W and C): `x`
    continued by its mirror image downwards, then rightwards (the edge row and column repeated), cut to the next
    multiple of `window` strictly above each side, as the authors' test script pads its input: a side that is a
    multiple already gains a whole window. A side under half a window gains only its mirror image (H' = 2H), as
    theirs does; the model pads the rest itself. Crop the output back to scale × (H, W)."""
    h, w = x.shape[-2:]
    return x[..., _mirrored(h, window), :][..., _mirrored(w, window)]


def authors_padded_size(h: int, w: int, window: int) -> tuple[int, int]:
    """(H', W'), the size `authors_padding` pads an H × W image to."""
    return _padded_side(h, window), _padded_side(w, window)


def _padded_side(side: int, window: int) -> int:
    """A side's length once padded: the next multiple of `window` strictly above it, at most twice the side."""
    return min((side // window + 1) * window, 2 * side)


def _mirrored(side: int, window: int) -> list[int]:
    """The indices of a padded side: 0 .. side - 1, then side - 1 .. 0 (their `torch.cat([x, torch.flip(x)])`),
    cut to `_padded_side`."""
    return [*range(side), *range(side - 1, -1, -1)][: _padded_side(side, window)]
