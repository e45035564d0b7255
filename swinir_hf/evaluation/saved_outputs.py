"""The outputs an evaluation saves (`swinir-hf eval --save-images DIR`), and an interrupted evaluation resumed from
them: DIR/<row name>/<image name>.png are the uint8 images scored, and DIR/evaluation.json says of which evaluation
(the set, the degradation, the engine's options and device kind, and a fingerprint of each model's config and
weights). The same evaluation run again reads the outputs it finds there instead of restoring those images again;
its figures are the same, since the scores are computed from those very uint8 pixels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints.fingerprint import model_fingerprint
from ..storage.atomic_writes import write_text_file
from ..storage.paths import portable_name
from .protocol import ENGINE_FIELDS

if TYPE_CHECKING:  # the command line asks `has_manifest` before torch loads
    import numpy as np

    from ..inference.options import EngineOptions
    from ..models.modeling_swinir import SwinIRForImageRestoration

MANIFEST = "evaluation.json"


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
        None (restore it)."""
        import numpy as np
        from PIL import Image

        path = self.path(method, image)
        if not (self.reuse and path.is_file()):
            return None
        try:
            with Image.open(path) as saved:
                pixels = np.asarray(saved)
        except (OSError, SyntaxError, ValueError):  # damaged by something else than this package's atomic writes
            return None
        return pixels.reshape(shape) if pixels.dtype == np.uint8 and pixels.size == np.prod(shape) else None

    def save(self, method: str, image: str, output: np.ndarray) -> None:
        from ..inference.image_writing import write_image

        path = self.path(method, image)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, output)


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
    if not overwrite and manifest.is_file():
        differs = [key for key in settings.keys() | earlier.keys() if settings.get(key) != earlier.get(key)]
        if differs:
            raise ValueError(
                f"{folder} holds the outputs of another evaluation (different {', '.join(sorted(differs))}): choose "
                "another --save-images, or pass --overwrite to replace its images"
            )
        return SavedOutputs(folder, reuse=True)
    if manifest.is_file() and earlier != settings:  # (the other processes of a launch find the main one's mark)
        _remove_outputs(folder, earlier)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_file(manifest, json.dumps(settings, indent=2) + "\n")
    return SavedOutputs(folder)


def _read_manifest(manifest: Path) -> dict[str, Any]:
    """The settings a manifest records ({} when there is none, or it cannot be read)."""
    try:
        settings = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    if isinstance(settings, dict) and isinstance(engine := settings.get("engine"), dict):
        engine.setdefault("padding", "authors")  # written before the option: eval padded as the authors always did
    return settings


def _remove_outputs(folder: Path, earlier: dict[str, Any]) -> None:
    """Remove the outputs (folder/<method>/<image>.png) of the evaluation `earlier` recorded in `folder`, then its
    manifest: stopped midway, the manifest still marks what is left. Other files, and the folders holding them, stay."""
    for method in (folder / portable_name(label) for label in earlier.get("models", {})):
        for output in method.glob("*.png"):
            output.unlink(missing_ok=True)
        if method.is_dir() and not any(method.iterdir()):
            method.rmdir()
    (folder / MANIFEST).unlink(missing_ok=True)


def has_manifest(folder: str | os.PathLike) -> bool:
    """Whether `folder` holds an evaluation's saved outputs (which a rerun may resume)."""
    return (Path(folder) / MANIFEST).is_file()
