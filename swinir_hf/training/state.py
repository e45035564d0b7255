"""What a run carries from step to step: the EMA copy of its model (built by `warm_start.build_model`, which this
module also offers), the checkpointed progress and the per-step seed."""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..models.modeling_swinir import SwinIRForImageRestoration
from .config import TrainingConfig
from .schedule import WarmupMultiStepLR, scheduled_rate
from .sections import TrainArgs
from .warm_start import InitReport as InitReport  # offered here too: scripts and tests import them from `state`
from .warm_start import build_model as build_model

if TYPE_CHECKING:
    from .gan import GanParts

logger = logging.getLogger("swinir_hf.train")


class EMA:
    """Exponential moving average of a model's weights: `ema ← d · ema + (1 − d) · weights` after step t, with
    `d = min(decay, (1 + t) / (10 + t))`: without that warm-up the initial (random) weights keep a share of
    decay^t — still 17 % after 1,800 steps at 0.999 — which ruins short runs and early validation."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Fold in the weights after optimizer step `step` (0-based)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        ema, weights = list(self.model.parameters()), [w.detach() for w in model.parameters()]
        if len(ema) != len(weights):
            raise ValueError(f"EMA of {len(ema)} tensors updated from a model of {len(weights)}")
        # One multi-tensor kernel on a GPU rather than one per tensor (~170 for SwinIR-S, every step).
        torch._foreach_lerp_(ema, weights, 1.0 - decay)


@dataclass
class Progress:
    """Checkpointed run state besides model / optimizer / scheduler: the step, validation PSNRs
    (`{"step", "psnr", "metric"}`, metric: `validation.ValidationMetric.name`), logged training losses
    (`{"step", "loss"}`), the last logged window's speed (`{"step", "steps_per_s", "data_wait"}`, data_wait: the
    share of its wall time spent waiting for data) and the compute spent, one entry per launch of the run
    (`{"device", "processes", "start_step", "end_step", "seconds"}`: seconds of wall time from its first step to its
    last save, validation and checkpoints included; model cards and bundled results report them) and the settings each
    resume changed (`{"step", "changed"}`, changed: `recipe.resumed_changes`)."""

    step: int = 0
    history: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    speed: dict = field(default_factory=dict)
    compute: list = field(default_factory=list)
    changes: list = field(default_factory=list)

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "history": self.history,
            "losses": self.losses,
            "speed": self.speed,
            "compute": self.compute,
            "changes": self.changes,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step, self.history, self.losses = state["step"], state["history"], state["losses"]
        self.speed = state.get("speed", {})  # absent from checkpoints written before it was recorded
        self.compute = state.get("compute", [])  # likewise
        self.changes = state.get("changes", [])  # likewise

    def start_launch(self, device: str, processes: int) -> None:
        """Open this launch's compute entry at the current step."""
        entry = {"device": device, "processes": processes, "start_step": self.step, "end_step": self.step}
        self.compute.append(entry | {"seconds": 0.0})

    def note_compute(self, seconds: float) -> None:
        """This launch's entry now: the current step, `seconds` since its first step."""
        self.compute[-1].update(end_step=self.step, seconds=round(seconds, 1))

    def compute_seconds(self) -> float | None:
        """Training wall time over every recorded launch, in seconds; None when none was recorded (older runs)."""
        return sum(c["seconds"] for c in self.compute) if self.compute else None


def device_label(device: torch.device) -> str:
    """What a launch ran on, for the compute record: the GPU's name, or the CPU's model and torch's thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    try:  # Linux names the CPU model here; platform.processor() often says only "x86_64"
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "CPU"
    return f"{model} ({torch.get_num_threads()} threads)"


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the torch RNG (stochastic depth, dropout) for one step of one process."""
    return int(np.random.SeedSequence((seed, step, rank)).generate_state(1)[0])


def set_schedule(scheduler: WarmupMultiStepLR, milestones: list[int], args: TrainArgs, step: int) -> bool:
    """Make a resumed schedule follow the current config: its milestones, gamma, warmup and base learning rate, and
    the learning rate they give after `step` optimizer steps (a resume mid-warmup goes on with it). A checkpoint
    restores the schedule it was saved with, so without this a resume with another `max_steps` or `learning_rate`
    would silently keep the old one. Returns whether anything changed."""
    wanted = Counter(milestones)
    changed = scheduler.milestones != wanted or scheduler.gamma != args.lr_gamma
    changed |= scheduler.warmup_steps != args.warmup_steps
    changed |= any(base != args.learning_rate for base in scheduler.base_lrs)
    if not changed:  # the restored rates stay as they are, bit for bit (exact resume)
        return False
    scheduler.milestones, scheduler.gamma, scheduler.warmup_steps = wanted, args.lr_gamma, args.warmup_steps
    scheduler.base_lrs = [args.learning_rate] * len(scheduler.base_lrs)
    lr = scheduled_rate(scheduler, args.learning_rate, step)
    for group in scheduler.optimizer.param_groups:
        group["initial_lr"], group["lr"] = args.learning_rate, lr
    scheduler._last_lr = [lr] * len(scheduler.optimizer.param_groups)
    return True


@dataclass
class Run:
    """What a training run carries from step to step (explicit, instead of closures over `_train`'s locals)."""

    cfg: TrainingConfig
    accelerator: Any
    out: Path
    model: Any  # as prepared by accelerate (possibly wrapped)
    optimizer: Any
    scheduler: Any
    ema: EMA | None
    gan: GanParts | None
    start: dict[str, Any]  # the weights the run started from (`recipe.start`), which checkpoints keep
    card_id: str
    progress: Progress = field(default_factory=Progress)
    val_images: list | None = None
    baseline: float | None = None
    images: dict = field(default_factory=dict)  # the training images' `items_fingerprint`, which checkpoints keep
    bar: Any = None
    show_bar: bool = True  # False: `--no-progress`, the bar's figures logged as lines instead (`show`)
    last_loss: float = float("nan")  # the last logged training loss
    loss_sum: Any = None  # sum of the losses since the last log, on the device
    loss_steps: int = 0  # the steps summed in loss_sum
    gan_terms: Any = None  # a GAN run's loss terms (gan.LOGGED_TERMS) of its last micro-batch, on the device
    resumed_loss: tuple[float, int] = (0.0, 0)  # loss_sum and loss_steps as checkpointed (a log window in progress)
    window_start: float = 0.0
    window_steps: int = 0
    data_wait: float = 0.0  # seconds this window spent waiting for the data loader
    last_save: float = field(default_factory=time.monotonic)  # for train.checkpoint_minutes
    saved_step: int = -1  # the step of the newest checkpoint this run saved
    launch_clock: float = 0.0  # time.monotonic() at this launch's first step, for progress.compute

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def start_launch(self) -> None:
        """Open this launch's entry in `progress.compute` and start its clock."""
        self.progress.start_launch(device_label(self.accelerator.device), self.accelerator.num_processes)
        self.launch_clock = time.monotonic()

    def note_compute(self) -> None:
        """Bring this launch's compute entry up to now (before the progress is written)."""
        self.progress.note_compute(time.monotonic() - self.launch_clock)

    def show(self, postfix: str, line: str) -> None:
        """The latest figures: `postfix` on the bar, or without one (`--no-progress`, no terminal, `TQDM_DISABLE`)
        `line` in the main process's log as "step N/M: line" (a log file gets a line per log window and validation,
        not a bar redrawn ~10 times a second)."""
        if not self.bar.disable:
            self.bar.set_postfix_str(postfix)
        elif self.main:
            logger.info(f"step {self.progress.step}/{self.cfg.train.max_steps}: {line}")

    @property
    def scored(self) -> SwinIRForImageRestoration:
        """The weights validated, checkpointed as a model folder and saved at the end: the EMA copy if any."""
        if self.ema is not None:
            return self.ema.model
        return self.accelerator.unwrap_model(self.model, keep_torch_compile=False)  # validated in eager mode
