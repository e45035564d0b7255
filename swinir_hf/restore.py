"""`python -m swinir_hf.restore IN... -o OUT [options]`: the `swinir-hf restore` command as a module, so that
`accelerate launch -m swinir_hf.restore ...` can spread a collection over processes / GPUs / machines.

Run it with `-m` only: importing this module would rebind the attribute `swinir_hf.restore` (the `restore`
function) to the module.
"""

from __future__ import annotations

import sys

from .interrupts import entry_imports

with entry_imports(__name__):  # run, a Ctrl-C while torch and transformers import is one line
    from .console import prefixed_warnings, tolerant_output
    from .inference.collection_cli import main

if __name__ == "__main__":
    tolerant_output()
    prefixed_warnings()
    sys.exit(main())
