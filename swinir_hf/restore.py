"""`python -m swinir_hf.restore IN... -o OUT [options]`: the `swinir-hf restore` command as a module, so that
`accelerate launch -m swinir_hf.restore ...` can spread a collection over processes / GPUs / machines.

Run it with `-m` only: importing this module would rebind the attribute `swinir_hf.restore` (the `restore`
function) to the module.
"""

from __future__ import annotations

import sys

from .interrupts import not_started

try:
    from .console import prefixed_warnings, tolerant_output
    from .inference.collection_cli import main
except KeyboardInterrupt as stop:
    if __name__ != "__main__":
        raise
    # Ctrl-C while torch and transformers import (a second, in every process of a launch): one line, as later.
    raise SystemExit(not_started(stop)) from None

if __name__ == "__main__":
    tolerant_output()
    prefixed_warnings()
    sys.exit(main())
