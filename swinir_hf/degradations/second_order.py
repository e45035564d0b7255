"""Real-ESRGAN's high-order degradation for training real-world SR (Wang et al. 2021, "Real-ESRGAN: Training
Real-World Blind Super-Resolution with Pure Synthetic Data", section 3): the classical blur → resize → noise → JPEG
applied twice, each order with its own ranges, then the resize to the LR size with a 2-D sinc filter and a JPEG, in
random order (`real_esrgan_degradation`).

Written from the paper and its published default settings, which `FIRST_ORDER`, `SECOND_ORDER` and `FINAL` state
with their units, on this package's operations: `real_world`'s kernels (`gaussian_kernel`), FFT `blur` and
OpenCV-like `resize`, and `synthetic`'s Pillow JPEG. Each step's random choices are drawn first (`draw_order`,
`draw_final`: plain records), then applied. Images are float32 (H, W, C) in [0, 1] between the steps, uint8 in and
out; every random choice comes from one numpy Generator, so a (seed, sample) pair always gives the same LR image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special

from .real_world import RESIZE_MODES, blur, cropped_to_scale, gaussian_kernel, resize
from .synthetic import as_uint8, jpeg_compress

# Blur kernel shapes: Gaussian, generalized Gaussian and plateau-shaped, each isotropic or anisotropic.
KERNEL_SHAPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass(frozen=True)
class OrderRanges:
    """One order's random choices: probabilities, and [low, high] ranges drawn uniformly (integers inclusive)."""

    blur_prob: float = 1.0  # of blurring at all
    kernel_sizes: tuple[int, int] = (7, 21)  # odd side lengths, pixels
    shape_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # of `KERNEL_SHAPES`
    sigma: tuple[float, float] = (0.2, 3.0)  # standard deviation along each kernel axis, pixels
    generalized_beta: tuple[float, float] = (0.5, 4.0)  # shape β (dimensionless; 1 is the Gaussian)
    plateau_beta: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1  # of a sinc kernel in place of the shapes above
    sinc_cutoff: tuple[float, float] = (math.pi / 3, math.pi)  # radians per pixel (π: Nyquist), kernels < 13 px
    large_sinc_cutoff: tuple[float, float] = (math.pi / 5, math.pi)  # kernels of 13 px and more
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)  # of up, down, keep
    resize_factor: tuple[float, float] = (0.15, 1.5)  # side length ratio: down in [low, 1), up in [1, high)
    gaussian_prob: float = 0.5  # of Gaussian noise, else Poisson
    noise_sigma: tuple[float, float] = (1.0, 30.0)  # Gaussian σ, grey levels of 255
    poisson_scale: tuple[float, float] = (0.05, 3.0)  # × the shot noise of 8-bit levels taken as photon counts
    grey_noise_prob: float = 0.4  # of the same noise in every channel
    jpeg_quality: tuple[int, int] = (30, 95)  # Pillow quality


@dataclass(frozen=True)
class FinalRanges:
    """The last step's random choices: a sinc filter with the resize to the LR size, and a JPEG, in random order."""

    sinc_prob: float = 0.8
    kernel_sizes: tuple[int, int] = (7, 21)  # odd side lengths, pixels
    sinc_cutoff: tuple[float, float] = (math.pi / 3, math.pi)  # radians per pixel
    resize_first_prob: float = 0.5  # of resize + sinc before the JPEG, else after it
    jpeg_quality: tuple[int, int] = (30, 95)


# The published defaults. The first order's resize is relative to the HR size, the second order's to the LR size
# (so its "keep" resizes to the LR size).
FIRST_ORDER = OrderRanges()
SECOND_ORDER = OrderRanges(
    blur_prob=0.8,
    sigma=(0.2, 1.5),
    resize_probs=(0.3, 0.4, 0.3),
    resize_factor=(0.3, 1.2),
    noise_sigma=(1.0, 25.0),
    poisson_scale=(0.05, 2.5),
)
FINAL = FinalRanges()


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """(size, size) float64 circular low-pass (2-D sinc) kernel summing to 1, passing spatial frequencies up to
    `cutoff` radians per pixel (π: Nyquist): the ideal filter's impulse response ω J₁(ω r) / (2π r), cut to the
    window. Its ripples make the ringing and overshoot of sharpened and resampled images."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    r = np.hypot(x, y)
    safe = np.where(r == 0, 1.0, r)  # the limit at r = 0 is ω² / (4π)
    ripple = cutoff * scipy.special.j1(cutoff * safe) / (2 * math.pi * safe)
    kernel = np.where(r == 0, cutoff**2 / (4 * math.pi), ripple)
    return kernel / kernel.sum()


@dataclass(frozen=True)
class KernelDraw:
    """A drawn blur kernel: `shape` one of `KERNEL_SHAPES` or "sinc"; σ in pixels, θ in radians, β, cutoff in
    radians per pixel (sinc only)."""

    shape: str
    size: int
    sigma: tuple[float, float] = (1.0, 1.0)
    theta: float = 0.0
    beta: float = 1.0
    cutoff: float = math.pi

    def kernel(self) -> np.ndarray:
        if self.shape == "sinc":
            return sinc_kernel(self.size, self.cutoff)
        plateau = self.shape.startswith("plateau")
        return gaussian_kernel(self.size, *self.sigma, self.theta, beta=self.beta, plateau=plateau)


@dataclass(frozen=True)
class OrderDraw:
    """One order's drawn choices: blur (None: none), resize factor and mode, noise (`noise_level`: σ in grey levels
    for Gaussian, the scale for Poisson), JPEG quality."""

    kernel: KernelDraw | None
    resize_factor: float
    resize_mode: str
    gaussian: bool
    noise_level: float
    grey: bool
    jpeg_quality: int


@dataclass(frozen=True)
class FinalDraw:
    """The last step's drawn choices: the sinc filter (None: none), the resize mode, the order, the JPEG quality."""

    sinc: KernelDraw | None
    resize_mode: str
    resize_first: bool
    jpeg_quality: int


def _odd_size(rng: np.random.Generator, sizes: tuple[int, int]) -> int:
    return 2 * int(rng.integers(sizes[0] // 2, sizes[1] // 2 + 1)) + 1


def draw_kernel(rng: np.random.Generator, ranges: OrderRanges) -> KernelDraw:
    """A random blur kernel of `ranges`: a sinc (p `sinc_prob`; a lower cutoff needs a larger kernel), else a shape
    of `KERNEL_SHAPES`; anisotropic ones have independent σs along axes at an angle uniform in [0, π)."""
    size = _odd_size(rng, ranges.kernel_sizes)
    if rng.random() < ranges.sinc_prob:
        cutoff = ranges.large_sinc_cutoff if size >= 13 else ranges.sinc_cutoff
        return KernelDraw("sinc", size, cutoff=float(rng.uniform(*cutoff)))
    shape = KERNEL_SHAPES[int(rng.choice(len(KERNEL_SHAPES), p=ranges.shape_probs))]
    if shape.endswith("aniso"):
        sigma_x, sigma_y = (float(s) for s in rng.uniform(*ranges.sigma, size=2))
        theta = float(rng.uniform(0.0, math.pi))
    else:
        sigma_x = sigma_y = float(rng.uniform(*ranges.sigma))
        theta = 0.0
    beta = 1.0
    if shape.startswith("generalized"):
        beta = float(rng.uniform(*ranges.generalized_beta))
    elif shape.startswith("plateau"):
        beta = float(rng.uniform(*ranges.plateau_beta))
    return KernelDraw(shape, size, (sigma_x, sigma_y), theta, beta)


def draw_order(rng: np.random.Generator, ranges: OrderRanges) -> OrderDraw:
    """One order's random choices, from `ranges`."""
    kernel = draw_kernel(rng, ranges) if rng.random() < ranges.blur_prob else None
    direction = int(rng.choice(3, p=ranges.resize_probs))  # up, down, keep
    factor = 1.0
    if direction == 0:
        factor = float(rng.uniform(1.0, ranges.resize_factor[1]))
    elif direction == 1:
        factor = float(rng.uniform(ranges.resize_factor[0], 1.0))
    mode = RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))]
    gaussian = bool(rng.random() < ranges.gaussian_prob)
    level = float(rng.uniform(*(ranges.noise_sigma if gaussian else ranges.poisson_scale)))
    grey = bool(rng.random() < ranges.grey_noise_prob)
    quality = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    return OrderDraw(kernel, factor, mode, gaussian, level, grey, quality)


def draw_final(rng: np.random.Generator, ranges: FinalRanges = FINAL) -> FinalDraw:
    """The last step's random choices, from `ranges`."""
    sinc = None
    if rng.random() < ranges.sinc_prob:
        size = _odd_size(rng, ranges.kernel_sizes)
        sinc = KernelDraw("sinc", size, cutoff=float(rng.uniform(*ranges.sinc_cutoff)))
    mode = RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))]
    resize_first = bool(rng.random() < ranges.resize_first_prob)
    quality = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    return FinalDraw(sinc, mode, resize_first, quality)


def add_noise(image: np.ndarray, draw: OrderDraw, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W, C) image in [0, 1] + `draw`'s noise, clipped to [0, 1]: Gaussian of σ `noise_level` grey
    levels, or Poisson (shot) noise of the 8-bit levels taken as photon counts, times `noise_level`; with `grey`,
    one noise for every channel (Poisson: of the channels' mean)."""
    h, w, c = image.shape
    if draw.gaussian:
        noise = np.float32(draw.noise_level / 255.0) * rng.standard_normal((h, w, 1 if draw.grey else c), np.float32)
    else:
        base = image.mean(axis=-1, keepdims=True) if draw.grey else image
        counts = rng.poisson(255.0 * np.clip(base, 0.0, 1.0))
        noise = (draw.noise_level * (counts / 255.0 - base)).astype(np.float32)
    return np.clip(image + noise, 0.0, 1.0)


def apply_order(image: np.ndarray, draw: OrderDraw, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One order of `draw` on a float32 (H, W, C) image: blur, resize to `size` × the factor (the mode's, clipped
    to [0, 1]; none where that is the image's size), noise, JPEG (`rng` draws the noise)."""
    x = image if draw.kernel is None else blur(image, draw.kernel.kernel())
    target = (max(1, int(size[0] * draw.resize_factor)), max(1, int(size[1] * draw.resize_factor)))
    if target != x.shape[:2]:
        x = np.clip(resize(x, target, draw.resize_mode), 0.0, 1.0)
    x = add_noise(x, draw, rng)
    return jpeg_compress(as_uint8(x), draw.jpeg_quality).astype(np.float32) / 255.0


def apply_final(image: np.ndarray, draw: FinalDraw, size: tuple[int, int]) -> np.ndarray:
    """The last step of `draw`: the resize to the LR `size` and sinc filter, and the JPEG, in the drawn order."""

    def to_lr(x: np.ndarray) -> np.ndarray:
        x = np.clip(resize(x, size, draw.resize_mode), 0.0, 1.0)
        return x if draw.sinc is None else np.clip(blur(x, draw.sinc.kernel()), 0.0, 1.0)

    def compress(x: np.ndarray) -> np.ndarray:
        return jpeg_compress(as_uint8(x), draw.jpeg_quality).astype(np.float32) / 255.0

    return compress(to_lr(image)) if draw.resize_first else to_lr(compress(image))


def real_esrgan_degradation(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, C) high-quality image → uint8 (H // scale, W // scale, C) low-quality image by Real-ESRGAN's
    second-order degradation, of the image cropped to multiples of the scale from the top-left.

    `FIRST_ORDER` (resize relative to the HR size), `SECOND_ORDER` (relative to the LR size), then `FINAL`. Pixels
    are clipped to [0, 1] after every resize, noise and sinc filter. All randomness comes from `rng`.
    """
    x, (h, w) = cropped_to_scale(image, scale, "real_esrgan_degradation")
    x = apply_order(x, draw_order(rng, FIRST_ORDER), x.shape[:2], rng)
    x = apply_order(x, draw_order(rng, SECOND_ORDER), (h, w), rng)
    return as_uint8(apply_final(x, draw_final(rng), (h, w)))
