"""The degradations: how a low-quality input is made from a high-quality image, for training and the benchmark.

`synthetic` (the paper's: MATLAB-exact bicubic `imresize`, Gaussian noise, JPEG), `real_world` (BSRGAN-style) and
`second_order` (Real-ESRGAN-style), both for real-world super-resolution, `setting` (`Degradation`: the kind and
levels that name one) and `levels` (the levels' bounds and checks, plain values for the command lines). The
functions are re-exported here: `from swinir_hf.degradations import imresize`. They load on first use, so that the
command lines, which check levels with `levels`, do not import scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .levels import LEVELS
    from .real_world import real_world_degradation
    from .second_order import real_esrgan_degradation
    from .setting import DEGRADATIONS, Degradation
    from .synthetic import add_gaussian_noise, bicubic_downscale, imresize, jpeg_compress

_EXPORTS = {
    "DEGRADATIONS": "setting",
    "Degradation": "setting",
    "LEVELS": "levels",
    "add_gaussian_noise": "synthetic",
    "bicubic_downscale": "synthetic",
    "imresize": "synthetic",
    "jpeg_compress": "synthetic",
    "real_world_degradation": "real_world",
    "real_esrgan_degradation": "second_order",
}  # name → its module
__all__ = [
    "DEGRADATIONS",
    "LEVELS",
    "Degradation",
    "add_gaussian_noise",
    "bicubic_downscale",
    "imresize",
    "jpeg_compress",
    "real_esrgan_degradation",
    "real_world_degradation",
]


# Not for type checkers: they would take any name for a public one (`swinir_hf.lod_model`, a typo) as Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name not in _EXPORTS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
