"""Moved to `swinir_hf.models.tiling_swinir`, which Hub folders ship so that their pipeline tiles as the engine does.
Imports from here go on working, with a `FutureWarning`."""

import warnings

from ..models.tiling_swinir import (  # noqa: F401  (the names this module had)
    CanvasAllocationError,
    axis_weights,
    fewest_tiles,
    rounded_tile,
    tile_grid,
    tile_starts,
    tiled_apply,
    used_overlap,
)

warnings.warn("swinir_hf.inference.tiling is now swinir_hf.models.tiling_swinir", FutureWarning, stacklevel=2)
