"""The training config: its sections (`model`, `data`, `train`, `gan`) as dataclasses, bundled configs
(`swinir_hf/configs/*.yaml`) and `section.field=value` overrides."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.resources
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..models.configuration_swinir import PRESETS


def _field(default: Any, help: str) -> Any:
    """A dataclass field with a help text (shown by `--help`); mutable defaults are copied per instance."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


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


def flat_config(d: dict, prefix: str = "") -> dict:
    """Nested config → flat {"section/field": scalar} for trackers (lists and dicts as strings)."""
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict) and not prefix:
            flat.update(flat_config(value, f"{key}/"))
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = str(value)
    return flat


TRAIN_USAGE = "Train or fine-tune SwinIR: `accelerate launch -m swinir_hf.train --config CONFIG.yaml [overrides]`."


def build_parser() -> argparse.ArgumentParser:
    """`python -m swinir_hf.train`'s options; the config's own fields come as `--section.field value` overrides."""
    parser = argparse.ArgumentParser(
        prog="python -m swinir_hf.train",
        description=TRAIN_USAGE,
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
