"""Where a GPU lease's trainer resumes from: a model's best readable tar (carried, or the lean lease state), or,
for a model without one, a warm start from the EMA weights of the first of its WARM_START sources that has some.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from lease_checkpoints import holds_model, origin, step_folders, unpack, verified_step  # beside this script
from lease_log import log
from lease_models import WARM_START


def restore_sources(name: str, ckpt: Path, state: Path) -> list[tuple[Path, int | str]]:
    """The tars a lease may restore name from, each with its step (or why it is unreadable), best first: the
    newer of the carried one and the lean lease state; the carried one on a tie, as it also holds the raw
    weights and Adam's moments."""
    found: list[tuple[Path, int | str]] = []
    for tar in (ckpt / f"{name}.tar", state / f"{name}.tar"):
        if tar.is_file():
            try:
                found.append((tar, verified_step(tar)))
            except ValueError as error:
                found.append((tar, str(error)))
    return sorted(found, key=lambda item: item[1] if isinstance(item[1], int) else -1, reverse=True)  # stable


def restore(name: str, args: argparse.Namespace) -> None:
    """runs/NAME/checkpoints/ from the best readable tar, and the warm start it records; a damaged one is logged
    and passed over."""
    sources = restore_sources(name, args.ckpt, args.state)
    for tar, step in sources:
        if isinstance(step, int):
            log(f"{name}: restored step {unpack(tar, args.runs / name)} from {tar}")
            _record_warm_start(name, args, origin(tar))
            return
        log(f"{name}: {step}: passed over")
    log(f"{name}: neither {args.ckpt / name}.tar nor {args.state / name}.tar to restore: starts from step 0")


def _record_warm_start(name: str, args: argparse.Namespace, started_from: dict | None) -> None:
    """Keep the warm start beside the run (runs/NAME.warm_start.json) for `pack` to record in each tar."""
    record = args.runs / f"{name}.warm_start.json"
    if started_from is None:
        record.unlink(missing_ok=True)
    else:
        record.write_text(json.dumps(started_from))


def warm_started(name: str, args: argparse.Namespace) -> dict | None:
    record = args.runs / f"{name}.warm_start.json"
    return json.loads(record.read_text()) if record.is_file() else None


def warm_source(
    name: str, args: argparse.Namespace, usable: Callable[[Path], bool] = lambda tar: True
) -> tuple[str, Path, int] | None:
    """(source, its best readable and `usable` tar, that tar's step) for the first of `name`'s WARM_START sources
    that has one; only a tar that holds a model/ folder to start from counts."""
    for source in WARM_START.get(name, ()):
        for tar, step in restore_sources(source, args.ckpt, args.state):
            if isinstance(step, int) and usable(tar) and holds_model(tar):
                return source, tar, step
    return None


def no_source_text(name: str) -> str:
    return f"no {' or '.join(WARM_START[name])} checkpoint with a model/ folder to start from"


def warm_start(name: str, args: argparse.Namespace) -> list[str]:
    """The trainer overrides that start `name`, which has no checkpoint yet, from the EMA model of its first
    WARM_START source's best readable tar (unpacked into runs/NAME.init/); [] (from scratch) where there is none."""
    _record_warm_start(name, args, None)  # one an earlier call left here holds only if this start takes one
    if name not in WARM_START:
        return []
    found = warm_source(name, args)
    if found is None:
        log(f"{name}: {no_source_text(name)}: starts from scratch")
        return []
    source, tar, _ = found
    init = args.runs / f"{name}.init"
    shutil.rmtree(init, ignore_errors=True)
    step = unpack(tar, init)
    model = step_folders(init)[-1] / "model"
    _record_warm_start(name, args, {"model": source, "step": step})
    log(f"{name}: starts from {source}'s EMA weights at step {step} ({tar})")
    return [f"model.init_from={model}"]
