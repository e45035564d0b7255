"""The `accelerate.Accelerator` a training run uses: built from `train.*`, checked for what accelerate would only
warn of (a precision it cannot autocast to, a tracker that is not installed), and ended without hiding the error
that stopped the run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..processes import several_processes_on_cpu
from .compiling import dynamo_plugin
from .sections import TrainArgs


def build_accelerator(t: TrainArgs, out: Path) -> Any:
    """The run's accelerator (trackers log under `out/logs`); `ValueError` for a precision or a tracker it would
    silently not use."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    with warnings.catch_warnings():
        # accelerate warns of, then drops, a report_to tracker that is not installed; _check_tracker refuses it.
        warnings.filterwarnings("ignore", r"`log_with=.*` was passed but no supported trackers", UserWarning)
        accelerator = Accelerator(
            cpu=several_processes_on_cpu(),
            mixed_precision=t.mixed_precision,
            dynamo_plugin=dynamo_plugin(t),
            log_with=None if t.report_to == "none" else t.report_to,
            # Trackers write under logs/. Checkpoints keep their own naming (see `saving.save_checkpoint`).
            project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
        )
    try:
        _check_precision(accelerator, t.mixed_precision)
        _check_tracker(accelerator, t.report_to)
    except ValueError:
        end_accelerator(accelerator, failed=True)
        raise
    return accelerator


def end_accelerator(accelerator: Any, failed: bool) -> None:
    """End the trackers and, in a single process, clear accelerate's global state, so that a later run in this
    process (a notebook, tests) may use another precision. Of a `failed` run, a tracker's failure to end (TensorBoard
    on a full disk fails again here) is not raised: the error that stopped the run is the one to report."""
    try:
        accelerator.end_training()
    except Exception:
        if not failed:
            raise
    finally:
        if accelerator.num_processes == 1:
            from accelerate.state import AcceleratorState

            AcceleratorState._reset_state(reset_partial_state=True)


def _check_precision(accelerator: Any, configured: str | None) -> None:
    """Raise `ValueError` for a mixed precision accelerate cannot autocast to on this device (fp16 on a CPU): it
    would train in float32 and report the precision asked for. `configured`: `train.mixed_precision`; None, the
    launcher's (`--mixed_precision`, `accelerate config`), which the message names as the one to change."""
    precision = accelerator.mixed_precision
    if precision != "no" and not accelerator.native_amp:
        named, fix = f"train.mixed_precision {precision}", "use bf16 or no"
        if configured is None:
            named = f"accelerate launch's --mixed_precision {precision} (or accelerate config's)"
            fix = "launch with --mixed_precision bf16 or no, or set train.mixed_precision"
        raise ValueError(
            f"{named} does not run on this {accelerator.device.type} (accelerate would train in float32 under its "
            f"name): {fix}"
        )


def _check_tracker(accelerator: Any, report_to: str) -> None:
    """Raise `ValueError` when `train.report_to` names a tracker whose package is missing: accelerate would warn
    once and log nothing for the whole run. (TensorBoard, the default, is checked earlier, naming its extra.)"""
    if report_to != "none" and not accelerator.log_with:
        raise ValueError(
            f"train.report_to {report_to}: its package is not installed (pip install {report_to}), or set "
            "train.report_to none"
        )
