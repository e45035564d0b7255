"""`python -m swinir_hf.train` / `accelerate launch -m swinir_hf.train`: the trainer's command line
(`swinir_hf.training.cli.main`). The trainer itself lives in `swinir_hf.training`."""

from __future__ import annotations

import sys
from typing import Any

from .interrupts import not_started

try:
    from .console import tolerant_output
    from .training.cli import exit_status, main
    from .training.config import TrainingConfig
except KeyboardInterrupt as stop:
    if __name__ != "__main__":
        raise
    # Ctrl-C while the command line's modules import (~0.3 s, before main's handlers): one line, as later.
    raise SystemExit(not_started(stop, "run")) from None

__all__ = ["TrainingConfig", "main", "run_training"]  # noqa: F822 (run_training: by __getattr__)


def __getattr__(name: str) -> Any:
    """`run_training` (`training.loop`'s, with its signature) on first use: the loop imports torch, which the command
    line's --help and refusals do without."""
    if name == "run_training":
        from .training.loop import run_training

        return run_training
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    tolerant_output()
    sys.exit(exit_status(main()))
