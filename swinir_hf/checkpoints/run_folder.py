"""The layout of a training run's folder, which `swinir_hf.train` writes and loading, the Hub export and the demo
read: `OUT/checkpoints/step-NNNNNNNN/` holds accelerate's state, `progress.json` and the validated weights as a
`save_pretrained` folder, `model/`; a save in progress is `step-NNNNNNNN.tmp/` until it is complete. At its end the
run saves its final model into `OUT` itself, beside `training_summary.json`."""

from __future__ import annotations

import re
from pathlib import Path

from ..console import shown_name

CHECKPOINTS = "checkpoints"
PROGRESS = "progress.json"
MODEL = "model"
SUMMARY = "training_summary.json"
_STEP = re.compile(r"step-(\d+)")


def checkpoint_path(out: Path, step: int) -> Path:
    """Where the checkpoint of `step` goes (zero-padded, so that names sort by step)."""
    return Path(out) / CHECKPOINTS / f"step-{step:08d}"


def list_checkpoints(out: Path) -> list[Path]:
    """The complete checkpoints of the run folder `out`, oldest first (unfinished `.tmp` saves left out)."""
    return sorted(p for p in (Path(out) / CHECKPOINTS).glob("step-*") if _STEP.fullmatch(p.name))


def unfinished_saves(out: Path) -> list[Path]:
    """The `.tmp` folders of saves that did not complete (a killed run's)."""
    return sorted((Path(out) / CHECKPOINTS).glob("step-*.tmp"))


def is_checkpoint(path: Path) -> bool:
    """Whether `path` is a checkpoint folder (it holds `progress.json`), wherever it was copied."""
    return (Path(path) / PROGRESS).is_file()


def is_run_config(path: Path) -> bool:
    """Whether `path` is the training_config.yaml a run wrote into its folder: beside its checkpoints or its
    summary."""
    path = Path(path)
    folder = path.parent
    return path.name == "training_config.yaml" and ((folder / CHECKPOINTS).is_dir() or (folder / SUMMARY).is_file())


def resolve_resume(resume: str, output_dir: Path) -> Path | None:
    """`--resume`'s checkpoint: `latest` → the newest under `output_dir` (None if there is none), else the folder."""
    if resume == "latest":
        found = list_checkpoints(output_dir)
        return found[-1] if found else None
    if not is_checkpoint(Path(resume)):
        why = f"is not a checkpoint folder (no {PROGRESS})" if Path(resume).exists() else "does not exist"
        raise FileNotFoundError(f"{shown_name(resume)} {why}")
    return Path(resume)


def checkpoint_step(path: Path) -> int | None:
    """The step of a checkpoint at its place in a run folder (`RUN/checkpoints/step-N`), else None."""
    path = Path(path)
    step = _STEP.fullmatch(path.name)
    return int(step[1]) if step and path.parent.name == CHECKPOINTS else None
