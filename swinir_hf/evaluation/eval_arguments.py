"""The `eval` command line's options (`add_eval_arguments`), without torch: `swinir-hf eval --help` and its usage
errors answer before any model loads (tests/test_cli.py checks it); `evaluation.cli` runs them."""

from __future__ import annotations

import argparse

from ..checkpoints.bundled import DEFAULT_MODELS
from ..checkpoints.weight_keys import add_weights_key_argument
from ..console import add_progress_arguments
from ..degradations.levels import REAL_WORLD
from ..inference.engine_cli import add_engine_arguments
from ..inference.options import DTYPES, PAPER_ENGINE
from ..other_tools import EVAL_OTHER_OPTIONS
from .protocol import GREY_CONVENTIONS


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The `eval` options."""
    p.other_names = EVAL_OTHER_OPTIONS  # read by `LaunchParser` (the parser of `swinir-hf eval` and of a launch)
    # read by `LaunchParser`: a set after another option (`--dataset Set5 --scale 4 Set14`) was "unrecognized"
    p.extra_words = "eval's models follow --model and its datasets --dataset (several after one, or it repeated)"
    _add_scored_arguments(p)
    _add_setting_arguments(p)
    p.add_argument(
        "--lr-dir", help="folder of given LR / degraded inputs (NAME.* or NAMEx<scale>.*) instead of making them"
    )
    p.add_argument(
        "--grey-convention",
        choices=GREY_CONVENTIONS,
        help="score greyscale images among colour ones as RGB → Y (rgb: the authors' script, the paper's figures) "
        "or on their grey channel (native: the published bicubic tables); default: as the authors' script reads "
        "them for the model (rgb for colour models, native for grey ones and the identity)",
    )
    p.add_argument("--split", help="split of a datasets dataset (default: test; train for imagefolder)")
    _add_column_arguments(p)
    # The paper's way (whole images, float32), and no machine-dependent "auto": a benchmark states its precision.
    exact = [d for d in DTYPES if d != "auto"]
    add_engine_arguments(p, PAPER_ENGINE, exact)
    p.add_argument("--verbose", action="store_true", help="one row per image as well as the mean")
    add_progress_arguments(p)
    p.add_argument("--json", help="also write the figures to this JSON file ('-': stdout, the tables to stderr)")
    p.add_argument(
        "--save-images",
        metavar="DIR",
        help="also write each model's outputs, as scored, to DIR/MODEL/IMAGE.png (a new or empty folder, or this "
        "evaluation's own: the same command again resumes from the outputs there)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --json file and the images in --save-images"
    )


def _add_scored_arguments(p: argparse.ArgumentParser) -> None:
    """The models scored and the sets they are scored on."""
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        action="extend",
        help=f"bundled model ({', '.join(DEFAULT_MODELS)}), model folder, authors' .pth, catalogue name, Hub id, "
        "or 'identity' (no-op); several (or --model repeated) are scored side by side in one table",
    )
    p.add_argument(
        "--revision",
        metavar="REV",
        help="branch, tag or commit of the Hub models among --model (default: their main branch); their rows are "
        "named NAME@REV",
    )
    add_weights_key_argument(p)
    p.add_argument(
        "--dataset",
        required=True,
        nargs="+",
        action="extend",  # as --model: a repeated --dataset was the last one alone
        help="folder of HR images (or holding HR/), imagefolder:DIR, save_to_disk folder, Hub id; several (or "
        "--dataset repeated): each scored in turn by the models loaded once, a table each (--json: a list; "
        "--save-images DIR: DIR/SET)",
    )


def _add_setting_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark setting, one at most: `--scale`, `--noise`, `--jpeg` or `--real [KIND]` (their metavars as
    docs/evaluation.md's: the group's usage fits an 80-column terminal)."""
    task = p.add_mutually_exclusive_group()
    task.add_argument("--scale", type=int, metavar="S", help="super-resolution factor (default: the model's)")
    task.add_argument("--noise", type=float, metavar="SIGMA", help="Gaussian noise σ in 0..255 grey levels (denoising)")
    task.add_argument("--jpeg", type=int, metavar="Q", help="JPEG quality (artifact reduction)")
    task.add_argument(
        "--real",
        nargs="?",
        const=REAL_WORLD[0],
        choices=REAL_WORLD,
        metavar="KIND",
        help="real-world degradation at the model's scale, seeded per image (real-world super-resolution): "
        "BSRGAN-style (plain --real) or Real-ESRGAN's second-order one (--real real-esrgan)",
    )


def _add_column_arguments(p: argparse.ArgumentParser) -> None:
    """`--column` and `--lr-column`: a dataset's image columns, as `restore --dataset --column` names its own."""
    p.add_argument(
        "--column",
        metavar="NAME",
        help="a datasets dataset's image column of ground truths (default: hr, image or gt, in any case; else its one "
        "image column besides the inputs')",
    )
    p.add_argument(
        "--lr-column",
        metavar="NAME",
        help="a datasets dataset's image column of given LR / degraded inputs, as --lr-dir's (default: lr or lq, in "
        "any case, if it has one)",
    )


def dataset_columns(args: argparse.Namespace) -> dict[str, str]:
    """The dataset columns that `--column` / `--lr-column` name, as `evaluate_models`' arguments (and a saved
    evaluation's settings: none where not named, as before the options were)."""
    named = {"column": args.column, "lr_column": args.lr_column}
    return {name: value for name, value in named.items() if value is not None}
