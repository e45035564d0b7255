"""What an API request sends, checked against the menu (API clients may send any value): a task, scale or level that
cannot be meant, a scale or level the planned model does not fit, a model from a path made for another task."""

from __future__ import annotations

from collections.abc import Mapping

from .menu import LEVEL_RANGES, REAL_SR, SR, TASKS, Plan, task_of


def request_problem(task: str, level: int | None, scale: int | None = None) -> str | None:
    """Why a task, scale or level sent through the API cannot be meant (an unknown task, a scale of 0, a σ of 999,
    a JPEG quality of 1000), or None. A scale or level in range that no model has is `mismatch`'s."""
    if task not in TASKS:
        return f"Unknown task {task!r}: send one of {', '.join(map(repr, TASKS))}."
    if scale not in (None, "") and int(scale) < 1:
        return f"scale must be 1 (same size) or more, not {int(scale)}."
    if level in (None, "") or task not in LEVEL_RANGES:
        return None
    what, low, high = LEVEL_RANGES[task]
    if not low <= level <= high:
        return f"{what} must be {low:g}-{high:g}, not {level}."
    return None


def mismatch(plan: Plan, scale: int | None, level: int | None) -> str | None:
    """Why the scale or level sent does not fit the planned model (API clients may send any), or None."""
    entry = plan.entry
    if entry is None:
        return None
    if scale not in (None, "") and int(scale) != entry.scale:
        return f"{entry.label} works at ×{entry.scale}, not ×{int(scale)}: send scale {entry.scale} or model 'auto'."
    if level in (None, ""):
        return None
    if not entry.levels:  # a blind model or a task without levels: the level sent would be ignored
        if plan.auto and entry.task in LEVEL_RANGES:
            what = LEVEL_RANGES[entry.task][0]
            return (
                f"{what} {int(level)}: no model trained for it runs here (the automatic choice, {entry.label}, is "
                "blind): send level None."
            )
        return f"{entry.label} has no levels (noise σ or JPEG quality): send level None, not {int(level)}."
    if int(level) not in entry.levels and not plan.auto:  # the automatic choice took the nearest
        return f"{entry.label} has the levels {entry.levels}, not {int(level)}."
    return None


def custom_mismatch(task: str, config: Mapping, spec: str) -> str | None:
    """Why a model from a path (its task known once loaded) does not fit the task sent, or None. It runs at its own
    scale whatever the scale control says; either enlarging task takes an enlarging model."""
    own = task_of(config)
    enlarging = {SR, REAL_SR}
    same_kind = (own in enlarging) == (task in enlarging)  # all a config without `task` tells
    if own == task or (same_kind and (own in enlarging or config.get("task") is None)):
        return None
    return f"{spec} is a {own.lower()} model, not a {task.lower()} one: choose the task {own!r}."
