"""`python -m swinir_hf.evaluate --model M --dataset D [options]`: the `swinir-hf eval` command as a module, so that
`accelerate launch -m swinir_hf.evaluate ...` can share a benchmark's images among processes / GPUs."""

from __future__ import annotations

import sys

from .interrupts import entry_imports

with entry_imports(__name__):  # run, a Ctrl-C while torch and transformers import is one line
    from .console import prefixed_warnings, tolerant_output
    from .evaluation.cli import main

if __name__ == "__main__":
    tolerant_output()
    prefixed_warnings()
    sys.exit(main())
