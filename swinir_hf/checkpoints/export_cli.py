"""The command line of `export`: `swinir-hf hub` and `hub/convert_and_push.py` build, verify and (optionally)
push the Hub folder of each authors' `.pth` file given."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import export
from .catalog import load_catalog
from .convert import CheckpointError
from .export import HubExportError, export_checkpoint, hub_repo_id, push_folder, unclaimed_staging
from .folders import check_push_access
from .loading import network_errors

DESCRIPTION = export.__doc__.split("\n\n")[0]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """The `swinir-hf hub` subcommand."""
    help_text = "build (and push) verified Hub repos from the authors' .pth files"
    configure_parser(subparsers.add_parser("hub", help=help_text, description=DESCRIPTION))


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Arguments of `swinir-hf hub` / `hub/convert_and_push.py`."""
    p.add_argument("source", help="an authors' .pth file, or a folder of them")
    p.add_argument("-o", "--output-dir", required=True, help="where to write one folder per checkpoint")
    p.add_argument("--org", default=None, help=f"Hub organisation or user (default: {load_catalog().organization})")
    p.add_argument("--push", action="store_true", help="upload each verified folder (create repo + one commit)")
    p.add_argument("--dry-run", action="store_true", help="build and verify, then list what --push would upload")
    p.add_argument("--private", action="store_true", help="create private repositories")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one / HF_TOKEN)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    p.add_argument(
        "--eval",
        nargs="+",
        default=(),
        metavar="DATASET",
        help="benchmark folders (HR images) to score each model on with swinir-hf eval; figures go into the card",
    )
    p.set_defaults(func=run)


def _checkpoints(source: Path) -> list[Path]:
    """The `.pth` files of a folder, or the one file given; empty (with an error printed) when there are none."""
    if source.is_dir():
        checkpoints = sorted(source.glob("*.pth"))
        if not checkpoints:
            print(f"error: no .pth files in {source}{_model_folder_hint(source)}", file=sys.stderr)
        return checkpoints
    if source.is_file():
        return [source]
    print(f"error: {source} does not exist", file=sys.stderr)
    return []


def _model_folder_hint(folder: Path) -> str:
    """What to do with a `save_pretrained` folder (a run of `swinir_hf.train`, say), which this command, made for the
    authors' releases, does not take as a whole."""
    weights = folder / "model.safetensors"
    if not ((folder / "config.json").is_file() and weights.is_file()):
        return ""
    return (
        f"; it is a save_pretrained folder: upload it as it is (it loads with swinir-hf installed) with `hf upload "
        f"REPO {folder}`, or export its weights with the model code for trust_remote_code=True with `swinir-hf hub "
        f"{weights} -o ...` (a new card, built from the weights alone)"
    )


def run(args: argparse.Namespace) -> int:
    """Export (and push) every checkpoint of `args.source`; 1 if any failed, 130 on Ctrl-C, else 0."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        # Each folder is built in a staging folder (removed on the way out, or by the next export after a SIGKILL)
        # and moved into place once verified.
        print(
            f"interrupted: each folder this run wrote to {args.output_dir} is complete and verified, none is "
            "half-built; run the same command again to finish",
            file=sys.stderr,
        )
        return 130


def _name_problem(checkpoint: Path, organization: str | None) -> str | None:
    """Why `checkpoint` has no valid Hub repo id under `organization` ("FILE: reason"), or None."""
    try:
        hub_repo_id(checkpoint, organization)
    except HubExportError as err:
        return f"{checkpoint.name}: {err}"
    return None


def _run(args: argparse.Namespace) -> int:
    from ..inference.collection import check_output_folder

    checkpoints = _checkpoints(Path(args.source))
    if not checkpoints:
        return 1
    try:
        check_output_folder(args.output_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    bad_names = [_name_problem(checkpoint, args.org) for checkpoint in checkpoints]
    for problem in filter(None, bad_names):  # a bad --org is refused before anything is built or reached
        print(f"error: {problem}", file=sys.stderr)
    if any(bad_names):
        return 1
    if args.push and not args.dry_run:  # now, not after building and verifying every checkpoint
        org = args.org or load_catalog().organization
        try:
            check_push_access(
                f"{org}/swinir-*", f"`hf upload {org}/NAME {out}/NAME` for each", option="--push", token=args.token
            )
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    for folder in unclaimed_staging(out) if out.is_dir() else ():
        print(
            f"note: {folder} looks like the staging folder of an unfinished export, by another machine or an earlier "
            f"swinir-hf (so it is not removed): delete it unless an export into {out} is running",
            file=sys.stderr,
        )
    failed = 0
    for checkpoint in checkpoints:
        try:
            folder = export_checkpoint(
                checkpoint, args.output_dir, organization=args.org, overwrite=args.overwrite, eval_datasets=args.eval
            )
        except (HubExportError, CheckpointError) as err:
            print(f"error: {checkpoint.name}: {err}", file=sys.stderr)
            failed += 1
            continue
        print(f"{checkpoint.name} → {folder.path} ({folder.repo_id}), verified: max abs diff {folder.max_abs_diff:.1e}")
        if args.push or args.dry_run:
            try:
                url = push_folder(folder, private=args.private, token=args.token, dry_run=args.dry_run)
            except network_errors() as err:
                print(f"error: pushing {folder.path} to {folder.repo_id} failed: {err}", file=sys.stderr)
                failed += 1
                continue
            if url:
                print(f"pushed {folder.repo_id}: {url}")
    if failed:
        print(f"{failed} of {len(checkpoints)} checkpoints failed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """`hub/convert_and_push.py`: the same as `swinir-hf hub`."""
    parser = argparse.ArgumentParser(prog="convert_and_push.py", description=DESCRIPTION)
    configure_parser(parser)
    return run(parser.parse_args(argv))
