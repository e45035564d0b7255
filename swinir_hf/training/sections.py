"""The training config's sections (`model`, `data`, `train`, `gan`) as dataclasses: each field's type, default and
help (its attribute docstring, which jsonargparse shows as `--help`). The whole config, its checks and how it is read
from files and the command line: `config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..degradations.levels import LEVELS

# The VGG-19 layers the perceptual loss can take: the index in torchvision's `features` of each conv output
# (pre-activation), and their weights in the authors' real-world recipe (`gan.perceptual_layers`' default; `gan`
# computes the loss). Here, not in `gan`, so that reading a config (`--help`, a config's errors) needs no torch.
VGG19_LAYERS = MappingProxyType({"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34})
PERCEPTUAL_LAYER_WEIGHTS = MappingProxyType(
    {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
)


@dataclass
class ModelArgs:
    """What network to train and where its starting weights come from."""

    preset: str | None = None
    """a SwinIRConfig preset: classical_sr, lightweight_sr, real_sr, real_sr_large, gray_dn, color_dn, jpeg_car,
    color_jpeg_car; null to take the architecture from init_from or config"""
    scale: int | None = None
    """upscale factor of the super-resolution presets, as their heads build it (classical_sr: 3 or a power of 2 (2,
    4, 8, 16, ...); lightweight_sr: any integer >= 2; real_sr, real_sr_large: 2 or 4); without a preset, the
    upscale set on the init_from / config architecture"""
    config: dict[str, Any] = field(default_factory=dict)
    """SwinIRConfig fields set on top of the preset / init_from config (e.g. embed_dim)"""
    init_from: str | None = None
    """starting weights: a save_pretrained folder, a Hub id or an authors' .pth; tensors whose name and shape fit
    are loaded, the rest re-initialised (a report lists both)"""
    gradient_checkpointing: bool = False
    """recompute Swin layers in the backward pass: less memory, slower steps"""


@dataclass
class DataArgs:
    """Training and validation images and how inputs are degraded."""

    train: list[str] = field(default_factory=list)
    """training images: folders (plain or imagefolder layout), imagefolder:DIR, save_to_disk folders, Hub ids"""
    train_lr: list[str] = field(default_factory=list)
    """for degradation 'paired': one LR folder / dataset per `train` entry"""
    split: str = "train"
    """split of Hub / on-disk datasets used for training"""
    val: str | None = None
    """validation images (same kinds as `train`); null disables validation"""
    val_lr: str | None = None
    """LR images paired with `val` (else made from `val` with the degradation, bicubic for 'paired'); unused while
    `val` is null"""
    val_split: str = "validation"
    """split of a Hub / on-disk validation dataset"""
    val_max_images: int | None = None
    """score only the first N validation images"""
    patch_size: int = 48
    """model input patch side in pixels, a multiple of the model's window_size (targets are patch_size × scale)"""
    degradation: str = "bicubic"
    """bicubic | noise | jpeg | real (BSRGAN-style) | real-esrgan (Real-ESRGAN's second-order) | paired (LR images given
    in train_lr / val_lr)"""
    noise_sigma: float | list[int | float] | None = None
    """degradation 'noise' only: Gaussian noise σ in grey levels, one value or [low, high] per sample; null: 25"""
    jpeg_quality: int | list[int] | None = None
    """degradation 'jpeg' only: JPEG quality, one value or [low, high] per sample; null: 40"""
    val_noise_sigma: float | None = None
    """degradation 'noise' only: σ for validation; null: noise_sigma or the middle of its range"""
    val_jpeg_quality: int | None = None
    """degradation 'jpeg' only: JPEG quality for validation; null: jpeg_quality or its middle"""
    sharpen_target: bool = False
    """unsharp-mask the training targets as Real-ESRGAN does (weight 0.5, Gaussian σ 8 px over 51 × 51 px, only where
    the detail passes 10 grey levels), the inputs still made from the unsharpened image; validation targets are kept.
    Super-resolution degradations only (bicubic, real, real-esrgan, paired)"""
    flip: bool = True
    """random horizontal flips"""
    rot90: bool = True
    """random 90° rotations"""
    num_workers: int = 2
    """DataLoader worker processes per training process (0: load in the main process)"""
    cache_dir: str | None = None
    """`datasets` cache folder for Hub datasets"""

    def __post_init__(self) -> None:
        """The one place levels are resolved: the degradation's own level, left null, becomes its default; another
        degradation's level at that default becomes null. Configs saved before the levels defaulted to null (every
        earlier run's training_config.yaml) record both defaults whatever the degradation, and still load; any
        other level the degradation does not use is refused (`TrainingConfig.validate`), not silently ignored."""
        for kind, level in LEVELS.items():
            value = getattr(self, level.field)
            if kind == self.degradation and value is None:
                setattr(self, level.field, level.default)
            elif kind != self.degradation and value == level.default:
                setattr(self, level.field, None)


@dataclass
class TrainArgs:
    """Optimisation, precision, checkpointing and logging."""

    output_dir: str = "runs/swinir"
    """where the final model, checkpoints/ and logs/ go"""
    seed: int = 0
    """seed of the initialisation, the data stream and stochastic depth"""
    max_steps: int = 500_000
    """optimizer steps"""
    batch_size: int = 32
    """images per optimizer step, summed over processes and accumulation steps"""
    gradient_accumulation_steps: int = 1
    """micro-batches per optimizer step (per process)"""
    learning_rate: float = 2e-4
    """Adam learning rate"""
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """Adam betas"""
    weight_decay: float = 0.0
    """Adam weight decay"""
    lr_milestones: list[int | float] = field(default_factory=lambda: [0.5, 0.8, 0.9, 0.95])
    """MultiStepLR milestones: fractions of max_steps (floats < 1) or step numbers (ints)"""
    lr_gamma: float = 0.5
    """learning-rate factor at each milestone"""
    warmup_steps: int = 0
    """raise the learning rate linearly over the first N steps, step s (from 0) at (s + 1) / N of the schedule's
    (BasicSR's warmup_iter): gentler first steps, for a fine-tune (--init-from) above all; 0: no warmup"""
    loss: str | None = None
    """pixel loss: l1 | charbonnier; null keeps the model config's (L1 for SR). A GAN run's is L1 (gan.pixel_weight)"""
    charbonnier_eps: float | None = None
    """Charbonnier epsilon (only with the charbonnier loss); null keeps the model config's (not for GAN runs)"""
    max_grad_norm: float = 0.0
    """clip the gradient norm to this; 0 disables clipping"""
    ema_decay: float = 0.999
    """decay of the weight EMA that is validated and saved; 0 disables EMA"""
    mixed_precision: str | None = None
    """no | bf16 | fp16 (fp16 needs a GPU); bf16 also speeds up recent CPUs; null: accelerate's setting (the
    launcher's mixed_precision option, `accelerate config`), else no"""
    compile: str | None = None
    """torch.compile backend for the training steps: inductor (fused kernels: minutes more at the start, then often
    faster steps on a GPU), cudagraphs, aot_eager (no speed-up; checks that the model compiles), ...; null: eager.
    Checkpoints and saved models are the same as without"""
    compile_mode: str | None = None
    """torch.compile mode of train.compile inductor (other backends take none): default | reduce-overhead (CUDA
    graphs: fewer kernel launches) | max-autotune | max-autotune-no-cudagraphs; null: default"""
    compile_regions: bool = False
    """with train.compile: compile each Swin layer on its own (regional compilation) instead of the whole model. The
    layers share a few compiled graphs (one per kind: shifted or not, stochastic depth or not, head count), so
    compiling takes a fraction of the whole model's time; the convolutions, head and loss run eagerly, and so does
    validation. Weights keep their names"""
    num_threads: int | None = None
    """torch CPU threads per process while the run lasts; null: torch's default"""
    tune_allocator: bool = True
    """keep freed memory mapped (glibc mallopt, see inference.memory.tune_allocator): faster CPU steps"""
    checkpoint_every: int = 5000
    """save a resumable checkpoint (and a loadable model) every N steps; 0: never"""
    checkpoint_minutes: float = 0.0
    """also save one when this many minutes of wall time have passed since the last save (or the start), so that
    a run of unknown speed on a machine lent for a while checkpoints regularly; 0: by steps only"""
    keep_checkpoints: int = 3
    """number of most recent checkpoints kept"""
    validate_every: int = 5000
    """validate every N steps (and at the start and the end); 0: only at the end"""
    log_every: int = 100
    """log the training loss every N steps"""
    report_to: str = "tensorboard"
    """accelerate tracker: tensorboard | wandb | mlflow | ... | none"""
    project_name: str = "swinir"
    """tracker project / run name"""
    license: str | None = None
    """Hub license id of the trained weights, for their model card (which a push publishes); null: apache-2.0 (the
    SwinIR code's), the card saying it is swinir-hf's default, not one you chose"""
    license_name: str | None = None
    """with license other: the id the Hub shows for your terms (e.g. my-license-1.0), the card's license_name"""
    license_link: str | None = None
    """with license other: where to read your terms (LICENSE, a file in the repo, or a URL), the card's license_link"""


@dataclass
class GanArgs:
    """Adversarial + perceptual training (real-world SR)."""

    enabled: bool = False
    """train with a U-Net discriminator, perceptual and GAN losses"""
    vgg_weights: str | None = None
    """torchvision-layout VGG-19 state dict (.pth / .safetensors) or Hub id (e.g. timm/vgg19.tv_in1k)"""
    allow_random_vgg: bool = False
    """run with a random VGG when vgg_weights is null (tests only)"""
    pixel_weight: float = 1.0
    """weight of the L1 pixel loss"""
    perceptual_weight: float = 1.0
    """weight of the VGG-19 perceptual loss"""
    gan_weight: float = 0.1
    """weight of the generator's GAN loss"""
    perceptual_layers: dict[str, float] = field(default_factory=lambda: dict(PERCEPTUAL_LAYER_WEIGHTS))
    """VGG-19 layers (pre-activation) and their weights in the perceptual loss"""
    discriminator_channels: int = 64
    """channels of the discriminator's first level"""
    discriminator_lr: float = 1e-4
    """discriminator Adam learning rate, × train.lr_gamma at each of train.lr_milestones, as the generator's"""
    init_discriminator_from: str | None = None
    """an earlier GAN run's folder (its newest checkpoint) or one of its checkpoints: the discriminator starts from its
    weights, loaded whole (not its optimizer state), as BasicSR's pretrain_network_d; null: untrained"""


def check_no_null_name(config: Any) -> None:
    """Raise `ValueError` for a null in a field typed str (train.output_dir, data.split, train.report_to, ...) of
    `config` (a `TrainingConfig`): such a field has no null to mean, and jsonargparse let a config file's through (a
    run failed with a traceback, or read no split). A command line's `null` there is YAML null too (`cli`)."""
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for f in dataclasses.fields(values):
            if f.type == "str" and getattr(values, f.name) is None:
                # A null tracker most likely meant none: say its spelling (the tracker check said it before).
                off = "; none: no tracker" if (section.name, f.name) == ("train", "report_to") else ""
                raise ValueError(
                    f"{section.name}.{f.name} takes a name, not null: give one (the default is {f.default}{off})"
                )
