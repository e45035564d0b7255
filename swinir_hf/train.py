"""`python -m swinir_hf.train` / `accelerate launch -m swinir_hf.train`: the trainer's command line
(`swinir_hf.training.cli.main`). The trainer itself lives in `swinir_hf.training`."""

from __future__ import annotations

import sys

from .console import tolerant_output
from .training.cli import exit_status, main, run_training
from .training.config import TrainingConfig

__all__ = ["TrainingConfig", "main", "run_training"]

if __name__ == "__main__":
    tolerant_output()
    sys.exit(exit_status(main()))
