"""The engine's options as plain values, without torch: `EngineOptions`, `PAPER_ENGINE`, the precisions (`DTYPES`),
the alpha modes (`ALPHA_MODES`) and the paddings (`PADDINGS`), which command lines offer before any model loads
(`swinir-hf restore --help` answers without importing torch / transformers; tests/test_cli.py checks it)."""

from __future__ import annotations

import numbers
import sys
import warnings
from dataclasses import InitVar, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from ..models.constants_swinir import ALPHA_MODES, TILE_OVERLAP, AlphaMode, dtype_name  # noqa: F401  (ALPHA_MODES: offered here, torch-free)

if TYPE_CHECKING:
    import torch

    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .restoration import SwinIRRestorer

DType = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = get_args(DType)  # what `dtype` takes, for checks and command lines
DTypeOption: TypeAlias = "DType | torch.dtype"  # a torch dtype is taken as its name (`as_option_values`)
# The short names of the precisions that users bring from training (`train.mixed_precision: bf16`, accelerate's
# `--mixed_precision fp16`) and Real-ESRGAN (`--fp32`): each taken wherever a `DType` is, as the dtype it names.
DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# How an input is padded before the model runs: "model", the model's own reflection up to the window; "authors",
# as the authors' test script pads it first (`padding.authors_padding`).
Padding = Literal["model", "authors"]
PADDINGS: tuple[str, ...] = get_args(Padding)


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a model: the one options object that `restore`, `evaluate`, `swinir-hf restore` /
    `eval` and the demo pass along. Each field is `SwinIRRestorer`'s argument of that name."""

    tile: int | Literal["auto"] | None = "auto"
    tile_overlap: int = TILE_OVERLAP
    ensemble: bool = False
    dtype: DTypeOption = "auto"  # held as its name
    device: str | torch.device | None = None
    tiles_per_pass: int | None = None
    alpha: AlphaMode = "model"
    padding: Padding = "model"
    # tiles_per_pass's earlier name: taken, with a FutureWarning. Read, it is None (the class's default), which
    # dataclasses.replace passes on: a value or a warning read there would refuse or warn at every replace.
    batch_size: InitVar[int | None] = None

    def __post_init__(self, batch_size: int | None) -> None:
        # Held in the forms the options take, so that captions, reports and checks see the option itself.
        tile, dtype, tiles = as_option_values(self.tile, self.dtype, self.tiles_per_pass, batch_size)
        object.__setattr__(self, "tile", tile)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "tiles_per_pass", tiles)

    def restorer(self, model: SwinIRForImageRestoration, **extra: Any) -> SwinIRRestorer:
        """A `SwinIRRestorer` of `model` with these options (and `extra` ones: `progress`, `memory_budget`, ...)."""
        from .restoration import SwinIRRestorer

        return SwinIRRestorer(model, **{f.name: getattr(self, f.name) for f in fields(EngineOptions)}, **extra)


def as_option_values(tile: Any, dtype: Any, tiles_per_pass: Any = None, batch_size: Any = None) -> tuple[Any, Any, Any]:
    """`tile`, `dtype` and `tiles_per_pass` in the forms the options take, from the others users pass: 0 tiles
    (Real-ESRGAN's, and `--tile 0`) for None, the whole image; a torch dtype (`torch.bfloat16`, as diffusers takes
    it) or a short name ("bf16", `DTYPE_ALIASES`) for its name (a torch dtype told by its type's module: this module
    imports no torch); `batch_size`, the earlier name of `tiles_per_pass`, for it, with a FutureWarning."""
    if isinstance(tile, numbers.Integral) and not isinstance(tile, bool) and tile == 0:  # numpy's ints too
        tile = None
    if batch_size is not None:
        if tiles_per_pass is not None:
            raise TypeError("give tiles_per_pass alone: batch_size is its earlier name")
        # Everywhere else a batch size counts images (--batch-size, restore_dataset's, the pipeline's): not tiles.
        warnings.warn(
            "batch_size (tiles per forward pass) is now tiles_per_pass: a batch size counts images elsewhere "
            "(--batch-size, restore_dataset, the pipeline); batch_size will be removed",
            FutureWarning,
            stacklevel=_callers_level(),
        )
        tiles_per_pass = batch_size
    return tile, dtype_option(dtype), tiles_per_pass


def _callers_level() -> int:
    """The `stacklevel` for a warning of its caller's that names the user's line: the first frame outside the
    engine's modules and `EngineOptions`' made __init__ (`SwinIRRestorer(...)`, `restore()` → `SwinIRRestorer`,
    `EngineOptions(...)` each run through a different number of them)."""
    level, frame = 1, sys._getframe(1)
    made_init = EngineOptions.__init__.__code__
    while frame is not None and (
        frame.f_globals.get("__name__", "").startswith(__package__) or frame.f_code is made_init
    ):
        level, frame = level + 1, frame.f_back
    return level


def dtype_option(dtype: Any) -> Any:
    """A precision as `dtype` takes it: a torch dtype or a short name (`DTYPE_ALIASES`) as its name; anything else
    as it is (checked by its taker, whose message lists `DTYPES`)."""
    if type(dtype).__module__ == "torch":
        return dtype_name(dtype)
    return DTYPE_ALIASES.get(dtype, dtype) if isinstance(dtype, str) else dtype


def tile_option(text: str) -> int | str | None:
    """A tile size typed as text (a command line's `--tile`, the demo's API) as `tile` takes it: "auto"; "none" or
    0 for None, the whole image in one pass (the engine's None and Real-ESRGAN's `--tile 0`, both spelt alike at
    every door); else a number of pixels. ValueError for anything else, for the caller to say in its own words."""
    text = text.strip().lower()
    if text == "auto":
        return text
    if text == "none":
        return None
    if not text.isdigit():
        raise ValueError(text)
    return int(text) or None


# How the paper ran its models, which benchmarks follow: whole images (no tiles), in float32, padded as the authors'
# test script pads them.
PAPER_ENGINE = EngineOptions(tile=None, dtype="float32", padding="authors")
