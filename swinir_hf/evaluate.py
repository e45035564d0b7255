"""`python -m swinir_hf.evaluate --model M --dataset D [options]`: the `swinir-hf eval` command as a module, so that
`accelerate launch -m swinir_hf.evaluate ...` can share a benchmark's images among processes / GPUs."""

from __future__ import annotations

import sys

from .interrupts import not_started

try:
    from .console import prefixed_warnings, tolerant_output
    from .evaluation.cli import main
except KeyboardInterrupt as stop:
    if __name__ != "__main__":
        raise
    # Ctrl-C while torch and transformers import (a second, in every process of a launch): one line, as later.
    raise SystemExit(not_started(stop)) from None

if __name__ == "__main__":
    tolerant_output()
    prefixed_warnings()
    sys.exit(main())
