"""The command line of `swinir-hf hub` (its options, its description), without torch: `swinir-hf hub --help` answers
at once; `export_cli` runs it."""

from __future__ import annotations

import argparse

from ..common_options import add_output_dir_argument
from .catalog import load_catalog
from .hub_licenses import hub_license

# What `swinir-hf hub` builds (`export` says how).
DESCRIPTION = (
    "Hub-ready model folders from the authors' `.pth` releases: safetensors weights, config and processor with\n"
    "`auto_map`, the model code for `trust_remote_code=True`, and a model card; verified, then optionally pushed."
)


def add_hub_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `swinir-hf hub` (its command: `export_cli.run`)."""
    p.add_argument(
        "source",
        help="an authors' .pth file, a folder of them, or a save_pretrained folder (a run of swinir_hf.train, one of "
        "its checkpoints/step-N, a bundled model: sr-x4, ...)",
    )
    # read by `LaunchParser`: argparse said only "unrecognized arguments: b.pth" of `hub a.pth -o out b.pth`
    p.extra_words = (
        "hub takes one source: quote a path with spaces, and put several .pth files in one folder (each is built)"
    )
    add_output_dir_argument(p, "where to write one folder per checkpoint")
    p.add_argument(
        "--org",
        default=None,
        help=f"Hub organisation or user (default for the authors' .pth files: {load_catalog().organization}; "
        "needed for a model folder)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="the repo name for a single source (default: the catalogue's, else swinir-<file stem / folder name>)",
    )
    p.add_argument("--push", action="store_true", help="upload each verified folder (create repo + one commit)")
    p.add_argument("--dry-run", action="store_true", help="build and verify, then list what --push would upload")
    p.add_argument("--private", action="store_true", help="create private repositories")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one / HF_TOKEN)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    p.add_argument(
        "--eval",
        nargs="+",
        action="extend",  # a repeated --eval was the last one alone
        default=[],  # (copied by argparse, not extended)
        metavar="DATASET",
        help="benchmark folders (HR images) to score each model on with swinir-hf eval; figures go into the card",
    )
    p.add_argument(
        "--license",
        default=None,
        type=_license,
        metavar="ID",
        help="the Hub license id of a model of your own (default: its card's; a card without one, or a new card: "
        "apache-2.0, the card saying it is swinir-hf's default; the authors' releases keep theirs)",
    )
    p.add_argument(
        "--license-name",
        default=None,
        metavar="ID",
        help="with --license other: the id the Hub shows for your terms (e.g. my-license-1.0), the card's license_name",
    )
    p.add_argument(
        "--license-link",
        default=None,
        metavar="URL",
        help="with --license other: where to read your terms, a file in the repo (LICENSE) or a URL; the card's "
        "license_link",
    )
    levels = p.add_mutually_exclusive_group()
    at = "--eval of a ×1 model other than the authors' releases (scored at their own level):"
    levels.add_argument("--noise", type=float, default=None, help=f"{at} the noise σ (0-255) to score at")
    levels.add_argument("--jpeg", type=int, default=None, help=f"{at} the JPEG quality to score at")


def _license(value: str) -> str:
    # argparse shows an ArgumentTypeError's own words (a ValueError as "invalid value").
    try:
        return hub_license(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
