"""The levels the noise and JPEG degradations take (`LEVELS`): bounds, defaults, the check of a configured one
(`check_level`) and the level a training run validates at (`validation_level`); the benchmark's scales
(`check_scale`); the real-world kinds, which have none (`REAL_WORLD`). Plain values, without numpy: the command
lines check them before anything heavy loads.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple


class Level(NamedTuple):
    """The level a degradation takes: its `Degradation` field, bounds, whether it is an integer, in words, and its
    default."""

    field: str
    low: float
    high: float
    integer: bool
    text: str
    default: float


LEVELS = {
    "noise": Level("noise_sigma", 0.0, 255.0, False, "a σ in 0..255 grey levels", 25.0),
    "jpeg": Level("jpeg_quality", 1, 100, True, "an integer quality in 1..100", 40),
}

# The real-world kinds: random pipelines for real-world SR (BSRGAN's, Real-ESRGAN's second-order), with no level,
# scored as super-resolution (`swinir-hf eval --real [KIND]`, the first without KIND).
REAL_WORLD = ("real", "real-esrgan")


def validation_level(kind: str, value: float | Sequence[float] | None, given: float | None) -> float:
    """The level a training run of degradation `kind` validates at: `given` (its `val_` field), else its training
    `value`, or the middle of its [low, high] range (a whole JPEG quality); the level's default where none is set."""
    level = LEVELS[kind]
    if given is not None:
        return given
    if value is None or isinstance(value, (int, float)):
        return level.default if value is None else value
    middle = (value[0] + value[1]) / 2
    return round(middle) if level.integer else middle


def check_level(kind: str, value: float | Sequence[float], name: str, ranged: bool = True) -> None:
    """Raise `ValueError` naming `name` unless `value` is a level of the degradation `kind` (see `LEVELS`) or, if
    `ranged`, a [low, high] range of them, low <= high: a bad one is refused when configured, not by the random
    training sample that first draws it."""
    level = LEVELS[kind]
    single = isinstance(value, numbers.Real)  # numpy's scalars too (np.arange(10, 50, 10) of qualities)
    values = [value] if single else list(value)
    fits = all(
        isinstance(v, numbers.Real) and level.low <= v <= level.high and (not level.integer or v == int(v))
        for v in values
    )
    if not (fits and (single or ranged and len(values) == 2 and values[0] <= values[1])):
        ranges = " or a [low, high] range of them" if ranged else ""
        raise ValueError(f"{name} must be {level.text}{ranges}, got {value!r}")


def check_scale(value: float, name: str) -> None:
    """Raise `ValueError` naming `name` unless `value` is a scale the benchmark takes: an integer ≥ 2."""
    if int(value) != value or value < 2:
        raise ValueError(f"{name} must be an integer ≥ 2, got {value}")


def options_problem(scale: float | None, noise: float | None, jpeg: float | None) -> str | None:
    """What is wrong with a command line's --scale, --noise or --jpeg (those given), naming the option; else None."""
    try:
        if scale is not None:
            check_scale(scale, "--scale")
        for kind, value in (("noise", noise), ("jpeg", jpeg)):
            if value is not None:
                check_level(kind, value, f"--{kind}", ranged=False)
    except ValueError as err:
        return str(err)
    return None
