"""The training loop: `run_training(cfg)` trains as configured (its command line: `swinir_hf.training.cli`; what
it writes into the run's folder, checkpoints included: `saving`).

Reproducibility: the model's initialisation depends on `train.seed`; each training sample on `(seed, sample
position)` (see `swinir_hf.training.data`); the stochastic-depth masks of step s on `(seed, s, process)`. A run resumed
from a checkpoint therefore continues with bit-identical weights on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoints.run_folder import list_checkpoints
from ..console import bar_switch, bars_redrawn, counted, shown_name
from ..library_bars import library_bars_off
from ..processes import RUN_ERROR, is_main_process, on_every_process, on_main_process
from ..storage.output_folders import check_output_folder, folder_claimed
from .accelerator import build_accelerator, end_accelerator
from .checks import check_output_dir, check_parallelism, check_resume_given, check_run_push_access
from .compiling import compile_layers
from .config import TrainingConfig
from .data import build_dataset, build_validation
from .discriminator_start import start_discriminator
from .gan import LOGGED_TERMS, GanParts, build_gan, check_gan_start, gan_step
from .recipe import resumed_start, start
from .resume_checks import check_resume_start, check_run_resumable
from .sampler import build_loader, check_batch_split, end_workers, next_batch
from .saving import (
    check_finite,
    checkpoint_due,
    finish,
    finished_at,
    logs_written,
    open_run_folder,
    resume_state,
    save_checkpoint,
)
from .schedule import WarmupMultiStepLR, scheduled_rate, warmup_unfinished
from .signals import StopSignals, TrainingInterrupted, stop_signals_held
from .sources import check_sources_there
from .state import EMA, Run, step_seed
from .unreadable import warn_of_unreadable
from .validation import baseline_psnrs, mean_psnr, validation_metric, validation_psnrs, validation_set
from .warm_start import build_model

logger = logging.getLogger("swinir_hf.train")


def run_training(
    cfg: TrainingConfig,
    resume: str | None = None,
    push_to_hub_repo: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Run training as configured; returns the output folder, which then holds the final model. Without `progress`
    (`--no-progress`), or where a bar cannot be redrawn in place (stderr a file or a pipe: `bars_redrawn`), no bar
    is drawn, the libraries' neither; the bar's figures are logged as lines instead, at INFO on `swinir_hf.train`.
    The log goes where the caller's logging sends it (the command line shows it on stderr).

    A local data folder that is not there raises `FileNotFoundError` (`sources.check_sources_there`, the command
    line's message) before anything is set up. SIGINT (Ctrl-C) / SIGTERM stop the run after the step in progress, with
    a checkpoint: `TrainingInterrupted`. A second Ctrl-C stops at once (KeyboardInterrupt), keeping the checkpoints
    saved so far.
    """
    from ..extras import require

    t = cfg.train
    check_sources_there(cfg.data)  # else found as the data loads, after accelerate and the model (minutes)
    check_resume_given(resume)
    check_parallelism()
    if t.report_to == "tensorboard":  # accelerate's tracker would only fail at its first log
        require("tensorboard", "train", "logging to TensorBoard (train.report_to: tensorboard)")
    progress = progress and bars_redrawn()
    out = Path(t.output_dir)
    check_output_folder(out, "train.output_dir")  # on every process alike (the main one's claim checks it again)
    threads = torch.get_num_threads()
    try:
        # Held by the main process (the one that writes the folder) from the checks to the end: a second run into it
        # is refused, not mixed with this one's checkpoints (nor removing them with --overwrite).
        with folder_claimed(out, "train.output_dir") if is_main_process() else nullcontext():
            with nullcontext() if progress else library_bars_off(datasets_too=True):
                return _run_claimed(cfg, out, resume, push_to_hub_repo, overwrite, progress)
    finally:
        # `train.num_threads` is the run's: what the process (a notebook) runs next gets its own count back.
        torch.set_num_threads(threads)


def _run_claimed(
    cfg: TrainingConfig, out: Path, resume: str | None, push_to_hub_repo: str | None, overwrite: bool, progress: bool
) -> Path:
    """`run_training` once `out` is held (on the main process): the checks, the accelerator, the run."""
    t = cfg.train
    resume_from = check_output_dir(out, resume, overwrite, cfg.model.init_from, cfg.gan.init_discriminator_from)
    if push_to_hub_repo:
        # Now, not after hours of training; a bare name becomes user/name, the id the card's usage must load.
        push_to_hub_repo = check_run_push_access(push_to_hub_repo, out)
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    if t.tune_allocator:
        from ..inference.memory import tune_allocator

        tune_allocator()

    accelerator = build_accelerator(t, out)
    # The precision the run uses, recorded as such (training_config.yaml, card): the launcher's when the config
    # leaves it null.
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(t, mixed_precision=accelerator.mixed_precision))
    failed = True
    try:
        result = _train(cfg, accelerator, out, resume, resume_from, push_to_hub_repo, progress)
        failed = False
        return result
    finally:
        end_accelerator(accelerator, failed)


def _finished(out: Path, max_steps: int) -> str:
    """The note that the run in `out` has trained its `max_steps` already (its folder named on one line)."""
    return f"{shown_name(out)} is finished at train.max_steps {max_steps}: nothing to do (raise it to train on)"


def _train(
    cfg: TrainingConfig,
    accelerator: Any,
    out: Path,
    resume: str | None,
    resume_from: Path | None,
    push_to_hub_repo: str | None,
    progress: bool,
) -> Path:
    """`run_training` from the accelerator on: everything that can fail on the inputs is checked before the first step,
    and nothing is written into `out` before it."""
    from accelerate.utils import set_seed

    t, main, processes = cfg.train, accelerator.is_main_process, accelerator.num_processes
    check_batch_split(t.batch_size, t.gradient_accumulation_steps, processes)  # before slow work
    started = record = None  # the weights the run starts from (`recipe.start`; a resume's: none loaded); its record
    if resume_from is not None:  # before the starting weights load (from the Hub, maybe)
        record = check_resume_start(resume_from, cfg)  # its progress.json, read once
        cfg, started = resumed_start(record, cfg)  # the run's, named again or not: not loaded
    if main and (line := warmup_unfinished(cfg.train.warmup_steps, cfg.train.max_steps)):  # once, before the work
        logger.warning(line)
    set_seed(t.seed)  # identical initialisation on every process
    model, init_report = build_model(cfg.model, t, bars=main, resumed=resume_from)  # one "Loading weights" bar
    if resume_from is not None:
        check_run_resumable(record, model, cfg)
        if not push_to_hub_repo and finished_at(out, resume_from, t.max_steps):  # its model and card as they are
            if main:
                logger.info(_finished(out, t.max_steps))
            return out
    if init_report is not None and main:
        logger.info(str(init_report))
    check_gan_start(cfg.gan, init_report)  # then the VGG-19 (maybe not in the Hub cache), before the data (minutes)
    gan = build_gan(cfg.gan, model.config.num_channels, t.adam_betas) if cfg.gan.enabled else None
    started = started or start(cfg, init_report, start_discriminator(gan, cfg.gan.init_discriminator_from, main))
    dataset = build_dataset(cfg, model.config)
    val_images, baseline = _validation_share(cfg, accelerator, model.config) if cfg.data.val else (None, None)
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    run = prepare(cfg, accelerator, model, gan, out, started, push_to_hub_repo or str(out))
    run.val_images, run.baseline, run.show_bar, run.images = val_images, baseline, progress, dataset.fingerprint()
    resume_state(run, resume, record)
    first = run.progress.step
    loader = build_loader(run, dataset, first)
    # Every input checked, only now does the run write into its folder (one it may not create: raised on every process).
    changes = run.progress.changes
    on_main_process(lambda: open_run_folder(cfg, accelerator, out, record, first, changes), main, processes)
    if main:
        logger.info(
            f"training {trained:,} parameters for steps {first}..{t.max_steps} on "
            f"{counted(processes, 'process')}, {accelerator.device}, {counted(dataset.readable, 'image')}"
        )
    try:
        stopped = run_steps(run, loader)
        warn_of_unreadable(dataset.found_unreadable, accelerator)  # over every worker and process: a collective
        # A stop asked for now waits for the final model: killed mid-save, the run would leave a partial folder.
        with StopSignals(announce=main, when="once the final model is saved", first=stopped):
            finish(run, push_to_hub_repo)
    except Exception as err:
        # Failing from here on (its disk, its data) is this process's own, not every process's as above.
        with contextlib.suppress(AttributeError):
            setattr(err, RUN_ERROR, accelerator.process_index)
        raise
    return out


def _validation_share(cfg: TrainingConfig, accelerator: Any, config: Any) -> tuple[list, float]:
    """This process's share of the validation images (image i on process i mod n: the processes read and score them
    side by side) and the whole set's baseline PSNR. A bad data.val, or one without a readable image, is raised on
    every process, not left to hang the others."""
    shard = (accelerator.process_index, accelerator.num_processes)
    images = on_every_process(lambda: build_validation(cfg, config, shard), accelerator.num_processes)
    return images, mean_psnr(baseline_psnrs(images, config), accelerator)


def prepare(
    cfg: TrainingConfig,
    accelerator: Any,
    model: Any,
    gan: GanParts | None,
    out: Path,
    started: dict[str, Any],
    card_id: str,
) -> Run:
    """Optimizer, schedule, EMA and the GAN parts (`build_gan`'s, of a GAN run), prepared by accelerate and
    registered for its checkpoints."""
    t = cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=t.learning_rate, betas=tuple(t.adam_betas), weight_decay=t.weight_decay)
    scheduler = WarmupMultiStepLR(optimizer, cfg.milestones(), t.lr_gamma, t.warmup_steps)
    ema = EMA(model, t.ema_decay) if t.ema_decay else None
    if t.compile and t.compile_regions:  # after the EMA's copy, which stays eager (it is validated)
        line = compile_layers(model, t.compile, t.compile_mode)
        if accelerator.is_main_process:
            logger.info(line)
    if gan is not None:
        model, optimizer, gan.disc, gan.optimizer = accelerator.prepare(model, optimizer, gan.disc, gan.optimizer)
        gan.perceptual.to(accelerator.device)
    else:
        model, optimizer = accelerator.prepare(model, optimizer)
    # The scheduler is stepped by hand once per optimizer step (accelerate's wrapper steps it once per process).
    accelerator.register_for_checkpointing(scheduler)
    if ema is not None:
        ema.model.to(accelerator.device)
        accelerator.register_for_checkpointing(ema.model)
    return Run(cfg, accelerator, out, model, optimizer, scheduler, ema, gan, started, card_id)


def run_steps(run: Run, loader: torch.utils.data.DataLoader) -> StopSignals:
    """Steps to `train.max_steps`; SIGINT / SIGTERM stop after a step with a checkpoint, in the last after the final
    model (→ the StopSignals, holding a stop that came then)."""
    from tqdm.auto import tqdm

    t, start = run.cfg.train, run.progress.step
    shown = run.main and run.show_bar
    run.bar = tqdm(total=t.max_steps, initial=start, dynamic_ncols=True, desc="train", **bar_switch(shown))
    # A log window a checkpoint interrupted goes on, so the logged losses are those of an uninterrupted run.
    run.loss_sum = torch.tensor(run.resumed_loss[0], dtype=torch.float32, device=run.accelerator.device)
    run.loss_steps = run.resumed_loss[1]
    run.window_start, run.window_steps = time.perf_counter(), 0
    run.start_launch()
    if start == 0 and t.validate_every:  # 0: only at the end
        validate_now(run, 0)
    with StopSignals(announce=run.main) as stop, contextlib.closing(run.bar):  # closed before any message after
        with stop_signals_held():  # the workers start
            batches = iter(loader)
        try:
            for step in range(start, t.max_steps):
                stop.when = "once the final model is saved" if step + 1 == t.max_steps else stop.when
                train_step(run, batches, step)
                after_step(run)
                if step + 1 < t.max_steps and stop.requested(run.accelerator):  # after the last: the final model
                    if run.saved_step != run.progress.step:
                        save_checkpoint(run, run.progress.step)
                    raise TrainingInterrupted(stop.signal, run.progress.step, list_checkpoints(run.out)[-1])
        finally:
            end_workers(batches)
    return stop


def train_step(run: Run, batches: Any, step: int) -> None:
    """One optimizer step over `gradient_accumulation_steps` micro-batches; the EMA follows."""
    t, acc, model = run.cfg.train, run.accelerator, run.model
    accum = t.gradient_accumulation_steps
    torch.manual_seed(step_seed(t.seed, step, acc.process_index))
    model.train()
    for a in range(accum):
        waited = time.perf_counter()
        batch = next_batch(batches, run.out, step)
        run.data_wait += time.perf_counter() - waited
        x = batch["pixel_values"].to(acc.device, non_blocking=True)
        y = batch["labels"].to(acc.device, non_blocking=True)
        last = a == accum - 1
        with nullcontext() if last else acc.no_sync(model):
            if run.gan is None:
                loss = model(pixel_values=x, labels=y).loss
            else:
                real = batch.get("plain_labels")  # the unsharpened targets of a run with data.sharpen_target
                real = None if real is None else real.to(acc.device, non_blocking=True)
                loss, run.gan_terms = gan_step(acc, model, run.gan, run.cfg.gan, x, y, accum, last, real)
            acc.backward(loss / accum)
        run.loss_sum += loss.detach() / accum
    if t.max_grad_norm > 0:
        acc.clip_grad_norm_(model.parameters(), t.max_grad_norm)
        if run.gan is not None:
            acc.clip_grad_norm_(run.gan.disc.parameters(), t.max_grad_norm)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    if run.gan is not None:
        # The generator's milestones (its scheduler's, as resumed), as the authors' discriminator has them, and its
        # warmup, as BasicSR's discriminator has it.
        rate = scheduled_rate(run.scheduler, run.cfg.gan.discriminator_lr, step)
        for group in run.gan.optimizer.param_groups:
            group["lr"] = rate
        run.gan.optimizer.step()
        run.gan.optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    if run.ema is not None:
        run.ema.update(acc.unwrap_model(model, keep_torch_compile=False), step)
    run.progress.step = step + 1
    run.bar.update(1)
    run.window_steps += 1
    run.loss_steps += 1


def after_step(run: Run) -> None:
    """Logging, validation and checkpointing, as due after the step just taken."""
    t, step = run.cfg.train, run.progress.step
    done = step == t.max_steps
    if step % t.log_every == 0 or done:
        log_losses(run)
    if done or t.validate_every and step % t.validate_every == 0:
        validate_now(run, step)
    if done or checkpoint_due(run):
        save_checkpoint(run, step)


def log_losses(run: Run) -> None:
    """Log the mean loss of the steps since the last log (over all processes), the learning rate and the speed."""
    acc, progress = run.accelerator, run.progress
    run.last_loss = acc.reduce(run.loss_sum, reduction="mean").item() / run.loss_steps
    check_finite(run, progress.step, run.last_loss)
    progress.losses.append({"step": progress.step, "loss": run.last_loss})
    seconds = time.perf_counter() - run.window_start
    rate, wait = run.window_steps / seconds, run.data_wait / seconds
    # data_wait near 1: the data loaders set the pace (more num_workers, cheaper data); near 0: the model does.
    progress.speed = {"step": progress.step, "steps_per_s": round(rate, 3), "data_wait": round(wait, 3)}
    lr = run.scheduler.get_last_lr()[0]
    logged = {"train/loss": run.last_loss, "train/lr": lr, "train/steps_per_s": rate, "train/data_wait": wait}
    if run.gan_terms is not None:  # the last micro-batch's
        terms = acc.reduce(run.gan_terms, reduction="mean").tolist()
        logged |= {f"train/{name}": value for name, value in zip(LOGGED_TERMS, terms, strict=True)}
    with logs_written(run.out):
        acc.log(logged, step=progress.step)
    psnr_text = f" val PSNR {progress.history[-1]['psnr']:.2f} dB" if progress.history else ""
    run.show(f"loss {run.last_loss:.4f}{psnr_text}", f"loss {run.last_loss:.4f}, lr {lr:g}, {rate:.2f} steps/s")
    run.loss_sum.zero_()
    run.loss_steps = 0
    run.window_start, run.window_steps, run.data_wait = time.perf_counter(), 0, 0.0


def validate_now(run: Run, step: int) -> None:
    """Score the validated weights on the validation images (every process its share), record and log it."""
    if run.val_images is None:
        return
    started = time.perf_counter()
    with torch.compiler.set_stance("force_eager"):  # compiled layers (train.compile_regions, no EMA) too
        value = mean_psnr(validation_psnrs(run.scored, run.val_images), run.accelerator)
    run.window_start += time.perf_counter() - started  # the logged steps/s and data wait are of training steps
    metric, d = validation_metric(run.scored.config).name, run.cfg.data  # recorded: a resumed run may score otherwise
    entry = {"step": step, "psnr": value, "metric": metric, "set": validation_set(d)}
    run.progress.history = [h for h in run.progress.history if h["step"] != step] + [entry]
    with logs_written(run.out):
        run.accelerator.log({f"val/{metric}": value}, step=step)
    loss_text = f"loss {run.last_loss:.4f} " if np.isfinite(run.last_loss) else ""  # no loss logged yet
    run.show(f"{loss_text}val PSNR {value:.2f} dB", f"val PSNR {value:.2f} dB")
