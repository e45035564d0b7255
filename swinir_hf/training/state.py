"""What a run trains and carries from step to step: the model (built from the config, starting weights
transferred), the EMA copy, the checkpointed progress and the per-step seed."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints.run_folder import MODEL
from ..models.configuration_swinir import CONFIG_ERRORS, SwinIRConfig
from ..models.modeling_swinir import SwinIRForImageRestoration
from .config import TrainingConfig
from .sections import ModelArgs, TrainArgs

if TYPE_CHECKING:
    from .gan import GanParts

logger = logging.getLogger("swinir_hf.train")


@dataclass
class InitReport:
    """What `--init-from` did to each tensor of the new model."""

    source: str
    loaded: list[str]
    reinitialised: list[str]
    dropped: list[str]
    fitted: list[str] = field(default_factory=list)  # loaded after `fit_position_bias` (another window size)
    preset: str | None = None  # model.preset: the architecture is the preset's, not the source's
    changed: list[str] = field(default_factory=list)  # without a preset: the source's config fields set otherwise

    @classmethod
    def recorded(cls, start: dict[str, Any]) -> InitReport | None:
        """The report a run's record of its starting weights keeps (`recipe.start`); None for a run from scratch. A
        record of an earlier swinir-hf keeps none: the source alone, its tensors not counted (`loaded` empty)."""
        if not start.get("init_from"):
            return None
        return cls(**start["report"]) if "report" in start else cls(start["init_from"], [], [], [])

    def __str__(self) -> str:
        def names(items: list[str]) -> str:
            return ", ".join(items[:6]) + (f", … (+{len(items) - 6})" if len(items) > 6 else "")

        lines = [f"initialised from {self.source}: {len(self.loaded)} tensors loaded"]
        if self.fitted:
            lines.append(
                f"  of them fitted to this window size (relative-position bias, shared offsets kept): "
                f"{len(self.fitted)}: {names(self.fitted)}"
            )
        if self.reinitialised:
            lines.append(
                f"  re-initialised (not in the source or shape differs): {len(self.reinitialised)}: "
                f"{names(self.reinitialised)}"
            )
        if self.dropped:
            lines.append(
                f"  dropped from the source (no place in this model): {len(self.dropped)}: {names(self.dropped)}"
            )
        return "\n".join(lines)

    def why_from_scratch(self) -> str:
        """What makes the architecture differ from the source's, and what to change: `preset=null` only where a
        preset is set (to a run without one it said to set what it had)."""
        if self.preset is not None or not self.changed:
            return (
                "With model.preset set, the architecture is the preset's (and model.config's), not the source's: "
                "model.preset=null takes the source's"
            )
        return (
            f"This run's model.config / model.scale give {', '.join(self.changed)} other than the source's: drop "
            "them to take the source's architecture"
        )


def build_model(
    args: ModelArgs, training: TrainArgs, bars: bool = True, resumed: Path | None = None
) -> tuple[SwinIRForImageRestoration, InitReport | None]:
    """The model to train, its config from the preset / `init_from` / `config` fields, starting weights loaded (with
    transformers' loading and the Hub's download bars only where `bars`: each process of a launch loads them). A run
    resumed from the checkpoint `resumed` loads none (`_starting_point`), and reports none."""
    source, base = _starting_point(args, bars, resumed)
    overrides = dict(args.config)
    if args.scale is not None and overrides.get("upscale", args.scale) != args.scale:  # one would be ignored
        raise ValueError(
            f"model.scale {args.scale} and model.config.upscale {overrides['upscale']} disagree (either may come from "
            "the config file): set both to the scale you want"
        )
    if training.loss is not None:
        overrides["loss"] = training.loss
    if training.charbonnier_eps is not None:
        overrides["charbonnier_eps"] = training.charbonnier_eps
    try:
        config = _model_config(args, base, overrides)
    except CONFIG_ERRORS as err:  # a strict-dataclass type error spans lines
        raise ValueError(f"model: {' '.join(str(err).split())}") from err
    if training.charbonnier_eps is not None and config.loss != "charbonnier":  # the run's loss would not read it
        whose = "" if training.loss else ", the model config's"
        raise ValueError(
            f"train.charbonnier_eps is only read by the charbonnier loss (this run's is {config.loss}{whose}): pass "
            "--train.loss charbonnier, or drop train.charbonnier_eps"
        )
    model = SwinIRForImageRestoration(config)
    if args.gradient_checkpointing:
        model.checkpoint_layers()
    if source is None:
        return model, None
    report = transfer_weights(source.state_dict(), model, args.init_from)
    report.preset = args.preset
    given = [*args.config, *(["upscale"] * (args.scale is not None))]  # the architecture fields this run sets
    ours, theirs = config.to_dict(), source.config.to_dict()
    report.changed = sorted({k for k in given if ours.get(k) != theirs.get(k)})
    if len(report.reinitialised) > len(report.loaded):  # a task change keeps the body: most tensors load
        total, fit = len(report.loaded) + len(report.reinitialised), len(report.loaded)
        how_many, how_much = ("none", "all") if not fit else (str(fit), "most")
        raise ValueError(
            f"model.init_from: {how_many} of this model's {total} tensors fit {args.init_from}'s, so {how_much} "
            f"of it would start from scratch. {report.why_from_scratch()}; or drop model.init_from (--init-from) to "
            "train from scratch"
        )
    return model, report


def _starting_point(
    args: ModelArgs, bars: bool, resumed: Path | None
) -> tuple[SwinIRForImageRestoration | None, dict[str, Any]]:
    """The model whose weights the run starts from (None: none to load) and the config its architecture starts from
    without a preset (`_model_config`). A resumed run's checkpoint replaces the starting weights, which may be gone
    since (a folder of another machine): they are not loaded, and its own model's config stands in for theirs; only
    for a checkpoint without one (an earlier swinir-hf's), and no preset, is the starting model read for its config."""
    if not args.init_from:
        return None, {}
    if resumed is not None and args.preset is not None:
        return None, {}
    if resumed is not None and (resumed / MODEL / "config.json").is_file():
        return None, json.loads((resumed / MODEL / "config.json").read_text())
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import load_model
    from ..library_bars import transformers_bars_off

    # Named: the path may come from a config file, not the command line.
    try:
        with transformers_bars_off(when=not bars):
            source = load_model(args.init_from)
    except CheckpointError as err:
        raise CheckpointError(f"model.init_from: {err}") from err
    except (ValueError, OSError) as err:  # an uncached Hub model (ModelNotAvailableError), ...
        raise ValueError(f"model.init_from: {err}") from err
    return (source if resumed is None else None), source.config.to_dict()


def _model_config(args: ModelArgs, base: dict[str, Any], overrides: dict) -> SwinIRConfig:
    if args.preset is not None:
        return SwinIRConfig.from_preset(args.preset, args.scale, **overrides)
    base = dict(base)
    for key in ("architectures", "transformers_version", "model_type", "torch_dtype", "dtype"):
        base.pop(key, None)
    if args.scale is not None:
        overrides["upscale"] = args.scale
    return SwinIRConfig(**{**base, **overrides})


def transfer_weights(state: dict[str, torch.Tensor], model: torch.nn.Module, source: str) -> InitReport:
    """Copy every tensor of `state` whose name and shape exist in `model`, and every relative-position bias table
    of another window size but the same heads, fitted (`fit_position_bias`); report the rest."""
    target = model.state_dict()
    fits = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    fitted = {
        k: fit_position_bias(v, target[k].shape[0])
        for k, v in state.items()
        if k.endswith(".relative_position_bias_table")
        and k in target
        and k not in fits
        and v.shape[1:] == target[k].shape[1:]
    }
    model.load_state_dict({**fits, **fitted}, strict=False)
    loaded = set(fits) | set(fitted)
    return InitReport(
        source=source,
        loaded=sorted(loaded),
        reinitialised=sorted(set(target) - loaded),
        dropped=sorted(set(state) - loaded),
        fitted=sorted(fitted),
    )


def fit_position_bias(table: torch.Tensor, rows: int) -> torch.Tensor:
    """A ((2·ws-1)², heads) relative-position bias table for another window ws', ((2·ws'-1)² = `rows`, heads).

    Both index the same pixel offsets (dy, dx) at the same image scale, so a smaller window keeps the source's biases
    of the offsets it has (the table's centre) and a larger one repeats the outermost ones beyond: no interpolation,
    which would shift every offset's bias (Swin's bicubic resize suits a change of image resolution, not this).
    """
    n, m = math.isqrt(table.shape[0]), math.isqrt(rows)
    if n * n != table.shape[0] or m * m != rows or n % 2 == 0 or m % 2 == 0:
        raise ValueError(f"not relative-position bias tables of (2·ws-1)² rows: {table.shape[0]} → {rows}")
    grid = table.T.reshape(1, -1, n, n)  # (1, heads, dy, dx)
    if m < n:
        cut = (n - m) // 2
        grid = grid[..., cut : cut + m, cut : cut + m]
    elif m > n:
        grid = F.pad(grid.float(), (((m - n) // 2),) * 4, mode="replicate").to(table.dtype)
    return grid.reshape(-1, m * m).T.contiguous()


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


def set_schedule(
    scheduler: torch.optim.lr_scheduler.MultiStepLR, milestones: list[int], args: TrainArgs, step: int
) -> bool:
    """Make a resumed schedule follow the current config: its milestones, gamma and base learning rate, and the
    learning rate they give after `step` optimizer steps. A checkpoint restores the schedule it was saved with, so
    without this a resume with another `max_steps` or `learning_rate` would silently keep the old one. Returns
    whether anything changed."""
    wanted = Counter(milestones)
    changed = scheduler.milestones != wanted or scheduler.gamma != args.lr_gamma
    changed |= any(base != args.learning_rate for base in scheduler.base_lrs)
    if not changed:  # the restored rates stay as they are, bit for bit (exact resume)
        return False
    scheduler.milestones, scheduler.gamma = wanted, args.lr_gamma
    scheduler.base_lrs = [args.learning_rate] * len(scheduler.base_lrs)
    lr = args.learning_rate * args.lr_gamma ** sum(m <= step for m in milestones)
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
        """The latest figures: `postfix` on the bar, or without one (`--no-progress`) `line` in the main process's
        log as "step N/M: line" (a log file gets a line per log window and validation, not a bar redrawn ~10 times
        a second)."""
        if self.show_bar:
            self.bar.set_postfix_str(postfix)
        elif self.main:
            logger.info(f"step {self.progress.step}/{self.cfg.train.max_steps}: {line}")

    @property
    def scored(self) -> SwinIRForImageRestoration:
        """The weights validated, checkpointed as a model folder and saved at the end: the EMA copy if any."""
        if self.ema is not None:
            return self.ema.model
        return self.accelerator.unwrap_model(self.model, keep_torch_compile=False)  # validated in eager mode
