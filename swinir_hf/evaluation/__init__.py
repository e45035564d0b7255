"""The evaluation layer: metrics (`metrics`), the test sets as the protocol reads them (`testsets`), the paper's
benchmark protocol (`benchmark`), the setting it scores (`benchmark_setting`) and its results (`results`); the
degradations that make its inputs are `swinir_hf.degradations`'. The entry points are re-exported here:
`from swinir_hf.evaluation import evaluate`. They load on first use, so that the command line, which imports
`evaluation.cli` for its options, does not pay for the metrics' scipy on every command. Its modules, each in a
line: README.md, "Where things live"."""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .benchmark import evaluate, evaluate_models
    from .benchmark_setting import resolve_degradation
    from .results import Evaluation, combine_shares
    from .testsets import load_samples

__all__ = [
    "Evaluation",
    "combine_shares",
    "evaluate",
    "evaluate_models",
    "load_samples",
    "resolve_degradation",
]
_EXPORTS = {name: "benchmark" for name in __all__} | {
    "Evaluation": "results",
    "combine_shares": "results",
    "load_samples": "testsets",
    "resolve_degradation": "benchmark_setting",
}  # name → its module


# The degradations' modules lived here before: `from swinir_hf.evaluation import degradations` goes on working.
_MOVED = {
    "degradations": "swinir_hf.degradations.synthetic",
    "degradation_setting": "swinir_hf.degradations.setting",
    "levels": "swinir_hf.degradations.levels",
    "real_world": "swinir_hf.degradations.real_world",
}


# Not for type checkers: they would take any name for a public one (`swinir_hf.lod_model`, a typo) as Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _MOVED:
            warnings.warn(f"swinir_hf.evaluation.{name} is now {_MOVED[name]}", FutureWarning, stacklevel=2)
            return import_module(_MOVED[name])
        if name not in _EXPORTS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
