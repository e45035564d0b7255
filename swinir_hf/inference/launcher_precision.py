"""accelerate's mixed precision under `restore` / `eval`: the launcher's autocast for training, which their engine does
not read (it runs at `--dtype`). However it was asked for (`--mixed_precision bf16` given to `swinir-hf restore` or
to `accelerate launch`, `mixed_precision: bf16` in an `accelerate config` file), a run went on in float32 while the
user believed bf16; it is refused with one message, unless `--dtype` was given, which then decides."""

from __future__ import annotations

import argparse
import os

from ..console import note
from ..processes import is_main_process, user_error
from .options import DTYPE_ALIASES

# How accelerate's launchers (1.x: the single-process one and torchrun's) hand the precision of `--mixed_precision`,
# or of the config file, on to the processes they start.
PRECISION_VARIABLE = "ACCELERATE_MIXED_PRECISION"


def launcher_precision_problem(precision: str | None) -> str | None:
    """Why accelerate's mixed precision `precision` ("bf16", "fp16", "fp8"; None, "" or "no": none) is not taken by
    `restore` / `eval`, naming their own option at the value given (`--dtype` takes `bf16` / `fp16` as it is); None
    where there is nothing to take."""
    precision = (precision or "").strip().lower()
    if precision in ("", "no"):  # "": set empty (`ACCELERATE_MIXED_PRECISION=$UNSET`), which asks for nothing
        return None
    if precision in DTYPE_ALIASES:  # bf16, fp16
        where = " (float16 runs on CUDA only; elsewhere --dtype bf16)" if precision == "fp16" else ""
        instead = f"give it --dtype {precision} instead{where}"
    else:  # fp8, which the engine has not
        instead = "its --dtype takes bf16, fp16 (on CUDA) or fp32"
    return f"{_not_read(precision)}: {instead}"


def _not_read(precision: str) -> str:
    return (
        f"accelerate launch's --mixed_precision {precision} (or accelerate config's) is for training, which this "
        "command does not read"
    )


def launched_precision(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(the problem, the note) of the mixed precision this process was launched with (`PRECISION_VARIABLE`), for the
    parsed `restore` / `eval` options `args`: refused where `--dtype` was left to its default, which the user would
    have taken for the precision asked for; a note where `--dtype` was given (`dtype_given`), which the engine
    runs at. (None, None) where none was asked for."""
    precision = (os.environ.get(PRECISION_VARIABLE) or "").strip().lower()
    problem = launcher_precision_problem(precision)
    if problem is None or not args.dtype_given:
        return problem, None
    return None, f"note: {_not_read(precision)}: it runs at the --dtype given, {args.dtype}"


def refuse_launched_precision(args: argparse.Namespace) -> int | None:
    """`launched_precision` said: its problem as an error (by the main process of a launch) → its exit status 2, or
    its note (there too) → None, as for nothing to say."""
    problem, told = launched_precision(args)
    if problem is not None:
        return user_error(problem, 2)
    if told is not None and is_main_process():
        note(told)
    return None


class GivenOption(argparse.Action):
    """An option's value stored as `store` does, and `DEST_given` set True: told apart from its default even where the
    value given is the default's (`--dtype auto`). Its parser sets `DEST_given` False by default."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_given", True)
