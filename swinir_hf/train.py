"""`python -m swinir_hf.train` / `accelerate launch -m swinir_hf.train`: the trainer's command line
(`swinir_hf.training.cli.main`). The trainer itself lives in `swinir_hf.training` (`training.loop.run_training`,
`training.config.TrainingConfig`)."""

from __future__ import annotations

import sys

from .interrupts import entry_imports

with entry_imports(__name__, "run"):  # run, a Ctrl-C while the command line's modules import is one line
    from .console import tolerant_output
    from .training.cli import exit_status, main

__all__ = ["main"]


if __name__ == "__main__":
    tolerant_output()
    sys.exit(exit_status(main()))
