"""The evaluation layer: metrics (`metrics`), the degradations that make test inputs (`degradations`), the test sets
as the protocol reads them (`testsets`) and the paper's benchmark protocol (`benchmark`); the entry points are
re-exported here: `from swinir_hf.evaluation import evaluate`."""

from .benchmark import Degradation, Evaluation, combine_shares, evaluate, evaluate_models, resolve_degradation
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
