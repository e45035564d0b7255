"""The benchmark protocol's choices as plain values, without numpy or torch, for the data it reads (`testsets`) and
the command line that offers them before anything loads (`eval_arguments`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

# How greyscale images among colour ones are scored (`testsets.load_samples`): RGB → Y, or on their grey channel.
GreyConvention = Literal["native", "rgb"]
GREY_CONVENTIONS: tuple[str, ...] = get_args(GreyConvention)

# The engine options that change the figures, as `Evaluation.to_dict` and `eval --save-images`' manifest record them.
ENGINE_FIELDS = ("ensemble", "tile", "tile_overlap", "dtype", "padding")


def benchmark_name(dataset: str | os.PathLike) -> str:
    """A benchmark's name, as its table's caption gives it: a plain folder's own (its parent's for an `HR` folder),
    a local `datasets` folder's (`imagefolder:DIR`, a `save_to_disk` folder), a Hub dataset's id."""
    from ..image_datasets import is_saved_dataset  # no `datasets` import either

    path, spec = Path(dataset), str(dataset)
    if path.is_dir() and not is_saved_dataset(path):
        return path.parent.name if path.name == "HR" else path.name
    local = spec.startswith("imagefolder:") or path.is_dir()
    return Path(spec.removeprefix("imagefolder:")).name if local else spec
