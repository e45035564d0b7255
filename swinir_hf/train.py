"""Train or fine-tune SwinIR: `accelerate launch -m swinir_hf.train --config CONFIG.yaml [overrides]`.

Also runs as `python -m swinir_hf.train ...`. CONFIG is a YAML file or the name of a bundled config
(`swinir_hf/configs/*.yaml`, e.g. `tiny_sr_x2`). Overrides take the form `--train.max_steps 100`,
`--train.max_steps=100` or `train.max_steps=100`; values are parsed as YAML (`[1, 2]`, `null`, `1e-4`).
`--help` lists every field with its meaning.

Reproducibility: the model's initialisation depends on `train.seed`; each training sample on `(seed, sample
position)` (see `swinir_hf.data`); the stochastic-depth masks of step s on `(seed, s, process)`. A run resumed
from a checkpoint therefore continues with bit-identical weights on CPU.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.resources
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import types
import typing
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from .configuration_swinir import PRESETS, SwinIRConfig
from .extras import MissingExtraError
from .modeling_swinir import SwinIRForImageRestoration

logger = logging.getLogger("swinir_hf.train")

MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "README.md")


def _field(default: Any, help: str) -> Any:
    """A dataclass field with a help text (shown by `--help`); mutable defaults are copied per instance."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


# --- configuration ---------------------------------------------------------------------------------------------


@dataclass
class ModelArgs:
    """What network to train and where its starting weights come from."""

    preset: str | None = _field(
        None, f"a SwinIRConfig preset: {', '.join(PRESETS)}; null to take the architecture from init_from or config"
    )
    scale: int | None = _field(None, "upscale factor for the super-resolution presets (2, 3, 4, 8)")
    config: dict = _field({}, "SwinIRConfig fields set on top of the preset / init_from config (e.g. embed_dim)")
    init_from: str | None = _field(
        None,
        "starting weights: a save_pretrained folder, a Hub id or an authors' .pth; tensors whose name and shape fit "
        "are loaded, the rest re-initialised (a report lists both)",
    )
    gradient_checkpointing: bool = _field(False, "recompute Swin layers in the backward pass: less memory, ~30% slower")


@dataclass
class DataArgs:
    """Training and validation images and how inputs are degraded."""

    train: list = _field([], "training images: folders (plain or imagefolder), save_to_disk folders or Hub dataset ids")
    train_lr: list = _field([], "for degradation 'paired': one LR folder / dataset per `train` entry")
    split: str = _field("train", "split of Hub / on-disk datasets used for training")
    val: str | None = _field(None, "validation images (same kinds as `train`); null disables validation")
    val_lr: str | None = _field(None, "LR images paired with `val` (else made from `val` with the degradation)")
    val_split: str = _field("validation", "split of a Hub / on-disk validation dataset")
    val_max_images: int | None = _field(None, "score only the first N validation images")
    patch_size: int = _field(48, "model input patch side in pixels (targets are patch_size × scale)")
    degradation: str = _field(
        "bicubic", "bicubic | noise | jpeg | real (BSRGAN-style) | paired (LR images given in train_lr / val_lr)"
    )
    noise_sigma: float | list = _field(25.0, "Gaussian noise σ in grey levels: one value or [low, high] per sample")
    jpeg_quality: int | list = _field(40, "JPEG quality: one value or [low, high] per sample")
    val_noise_sigma: float | None = _field(None, "σ for validation; default: noise_sigma or the middle of its range")
    val_jpeg_quality: int | None = _field(None, "JPEG quality for validation; default: jpeg_quality or its middle")
    flip: bool = _field(True, "random horizontal flips")
    rot90: bool = _field(True, "random 90° rotations")
    num_workers: int = _field(2, "DataLoader worker processes per training process (0: load in the main process)")
    cache_dir: str | None = _field(None, "`datasets` cache folder for Hub datasets")


@dataclass
class TrainArgs:
    """Optimisation, precision, checkpointing and logging."""

    output_dir: str = _field("runs/swinir", "where the final model, checkpoints/ and logs/ go")
    seed: int = _field(0, "seed of the initialisation, the data stream and stochastic depth")
    max_steps: int = _field(500_000, "optimizer steps")
    batch_size: int = _field(32, "images per optimizer step, summed over processes and accumulation steps")
    gradient_accumulation_steps: int = _field(1, "micro-batches per optimizer step (per process)")
    learning_rate: float = _field(2e-4, "Adam learning rate")
    adam_betas: list = _field([0.9, 0.999], "Adam betas")
    weight_decay: float = _field(0.0, "Adam weight decay")
    lr_milestones: list = _field(
        [0.5, 0.8, 0.9, 0.95], "MultiStepLR milestones: fractions of max_steps (floats < 1) or step numbers (ints)"
    )
    lr_gamma: float = _field(0.5, "learning-rate factor at each milestone")
    loss: str | None = _field(None, "pixel loss: l1 | charbonnier; null keeps the model config's (L1 for SR)")
    charbonnier_eps: float | None = _field(None, "Charbonnier epsilon; null keeps the model config's")
    max_grad_norm: float = _field(0.0, "clip the gradient norm to this; 0 disables clipping")
    ema_decay: float = _field(0.999, "decay of the weight EMA that is validated and saved; 0 disables EMA")
    mixed_precision: str = _field("no", "no | bf16 | fp16 (fp16 needs a GPU); bf16 also speeds up recent CPUs")
    num_threads: int | None = _field(None, "torch CPU threads per process; null: torch's default")
    tune_allocator: bool = _field(
        True, "keep freed memory mapped (glibc mallopt, see restoration.tune_allocator): faster CPU steps"
    )
    checkpoint_every: int = _field(5000, "save a resumable checkpoint (and a loadable model) every N steps; 0: never")
    keep_checkpoints: int = _field(3, "number of most recent checkpoints kept")
    validate_every: int = _field(5000, "validate every N steps (and at the start and the end); 0: only at the end")
    log_every: int = _field(100, "log the training loss every N steps")
    report_to: str = _field("tensorboard", "accelerate tracker: tensorboard | wandb | mlflow | ... | none")
    project_name: str = _field("swinir", "tracker project / run name")


@dataclass
class GanArgs:
    """Adversarial + perceptual training (real-world SR)."""

    enabled: bool = _field(False, "train with a U-Net discriminator, perceptual and GAN losses")
    vgg_weights: str | None = _field(
        None, "torchvision-layout VGG-19 state dict (.pth / .safetensors) or Hub id (e.g. timm/vgg19.tv_in1k)"
    )
    allow_random_vgg: bool = _field(False, "run with a random VGG when vgg_weights is null (tests only)")
    pixel_weight: float = _field(1.0, "weight of the L1 pixel loss")
    perceptual_weight: float = _field(1.0, "weight of the VGG-19 perceptual loss")
    gan_weight: float = _field(0.1, "weight of the generator's GAN loss")
    perceptual_layers: dict = _field(
        {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0},
        "VGG-19 layers (pre-activation) and their weights in the perceptual loss",
    )
    discriminator_channels: int = _field(64, "channels of the discriminator's first level")
    discriminator_lr: float = _field(1e-4, "discriminator Adam learning rate (constant)")


@dataclass
class TrainingConfig:
    """A full training run: `model`, `data`, `train` and `gan` sections."""

    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    gan: GanArgs = field(default_factory=GanArgs)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> TrainingConfig:
        """Build and type-check a config; unknown sections or fields raise `ValueError` naming them."""
        if not isinstance(raw, dict):
            raise ValueError(f"{origin}: expected a mapping of sections, got {type(raw).__name__}")
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(raw) - set(sections)
        if unknown:
            raise ValueError(f"{origin}: unknown section(s) {sorted(unknown)}; sections are {list(sections)}")
        hints = typing.get_type_hints(cls)
        built = {}
        for name, values in raw.items():
            section_cls = hints[name]
            values = values or {}
            if not isinstance(values, dict):
                raise ValueError(f"{origin}: section {name!r} must be a mapping")
            known = {f.name for f in dataclasses.fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise ValueError(f"{origin}: unknown field(s) {sorted(f'{name}.{b}' for b in bad)}; see --help")
            field_hints = typing.get_type_hints(section_cls)
            for key, value in values.items():
                if not _type_ok(value, field_hints[key]):
                    raise ValueError(f"{origin}: {name}.{key} = {value!r} is not of type {field_hints[key]}")
            built[name] = section_cls(**values)
        config = cls(**built)
        config.validate()
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise `ValueError` for inconsistent settings (checked before any work starts)."""
        t, d = self.train, self.data
        if not d.train:
            raise ValueError("data.train is empty: give at least one folder or dataset of training images")
        if d.degradation == "paired" and len(d.train_lr) != len(d.train):
            raise ValueError("degradation 'paired' needs one data.train_lr entry per data.train entry")
        if t.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"train.mixed_precision must be no, bf16 or fp16, got {t.mixed_precision!r}")
        if not 0.0 <= t.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
        if t.max_steps < 1 or t.batch_size < 1 or t.gradient_accumulation_steps < 1 or d.patch_size < 1:
            raise ValueError("train.max_steps, train.batch_size, gradient_accumulation_steps, patch_size must be >= 1")
        g = self.gan
        if g.enabled and g.vgg_weights is None and not g.allow_random_vgg:
            raise ValueError(
                "gan.vgg_weights is required for GAN training (a torchvision-layout VGG-19 state dict or a Hub id "
                "such as timm/vgg19.tv_in1k); gan.allow_random_vgg=true runs without one (tests only)"
            )
        if t.loss not in (None, "l1", "charbonnier"):
            raise ValueError(f"train.loss must be l1, charbonnier or null, got {t.loss!r}")
        self.milestones()

    def milestones(self) -> list[int]:
        """`train.lr_milestones` as step numbers."""
        steps = []
        for m in self.train.lr_milestones:
            if isinstance(m, float) and 0.0 < m < 1.0:
                steps.append(round(m * self.train.max_steps))
            elif isinstance(m, int) and m >= 1:
                steps.append(m)
            else:
                raise ValueError(f"train.lr_milestones: {m!r} is neither a fraction in (0, 1) nor a step number >= 1")
        return sorted(steps)


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def bundled_configs() -> list[str]:
    """Names of the configs shipped in `swinir_hf/configs`."""
    folder = importlib.resources.files("swinir_hf") / "configs"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_config_file(spec: str) -> dict:
    """A YAML config file, or a bundled config by name (`tiny_sr_x2` or `tiny_sr_x2.yaml`)."""
    path = Path(spec)
    if not path.is_file():
        bundled = importlib.resources.files("swinir_hf") / "configs" / f"{spec.removesuffix('.yaml')}.yaml"
        if not bundled.is_file():
            raise FileNotFoundError(f"config {spec} not found; bundled configs: {', '.join(bundled_configs())}")
        path = Path(str(bundled))
    return yaml.safe_load(path.read_text()) or {}


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set `section.field[.key]` entries of a raw config from `--a.b value`, `--a.b=value` or `a.b=value` tokens."""
    raw = copy.deepcopy(raw)
    tokens = list(overrides)
    while tokens:
        token = tokens.pop(0)
        if "=" in token:
            key, value = token.split("=", 1)
        elif token.startswith("--") and tokens:
            key, value = token, tokens.pop(0)
        else:
            raise ValueError(f"cannot parse override {token!r}: use --section.field VALUE or section.field=VALUE")
        parts = key.removeprefix("--").split(".")
        if len(parts) < 2:
            raise ValueError(f"override {key!r} must name a section and a field, e.g. train.max_steps")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {key!r}: {part} is not a mapping")
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def fields_help() -> str:
    """Every config field with its default and meaning, for `--help`."""
    lines = ["config fields (section.field: default — meaning):"]
    for section in dataclasses.fields(TrainingConfig):
        section_cls = typing.get_type_hints(TrainingConfig)[section.name]
        for f in dataclasses.fields(section_cls):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            lines.append(f"  {section.name}.{f.name}: {default!r} — {f.metadata['help']}")
    return "\n".join(lines)


# --- model -----------------------------------------------------------------------------------------------------


@dataclass
class InitReport:
    """What `--init-from` did to each tensor of the new model."""

    source: str
    loaded: list[str]
    reinitialised: list[str]
    dropped: list[str]

    def __str__(self) -> str:
        def names(items: list[str]) -> str:
            return ", ".join(items[:6]) + (f", … (+{len(items) - 6})" if len(items) > 6 else "")

        lines = [f"initialised from {self.source}: {len(self.loaded)} tensors loaded"]
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


def build_model(args: ModelArgs, train: TrainArgs) -> tuple[SwinIRForImageRestoration, InitReport | None]:
    """The model to train, its config from the preset / `init_from` / `config` fields, starting weights loaded."""
    source = None
    if args.init_from:
        from .loading import load_model

        source = load_model(args.init_from)
    overrides = dict(args.config)
    if train.loss is not None:
        overrides["loss"] = train.loss
    if train.charbonnier_eps is not None:
        overrides["charbonnier_eps"] = train.charbonnier_eps
    if args.preset is not None:
        config = SwinIRConfig.from_preset(args.preset, args.scale, **overrides)
    else:
        base = source.config.to_dict() if source is not None else {}
        for key in ("architectures", "transformers_version", "model_type", "torch_dtype", "dtype"):
            base.pop(key, None)
        if args.scale is not None:
            overrides["upscale"] = args.scale
        config = SwinIRConfig(**{**base, **overrides})
    model = SwinIRForImageRestoration(config)
    if args.gradient_checkpointing:
        model.checkpoint_layers()
    if source is None:
        return model, None
    return model, transfer_weights(source.state_dict(), model, args.init_from)


def transfer_weights(state: dict[str, torch.Tensor], model: torch.nn.Module, source: str) -> InitReport:
    """Copy every tensor of `state` whose name and shape exist in `model`; report the rest."""
    target = model.state_dict()
    fits = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    model.load_state_dict(fits, strict=False)
    return InitReport(
        source=source,
        loaded=sorted(fits),
        reinitialised=sorted(set(target) - set(fits)),
        dropped=sorted(set(state) - set(fits)),
    )


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
        for ema, weight in zip(self.model.parameters(), model.parameters(), strict=True):
            ema.lerp_(weight.detach(), 1.0 - decay)


@dataclass
class Progress:
    """Checkpointed run state besides model / optimizer / scheduler: the step, validation PSNRs
    (`{"step", "psnr"}`) and logged training losses (`{"step", "loss"}`)."""

    step: int = 0
    history: list = field(default_factory=list)
    losses: list = field(default_factory=list)

    def state_dict(self) -> dict:
        return {"step": self.step, "history": self.history, "losses": self.losses}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.history, self.losses = state["step"], state["history"], state["losses"]


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the torch RNG (stochastic depth, dropout) for one step of one process."""
    return int(np.random.SeedSequence((seed, step, rank)).generate_state(1)[0])


# --- validation and model cards --------------------------------------------------------------------------------


@torch.no_grad()
def validate(model: SwinIRForImageRestoration, images: list, scale: int) -> float:
    """Mean PSNR (dB) on the Y channel (grey models: on grey), border = scale, of uint8-rounded restorations."""
    from .image_processing_swinir import float_to_image
    from .metrics import psnr

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores = []
    for im in images:
        x = torch.from_numpy(np.ascontiguousarray(im.lr.transpose(2, 0, 1)))[None].to(device)
        out = model(pixel_values=x).reconstruction[0].float().cpu().permute(1, 2, 0).numpy()
        restored = float_to_image(out, output_type="np")
        reference = im.hr[..., 0] if im.hr.shape[-1] == 1 else im.hr
        scores.append(psnr(restored, reference, crop_border=scale, test_y_channel=reference.ndim == 3))
    model.train(was_training)
    return float(np.mean(scores))


def baseline_psnr(images: list, scale: int) -> float:
    """Mean PSNR-Y of the trivial restoration: MATLAB bicubic upscaling for SR, the degraded input otherwise."""
    from .degradations import imresize
    from .image_processing_swinir import float_to_image
    from .metrics import psnr

    scores = []
    for im in images:
        up = imresize(im.lr, scale) if scale > 1 else im.lr
        restored = float_to_image(up, output_type="np")
        reference = im.hr[..., 0] if im.hr.shape[-1] == 1 else im.hr
        scores.append(psnr(restored, reference, crop_border=scale, test_y_channel=reference.ndim == 3))
    return float(np.mean(scores))


def model_card(
    cfg: TrainingConfig,
    model: SwinIRForImageRestoration,
    progress: Progress,
    baseline: float | None,
    init: InitReport | None,
    model_id: str,
    **results: Any,
) -> str:
    """README.md for a saved model (`model_card.render_model_card`) with the training data, recipe, steps and the
    validation curve; `results` (`paper_results`, `measured_results`, `protocol`) go to the card's results."""
    from .model_card import render_model_card

    c, t, d = model.config, cfg.train, cfg.data
    kind = {
        "bicubic": "MATLAB bicubic downscaling",
        "noise": f"additive Gaussian noise, σ = {d.noise_sigma} grey levels",
        "jpeg": f"JPEG, quality {d.jpeg_quality}",
        "real": "BSRGAN-style practical degradation (blur, resize, noise, JPEG; random order, two rounds)",
        "paired": "pre-made LR/HR pairs",
    }[d.degradation]
    recipe = [
        f"- data: {', '.join(map(str, d.train))}" + (f" (LR: {', '.join(d.train_lr)})" if d.train_lr else ""),
        f"- degradation: {kind}; {d.patch_size}×{d.patch_size} input patches, flips {d.flip}, rotations {d.rot90}",
        f"- {progress.step} of {t.max_steps} steps, batch {t.batch_size}, Adam lr {t.learning_rate} × {t.lr_gamma} "
        f"at steps {cfg.milestones()}, {c.loss} loss"
        + (f", EMA {t.ema_decay} (these are the EMA weights)" if t.ema_decay else "")
        + f", precision {t.mixed_precision}, seed {t.seed}",
    ]
    if cfg.gan.enabled:
        g = cfg.gan
        recipe.append(
            f"- GAN: pixel L1 × {g.pixel_weight} + VGG-19 perceptual × {g.perceptual_weight} "
            f"({g.perceptual_layers}) + GAN × {g.gan_weight}; VGG weights: {g.vgg_weights}"
        )
    if init is not None:
        recipe.append(
            f"- initialised from `{init.source}` ({len(init.loaded)} tensors loaded, "
            f"{len(init.reinitialised)} re-initialised, {len(init.dropped)} dropped)"
        )
    description = "Trained with `swinir_hf.train` (the swinir-hf package).\n\n" + "\n".join(recipe)
    if progress.history:
        rows = [f"| {'bicubic' if c.upscale > 1 else 'input'} | {baseline:.2f} |"] if baseline is not None else []
        rows += [f"| step {h['step']} | {h['psnr']:.2f} |" for h in progress.history]
        channel = "Y channel" if c.num_channels == 3 else "grey channel"
        description += (
            f"\n\nValidation on {d.val} during training (PSNR in dB, {channel}, border {c.upscale}):\n\n"
            "| model | PSNR |\n|---|---:|\n" + "\n".join(rows)
        )
    task = (c.task or "restoration").replace("_", " ")
    title = f"SwinIR {task}" + (f" x{c.upscale}" if c.upscale > 1 else "") + f" ({progress.step} steps)"
    return render_model_card(
        c,
        model_id=model_id,
        title=title,
        description=description,
        training_data=[Path(str(s)).name for s in d.train],
        num_parameters=model.num_parameters(),
        tags=["swinir-hf-trained"],
        remote_code=False,  # the trainer saves weights, config and processor only
        **results,
    )


def save_model(folder: Path, model: SwinIRForImageRestoration, card: str) -> None:
    """save_pretrained (safetensors + config), the image processor and the model card into `folder`."""
    from .image_processing_swinir import SwinIRImageProcessor

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    SwinIRImageProcessor(num_channels=model.config.num_channels).save_pretrained(folder)
    (folder / "README.md").write_text(card)


def push_to_hub(folder: Path, repo_id: str, message: str) -> str:
    """Create `repo_id` if needed and upload the model files of `folder`; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), allow_patterns=list(MODEL_FILES), commit_message=message
    )
    return str(getattr(info, "commit_url", info))


# --- checks before the first step, and interrupts ----------------------------------------------------------------

# What a run writes into its folder only once it has started training (earlier versions wrote
# training_config.yaml and logs/ first): a folder holding nothing else is a run that never took a step.
_NO_WORK_YET = ("training_config.yaml", "logs", "checkpoints")


def _fresh(out: Path) -> bool:
    """Whether `out` may be trained into without --overwrite / --resume: missing, empty, or left by a run that
    failed before its first checkpoint (no entries but `_NO_WORK_YET`, no checkpoint)."""
    if not out.exists():
        return True
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder: choose another train.output_dir")
    return all(p.name in _NO_WORK_YET for p in out.iterdir()) and not _checkpoints(out)


def check_push_access(repo_id: str) -> None:
    """Raise `ValueError` (saying what to do) unless this machine can push to `repo_id` on the Hub: online, the Hub
    reachable, a token whose user or organisations own the repo's namespace."""
    from huggingface_hub import HfApi, constants

    from .loading import hub_reachable, network_errors

    later = f"or drop --push-to-hub and upload the saved folder later (`hf upload {repo_id} OUTPUT_DIR`)"
    if constants.HF_HUB_OFFLINE:
        raise ValueError(f"--push-to-hub {repo_id}: HF_HUB_OFFLINE is set, so nothing can be pushed: unset it, {later}")
    if not hub_reachable():
        raise ValueError(
            f"--push-to-hub {repo_id}: the Hub ({constants.ENDPOINT}) cannot be reached: retry when it can, {later}"
        )
    try:
        me = HfApi().whoami()
    except network_errors() as err:
        raise ValueError(
            f"--push-to-hub {repo_id}: no valid Hub token ({err}): run `hf auth login` or set HF_TOKEN, {later}"
        ) from err
    names = {me.get("name")} | {org.get("name") for org in me.get("orgs") or []}
    namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
    if namespace not in names:
        raise ValueError(
            f"--push-to-hub {repo_id}: the token's user {me.get('name')!r} is not {namespace!r} nor a member of it "
            f"(it may push to {', '.join(sorted(n for n in names if n))}), {later}"
        )


def check_resumable(checkpoint: Path, model: SwinIRForImageRestoration) -> None:
    """Raise `ValueError` when `checkpoint`'s model (its `model/` folder) has other parameters or shapes than
    `model`, i.e. the run's architecture was changed since: naming the config fields that differ."""
    from safetensors import safe_open

    weights = checkpoint / "model" / "model.safetensors"
    if not weights.is_file():
        return  # a checkpoint of an older version: accelerate's own load reports a mismatch
    with safe_open(str(weights), framework="pt") as f:
        stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if stored == wanted:
        return
    changed = []
    config_file = checkpoint / "model" / "config.json"
    if config_file.is_file():
        old, new = json.loads(config_file.read_text()), model.config.to_dict()
        keys = sorted((set(old) | set(new)) - {"architectures", "transformers_version", "dtype", "torch_dtype"})
        changed = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    raise ValueError(
        f"cannot resume from {checkpoint}: its model has another architecture than this config ("
        + (f"changed: {', '.join(changed)}; " if changed else "")
        + f"{len(differ)} parameters differ, e.g. {', '.join(differ[:3])}). Resume with the settings the run was "
        "started with (its training_config.yaml), or train into a new train.output_dir"
    )


def check_readable(items: list, channels: int, option: str) -> None:
    """Raise `ValueError` unless at least one of `items` (from `load_images`) decodes: a folder of only broken
    files would otherwise fail inside the data loader at the first step."""
    from .data import _DECODE_ERRORS, decode_image, item_name

    first_error = None
    for item in items:
        try:
            decode_image(item, channels)
            return
        except _DECODE_ERRORS as err:
            first_error = first_error or f"{item_name(item)}: {err}"
    raise ValueError(f"{option}: none of its {len(items)} images can be decoded (e.g. {first_error})")


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C / SIGTERM to the main process, which stops cleanly (and ends them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class TrainingInterrupted(Exception):
    """SIGINT / SIGTERM stopped a run after step `step`, saved as `checkpoint`."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"{name}: stopped after step {step}, saved in {checkpoint}; continue with --resume latest")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class StopSignals:
    """While active (main thread only), SIGINT and SIGTERM ask the loop to stop after the step in progress instead
    of killing it mid-step; a second SIGINT raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        logger.warning(f"{signal.Signals(signum).name}: stopping after this step with a checkpoint (Ctrl-C again: now)")

    def requested(self, accelerator: Any) -> bool:
        """Whether any process got a stop signal (all processes agree, so that they checkpoint together)."""
        if accelerator.num_processes == 1:
            return self.signal is not None
        flag = torch.tensor([float(self.signal or 0)], device=accelerator.device)
        flag = accelerator.reduce(flag, reduction="sum")
        if flag.item() and self.signal is None:
            self.signal = signal.SIGTERM
        return bool(flag.item())


# --- the loop --------------------------------------------------------------------------------------------------


def _checkpoints(output_dir: Path) -> list[Path]:
    return sorted((output_dir / "checkpoints").glob("step-[0-9]*[0-9]"))


def resolve_resume(resume: str, output_dir: Path) -> Path | None:
    """`latest` → the newest checkpoint under output_dir (None if there is none), else a checkpoint folder."""
    if resume == "latest":
        found = _checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / "progress.json").is_file():
        raise FileNotFoundError(f"{resume} is not a checkpoint folder (no progress.json)")
    return path


def train(
    cfg: TrainingConfig, resume: str | None = None, push_to_hub_repo: str | None = None, overwrite: bool = False
) -> Path:
    """Run training as configured; returns the output folder, which then holds the final model.

    SIGINT (Ctrl-C) / SIGTERM stop the run after the step in progress, with a checkpoint: `TrainingInterrupted`.
    A second Ctrl-C stops at once (KeyboardInterrupt), keeping the checkpoints saved so far.
    """
    from accelerate import Accelerator

    from .extras import require

    t = cfg.train
    if t.report_to == "tensorboard":  # accelerate's tracker would only fail at its first log
        require("tensorboard", "train", "logging to TensorBoard (train.report_to: tensorboard)")
    out = Path(t.output_dir)
    resume_from = None
    if resume:
        resume_from = resolve_resume(resume, out)
    elif not _fresh(out) and not overwrite:
        raise FileExistsError(f"{out} is not empty: pass --resume latest to continue it or --overwrite to reuse it")
    if push_to_hub_repo:
        check_push_access(push_to_hub_repo)  # now, not after hours of training
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    if t.tune_allocator:
        from .restoration import tune_allocator

        tune_allocator()

    # Several processes without a GPU (torchrun / `accelerate launch --multi_gpu` on a CPU machine): accelerate only
    # picks its multi-CPU (gloo) mode when told to use the CPU.
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    accelerator = Accelerator(
        cpu=multi_cpu,
        mixed_precision=t.mixed_precision,
        log_with=None if t.report_to == "none" else t.report_to,
        project_dir=str(out / "logs"),
    )
    handler = logging.StreamHandler()  # bound to this call's stderr; removed at the end
    handler.setFormatter(logging.Formatter("%(message)s"))
    if accelerator.is_main_process:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        return _train(cfg, accelerator, out, resume, resume_from, push_to_hub_repo)
    finally:
        logger.removeHandler(handler)
        accelerator.end_training()
        if accelerator.num_processes == 1:
            # accelerate keeps one global state per process; clear it so that a later `train` call in this process
            # (a notebook, tests) may use another precision.
            from accelerate.state import AcceleratorState

            AcceleratorState._reset_state(reset_partial_state=True)


def _train(
    cfg: TrainingConfig,
    accelerator: Any,
    out: Path,
    resume: str | None,
    resume_from: Path | None,
    push_to_hub_repo: str | None,
) -> Path:
    """`train` from the accelerator on: everything that can fail on the inputs is checked before the first step,
    and nothing is written into `out` before it."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from .data import Degradation, StepBatchSampler, TrainingPatches, load_images, pair_lr_images, validation_images

    t, d = cfg.train, cfg.data
    card_id = push_to_hub_repo or str(out)
    main = accelerator.is_main_process

    set_seed(t.seed)  # identical initialisation on every process
    model, init_report = build_model(cfg.model, t)
    if resume_from is not None:
        check_resumable(resume_from, model)
    if init_report is not None and main:
        logger.info(str(init_report))
    mc = model.config
    channels, scale = mc.num_channels, mc.upscale

    def degradation(val: bool) -> Degradation:
        sigma, quality = d.noise_sigma, d.jpeg_quality
        if val:
            sigma = d.val_noise_sigma if d.val_noise_sigma is not None else _middle(sigma, integer=False)
            quality = d.val_jpeg_quality if d.val_jpeg_quality is not None else _middle(quality, integer=True)
        return Degradation(d.degradation, scale, sigma, quality)

    hr_items, lr_items = [], [] if d.degradation == "paired" else None
    for i, source in enumerate(d.train):
        items = load_images(source, d.split, d.cache_dir)
        hr_items += items
        if lr_items is not None:
            lr_items += pair_lr_images(items, d.train_lr[i], scale, d.split, d.cache_dir)
    check_readable(hr_items, channels, "data.train")
    dataset = TrainingPatches(hr_items, d.patch_size, degradation(False), channels, t.seed, lr_items, d.flip, d.rot90)

    val_images, baseline = None, None
    if d.val and main:
        val_hr = load_images(d.val, d.val_split, d.cache_dir)[: d.val_max_images]
        val_lr = pair_lr_images(val_hr, d.val_lr, scale, d.val_split, d.cache_dir) if d.val_lr else None
        kind = degradation(True) if d.degradation != "paired" or d.val_lr else Degradation("bicubic", scale)
        val_images = validation_images(val_hr, kind, channels, t.seed, val_lr)
        baseline = baseline_psnr(val_images, scale)

    gan = None
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=t.learning_rate, betas=tuple(t.adam_betas), weight_decay=t.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.milestones(), gamma=t.lr_gamma)
    ema = EMA(model, t.ema_decay) if t.ema_decay else None
    progress = Progress()
    if cfg.gan.enabled:
        gan = _build_gan(cfg.gan, channels)
        model, optimizer, gan["disc"], gan["optimizer"] = accelerator.prepare(
            model, optimizer, gan["disc"], gan["optimizer"]
        )
        gan["perceptual"].to(accelerator.device)
    else:
        model, optimizer = accelerator.prepare(model, optimizer)
    # The scheduler is stepped by hand once per optimizer step (accelerate's wrapper steps it once per process).
    accelerator.register_for_checkpointing(scheduler)
    if ema is not None:
        ema.model.to(accelerator.device)
        accelerator.register_for_checkpointing(ema.model)

    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        progress.load_state_dict(json.loads((resume_from / "progress.json").read_text()))
        if main:
            logger.info(f"resumed from {resume_from} at step {progress.step}")
    elif resume and main:
        logger.info(f"no checkpoint under {out / 'checkpoints'}: starting from step 0")
    start = progress.step
    if main:  # every input is checked: only now does the run write into its folder
        out.mkdir(parents=True, exist_ok=True)
        (out / "training_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    sampler = StepBatchSampler(
        t.batch_size,
        t.gradient_accumulation_steps,
        accelerator.num_processes,
        accelerator.process_index,
        start,
        t.max_steps,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=d.num_workers,
        pin_memory=accelerator.device.type == "cuda",
        # Worker seeds come from this generator, not the global RNG, so resuming does not shift any random stream.
        generator=torch.Generator().manual_seed(t.seed),
        persistent_workers=False,
        worker_init_fn=_ignore_stop_signals,
    )
    if main:
        accelerator.init_trackers(t.project_name, config=_flat(cfg.to_dict()))
        logger.info(
            f"training {sum(p.numel() for p in params):,} parameters for steps {start}..{t.max_steps} on "
            f"{accelerator.num_processes} process(es), {accelerator.device}, {len(dataset)} images"
        )
    unwrapped = accelerator.unwrap_model(model)
    scored = ema.model if ema is not None else unwrapped

    def run_validation(step: int) -> None:
        if val_images is None:
            return
        value = validate(scored, val_images, scale)
        progress.history = [h for h in progress.history if h["step"] != step] + [{"step": step, "psnr": value}]
        accelerator.log({"val/psnr_y": value}, step=step)
        loss_text = f"loss {last_loss:.4f} " if np.isfinite(last_loss) else ""  # no loss logged yet
        bar.set_postfix_str(f"{loss_text}val PSNR {value:.2f} dB")

    def save_checkpoint(step: int) -> None:
        final = out / "checkpoints" / f"step-{step:08d}"
        tmp = final.with_name(final.name + ".tmp")
        if main and tmp.exists():
            shutil.rmtree(tmp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        if main:
            (tmp / "progress.json").write_text(json.dumps(progress.state_dict()))
            save_model(tmp / "model", scored, model_card(cfg, scored, progress, baseline, init_report, card_id))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)  # a killed save never looks like a finished checkpoint
            for old in _checkpoints(out)[: -t.keep_checkpoints]:
                shutil.rmtree(old)
        accelerator.wait_for_everyone()

    def _step(step: int) -> None:
        """One optimizer step (all micro-batches), then logging, validation and checkpointing as due."""
        nonlocal last_loss, loss_sum, window_start, window_steps
        torch.manual_seed(step_seed(t.seed, step, accelerator.process_index))
        model.train()
        for a in range(accum):
            batch = next(batches)
            x = batch["pixel_values"].to(accelerator.device, non_blocking=True)
            y = batch["labels"].to(accelerator.device, non_blocking=True)
            last = a == accum - 1
            with nullcontext() if last else accelerator.no_sync(model):
                if gan is None:
                    loss = model(pixel_values=x, labels=y).loss
                else:
                    loss = _gan_step(accelerator, model, gan, cfg.gan, x, y, accum, last)
                accelerator.backward(loss / accum)
            loss_sum += loss.detach() / accum
        if t.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            if gan is not None:
                accelerator.clip_grad_norm_(gan["disc"].parameters(), t.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if gan is not None:
            gan["optimizer"].step()
            gan["optimizer"].zero_grad(set_to_none=True)
        scheduler.step()
        if ema is not None:
            ema.update(unwrapped, step)
        progress.step = step + 1
        bar.update(1)
        window_steps += 1

        done = progress.step == t.max_steps
        if progress.step % t.log_every == 0 or done:
            last_loss = accelerator.reduce(loss_sum, reduction="mean").item() / window_steps
            progress.losses.append({"step": progress.step, "loss": last_loss})
            rate = window_steps / (time.perf_counter() - window_start)
            accelerator.log(
                {"train/loss": last_loss, "train/lr": scheduler.get_last_lr()[0], "train/steps_per_s": rate},
                step=progress.step,
            )
            psnr_text = f" val PSNR {progress.history[-1]['psnr']:.2f} dB" if progress.history else ""
            bar.set_postfix_str(f"loss {last_loss:.4f}{psnr_text}")
            loss_sum.zero_()
            window_start, window_steps = time.perf_counter(), 0
        if main and (done or t.validate_every and progress.step % t.validate_every == 0):
            run_validation(progress.step)
        if done or t.checkpoint_every and progress.step % t.checkpoint_every == 0:
            save_checkpoint(progress.step)

    last_loss = float("nan")
    bar = tqdm(total=t.max_steps, initial=start, disable=not main, dynamic_ncols=True, desc="train")
    if main and start == 0 and t.validate_every:  # 0: only at the end
        run_validation(0)
    batches = iter(loader)
    accum = t.gradient_accumulation_steps
    loss_sum = torch.zeros((), device=accelerator.device)
    window_start, window_steps = time.perf_counter(), 0
    with StopSignals() as stop:
        for step in range(start, t.max_steps):
            _step(step)
            if stop.requested(accelerator):
                if not (t.checkpoint_every and progress.step % t.checkpoint_every == 0 or progress.step == t.max_steps):
                    save_checkpoint(progress.step)
                bar.close()
                raise TrainingInterrupted(stop.signal, progress.step, _checkpoints(out)[-1])
    bar.close()

    if main:
        save_model(out, scored, model_card(cfg, scored, progress, baseline, init_report, card_id))
        summary = {"baseline_psnr": baseline, **progress.state_dict()}
        (out / "training_summary.json").write_text(json.dumps(summary, indent=2))
        logger.info(
            f"saved the model to {out}"
            + (f" (val PSNR {progress.history[-1]['psnr']:.2f} dB)" if progress.history else "")
        )
        if push_to_hub_repo:
            url = push_to_hub(out, push_to_hub_repo, f"swinir_hf.train: step {progress.step}")
            logger.info(f"pushed to {url}")
    accelerator.wait_for_everyone()
    return out


def _middle(value: float | list, integer: bool) -> float:
    if isinstance(value, (int, float)):
        return value
    mid = (value[0] + value[1]) / 2
    return round(mid) if integer else mid


def _flat(d: dict, prefix: str = "") -> dict:
    """Nested config → flat {"section/field": scalar} for trackers (lists and dicts as strings)."""
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict) and not prefix:
            flat.update(_flat(value, f"{key}/"))
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = str(value)
    return flat


def _build_gan(args: GanArgs, channels: int) -> dict:
    from .gan import PerceptualLoss, UNetDiscriminator

    disc = UNetDiscriminator(channels, args.discriminator_channels)
    try:
        perceptual = PerceptualLoss(args.perceptual_layers, args.vgg_weights)
    except (OSError, ValueError) as err:  # CheckpointError, ModelNotAvailableError, a malformed repo id
        raise ValueError(f"gan.vgg_weights {args.vgg_weights!r}: {err}") from err
    return {
        "disc": disc,
        "optimizer": torch.optim.Adam(disc.parameters(), lr=args.discriminator_lr, betas=(0.9, 0.99)),
        "perceptual": perceptual,
    }


def _gan_step(
    accelerator: Any, model: Any, gan: dict, args: GanArgs, x: torch.Tensor, y: torch.Tensor, accum: int, last: bool
) -> torch.Tensor:
    """Generator loss of one micro-batch (returned) after backpropagating the discriminator's loss."""
    from torch.func import functional_call

    from .gan import gan_loss

    sr = model(pixel_values=x).reconstruction
    disc = gan["disc"]
    plain_disc = accelerator.unwrap_model(disc)
    # The generator's adversarial term must not leave gradients on the discriminator: call it with detached weights.
    frozen = {name: p.detach() for name, p in plain_disc.named_parameters()}
    adversarial = gan_loss(functional_call(plain_disc, frozen, (sr,)), real=True)
    loss = (
        args.pixel_weight * torch.nn.functional.l1_loss(sr, y)
        + args.perceptual_weight * gan["perceptual"](sr, y)
        + args.gan_weight * adversarial
    )
    with nullcontext() if last else accelerator.no_sync(disc):
        logits = disc(torch.cat([y, sr.detach()]))
        real, fake = logits.chunk(2)
        accelerator.backward((gan_loss(real, True) + gan_loss(fake, False)) / (2 * accum))
    return loss


# --- command line ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swinir_hf.train",
        description=__doc__.split("\n\n")[0],
        epilog=f"bundled configs: {', '.join(bundled_configs())}\n\n{fields_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="YAML file or bundled config name")
    parser.add_argument("--resume", help="'latest' (newest checkpoint in the output folder) or a checkpoint folder")
    parser.add_argument("--init-from", help="starting weights (same as model.init_from)")
    parser.add_argument("--output-dir", help="same as train.output_dir")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the final model to this Hub repo")
    parser.add_argument("--overwrite", action="store_true", help="reuse a non-empty output folder")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    try:
        raw = read_config_file(args.config)
        extra = [f"model.init_from={args.init_from}"] if args.init_from else []
        extra += [f"train.output_dir={args.output_dir}"] if args.output_dir else []
        cfg = TrainingConfig.from_dict(apply_overrides(raw, rest + extra), origin=args.config)
    except (ValueError, FileNotFoundError, yaml.YAMLError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        return 0
    try:
        train(cfg, resume=args.resume, push_to_hub_repo=args.push_to_hub, overwrite=args.overwrite)
    except TrainingInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print("interrupted: stopped at once; the checkpoints saved so far are kept (--resume latest)", file=sys.stderr)
        return 130
    except (FileExistsError, FileNotFoundError, ValueError, OSError, MissingExtraError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
