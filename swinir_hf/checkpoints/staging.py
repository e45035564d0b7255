"""An export's staging folders in its output folder: each named by its process, so that one a killed export left
is removed by the next export there, and those nothing tells from a running export's are listed, not removed."""

from __future__ import annotations

import re
from pathlib import Path

from ..storage.atomic_writes import process_folder, process_tag, remove_dead
from .remote_code import drop_remote_module_cache

# Staging folders are `swinir_staging_<host>-<pid>-<random>` (`process_tag()`) in the output folder: one left by a
# killed export is recognised by its process id and removed by the next export into that folder. Earlier versions
# named them `swinir_staging_<random>`; <random> is mkdtemp's 8 characters.
_STAGING_PREFIX = "swinir_staging_"
_STAGING_NAME = re.compile(rf"{_STAGING_PREFIX}(?:(?P<host>[^-]+)-\d+-)?[a-z0-9_]{{8}}")


def staging_folder(output_dir: Path) -> Path:
    """A new empty folder in `output_dir`, named as this process's staging folder (`remove_stale_staging`)."""
    return process_folder(output_dir, _STAGING_PREFIX)


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders in `output_dir` of exports on this host whose process has died (SIGKILL, power
    loss: the `finally` that removes them never ran), and their code's copy in transformers' modules cache; a running
    export's are kept, and so is any folder not named exactly as mkdtemp names a staging folder (a user's
    `swinir_staging_<host>-2024-notes`). Returns what was removed."""
    return remove_dead(output_dir, _STAGING_PREFIX, named=_STAGING_NAME, then=drop_remote_module_cache)


def unclaimed_staging(output_dir: Path) -> list[Path]:
    """Staging folders in `output_dir` that `remove_stale_staging` leaves because nothing tells them from a running
    export's: another machine's, and those named by swinir-hf versions before the host / pid naming. (This machine's
    are removed or are a running export's; folders not named like a staging folder are never listed.)"""
    here = process_tag().rsplit("-", 1)[0]
    return sorted(
        folder
        for folder in output_dir.glob(f"{_STAGING_PREFIX}*")
        if (match := _STAGING_NAME.fullmatch(folder.name)) and match["host"] != here and folder.is_dir()
    )
