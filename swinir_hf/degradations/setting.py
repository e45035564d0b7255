"""`Degradation`, the setting that names how a low-quality input is made from a high-quality image (training and
the benchmark share it) and the kinds it takes (`DEGRADATIONS`); their levels are `levels`'.

The operations themselves are functions of `synthetic` (MATLAB bicubic, noise, JPEG), `real_world` (BSRGAN-style)
and `second_order` (Real-ESRGAN-style); a new one is a further function plus a kind in `DEGRADATIONS`
that `Degradation.sample` (training and the benchmark both call it) and `Degradation.description` handle.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .levels import LEVELS, REAL_WORLD, check_level
from .real_world import real_world_degradation
from .second_order import real_esrgan_degradation
from .synthetic import add_gaussian_noise, bicubic_downscale, jpeg_compress

DEGRADATIONS = ("bicubic", "noise", "jpeg", *REAL_WORLD, "paired")


@dataclass(frozen=True)
class Degradation:
    """How a low-quality input is made from a high-quality image: the one definition that training (random
    patches, `__call__`) and the benchmark (`swinir_hf.evaluation.benchmark.degrade`, fixed seeds) share, both
    through `sample`.

    Attributes:
        kind: one of `DEGRADATIONS`: `bicubic` (MATLAB bicubic downscale by `scale`), `noise` (additive Gaussian,
            not clipped), `jpeg` (Pillow JPEG; on luma for 1-channel models), `real` (BSRGAN-style practical
            degradation, `real_world.real_world_degradation`), `real-esrgan` (Real-ESRGAN's second-order degradation,
            `second_order.real_esrgan_degradation`) or `paired` (LR images supplied alongside).
        scale: upscale factor of the model (1 for denoising / JPEG).
        noise_sigma: σ in grey levels (0..255): one value, or [low, high] drawn uniformly per sample.
        jpeg_quality: JPEG quality: one value, or [low, high] drawn uniformly (inclusive) per sample.
    """

    kind: str
    scale: int = 1
    noise_sigma: float | Sequence[float] = LEVELS["noise"].default
    jpeg_quality: int | Sequence[int] = LEVELS["jpeg"].default

    def __post_init__(self) -> None:
        if self.kind not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {self.kind!r}")
        if self.kind in ("bicubic", *REAL_WORLD) and self.scale < 2:
            raise ValueError(f"degradation {self.kind!r} needs a super-resolution model (scale >= 2)")
        if self.kind in ("noise", "jpeg") and self.scale != 1:
            raise ValueError(f"degradation {self.kind!r} is for same-size models (scale 1), got scale {self.scale}")
        if self.kind in LEVELS:
            name = LEVELS[self.kind].field
            check_level(self.kind, getattr(self, name), name)

    def sample(self, hr: np.ndarray, rng: np.random.Generator, noise_seed: int | None = None) -> np.ndarray:
        """uint8 (H, W, C) image → its degraded version: uint8 (H / scale, W / scale, C), the image cropped to
        multiples of the scale first; for noise float64 in [0, 1], not clipped. Levels given as a range are drawn
        from `rng`, and so is the noise, unless `noise_seed` fixes it (the benchmark's, as the authors')."""
        if self.kind == "bicubic":
            return bicubic_downscale(hr, self.scale)
        if self.kind == "real":
            return real_world_degradation(hr, self.scale, rng)
        if self.kind == "real-esrgan":
            return real_esrgan_degradation(hr, self.scale, rng)
        if self.kind == "noise":
            sigma = _draw(self.noise_sigma, rng, integer=False)
            seed = int(rng.integers(2**31)) if noise_seed is None else noise_seed
            return add_gaussian_noise(hr.astype(np.float32) / 255.0, sigma, seed)
        if self.kind == "jpeg":
            return jpeg_compress(hr, int(_draw(self.jpeg_quality, rng, integer=True)))
        raise ValueError("paired data carries its own LR images: there is nothing to degrade")

    def __call__(self, hr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 (H, W, C) training patch → float32 model input in [0, 1] (noise: unclipped), from `sample`."""
        lq = self.sample(hr, rng)
        return lq.astype(np.float32) if self.kind == "noise" else lq.astype(np.float32) / 255.0

    def description(self) -> str:
        """What the degradation does, in words (training cards)."""
        return {
            "bicubic": "MATLAB bicubic downscaling",
            "noise": f"additive Gaussian noise, σ = {self.noise_sigma} grey levels",
            "jpeg": f"JPEG, quality {self.jpeg_quality}",
            "real": "BSRGAN's practical degradation ("
            + ("at ×4 sometimes a ×2 pre-downsample; " if self.scale == 4 else "")
            + "two blurs, a shrink, a resize to the LR size, noise, JPEG in random order; final JPEG)",
            "real-esrgan": "Real-ESRGAN's second-order degradation (twice blur, resize, noise, JPEG, with their own "
            "ranges; then the resize to the LR size with a sinc filter and a JPEG, in random order)",
            "paired": "pre-made LR/HR pairs",
        }[self.kind]

    # --- the benchmark's view: one setting (`task`, `value`), scored with `border`, against `baseline_name` ---

    @property
    def task(self) -> str:
        """The benchmark's name of the setting (`swinir-hf eval --json`'s "task"): sr, dn or jpeg."""
        return {"bicubic": "sr", "real": "sr", "real-esrgan": "sr", "noise": "dn"}.get(self.kind, self.kind)

    @property
    def value(self) -> float | Sequence[float]:
        """The setting's level: the scale (SR), σ (noise) or the JPEG quality (a training setting's may be a
        [low, high] range)."""
        return {"dn": self.noise_sigma, "jpeg": self.jpeg_quality}.get(self.task, self.scale)

    @property
    def border(self) -> int:
        """Pixels ignored on every side when scoring: the scale for SR, none otherwise (as the paper)."""
        return self.scale if self.task == "sr" else 0

    @property
    def baseline_name(self) -> str:
        """What the trivial restoration is called in the benchmark's tables."""
        return {"sr": "bicubic", "dn": "noisy input", "jpeg": "JPEG input"}.get(self.task, "input")

    def __str__(self) -> str:
        if self.kind in ("bicubic", "noise", "jpeg"):
            level = _level(self.value)
            return {"sr": f"bicubic ×{level}", "dn": f"noise σ={level}", "jpeg": f"JPEG q={level}"}[self.task]
        return f"{self.kind} ×{self.scale}"


def _level(value: float | Sequence[float]) -> str:
    """A level (25, 40), or a [low, high] range of them (0-50), as a setting's name shows it."""
    return f"{value:g}" if isinstance(value, numbers.Real) else "-".join(f"{v:g}" for v in value)


def _draw(value: float | Sequence[float], rng: np.random.Generator, integer: bool) -> float:
    if isinstance(value, numbers.Real):
        return float(value)
    low, high = value
    return float(rng.integers(low, high + 1)) if integer else float(rng.uniform(low, high))
