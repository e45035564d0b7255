"""`python -m swinir_hf ...`: the `swinir-hf` command, where its script is not on PATH (a venv not activated)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
