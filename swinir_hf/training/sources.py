"""The config's data sources that are not there, said in the config's terms (the field, and for a relative path the
folder it was read from): before the run sets anything up (`check_sources_there`), and as loading finds them
(`images.config_images`). Without torch: the trainer's command line checks them before importing it, and
`loop.run_training` first thing (called from Python)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..console import shown_name

if TYPE_CHECKING:
    from .sections import DataArgs

# How to replace each source field's value from the command line.
_OVERRIDE = {
    "data.train": "--data.train '[DIR, ...]'",
    "data.val": "--data.val DIR (or data.val=null)",
    "data.train_lr": "--data.train_lr '[DIR, ...]'",
    "data.val_lr": "--data.val_lr DIR (or data.val_lr=null)",
}


def not_found(field: str, source: str, said: str) -> str:
    """The message for the config's `field` whose `source` is not there (`said`: what is wrong with it): a relative
    path also names the folder it was read from and how to give one's own. The bundled configs name `../shared/...`,
    the repository's fixture folder, which a user of an installed package has not got beside the current folder."""
    where = ""
    if said.startswith("no such") and not Path(source.removeprefix("imagefolder:")).is_absolute():  # not a Hub id
        here = shown_name(Path.cwd())
        where = f" (relative paths are read from the current folder, {here}; your own: {_OVERRIDE[field]})"
    return f"{field}: {said}{where}"


def check_sources_there(data: DataArgs) -> None:
    """Raise `FileNotFoundError` (`not_found`) for a local source of `data` that is not there (`missing_folder`: a
    path or `imagefolder:DIR`; a Hub dataset id is left to loading). Loading the data found it only after accelerate
    and the model were set up (40 s on a busy machine)."""
    from ..image_datasets import missing_folder

    sources = [*(("data.train", s) for s in data.train), *(("data.train_lr", s) for s in data.train_lr)]
    if data.val is not None:  # data.val_lr is unused without it
        sources += [("data.val", data.val), *([("data.val_lr", data.val_lr)] if data.val_lr is not None else [])]
    for field, source in sources:
        if said := missing_folder(source):
            raise FileNotFoundError(not_found(field, source, said))
