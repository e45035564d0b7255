"""Validation during training: the PSNR of the model and of the trivial restoration on the validation images."""

from __future__ import annotations

import numpy as np
import torch

from ..models.modeling_swinir import SwinIRForImageRestoration


@torch.no_grad()
def validation_psnr(model: SwinIRForImageRestoration, images: list, scale: int) -> float:
    """Mean PSNR (dB) on the Y channel (grey models: on grey), border = scale, of uint8-rounded restorations."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores = []
    for im in images:
        x = torch.from_numpy(np.ascontiguousarray(im.lr.transpose(2, 0, 1)))[None].to(device)
        out = model(pixel_values=x).reconstruction[0].float().cpu().permute(1, 2, 0).numpy()
        scores.append(_psnr(out, im.hr, scale))
    model.train(was_training)
    return float(np.mean(scores))


def baseline_psnr(images: list, scale: int) -> float:
    """Mean PSNR-Y of the trivial restoration: MATLAB bicubic upscaling for SR, the degraded input otherwise."""
    from ..evaluation.degradations import imresize

    return float(np.mean([_psnr(imresize(im.lr, scale) if scale > 1 else im.lr, im.hr, scale) for im in images]))


def _psnr(restored: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """PSNR (dB) of an (H, W, C) float restoration, rounded to uint8, against its (H, W, C) uint8 ground truth: on
    Y for colour, on the grey channel for grey, `scale` pixels of border left out (the paper's convention)."""
    from ..evaluation.metrics import psnr
    from ..models.image_processing_swinir import float_to_image

    reference = hr[..., 0] if hr.shape[-1] == 1 else hr
    test_y = reference.ndim == 3
    return psnr(float_to_image(restored, output_type="np"), reference, crop_border=scale, test_y_channel=test_y)
