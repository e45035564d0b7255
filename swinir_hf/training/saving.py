"""What a run writes into its folder: its config and the trackers' logs at the start (`open_run_folder`; a
tracker's failure to write is one line: `logs_written`), checkpoints (due every `train.checkpoint_every` steps or
`train.checkpoint_minutes`, written atomically, the newest kept; `resume_state` loads one back), then the final model
folder and the run's summary, pushed to the Hub if asked. (Whether a checkpoint can be resumed from: `checks`.)
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import broadcast

from ..checkpoints.export import export_model_folder, push_folder
from ..checkpoints.folders import save_model_folder, weights_follow_umask, write_model_files
from ..checkpoints.run_folder import (
    MODEL,
    PROGRESS,
    SUMMARY,
    checkpoint_path,
    checkpoint_step,
    list_checkpoints,
    unfinished_saves,
)
from ..console import shown_name
from ..models.weight_files_swinir import safetensors_files
from ..storage.atomic_writes import WriteError, os_reason, write_error, write_text_file
from .card import training_card
from .checks import in_run_folder, push_later_command, remove_superseded_work
from .config import TrainingConfig, flat_config
from .recipe import CheckpointRecord, config_text, keep_recorded_config, resumed_changes, sample_settings
from .resume_checks import UNREADABLE_CHECKPOINT, check_plain_states, check_same_images, unreadable_checkpoint
from .state import Run, set_schedule
from .warm_start import InitReport

logger = logging.getLogger("swinir_hf.train")


def open_run_folder(
    cfg: TrainingConfig, accelerator: Any, out: Path, resumed: CheckpointRecord | None, start: int, changes: list[dict]
) -> None:
    """Create the run's folder (what it holds of another run or lineage removed: `superseded_work`), write its config
    (under the `changes` that resumes made: `Progress.changes`; the one it replaces kept in an earlier swinir-hf's
    checkpoint `resumed` that has no other record of it: `keep_recorded_config`) and start the trackers (TensorBoard
    told to drop what an earlier, killed run logged after the resumed step)."""
    out.mkdir(parents=True, exist_ok=True)
    remove_superseded_work(out, resumed.checkpoint if resumed else None)  # only what --overwrite allowed
    if resumed is not None:
        keep_recorded_config(resumed, out)
    write_text_file(out / "training_config.yaml", config_text(cfg, changes))
    purge = {"tensorboard": {"purge_step": start + 1}} if start else {}
    with logs_written(out):
        accelerator.init_trackers(cfg.train.project_name, config=flat_config(cfg.to_dict()), init_kwargs=purge)


@contextlib.contextmanager
def logs_written(out: Path) -> Iterator[None]:
    """A tracker's failure to write (TensorBoard on a full disk) as one line naming the run's logs folder."""
    try:
        yield
    except OSError as err:
        raise WriteError(out / "logs", os_reason(err, out / "logs"), err.errno) from err


def resume_state(run: Run, resume: str | None, resumed: CheckpointRecord | None) -> None:
    """Load the checkpoint of `resumed` (weights, optimizer, schedule, EMA; its progress as `resumed` read it), if
    any."""
    if resumed is not None:
        resume_from = resumed.checkpoint
        images = check_same_images(resumed, run.images, run.cfg)  # moved or replaced
        check_plain_states(resume_from)
        try:
            load_state(run.accelerator, resume_from)
            saved = copy.deepcopy(resumed.progress)  # the run's progress goes on from it: the record stays as read
            run.progress.load_state_dict(saved)
            window = saved.get("loss_window", {})  # absent from checkpoints written before it was kept
            run.resumed_loss = (window.get("loss_sum", 0.0), window.get("steps", 0))
        except UNREADABLE_CHECKPOINT as err:
            raise unreadable_checkpoint(resume_from, err) from err
        step = run.progress.step
        recorded = resumed.config
        changes = [*(resumed_changes(recorded, run.cfg) if recorded is not None else []), *images]
        if changes:  # kept with the run's progress, and said in its training_config.yaml
            run.progress.changes.append({"step": step, "changed": changes})
        rescheduled = set_schedule(run.scheduler, run.cfg.milestones(), run.cfg.train, step)
        if run.main:
            logger.info(f"resumed from {shown_name(resume_from)} at step {step}")
            if changes:
                logger.info(f"changed at this resume (training_config.yaml notes it): {', '.join(changes)}")
            if replaced := [c for c in images if c.startswith(("data.train file ", "data.train_lr file "))]:
                # The sampling is the run's: only the samples drawn from these files are new.
                logger.warning(
                    f"{', '.join(replaced)}: changed since the run was started, under the same name (a damaged image "
                    f"replaced?). The run goes on: its samples from step {step} on are drawn from the files as they "
                    "are now, those of the other images are the run's"
                )
            if rescheduled:
                lr = run.scheduler.get_last_lr()[0]
                logger.info(f"learning-rate schedule from the current config: lr {lr:g} at step {step}")
    elif resume and run.main:
        logger.info(f"no checkpoint under {shown_name(run.out / 'checkpoints')}: starting from step 0")


def load_state(accelerator: Any, checkpoint: Path) -> None:
    """accelerate's `load_state` of `checkpoint`. One saved without fp16's gradient scaler (a run in bf16 or float32,
    resumed in fp16: on another GPU) leaves the scaler fresh, as a run starts it (it finds its scale in a few steps):
    accelerate looked for the scaler's file, and its absence read as a damaged checkpoint."""
    from accelerate.utils import SCALER_NAME

    scaler = accelerator.scaler
    if scaler is not None and not (checkpoint / SCALER_NAME).is_file():
        accelerator.scaler = None  # for the load only: the prepared optimizer and backward keep the scaler
    try:
        accelerator.load_state(str(checkpoint))
    finally:
        accelerator.scaler = scaler


def checkpoint_due(run: Run) -> bool:
    """Whether `train.checkpoint_every` steps or `train.checkpoint_minutes` have passed; the same on every process."""
    t = run.cfg.train
    if t.checkpoint_every and run.progress.step % t.checkpoint_every == 0:
        return True
    if not t.checkpoint_minutes:
        return False
    due = time.monotonic() - run.last_save >= 60 * t.checkpoint_minutes
    if run.accelerator.num_processes > 1:  # each process joins the save, so the main process's clock decides
        due = bool(broadcast(torch.tensor([due], device=run.accelerator.device), from_process=0).item())
    return due


def _card(run: Run) -> str:
    init = InitReport.recorded(run.start)  # a resumed run's, as it started
    disc = run.start.get("discriminator")  # as it started, too
    return training_card(run.cfg, run.scored, run.progress, run.baseline, init, run.card_id, disc)


class TrainingDiverged(ValueError):
    """The training loss or the weights are no longer finite: the run stops, and saves nothing of them."""


def check_finite(run: Run, step: int, loss: float | None = None) -> None:
    """Raise `TrainingDiverged` if `loss` (a log window's mean over every process) or, without one, the trained weights
    after `step` are nan or infinite: a diverged run saves nothing, so its newest checkpoint stays one to resume."""
    if loss is None:
        model = run.accelerator.unwrap_model(run.model, keep_torch_compile=False)
        norms = torch._foreach_norm([p.detach() for p in model.parameters()])  # one sync, at a save
        if bool(torch.stack(norms).isfinite().all()):
            return
        what = "the weights are"
    elif math.isfinite(loss):
        return
    else:
        what = f"the training loss is {loss} and"
    saved = list_checkpoints(run.out)
    again = f"{shown_name(saved[-1])} is from before: resume it (--resume latest)" if saved else "start again"
    raise TrainingDiverged(
        f"training diverged by step {step}: {what} no longer finite, and nothing of it was saved. {again} with a "
        "lower train.learning_rate, gradient clipping (train.max_grad_norm) or train.mixed_precision no"
    )


def save_checkpoint(run: Run, step: int) -> None:
    """accelerate's state, the progress and a model folder as `checkpoints/step-N` (atomically: a killed save
    never looks like a finished checkpoint); keeps the newest `train.keep_checkpoints`.

    Not accelerate's `automatic_checkpoint_naming` / `total_limit`: it names folders by save count, not step, writes
    into the final folder directly and deletes the oldest checkpoint before the new one is complete."""
    acc, main = run.accelerator, run.main
    # The losses of a log window in progress (over all processes), for a resumed run to log that window whole.
    window = {"loss_sum": acc.reduce(run.loss_sum, reduction="mean").item(), "steps": run.loss_steps}
    check_finite(run, step, window["loss_sum"] / max(1, run.loss_steps))
    check_finite(run, step)
    final = checkpoint_path(run.out, step)
    tmp = final.with_name(final.name + ".tmp")
    if main:  # this save's own leftovers, and any a killed earlier save left (at a step this run may not save)
        for partial in unfinished_saves(run.out):
            shutil.rmtree(partial)
    acc.wait_for_everyone()
    try:
        acc.save_state(str(tmp))
        acc.wait_for_everyone()  # every process's random states written before the folder is renamed
        if main:
            run.note_compute()
            samples = {**sample_settings(run.cfg), "images": run.images}
            # The launch's whole config too: a resume compares its recipe (`resume_checks`) and records what it changes.
            records = {"samples": samples, "start": run.start, "config": run.cfg.to_dict()}
            state = {**run.progress.state_dict(), "loss_window": window, **records}
            (tmp / PROGRESS).write_text(json.dumps(state))
            weights_follow_umask(tmp, tmp / PROGRESS)  # accelerate's model.safetensors
            write_model_files(tmp / MODEL, run.scored, _card(run))  # tmp is moved in whole below
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
    except Exception as err:  # a full disk: torch's and safetensors' writers say so in their own words, or not
        if (failure := write_error(err, final, tmp)) is None:
            raise
        saved = list_checkpoints(run.out)
        after = f"; the run can go on from {saved[-1].name} (--resume latest)" if saved else ""
        raise WriteError(final, failure.reason + after, failure.errno) from err
    if main:  # only once the new checkpoint is complete
        for old in list_checkpoints(run.out)[: -run.cfg.train.keep_checkpoints]:
            shutil.rmtree(old)
    acc.wait_for_everyone()
    run.last_save, run.saved_step = time.monotonic(), step


def push_run(out: Path, repo_id: str, message: str) -> str:
    """Export the run folder `out` as a verified Hub folder with the model code (`export_model_folder`, so that
    `trust_remote_code=True` loads it without this package) and upload it in one commit; returns the commit URL."""
    from ..checkpoints.loading import network_errors

    with tempfile.TemporaryDirectory(prefix="swinir_push_") as tmp:
        folder = export_model_folder(out, tmp, repo_id=repo_id)
        try:
            return push_folder(folder, message=message)
        except network_errors() as err:  # the Hub gone since the check (httpx's errors were a traceback)
            raise OSError(
                f"pushing {shown_name(out)} to {repo_id} failed ({type(err).__name__}: {err}); the trained model is "
                f"saved there: push it once the Hub answers with {push_later_command(repo_id, out)}"
            ) from err


def finished_at(out: Path, checkpoint: Path, max_steps: int) -> bool:
    """Whether the run in `out`, resumed from `checkpoint`, is finished at `max_steps`: the checkpoint is its own (not
    another run's, which `--overwrite` asks to go on from), of that step, and the final model and its summary (written
    last) are saved."""
    try:
        saved = json.loads((out / SUMMARY).read_text())["step"]
        model = (out / "config.json").is_file() and safetensors_files(out) is not None
    except (OSError, ValueError, KeyError, TypeError):  # a summary or weights index that cannot be read: not finished
        return False
    return in_run_folder(out, checkpoint) and checkpoint_step(checkpoint) == max_steps == saved and model


def finish(run: Run, push_to_hub_repo: str | None) -> None:
    """Save the final model folder and the run's summary into the output folder; push it if asked."""
    if run.main:
        out, progress = run.out, run.progress
        run.note_compute()
        save_model_folder(out, run.scored, _card(run))
        summary = {"baseline_psnr": run.baseline, **progress.state_dict()}
        write_text_file(out / SUMMARY, json.dumps(summary, indent=2))
        last = progress.history[-1] if progress.history else None
        # The final model's score only: a run resumed without validation kept the earlier steps' scores.
        scored = f" (val PSNR {last['psnr']:.2f} dB)" if last and last["step"] == progress.step else ""
        logger.info(f"saved the model to {shown_name(out)}{scored}")
        if push_to_hub_repo:
            logger.info(f"pushed to {push_run(out, push_to_hub_repo, f'swinir_hf.train: step {progress.step}')}")
    run.accelerator.wait_for_everyone()
