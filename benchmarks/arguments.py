"""What the benchmark scripts' command lines share, so that a bad value or model is one line, not a traceback deep in
the benchmark: integer option types with a minimum, a device checked, and a model loaded or the reason it cannot be.
Without torch until a check needs it: `--help` and a bad option answer at once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def positive(minimum: int, multiple: int = 1) -> Callable[[str], int]:
    """An argparse `type`: an integer ≥ `minimum` (and a multiple of `multiple`, the window), else argparse's error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or value % multiple:
            what = f"an integer ≥ {minimum}" + (f", a multiple of {multiple} (the window)" if multiple > 1 else "")
            raise argparse.ArgumentTypeError(f"{text!r}: must be {what}")
        return value

    return parse


def loaded_model(spec: str) -> Any:
    """`load_model(spec)`, or exit with one line saying why it cannot load (a typo, a model not cached offline)."""
    from swinir_hf.checkpoints.convert import CheckpointError
    from swinir_hf.loading import ModelNotAvailableError, load_model

    try:
        return load_model(spec)
    except (ValueError, OSError, ModelNotAvailableError, CheckpointError) as err:
        raise SystemExit(f"error: {err}") from None


def require_device(device: str) -> None:
    """Exit with one line when `device` is CUDA and torch sees none (the benchmarks would fail deep inside)."""
    import torch

    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: {device}: torch sees no CUDA device here")
