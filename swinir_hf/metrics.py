"""`from swinir_hf.metrics import psnr, ssim, psnrb`: the paper's metrics, by the names of
`swinir_hf.evaluation.metrics`, where they are defined."""

from .evaluation.metrics import psnr, psnrb, rgb_to_y, ssim

__all__ = ["psnr", "psnrb", "rgb_to_y", "ssim"]
