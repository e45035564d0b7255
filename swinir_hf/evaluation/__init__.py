"""The evaluation layer: metrics (`metrics`), the degradations that make test inputs (`degradations`) and the
paper's benchmark protocol (`benchmark`, whose entry points are re-exported here:
`from swinir_hf.evaluation import evaluate`)."""

from .benchmark import Degradation, Evaluation, evaluate, load_samples, resolve_degradation

__all__ = ["Degradation", "Evaluation", "evaluate", "load_samples", "resolve_degradation"]
