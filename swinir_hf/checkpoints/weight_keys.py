"""Where a checkpoint in the authors' (BasicSR / KAIR) format keeps its weights, and the `--weights-key` option that
`convert`, `restore` and `eval` take to choose the entry of a file of one's own training. Torch-free: command lines
build their `--help` from it before any model loads."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

# The entries searched, in order: the weight EMA (BasicSR's better weights) before the raw ones.
WEIGHT_KEYS = ("params_ema", "params", "state_dict", "model")


def add_weights_key_argument(p: argparse.ArgumentParser) -> None:
    """`--weights-key KEY` (dest `weights_key`, default None: the first of `WEIGHT_KEYS` the file holds)."""
    p.add_argument(
        "--weights-key",
        metavar="KEY",
        help=f"an authors' .pth / .safetensors file's entry holding the weights (default: {', '.join(WEIGHT_KEYS)}, "
        "the first it holds; else its top level)",
    )


def weights_key_problem(weights_key: str | None, models: Sequence[str], none_is: str) -> str | None:
    """What is wrong with `--weights-key` for the `models` given (none of them a checkpoint file, which alone it is
    for), ending in `none_is` ("--model X is not one"); else None."""
    if weights_key is None or any(Path(model).is_file() for model in models):
        return None
    return f"--weights-key {weights_key} is for an authors' checkpoint file (.pth / .safetensors), and {none_is}"
