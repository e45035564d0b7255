"""The Hub repo of an exported folder: its name (the catalogue's for a release, else `swinir-<file, folder or run
name>`, never an authors' repo name) and the id checked as the Hub checks it, before anything is built.
"""

from __future__ import annotations

import re
from pathlib import Path

from .catalog import find_release, load_catalog
from .remote_code import HubExportError
from .run_folder import MODEL, checkpoint_step, is_checkpoint


def hub_repo_id(checkpoint: Path, organization: str | None = None) -> str:
    """`organization/<repo name>` of a checkpoint's Hub folder (its catalogue name, else `local_repo_name`).

    Raises:
        HubExportError: an id the Hub would reject (a bad organisation, a file stem too long).
    """
    release = find_release(Path(checkpoint).name)
    name = release.repo if release else local_repo_name(Path(checkpoint))
    repo_id = f"{organization or load_catalog().organization}/{name}"
    check_repo_id(repo_id)
    return repo_id


def repo_id_problem(repo_id: str) -> str | None:
    """Why the Hub would reject `repo_id` (a space, `--`, `a/b/c`, over 96 characters: huggingface_hub's own rule),
    or None for a valid one."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        return str(err)
    return None


def check_repo_id(repo_id: str) -> None:
    """Raise `HubExportError` for a repo id the Hub would reject (a bad `--org`, a name too long), before anything
    is built rather than at the push."""
    if problem := repo_id_problem(repo_id):
        org = repo_id.partition("/")[0] if "/" in repo_id else ""  # (`--name me/x4`: the name holds the slash)
        option = "--org" if org and repo_id_problem(f"{org}/swinir") else "--name"  # the part at fault
        raise HubExportError(f"{repo_id!r} is not a valid Hub repo id (check {option}): {problem}")


def local_repo_name(checkpoint: Path) -> str:
    """`swinir-<file stem>` for a file that is not in the catalogue (see `_repo_name`)."""
    return _repo_name(checkpoint.stem)


def folder_repo_name(source: Path) -> str:
    """`swinir-<folder name>` for a model folder, `swinir-<run>-step-N` for a training checkpoint
    `RUN/checkpoints/step-N` or its `model/` folder (see `_repo_name`)."""
    source = source.resolve()
    if source.name == MODEL and is_checkpoint(source.parent):
        source = source.parent
    if (step := checkpoint_step(source)) is not None:
        return _repo_name(f"{source.parent.parent.name}-step-{step}")
    return _repo_name(source.name)  # also a checkpoint copied elsewhere or renamed ("best")


def _repo_name(stem: str) -> str:
    """`swinir-<stem>` in the Hub's characters (a stem that starts with `swinir` is not prefixed again: `swinir-x4`,
    not `swinir-swinir-x4`); `-custom` is added when that name is a catalogue repo's (`lightweight_sr_x4.pth`), so
    that a push can never target an authors' release."""
    name = re.sub(r"[^a-z0-9.]+", "-", stem.lower()).strip("-")
    name = name if re.match(r"swinir(-|$)", name) else f"swinir-{name}"
    if name in {release.repo for release in load_catalog().releases}:
        name += "-custom"
    return name
