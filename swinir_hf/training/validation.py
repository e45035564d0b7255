"""Validation during training: the PSNR of the model and of the trivial restoration on the validation images, in
the paper's protocol for the task (`validation_metric`). Under a launch each process scores its share of the
images (`data.validation_images`) and `mean_psnr` averages them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..image_datasets import source_location
from ..models.configuration_swinir import SwinIRConfig
from ..models.modeling_swinir import SwinIRForImageRestoration

if TYPE_CHECKING:
    from .sections import DataArgs

_CHANNELS = {"y": "Y channel", "rgb": "RGB", "grey": "grey channel"}


@dataclass(frozen=True)
class ValidationMetric:
    """PSNR on `channel` ("y", "rgb" or "grey") with `border` pixels left out on every side."""

    channel: str
    border: int

    @property
    def name(self) -> str:
        """As recorded: in the history entries (`metric`) and as the tracker's `val/NAME`."""
        return f"psnr_{self.channel}"

    def __str__(self) -> str:
        return f"{_CHANNELS[self.channel]}, border {self.border}"


def validation_metric(config: SwinIRConfig) -> ValidationMetric:
    """The paper's protocol: super-resolution on Y (grey models: grey) with border = scale; denoising and JPEG
    (×1) on the image's own channels, RGB or grey, with no border (as `swinir-hf eval` scores them)."""
    scale = config.upscale
    channel = "grey" if config.num_channels == 1 else "y" if scale > 1 else "rgb"
    return ValidationMetric(channel, scale if scale > 1 else 0)


def validation_set(d: DataArgs) -> str | None:
    """The validation images as the history entries record them (`set`), whose scores a run resumed with others
    would not compare with: where `data.val` is (not as written), its split, LR images, levels and how many are
    read; None without validation."""
    if d.val is None:
        return None
    parts = [source_location(d.val), f"split {d.val_split}"]
    if d.val_lr is not None:
        parts.append(f"LR {source_location(d.val_lr)}")
    parts += [f"σ {d.val_noise_sigma}"] if d.val_noise_sigma is not None else []
    parts += [f"quality {d.val_jpeg_quality}"] if d.val_jpeg_quality is not None else []
    return ", ".join(parts + ([f"first {d.val_max_images}"] if d.val_max_images else []))


@torch.no_grad()
def validation_psnrs(model: SwinIRForImageRestoration, images: list) -> list[float]:
    """PSNR (dB, `validation_metric(model.config)`) of each of `images`, restored and rounded to uint8. Each
    (H, W, C) input is padded as `swinir-hf eval` pads it (`authors_padding`) and the output cropped back to
    scale × (H, W): with the model's own padding the figures differed from eval's of the same weights."""
    from ..inference.padding import authors_padding

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    metric, s = validation_metric(model.config), model.config.upscale
    scores = []
    for im in images:
        h, w = im.lr.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(im.lr.transpose(2, 0, 1)))[None].to(device)
        x = authors_padding(x, model.config.window_size)
        # The class's forward, not the instance's: under mixed precision accelerate replaces the trained model's
        # forward with one run under autocast, and validation scores the float32 weights in float32, as eval does.
        out = type(model).forward(model, pixel_values=x).reconstruction[0, :, : h * s, : w * s]
        out = out.float().cpu().permute(1, 2, 0).numpy()
        scores.append(_psnr(out, im.hr, metric))
    model.train(was_training)
    return scores


def baseline_psnrs(images: list, config: SwinIRConfig) -> list[float]:
    """PSNR (`validation_metric(config)`) of each image's trivial restoration, as `swinir-hf eval`'s baseline:
    MATLAB bicubic upscaling of the 8-bit input for SR (rounded and clipped after each pass, as MATLAB), the
    degraded input otherwise."""
    from ..degradations.synthetic import imresize
    from ..models.pixels_swinir import float_to_image

    scale, metric = config.upscale, validation_metric(config)
    if scale == 1:
        return [_psnr(im.lr, im.hr, metric) for im in images]
    bicubic = (imresize(float_to_image(im.lr, output_type="np"), scale) / 255.0 for im in images)
    return [_psnr(up, im.hr, metric) for up, im in zip(bicubic, images, strict=True)]


def mean_psnr(scores: list[float], accelerator: Any = None) -> float:
    """The mean of the validation set's PSNRs (dB), each process holding `scores` for its share (all processes call
    this; `accelerator` None: one process). `ValueError` on every process when no process has an image."""
    total = np.array([sum(scores), len(scores)], dtype=np.float64)
    if accelerator is not None and accelerator.num_processes > 1:
        summed = accelerator.reduce(torch.from_numpy(total).to(accelerator.device), reduction="sum")
        total = summed.cpu().numpy()
    if total[1] == 0:
        raise ValueError("the validation set has no readable images")
    return float(total[0] / total[1])


def _psnr(restored: np.ndarray, hr: np.ndarray, metric: ValidationMetric) -> float:
    """PSNR (dB) of an (H, W, C) float restoration, rounded to uint8, against its (H, W, C) uint8 ground truth."""
    from ..evaluation.metrics import psnr
    from ..models.pixels_swinir import float_to_image

    reference = hr[..., 0] if hr.shape[-1] == 1 else hr
    test_y = metric.channel == "y"
    return psnr(float_to_image(restored, output_type="np"), reference, crop_border=metric.border, test_y_channel=test_y)
