"""Validation during training: the PSNR of the model and of the trivial restoration on the validation images."""

from __future__ import annotations

import numpy as np
import torch

from ..models.modeling_swinir import SwinIRForImageRestoration


@torch.no_grad()
def validation_psnr(model: SwinIRForImageRestoration, images: list, scale: int) -> float:
    """Mean PSNR (dB) on the Y channel (grey models: on grey), border = scale, of uint8-rounded restorations."""
    from ..evaluation.metrics import psnr
    from ..models.image_processing_swinir import float_to_image

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
    from ..evaluation.degradations import imresize
    from ..evaluation.metrics import psnr
    from ..models.image_processing_swinir import float_to_image

    scores = []
    for im in images:
        up = imresize(im.lr, scale) if scale > 1 else im.lr
        restored = float_to_image(up, output_type="np")
        reference = im.hr[..., 0] if im.hr.shape[-1] == 1 else im.hr
        scores.append(psnr(restored, reference, crop_border=scale, test_y_channel=reference.ndim == 3))
    return float(np.mean(scores))
