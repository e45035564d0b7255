"""The engine's options as plain values, without torch: `EngineOptions`, `PAPER_ENGINE`, the precisions (`DTYPES`)
and the alpha modes (`ALPHA_MODES`), which command lines offer before any model loads (`swinir-hf restore --help`
answers without importing torch / transformers; tests/test_cli.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

from ..models.constants_swinir import ALPHA_MODES, AlphaMode  # noqa: F401  (ALPHA_MODES: offered here, torch-free)

if TYPE_CHECKING:
    import torch

    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .restoration import SwinIRRestorer

DType = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = get_args(DType)  # what `dtype` takes, for checks and command lines


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a model: the one options object that `restore`, `evaluate`, `swinir-hf restore` /
    `eval` and the demo pass along. Each field is `SwinIRRestorer`'s argument of that name."""

    tile: int | Literal["auto"] | None = "auto"
    tile_overlap: int = 32
    ensemble: bool = False
    dtype: DType = "auto"
    device: str | torch.device | None = None
    batch_size: int | None = None
    alpha: AlphaMode = "model"

    def __post_init__(self) -> None:
        # The forms users pass, as the restorer takes them (`restorer_checks.as_option_values`), so that captions,
        # reports and checks see the option itself: 0 tiles (Real-ESRGAN's) is None, a torch dtype its name.
        if self.tile == 0 and not isinstance(self.tile, bool):
            object.__setattr__(self, "tile", None)
        if type(self.dtype).__module__ == "torch":  # torch.bfloat16, without importing torch here
            object.__setattr__(self, "dtype", str(self.dtype).removeprefix("torch."))

    def restorer(self, model: SwinIRForImageRestoration, **extra: Any) -> SwinIRRestorer:
        """A `SwinIRRestorer` of `model` with these options (and `extra` ones: `progress`, `memory_budget`, ...)."""
        from .restoration import SwinIRRestorer

        return SwinIRRestorer(model, **{f.name: getattr(self, f.name) for f in fields(EngineOptions)}, **extra)


# How the paper ran its models, which benchmarks follow: whole images (no tiles), in float32.
PAPER_ENGINE = EngineOptions(tile=None, dtype="float32")
