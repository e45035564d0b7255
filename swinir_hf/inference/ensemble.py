"""The x8 self-ensemble (the paper's "SwinIR+"): a restoration averaged over the 8 flips / 90° rotations of its
input, each undone on its output."""

from __future__ import annotations

from collections.abc import Callable

import torch


def dihedral_mean(restore: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Mean of `restore` over the 8 dihedral transforms of the (..., H, W) batch `x`, each undone on its output
    (which may be larger: any scale). 8× the time of one call."""
    total = None
    for k in range(4):
        for flip in (False, True):
            y = restore(torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1)))
            y = torch.rot90(y, -k, dims=(-2, -1))
            y = y.flip(-1) if flip else y
            total = y if total is None else total.add_(y)
    return total.div_(8)
