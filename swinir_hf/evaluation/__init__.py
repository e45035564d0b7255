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


# The degradations' modules lived here before: `from swinir_hf.evaluation import degradations` (and `Degradation`) go
# on working, with a warning; dotted imports of them (`swinir_hf.evaluation.degradations.imresize`) do not.
_MOVED = {
    "degradations": "swinir_hf.degradations.synthetic",
    "degradation_setting": "swinir_hf.degradations.setting",
    "levels": "swinir_hf.degradations.levels",
    "real_world": "swinir_hf.degradations.real_world",
    "Degradation": "swinir_hf.degradations.setting.Degradation",
}


# Not for type checkers: they would take any name for a public one (`swinir_hf.lod_model`, a typo) as Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _MOVED:
            warnings.warn(f"swinir_hf.evaluation.{name} is now {_MOVED[name]}", FutureWarning, stacklevel=2)
            module, _, attribute = _MOVED[name].rpartition(".")
            value = getattr(import_module(module), attribute) if attribute[0].isupper() else import_module(_MOVED[name])
        elif name in _EXPORTS:
            value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # one warning: `from ... import` looks a name up twice
        return value
