"""The evaluation layer: metrics (`metrics`), the degradations that make test inputs (`degradations`: bicubic, noise,
JPEG; `real_world`: BSRGAN-style) and the setting that names one (`degradation_setting`), the test sets as the
protocol reads them (`testsets`), the paper's benchmark protocol (`benchmark`), the setting it scores
(`benchmark_setting`) and its results (`results`); the entry points are re-exported here: `from swinir_hf.evaluation
import evaluate`. They load on first use, so that the command line, which imports `evaluation.cli` for its options,
does not pay for the metrics' scipy on every command."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .benchmark import evaluate, evaluate_models
    from .benchmark_setting import resolve_degradation
    from .degradation_setting import Degradation
    from .results import Evaluation, combine_shares
    from .testsets import load_samples

__all__ = [
    "Degradation",
    "Evaluation",
    "combine_shares",
    "evaluate",
    "evaluate_models",
    "load_samples",
    "resolve_degradation",
]
_EXPORTS = {name: "benchmark" for name in __all__} | {
    "Degradation": "degradation_setting",
    "Evaluation": "results",
    "combine_shares": "results",
    "load_samples": "testsets",
    "resolve_degradation": "benchmark_setting",
}  # name → its module


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
