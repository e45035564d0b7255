"""Options several `swinir-hf` commands share, defined once so that each reads the same in every `--help`."""

from __future__ import annotations

import argparse

# The output folder's metavar: `-o OUT` in `restore`, `hub`, `convert` and `train`, as the docs and messages name it.
OUTPUT_METAVAR = "OUT"


def add_output_dir_argument(
    p: argparse.ArgumentParser, help: str, required: bool = True, dest: str = "output_dir"
) -> None:
    """`-o OUT` / `--output-dir OUT`: the folder a command writes into (`help`: what it holds)."""
    p.add_argument("-o", "--output-dir", required=required, dest=dest, metavar=OUTPUT_METAVAR, help=help)
