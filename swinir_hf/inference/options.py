"""The engine's options as plain values, without torch: `EngineOptions`, `PAPER_ENGINE`, the precisions (`DTYPES`)
and the alpha modes (`ALPHA_MODES`), which command lines offer before any model loads (`swinir-hf restore --help`
answers without importing torch / transformers; tests/test_cli.py checks it)."""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, fields
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import torch

    from ..models.image_processing_swinir import AlphaMode
    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .restoration import SwinIRRestorer

DType = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = get_args(DType)  # what `dtype` takes, for checks and command lines


def _model_layer_literal(module: str, name: str) -> tuple[str, ...]:
    """The values of the `Literal` alias `name` in the model layer's `module`, read from its source: importing the
    layer loads torch and transformers, and it cannot import this package (it ships to Hub folders as remote code),
    so its one definition is read, not copied. Read as a package resource, so from a zip on sys.path too; an install
    without sources (.pyc only, a frozen app) imports the module instead (torch and all), rather than failing."""
    try:
        source = (resources.files("swinir_hf") / "models" / f"{module}.py").read_text(encoding="utf-8")
    except OSError:
        return get_args(getattr(importlib.import_module(f"swinir_hf.models.{module}"), name))
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return tuple(ast.literal_eval(node.value.slice))  # Literal["a", "b"] → ("a", "b")
    raise LookupError(f"no {name} = Literal[...] in swinir_hf/models/{module}.py")


# How an upscaling model enlarges an alpha channel: `image_processing_swinir.AlphaMode`'s values.
ALPHA_MODES: tuple[str, ...] = _model_layer_literal("image_processing_swinir", "AlphaMode")


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

    def restorer(self, model: SwinIRForImageRestoration, **extra: Any) -> SwinIRRestorer:
        """A `SwinIRRestorer` of `model` with these options (and `extra` ones: `progress`, `memory_budget`, ...)."""
        from .restoration import SwinIRRestorer

        return SwinIRRestorer(model, **{f.name: getattr(self, f.name) for f in fields(EngineOptions)}, **extra)


# How the paper ran its models, which benchmarks follow: whole images (no tiles), in float32.
PAPER_ENGINE = EngineOptions(tile=None, dtype="float32")
