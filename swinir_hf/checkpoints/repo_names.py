"""The Hub repo of an exported folder: its name (the catalogue's for a release, else `swinir-<file, folder or run
name>`, never an authors' repo name) and the id checked as the Hub checks it, before anything is built; and, before
work that ends in a push (a restored dataset, a training run, an export), that this machine may push there.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import HfApi

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


def check_repo_id_given(repo_id: str, option: str = "--push-to-hub") -> None:
    """Raise `ValueError` for a repo id the Hub rejects (a space, `--`, `a/b/c`, over 96 characters: huggingface_hub's
    rule), naming `option`, which gave it: before the work it is pushed after (a restored dataset, a training run),
    not at the push, nor by pushing `a/b/c` to `a/c` (`check_push_access` keeps the first and last parts)."""
    if problem := repo_id_problem(repo_id):
        raise ValueError(
            f"{option} {repo_id!r} is not a Hub repo id ({problem}): give NAME or OWNER/NAME, of letters, digits, "
            "'-', '_' and '.'"
        )


def check_push_access(repo_id: str, upload_later: str, option: str = "--push-to-hub", token: str | None = None) -> str:
    """Raise `ValueError` (saying what to do) unless this machine can push to `repo_id` on the Hub: online, the Hub
    reachable, a token whose user or organisations own the repo's namespace. `upload_later` is how to upload what
    was saved locally instead (e.g. `hf upload ORG/NAME OUTPUT_DIR`), offered as the alternative; `option` is the
    command-line option that asked for the push, which the messages name; `token` the one to push with (default: the
    logged-in one / HF_TOKEN). Returns `repo_id` with its namespace: the token's user for a bare name, which the Hub
    creates there."""
    from huggingface_hub import constants

    from .loading import hub_reachable, network_errors

    later = f"or drop {option} and upload the saved folder later ({upload_later})"
    if constants.HF_HUB_OFFLINE:
        raise ValueError(f"{option} {repo_id}: HF_HUB_OFFLINE is set, so nothing can be pushed: unset it, {later}")
    if not hub_reachable():
        raise ValueError(
            f"{option} {repo_id}: the Hub ({constants.ENDPOINT}) cannot be reached: retry when it can, {later}"
        )
    try:
        me = HfApi(token=token).whoami()
    except network_errors() as err:
        raise ValueError(
            f"{option} {repo_id}: no valid Hub token ({err}): run `hf auth login` or set HF_TOKEN, {later}"
        ) from err
    names = {me.get("name")} | {org.get("name") for org in me.get("orgs") or []}
    namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
    if namespace not in names:
        raise ValueError(
            f"{option} {repo_id}: the token's user {me.get('name')!r} is not {namespace!r} nor a member of it "
            f"(it may push to {', '.join(sorted(n for n in names if n))}), {later}"
        )
    return f"{namespace}/{repo_id.rsplit('/', 1)[-1]}"
