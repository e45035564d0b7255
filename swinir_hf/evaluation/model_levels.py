"""The degradation level a model was trained for (a noise σ, a JPEG quality, or the real-world setting), read off
its name (an authors' release) or its training run's config: what `swinir-hf eval` scores at when no level is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..degradations.levels import REAL_WORLD

if TYPE_CHECKING:
    from ..models.modeling_swinir import SwinIRForImageRestoration


def trained_levels(args: argparse.Namespace) -> str | None:
    """The noise σ / JPEG quality a model was trained for, the evaluation's level when none is given (its scale is
    the model's own): an authors' release's by its name (`004_..._noise15.pth`, its catalogue name), a training run's
    (its folder, or one of its checkpoints) as it validated, by its training_config.yaml (a real-world run: --real, or
    --real real-esrgan for a second-order one).
    Set in `args`, and said; a level given that is not the model's is warned of, and so are models of several
    levels, none of which is set. → the line to say, or None."""
    from ..checkpoints.catalog import find_release

    releases = [r for spec in args.model if (r := find_release(Path(spec).name)) is not None]
    levels = {("noise", r.noise_level, f"{r.file} was trained for", "its name says so") for r in releases}
    levels |= {("jpeg", r.jpeg_quality, f"{r.file} was trained for", "its name says so") for r in releases}
    levels = {entry for entry in levels if entry[1] is not None} | set(filter(None, map(_run_level, args.model)))
    if not levels:
        return None
    # --lr-dir gives the inputs themselves: no level (nor --real) applies on top of them
    if any(getattr(args, name) is not None for name in ("scale", "noise", "jpeg", "lr_dir")) or args.real:
        other = [
            f"{who} {_flag(kind, level)} ({why})"
            for kind, level, who, why in sorted(levels)
            if getattr(args, kind) != level
        ]
        return f"warning: {'; '.join(other)}" if other else None
    if len(settings := {_flag(kind, level): None for kind, level, _, _ in sorted(levels)}) > 1:
        # models of several levels: the setting is the user's to give (a ×1 model's refusal follows; SR models
        # would be scored at their bicubic scale, none of their own)
        said = "; ".join(f"{who} {_flag(kind, level)} ({why})" for kind, level, who, why in sorted(levels))
        return f"warning: {said}: no one setting is theirs; give the one to score them at ({' or '.join(settings)})"
    kind, level, who, why = next(iter(levels))
    setattr(args, kind, level)
    return f"note: scoring at {_flag(kind, level)}, the {'setting' if kind == 'real' else 'level'} {who} ({why})"


def _flag(kind: str, level: float | int | str) -> str:
    """The option that asks for a level (`--noise 25`), or for a real-world setting (level its kind: `--real` for
    BSRGAN's, `--real real-esrgan`)."""
    if kind == "real":
        return "--real" if level == REAL_WORLD[0] else f"--real {level}"
    return f"--{kind} {level:g}"


def _run_level(spec: str) -> tuple[str, float | int | str, str, str] | None:
    """(kind, level, who, why) of a training run's folder `spec` (or one of its checkpoints) whose degradation has a
    level: the one it validated at (or, without validation, trained at: its `val_` level unused), read from its
    training_config.yaml (a real-world run's: "real" and its kind, `--real [KIND]`), `who` saying which; None for any
    other model."""
    import yaml

    from ..checkpoints.run_folder import is_checkpoint
    from ..console import shown_name
    from ..degradations.levels import LEVELS, validation_level

    folder = Path(spec).parent.parent if is_checkpoint(Path(spec)) else Path(spec)
    why = "its training_config.yaml"
    try:
        data = yaml.safe_load((folder / "training_config.yaml").read_text(encoding="utf-8"))["data"]
        # A run without validation (data.val null) did not validate at its level: it trained at it, or around it
        # (the middle of its range).
        validated = bool(data.get("val"))
        how = "validated at" if validated else "trained at"
        if data["degradation"] in REAL_WORLD:  # trained (and validated) on its real-world degradation: no level
            return "real", data["degradation"], f"{shown_name(spec)} {how}", why
        kind, field = data["degradation"], LEVELS[data["degradation"]].field
        # Its val_ level was never used by a run that did not validate: the level it trained at is its own.
        level = validation_level(kind, data.get(field), data.get(f"val_{field}") if validated else None)
        if not validated and isinstance(data.get(field), list):
            how = "trained around"
    except (OSError, yaml.YAMLError, TypeError, KeyError, IndexError):  # not a run, or its degradation has no level
        return None
    return kind, level, f"{shown_name(spec)} {how}", why


def run_real_world_kind(model: SwinIRForImageRestoration) -> str | None:
    """The real-world kind (`REAL_WORLD`) the training run `model` was loaded from validated at: its folder's, or
    the run's of a checkpoint's `model/` folder, by `model.name_or_path`; None for any other model."""
    from ..checkpoints.run_folder import MODEL, is_checkpoint

    if not model.name_or_path:  # built in memory: Path("") would be the current folder
        return None
    folder = Path(model.name_or_path)
    if folder.name == MODEL and is_checkpoint(folder.parent):
        folder = folder.parent
    level = _run_level(str(folder))
    return level[1] if level is not None and level[0] == "real" else None
