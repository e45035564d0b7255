"""The command line of `export`: `swinir-hf hub` builds, verifies and (optionally) pushes the Hub folder of each
authors' `.pth` file given, or of a `save_pretrained` folder (a training run)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..console import shown_name
from ..interrupts import stopped_by, terminate_as_interrupt
from ..processes import usage_error
from .catalog import find_release, load_catalog
from .convert import CheckpointError
from .export import (
    HubExportError,
    HubFolder,
    export_checkpoint,
    export_model_folder,
    is_model_folder,
    push_folder,
)
from .export_arguments import DESCRIPTION, add_hub_arguments
from .hub_licenses import license_terms
from .loading import CHECKPOINT_SUFFIXES, network_errors, resolve_spec
from .repo_names import check_push_access, check_repo_id, folder_repo_name, hub_repo_id
from .run_folder import list_checkpoints
from .staging import unclaimed_staging


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Arguments of `swinir-hf hub`, run by `run`."""
    add_hub_arguments(p)
    p.set_defaults(func=run)


def _sources(source: Path) -> list[Path]:
    """The model folder given, or the checkpoint files (`.pth`, `.safetensors`) of a folder, or the one file given;
    empty (with an error printed) when there are none. A bundled model's name (`sr-x4`) is its folder, as `--model`
    takes it, unless a path of that name exists."""
    if isinstance(resolved := resolve_spec(source), Path):  # a path here, else a bundled model's folder
        source = resolved
    if is_model_folder(source):
        return [source]
    if source.is_dir():
        # Any case of the suffix (LW.PTH); not hidden files (macOS' ._lw.pth beside lw.pth is no checkpoint).
        checkpoints = sorted(
            p for p in source.iterdir() if p.suffix.lower() in CHECKPOINT_SUFFIXES and not p.name.startswith(".")
        )
        if not checkpoints:
            steps = [p for p in list_checkpoints(source) if is_model_folder(p)]
            # A run stopped before its final save has only its checkpoints to publish.
            hint = f"; its latest checkpoint is a model folder: {shown_name(steps[-1])}" if steps else ""
            print(
                f"error: {shown_name(source)} holds no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) and is no "
                f"save_pretrained folder{hint}",
                file=sys.stderr,
            )
        return checkpoints
    if source.is_file():
        return [source]
    print(f"error: {shown_name(source)} does not exist", file=sys.stderr)
    return []


def run(args: argparse.Namespace) -> int:
    """Export (and push) every checkpoint of `args.source`; 1 if any failed, 2 for options that cannot go together,
    130 on Ctrl-C, 143 on SIGTERM, else 0."""
    try:
        with terminate_as_interrupt():
            return _run(args)
    except KeyboardInterrupt as stop:
        # Each folder is built in a staging folder (removed on the way out, or by the next export after a SIGKILL)
        # and moved into place once verified.
        how, status = stopped_by(stop)
        print(
            f"{how}: each folder this run wrote to {shown_name(args.output_dir)} is complete and verified, none is "
            "half-built; run the same command again to finish",
            file=sys.stderr,
        )
        return status


def _naming(source: Path, message: str) -> str:
    """`message` prefixed with the source's name, unless it names it already (a folder's load errors do, as
    "FOLDER: ..."; a file's conversion errors as "FILE is not a readable PyTorch checkpoint ...")."""
    shown = (shown_name(source), shown_name(source.name))  # as the messages name it
    named = tuple(f"{name}{after}" for name in shown for after in (":", " "))
    return message if message.startswith(named) else f"{shown[1]}: {message}"


def repo_id_of(source: Path, organization: str | None, name: str | None) -> str:
    """The Hub repo id `source` is exported to: `organization/name`, else its default name (`hub_repo_id`,
    `folder_repo_name`). Raises `HubExportError` for an id the Hub would reject, or a model folder or a checkpoint
    other than the authors' releases without `organization` (the catalogue's is for the releases)."""
    folder = is_model_folder(source)
    release = next((r for r in load_catalog().releases if r.repo == name), None)
    if release is not None and (folder or source.name != release.file):
        # Derived names get "-custom" for this; a name given must not publish other weights as the authors' either.
        raise HubExportError(
            f"--name {name} is the repo name of the authors' release {release.file}, and this is not that file: "
            "choose another name"
        )
    if organization is None and (folder or find_release(source.name) is None):
        what = "a model folder" if folder else "a checkpoint other than the authors' releases"
        raise HubExportError(
            f"--org is needed for {what}: the Hub user or organisation to publish it under, which its card names "
            f"(the default, {load_catalog().organization}, is this project's, for the authors' releases)"
        )
    if name is None and not folder:
        return hub_repo_id(source, organization)  # the catalogue's name, or swinir-<file stem>
    repo_id = f"{organization or load_catalog().organization}/{name or folder_repo_name(source)}"
    check_repo_id(repo_id)
    return repo_id


def _name_problem(source: Path, args: argparse.Namespace) -> str | None:
    """Why `source` has no valid Hub repo id ("NAME: reason"), or None."""
    try:
        repo_id_of(source, args.org, args.name)
    except HubExportError as err:
        return f"{shown_name(source.name)}: {err}"
    return None


def _run(args: argparse.Namespace) -> int:
    from ..storage.output_folders import check_output_folder

    if (args.noise is not None or args.jpeg is not None) and not args.eval:
        given = "--noise" if args.noise is not None else "--jpeg"
        return usage_error(args.prog, f"{given} is the level --eval scores at: give --eval DATASET too")
    if args.push and args.dry_run:  # the dry run won without a word: a script meaning to push pushed nothing, exit 0
        return usage_error(args.prog, "--dry-run lists what --push would upload, without pushing: give one of them")
    if (args.private or args.token is not None) and not (args.push or args.dry_run):
        given = "--private" if args.private else "--token"
        return usage_error(args.prog, f"{given} is for the push: give --push (or --dry-run) too")
    try:  # --license itself is checked as it is read
        license_terms(args.license, args.license_name, args.license_link, spelled=_LICENSE_OPTIONS)
    except ValueError as err:
        return usage_error(args.prog, str(err))
    checkpoints = _sources(Path(args.source))
    if not checkpoints:
        return 1
    if args.name is not None and len(checkpoints) > 1:
        many = f"{shown_name(args.source)} holds {len(checkpoints)} checkpoints"
        return usage_error(args.prog, f"--name names one repo, but {many}")
    try:
        check_output_folder(args.output_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    bad_names = [_name_problem(checkpoint, args) or _level_problem(checkpoint, args) for checkpoint in checkpoints]
    for problem in filter(None, bad_names):  # a bad --org is refused before anything is built or reached
        print(f"error: {problem}", file=sys.stderr)
    if any(bad_names):
        return 1
    if args.push and not args.dry_run:  # now, not after building and verifying every checkpoint
        org = args.org or load_catalog().organization
        repo_id, later = f"{org}/swinir-*", f"`hf upload {org}/NAME {shown_name(out)}/NAME` for each"
        if len(checkpoints) == 1:
            repo_id = repo_id_of(checkpoints[0], args.org, args.name)
            later = f"`hf upload {repo_id} {shown_name(out / repo_id.rsplit('/', 1)[-1])}`"
        try:
            check_push_access(repo_id, later, option="--push", token=args.token)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    for folder in unclaimed_staging(out) if out.is_dir() else ():
        print(
            f"note: {shown_name(folder)} looks like the staging folder of an unfinished export, by another machine or "
            "an earlier swinir-hf (so it is not removed): delete it unless an export into "
            f"{shown_name(out)} is running",
            file=sys.stderr,
        )
    failed = _export_all(checkpoints, args)
    if failed:
        print(f"{failed} of {len(checkpoints)} checkpoints failed", file=sys.stderr)
    return 1 if failed else 0


def _export_all(checkpoints: list[Path], args: argparse.Namespace) -> int:
    """Export (and push, or list for `--dry-run`) each checkpoint in turn, each failure said on stderr and passed
    over; how many failed."""
    failed = 0
    for checkpoint in checkpoints:
        try:
            folder = _export(checkpoint, args)
        except (HubExportError, CheckpointError) as err:
            print(f"error: {_naming(checkpoint, str(err))}", file=sys.stderr)
            failed += 1
            continue
        made = f"{shown_name(checkpoint.name)} → {shown_name(folder.path)} ({folder.repo_id})"
        print(f"{made}, verified: max abs diff {folder.max_abs_diff:.1e}")
        if args.push or args.dry_run:
            try:
                url = push_folder(folder, private=args.private, token=args.token, dry_run=args.dry_run)
            except network_errors() as err:
                print(f"error: pushing {shown_name(folder.path)} to {folder.repo_id} failed: {err}", file=sys.stderr)
                failed += 1
                continue
            if url:
                print(f"pushed {folder.repo_id}: {url}")
    return failed


def _export(source: Path, args: argparse.Namespace) -> HubFolder:
    """`export_model_folder` for a model folder, else `export_checkpoint`, as the arguments say."""
    options = {"overwrite": args.overwrite, "eval_datasets": args.eval, "noise": args.noise, "jpeg": args.jpeg}
    options |= {"license": args.license, "license_name": args.license_name, "license_link": args.license_link}
    repo_id = repo_id_of(source, args.org, args.name)
    if is_model_folder(source):
        return export_model_folder(source, args.output_dir, repo_id=repo_id, **options)
    return export_checkpoint(source, args.output_dir, repo_id=repo_id, **options)


# How `license_terms` says this command's options.
_LICENSE_OPTIONS = ("--license", "--license-name", "--license-link")


def _level_problem(source: Path, args: argparse.Namespace) -> str | None:
    """Why `--noise` / `--jpeg` / `--license` cannot apply to `source` (a release is scored at its own level, under
    its authors' license), or None."""
    given = "--noise" if args.noise is not None else "--jpeg" if args.jpeg is not None else None
    release, name = None if is_model_folder(source) else find_release(source.name), shown_name(source.name)
    if given and release is not None:
        return f"{name}: {given} is for other checkpoints: the authors' release is scored at its own level"
    if args.license is not None and release is not None:
        return f"{name}: --license is for other models: the authors' release is under their license"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """`swinir-hf hub ARGV` from Python: the exit status."""
    parser = argparse.ArgumentParser(prog="swinir-hf hub", description=DESCRIPTION, allow_abbrev=False)
    configure_parser(parser)
    parser.set_defaults(prog=parser.prog)
    return run(parser.parse_args(argv))
