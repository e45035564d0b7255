"""`from swinir_hf.degradations import imresize, ...`: the paper's degradations (MATLAB-exact bicubic resize,
Gaussian noise, JPEG), by the names of `swinir_hf.evaluation.degradations`, where they are defined."""

from .evaluation.degradations import add_gaussian_noise, bicubic_downscale, imresize, jpeg_compress

__all__ = ["add_gaussian_noise", "bicubic_downscale", "imresize", "jpeg_compress"]
