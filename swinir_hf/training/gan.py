"""Adversarial training parts for real-world SR: a U-Net discriminator with spectral normalisation, VGG-19
features for the perceptual loss (built here, weights from a user-supplied state dict), and the loss terms.

The weighting follows the SwinIR authors' real-world training (BSRGAN / Real-ESRGAN recipe): pixel L1 × 1.0 +
perceptual L1 on VGG-19 conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 (before ReLU, weights 0.1, 0.1, 1, 1, 1) × 1.0
+ GAN × 0.1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..console import shown_name
from .sections import PERCEPTUAL_LAYER_WEIGHTS, VGG19_LAYERS

if TYPE_CHECKING:
    from .sections import GanArgs
    from .warm_start import InitReport

# torchvision's `vgg19().features` layout: channels per conv, "M" = 2×2 max-pool. Indices into the Sequential
# below match torchvision's, so its (and timm's `vgg19.tv_in1k`) state-dict keys `features.N.*` load directly.
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The gain of the authors' orthogonal discriminator initialisation (KAIR's train_swinir_sr_realworld_x4_gan.json,
# netD: init_type "orthogonal", init_gain 0.2), which the package's GAN stage follows.
DISCRIMINATOR_INIT_GAIN = 0.2


class UNetDiscriminator(nn.Module):
    """U-Net discriminator with spectral normalisation: a per-pixel real/fake logit map of the input's size.

    Three stride-2 downsampling convs, three bilinear upsampling stages with skip connections, two refining
    convs and a 1-channel output; every conv but the first and last is spectrally normalised. Initialised as the
    authors' (`_authors_init`); unlike theirs, the normalised convs have biases (which checkpoints hold).

    Args:
        num_channels: image channels.
        base_channels: channels of the first level (doubling at each downsampling).
    """

    def __init__(self, num_channels: int = 3, base_channels: int = 64) -> None:
        super().__init__()
        c = base_channels

        def conv(c_in: int, c_out: int, kernel: int, stride: int, normalised: bool = True) -> nn.Module:
            made = _authors_init(nn.Conv2d(c_in, c_out, kernel, stride, 1))
            return spectral_norm(made) if normalised else made  # after the init: its power iteration sees it

        self.conv_in = conv(num_channels, c, 3, 1, normalised=False)
        self.down = nn.ModuleList(conv(c * 2**i, c * 2 ** (i + 1), 4, 2) for i in range(3))
        self.up = nn.ModuleList(conv(c * 2 ** (i + 1), c * 2**i, 3, 1) for i in (2, 1, 0))
        self.refine = nn.Sequential(
            conv(c, c, 3, 1), nn.LeakyReLU(0.2, inplace=True), conv(c, c, 3, 1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.conv_out = conv(c, 1, 3, 1, normalised=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] → (N, 1, H, W) logits."""
        skips = [F.leaky_relu(self.conv_in(x), 0.2)]
        for conv in self.down:
            skips.append(F.leaky_relu(conv(skips[-1]), 0.2))
        y = skips.pop()
        for conv in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = F.leaky_relu(conv(y), 0.2) + skip
        return self.conv_out(self.refine(y))


def _authors_init(conv: nn.Conv2d) -> nn.Conv2d:
    """`conv` initialised as KAIR's `init_weights` does the authors' discriminator: an orthogonal weight (as an
    (out, in·k·k) matrix) × `DISCRIMINATOR_INIT_GAIN`, a zero bias (PyTorch's default is uniform for both)."""
    nn.init.orthogonal_(conv.weight, gain=DISCRIMINATOR_INIT_GAIN)
    nn.init.zeros_(conv.bias)
    return conv


class VGG19Features(nn.Module):
    """VGG-19 convolutional trunk up to conv5_4, returning the pre-activation outputs of the requested layers.

    Args:
        layers: names from `VGG19_LAYERS`.
        weights: a `.pth` / `.safetensors` state dict of torchvision's `vgg19` (keys `features.N.weight/bias`;
            other keys are ignored), or a Hub repo id holding `model.safetensors` in that layout (e.g. timm's
            `vgg19.tv_in1k`). None keeps the random initialisation (tests only: the loss is meaningless).
    """

    def __init__(self, layers: Sequence[str] = tuple(VGG19_LAYERS), weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        unknown = set(layers) - set(VGG19_LAYERS)
        if unknown:
            raise ValueError(f"unknown VGG-19 layers {sorted(unknown)}; choose from {list(VGG19_LAYERS)}")
        self.layers = [VGG19_LAYERS[name] for name in layers]
        modules: list[nn.Module] = []
        channels = 3
        for entry in VGG19_LAYOUT:
            if entry == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, entry, 3, 1, 1), nn.ReLU(inplace=False)]
                channels = entry
        self.features = nn.Sequential(*modules[: max(self.layers) + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            self.load_weights(weights)
        self.requires_grad_(False)
        self.eval()

    def load_weights(self, weights: str | os.PathLike) -> None:
        """Load the trunk's convs from a torchvision-layout state dict (a file, a folder holding `model.safetensors`
        as a Hub repo does, or a Hub repo id), strictly."""
        from ..checkpoints.convert import CheckpointError, extract_state_dict, load_state_dict_file
        from ..checkpoints.loading import hub_file, looks_like_path

        path = Path(weights)
        if path.is_dir():
            path = path / "model.safetensors"
            if not path.is_file():
                raise CheckpointError(f"{shown_name(weights)} is a folder without model.safetensors")
        elif not path.is_file():
            if looks_like_path(str(weights)):  # a typo in a local path, not a Hub id to look up
                raise CheckpointError(f"{shown_name(weights)} does not exist")
            # A folder is taken too (above): the message offers it, as `hf download --local-dir` writes one.
            local = (
                "a local state dict file, or a folder holding model.safetensors "
                f"(`hf download {weights} --local-dir vgg19`, then gan.vgg_weights=vgg19),"
            )
            path = hub_file(str(weights), "model.safetensors", local)
        state = extract_state_dict(load_state_dict_file(path))
        wanted = {f"features.{k}" for k in self.features.state_dict()}
        missing = sorted(wanted - set(state))
        if missing:
            raise CheckpointError(f"{shown_name(weights)} is not a VGG-19 state dict: missing {missing[:4]}")
        own = {k: state[f"features.{k}"] for k in self.features.state_dict()}
        self.features.load_state_dict(own, strict=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) RGB in [0, 1] (1-channel is replicated) → one feature map per requested layer."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        out = []
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self.layers:
                out.append(x)
        return out


class PerceptualLoss(nn.Module):
    """Weighted L1 distance between VGG-19 features of a restoration and its target."""

    def __init__(
        self,
        layer_weights: dict[str, float] | None = None,
        weights: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        layer_weights = dict(PERCEPTUAL_LAYER_WEIGHTS) if layer_weights is None else layer_weights
        self.weights = list(layer_weights.values())
        self.vgg = VGG19Features(list(layer_weights), weights)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_features = self.vgg(target)
        return sum(w * F.l1_loss(a, b) for w, a, b in zip(self.weights, self.vgg(output), target_features, strict=True))


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Vanilla (binary cross-entropy) GAN loss of discriminator logits against the real / fake label."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


# --- the GAN objective in the training loop -----------------------------------------------------------------

# The loss terms a GAN run logs besides its total (`train/loss`), by BasicSR's names (Real-ESRGAN's logs), each the
# last micro-batch's, unweighted: the generator's L1, perceptual and adversarial terms, the discriminator's on real
# and on restored images (near log 2 = 0.69 each while it cannot tell them apart).
LOGGED_TERMS = ("l_pix", "l_percep", "l_g_gan", "l_d_real", "l_d_fake")


@dataclass
class GanParts:
    """What a GAN run trains besides the model: the discriminator and its optimizer (both as `accelerate` prepared
    them, once it has), and the perceptual loss."""

    disc: Any
    optimizer: Any
    perceptual: PerceptualLoss


def build_gan(args: GanArgs, channels: int, betas: Sequence[float]) -> GanParts:
    """The discriminator, its optimizer and the perceptual loss of a GAN run (`gan` section). The discriminator's
    Adam takes the generator's `betas` (`train.adam_betas`, no default of its own here): the authors' GAN stage runs
    both on Adam's defaults, (0.9, 0.999), not Real-ESRGAN's (0.9, 0.99)."""
    disc = UNetDiscriminator(channels, args.discriminator_channels)
    try:
        perceptual = PerceptualLoss(args.perceptual_layers, args.vgg_weights)
    except (OSError, ValueError) as err:  # CheckpointError, ModelNotAvailableError, a malformed repo id
        raise ValueError(f"gan.vgg_weights {args.vgg_weights!r}: {err}") from err
    optimizer = torch.optim.Adam(disc.parameters(), lr=args.discriminator_lr, betas=tuple(betas))
    return GanParts(disc, optimizer, perceptual)


def check_gan_start(args: GanArgs, report: InitReport | None) -> None:
    """Refuse a GAN run whose starting weights leave part of the generator untrained (a x2 model into a x4 run: its
    second upsampling conv; a classical model into a `nearest+conv` head): the GAN stage fine-tunes a trained model (the
    PSNR stage's), and the adversarial loss would train those tensors from scratch. From scratch is allowed."""
    if not args.enabled or report is None or not report.reinitialised:
        return
    names = ", ".join(report.reinitialised[:4]) + (", …" if len(report.reinitialised) > 4 else "")
    scale = "".join(f"; {d}" for d in report.differences if d.startswith("upscale "))
    raise ValueError(
        f"model.init_from {shown_name(report.source)}: a GAN run starts from a trained model of its architecture (the "
        f"PSNR stage's), but {len(report.reinitialised)} of this model's tensors are not in it ({names}{scale}) and "
        "would start from scratch: train a PSNR stage from it first (--gan.enabled false), then start the GAN stage "
        "from that run (--init-from RUN)"
    )


def gan_step(
    accelerator: Any,
    model: Any,
    gan: GanParts,
    args: GanArgs,
    x: torch.Tensor,
    y: torch.Tensor,
    accum: int,
    last: bool,
    real_images: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's loss of one micro-batch, after backpropagating the discriminator's, and its terms for the log
    (unweighted, detached: `LOGGED_TERMS`, in order). The discriminator's real images are `real_images` where given
    (unsharpened targets where `y` is sharpened, as Real-ESRGAN's `gan_gt_usm: False`), else `y`."""
    from torch.func import functional_call

    sr = model(pixel_values=x).reconstruction
    disc = gan.disc
    plain_disc = accelerator.unwrap_model(disc, keep_torch_compile=False)
    # The generator's adversarial term must not leave gradients on the discriminator: call it with detached weights.
    frozen = {name: p.detach() for name, p in plain_disc.named_parameters()}
    adversarial = gan_loss(functional_call(plain_disc, frozen, (sr,)), real=True)
    pixel, perceptual = torch.nn.functional.l1_loss(sr, y), gan.perceptual(sr, y)
    loss = args.pixel_weight * pixel + args.perceptual_weight * perceptual + args.gan_weight * adversarial
    with nullcontext() if last else accelerator.no_sync(disc):
        logits = disc(torch.cat([y if real_images is None else real_images, sr.detach()]))
        real, fake = logits.chunk(2)
        real, fake = gan_loss(real, True), gan_loss(fake, False)
        accelerator.backward((real + fake) / (2 * accum))
    return loss, torch.stack([pixel, perceptual, adversarial, real, fake]).detach()
