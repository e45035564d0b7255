"""The outputs an evaluation saves (`swinir-hf eval --save-images DIR`), and an interrupted evaluation resumed from
them: DIR/<row name>/<image name>.png are the uint8 images scored, and DIR/evaluation.json says of which evaluation
(the set, the degradation, the engine's options and device kind, and a fingerprint of each model's config and
weights). The same evaluation run again reads the outputs it finds there instead of restoring those images again;
its figures are the same, since the scores are computed from those very uint8 pixels. Outputs an earlier version
saved under its names (`earlier_name`) are found and reused too, in a folder whose record that version wrote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints.fingerprint import model_fingerprint
from ..console import shown_name
from ..storage.atomic_writes import move_unless_exists, write_text_file
from ..storage.paths import NAME_MAX, portable_name
from .protocol import ENGINE_FIELDS

if TYPE_CHECKING:  # the command line asks `has_manifest` before torch loads
    import numpy as np

    from ..inference.options import EngineOptions
    from ..models.modeling_swinir import SwinIRForImageRestoration

MANIFEST = "evaluation.json"
# A record's mark that its outputs are saved under `portable_name`'s names (no setting: a record without it, an
# earlier version's, is the same evaluation's). Only where a record lacks it are outputs looked for under
# `earlier_name`'s: elsewhere such a file is no output of the record's (one that was there before --overwrite
# marked a folder without a record).
NAMES_KEY, PORTABLE = "saved_names", "portable"


@dataclass(frozen=True)
class SavedOutputs:
    """Where each model's uint8 outputs go; `reuse`: read one found there instead of restoring the image again (the
    caller checked, with `open_saved_outputs`, that the folder holds this evaluation's)."""

    folder: Path
    reuse: bool = False

    def path(self, method: str, image: str) -> Path:
        """folder/<method>/<image>.png, always inside `folder`, each name as any system takes it
        (`storage.paths.portable_name`: "/", characters Windows refuses and control characters as "_", "", "." or
        ".." underscores, a long one cut with its hash)."""
        return self.folder / portable_name(method) / f"{portable_name(image)}.png"

    def load(self, method: str, image: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The saved (H, W, C) uint8 output of `method` on `image` when reusing and one of `shape` is there; else
        None (restore it). Where `path` holds none and an earlier version wrote the folder's record, one that
        version saved (`earlier_path`) is reused, and renamed to `path` (`_rename_earlier`)."""
        if not self.reuse:
            return None
        path = self.path(method, image)
        if (pixels := _saved_pixels(path, shape)) is None and (earlier := self._earlier_output(method, image)):
            if (pixels := _saved_pixels(earlier, shape)) is not None:
                _rename_earlier(earlier, path)
        return pixels

    def earlier_path(self, method: str, image: str) -> Path | None:
        """Where an earlier version saved the output of `method` on `image` (`earlier_name`), where that is not
        `path`; else None."""
        method_name, image_name = earlier_name(method), earlier_name(image)
        if method_name is None or image_name is None:
            return None
        earlier = self.folder / method_name / f"{image_name}.png"
        return None if earlier == self.path(method, image) else earlier

    def _earlier_output(self, method: str, image: str) -> Path | None:
        """`earlier_path`, where an earlier version wrote the folder's record (`NAMES_KEY`); else None."""
        return self.earlier_path(method, image) if self._earlier_record else None

    @functools.cached_property
    def _earlier_record(self) -> bool:
        return _by_earlier_version(_read_manifest(self.folder / MANIFEST))

    def save(self, method: str, image: str, output: np.ndarray) -> None:
        from ..inference.image_writing import write_image

        path = self.path(method, image)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, output)


def _saved_pixels(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The uint8 image saved at `path`, as an array of `shape`; None where there is none of that size."""
    import numpy as np
    from PIL import Image

    try:
        if not path.is_file():
            return None
        with Image.open(path) as saved:
            pixels = np.asarray(saved)
    except (OSError, SyntaxError, ValueError):  # damaged by something else than this package's atomic writes
        return None
    return pixels.reshape(shape) if pixels.dtype == np.uint8 and pixels.size == np.prod(shape) else None


def _rename_earlier(earlier: Path, path: Path) -> None:
    """Rename an output an earlier version saved to this version's `path`, so that the folder reads as this
    version's (and `--overwrite` finds it), then remove its folder if that is left empty. Where `path` exists (a
    damaged output, or a file of someone else) or the folder cannot be written, both stay as they are: `earlier` is
    reused where it is, and no file is replaced."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        move_unless_exists(earlier, path)
    except OSError:  # AppearedError (`path` exists) among them
        return
    if earlier.parent != path.parent:
        with contextlib.suppress(OSError):  # holds other outputs yet
            earlier.parent.rmdir()


def earlier_name(text: str) -> str | None:
    """`text` (a model's label, an image's or a set's name) as versions before `portable_name` saved it ("/" and
    the system's separator as "_", "", "." or ".." underscores; nothing else replaced nor cut), for a resume to
    find the outputs such a version saved. None where that version could not have saved it: over
    NAME_MAX bytes or holding NUL, and on Windows, where the names that differ hold characters it refuses (a `C:`
    named a drive, `a:b` a file's stream: no file of the folder)."""
    name = text.replace("/", "_").replace(os.sep, "_")
    name = name if name.strip(".") else "_" * max(1, len(name))
    if os.name == "nt" or "\x00" in name or len(os.fsencode(name)) > NAME_MAX:
        return None
    return name


def set_folder(parent: str | os.PathLike, name: str) -> Path:
    """parent/<name> (`portable_name`), where the outputs of the set `name` go among several; or the earlier
    version's parent/<earlier name> (`earlier_name`), resumed where it is, where only that one exists and holds an
    evaluation (a folder is not renamed under the other processes of a launch)."""
    folder = Path(parent) / portable_name(name)
    earlier = earlier_name(name)
    if earlier is None or folder.exists() or folder.is_symlink() or not has_manifest(Path(parent) / earlier):
        return folder
    return Path(parent) / earlier


def first_twin(names: Sequence[str], key: Callable[[str], str] = str) -> tuple[str, str] | None:
    """(earlier, later): the first name of `names` whose `key` (`saved_as_one`, say) an earlier one shares (the same
    name twice too); None when each key is its own."""
    seen: dict[str, str] = {}
    for name in names:
        if (known := key(name)) in seen:
            return seen[known], name
        seen[known] = name
    return None


def saved_as_one(name: str, folded: bool = True) -> str:
    """What two names saved as one file or folder (`portable_name`) share: "a/b" and "a_b"; where the file system
    is `folded` (`storage.paths.folds_case`: macOS' and Windows' by default), names that differ only in case."""
    return portable_name(name).casefold() if folded else portable_name(name)


def saved_alike(first: str, second: str) -> str:
    """Why two names told apart are saved as one (`saved_as_one`), for a refusal to say: "both saved as e_f: `/`,
    `:`, the other characters Windows refuses and control characters become `_`"; "..., and case is not told apart"
    where that is (part of) it."""
    why = []
    if portable_name(first) != first or portable_name(second) != second:
        why.append("`/`, `:`, the other characters Windows refuses and control characters become `_`")
    if portable_name(first) != portable_name(second):
        why.append("case is not told apart")
    return f"both saved as {portable_name(first)}: {', and '.join(why)}"


def evaluation_settings(
    models: list[tuple[str, SwinIRForImageRestoration | None]],
    dataset: str,
    benchmark: dict[str, Any],
    engine: EngineOptions,
) -> dict[str, Any]:
    """What makes an evaluation's outputs what they are, as JSON values: each row's model fingerprint, the set (a
    local one by its absolute path), `benchmark` (the degradation and grey convention the options come to:
    `benchmark.scored_setting`; the LR folder and split), and the engine's options with its device kind (float
    rounding differs between kinds)."""
    kind = "imagefolder:" if dataset.startswith("imagefolder:") else ""  # another loader of the same folder
    local = Path(dataset.removeprefix(kind))
    options = {name: getattr(engine, name) for name in ENGINE_FIELDS}
    if not options["tile"]:  # whole images: an overlap changes nothing
        options["tile_overlap"] = None
    return {
        "dataset": kind + str(local.resolve()) if local.exists() else dataset,
        **benchmark,
        "engine": options | {"device": None if engine.device is None else str(engine.device).split(":")[0]},
        "models": {label: model_fingerprint(model) for label, model in models},
    }


def open_saved_outputs(folder: str | os.PathLike, settings: dict[str, Any], overwrite: bool) -> SavedOutputs:
    """The outputs folder of the evaluation `settings` describe: a new one (or, with `overwrite`, any) is marked as
    this evaluation's, and one marked as it already is resumed (its outputs reused). Marked anew, an evaluation's
    folder loses its earlier outputs: a run resumed after a stop would have taken them as this evaluation's.

    Raises:
        ValueError: `folder` holds the outputs of another evaluation (the message names what differs).
    """
    folder = Path(folder)
    manifest = folder / MANIFEST
    earlier = _read_manifest(manifest)
    recorded = {key: value for key, value in earlier.items() if key != NAMES_KEY}
    if not overwrite and manifest.is_file():
        differs = [key for key in settings.keys() | recorded.keys() if settings.get(key) != recorded.get(key)]
        if differs:
            raise ValueError(
                f"{shown_name(folder)} holds the outputs of another evaluation (different "
                f"{', '.join(sorted(differs))}): choose another --save-images, or pass --overwrite to replace its "
                "images"
            )
        return SavedOutputs(folder, reuse=True)
    if manifest.is_file() and recorded != settings:  # (the other processes of a launch find the main one's mark)
        _remove_outputs(folder, earlier)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_file(manifest, json.dumps(settings | {NAMES_KEY: PORTABLE}, indent=2) + "\n")
    return SavedOutputs(folder)


def _read_manifest(manifest: Path) -> dict[str, Any]:
    """The settings a manifest records, with this version's mark (`NAMES_KEY`) where it wrote them ({} when there is
    none, or it cannot be read)."""
    try:
        settings = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    if isinstance(settings, dict) and isinstance(engine := settings.get("engine"), dict):
        engine.setdefault("padding", "authors")  # written before the option: eval padded as the authors always did
    return settings


def _by_earlier_version(record: dict[str, Any]) -> bool:
    """Whether a manifest's `record` was written by a version that saved outputs under `earlier_name`'s names."""
    return bool(record) and record.get(NAMES_KEY) != PORTABLE


def _remove_outputs(folder: Path, earlier: dict[str, Any]) -> None:
    """Remove the outputs (folder/<method>/<image>.png) of the evaluation `earlier` recorded in `folder` (under an
    earlier version's names too, where that version recorded it: `earlier_name`), then its manifest: stopped midway,
    the manifest still marks what is left. Other files, and the folders holding them, stay."""
    labels = earlier.get("models", {})
    namings = (portable_name, earlier_name) if _by_earlier_version(earlier) else (portable_name,)
    names = {name for label in labels for naming in namings if (name := naming(label)) is not None}
    for method in (folder / name for name in sorted(names)):
        for output in method.glob("*.png"):
            output.unlink(missing_ok=True)
        if method.is_dir() and not any(method.iterdir()):
            method.rmdir()
    (folder / MANIFEST).unlink(missing_ok=True)


def has_manifest(folder: str | os.PathLike) -> bool:
    """Whether `folder` holds an evaluation's saved outputs (which a rerun may resume)."""
    return (Path(folder) / MANIFEST).is_file()
