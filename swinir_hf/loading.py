"""`from swinir_hf.loading import load_model, load_default, DEFAULTS_DIR`: the public names of
`swinir_hf.checkpoints.loading`, where they are defined."""

from .checkpoints.loading import (
    DEFAULT_MODELS,
    DEFAULTS_DIR,
    ModelNotAvailableError,
    hub_reachable,
    load_default,
    load_model,
    resolve_spec,
)

__all__ = [
    "DEFAULTS_DIR",
    "DEFAULT_MODELS",
    "ModelNotAvailableError",
    "hub_reachable",
    "load_default",
    "load_model",
    "resolve_spec",
]
