"""What the benchmark scripts that restore a test set's HR images share: their `--model` / `--dataset` options and
the HR files, checked before torch and transformers are imported (so `--help` and a wrong folder answer at once)."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(description: str, dataset: str) -> argparse.ArgumentParser:
    """An argument parser with `--model` (default sr-x4) and `--dataset` (default `dataset`)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default="sr-x4", help="what `load_model` takes (default sr-x4)")
    p.add_argument("--dataset", default=dataset, help="a test set folder with HR/ images")
    return p


def hr_files(dataset: str) -> list[Path]:
    """The HR/*.png files of `dataset`, sorted; exits with one line where there are none."""
    files = sorted((Path(dataset) / "HR").glob("*.png"))
    if not files:
        raise SystemExit(f"error: no HR/*.png in {dataset}")
    return files
