"""`from swinir_hf.degradations import imresize, ...`: the paper's degradations (MATLAB-exact bicubic resize,
Gaussian noise, JPEG) and the real-world one (BSRGAN's), by the names of `swinir_hf.evaluation.degradations` and
`swinir_hf.evaluation.real_world`, where they are defined."""

from .evaluation.degradations import add_gaussian_noise, bicubic_downscale, imresize, jpeg_compress
from .evaluation.real_world import real_world_degradation

__all__ = ["add_gaussian_noise", "bicubic_downscale", "imresize", "jpeg_compress", "real_world_degradation"]
