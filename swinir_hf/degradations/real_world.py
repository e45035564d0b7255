"""The practical ("real-world") degradation for training real-world SR, BSRGAN-style: blurs, a shrink, a resize to
the LR size, noise and JPEG, shuffled, then a JPEG of the LR image (`real_world_degradation`), and its random steps.

Images are float numpy arrays (H, W, C) in [0, 1] between the steps, uint8 in and out. Every random choice comes from
one numpy Generator, so a (seed, sample) pair always gives the same LR image.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from .synthetic import as_uint8, imresize, jpeg_compress

RESIZE_MODES = ("bicubic", "bilinear", "area")


def gaussian_kernel(
    size: int,
    sigma_x: float,
    sigma_y: float,
    theta: float,
    centre: float = 0.0,
    beta: float = 1.0,
    plateau: bool = False,
) -> np.ndarray:
    """(size, size) float64 Gaussian blur kernel summing to 1: standard deviations `sigma_x` / `sigma_y` (pixels)
    along axes rotated by `theta` radians; `sigma_x == sigma_y` gives the isotropic kernel. It peaks `centre`
    pixels right of and below the middle tap (0: centred).

    With d² the squared Mahalanobis distance from the peak, the kernel is exp(-d²/2) for `beta` 1, the generalized
    Gaussian exp(-(d²)^β / 2) otherwise (Real-ESRGAN's shape parameter: β < 1 peakier, β > 1 flatter-topped), or
    with `plateau` the plateau-shaped 1 / (1 + (d²)^β)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64) - centre
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    squared = (u / sigma_x) ** 2 + (v / sigma_y) ** 2
    shaped = squared if beta == 1.0 else squared**beta
    kernel = 1.0 / (1.0 + shaped) if plateau else np.exp(-0.5 * shaped)
    return kernel / kernel.sum()


# The narrowest blur σ (pixels) drawn: BSRGAN draws from 0 up, and σ = 0 would divide by zero; at 0.01 the kernel is
# already a single tap.
MIN_BLUR_SIGMA = 0.01


def random_blur_kernel(rng: np.random.Generator, scale: int) -> np.ndarray:
    """BSRGAN's random Gaussian blur for scale factor `scale`: odd size 7..25, anisotropic (p 0.5) with variances
    uniform in [0, 4 + scale) pixels² along axes at an angle uniform in [0, π), else isotropic with σ uniform in
    [0, 2 + 0.2 · scale) pixels."""
    size = 2 * int(rng.integers(2, 12)) + 3
    if rng.random() < 0.5:
        sigma_x, sigma_y = np.sqrt((4.0 + scale) * rng.random(2))
        theta = rng.uniform(0.0, math.pi)
        return gaussian_kernel(size, max(sigma_x, MIN_BLUR_SIGMA), max(sigma_y, MIN_BLUR_SIGMA), theta)
    sigma = max((2.0 + 0.2 * scale) * rng.random(), MIN_BLUR_SIGMA)
    return gaussian_kernel(size, sigma, sigma, 0.0)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve each channel of a float (H, W, C) image with a (k, k) `kernel` (odd k), reflecting at the borders
    (edge values beyond a reflection where the image is smaller than the kernel); same dtype out.

    Through the FFT, whose cost hardly depends on the kernel's size (benchmarks/training_data.py compares it with a
    direct convolution)."""
    k, half = kernel.shape[0], kernel.shape[0] // 2
    h, w = image.shape[:2]
    pad = min(half, h - 1, w - 1)
    x = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    if half > pad:
        x = np.pad(x, ((half - pad,) * 2, (half - pad,) * 2, (0, 0)), mode="edge")
    # Linear convolution as a circular one of at least the padded size: the wrap-around only reaches the first
    # k - 1 rows / columns, which are cut off.
    size = (scipy.fft.next_fast_len(x.shape[0], real=True), scipy.fft.next_fast_len(x.shape[1], real=True))
    spectrum = scipy.fft.rfft2(x, s=size, axes=(0, 1)) * scipy.fft.rfft2(kernel.astype(x.dtype), s=size)[..., None]
    out = scipy.fft.irfft2(spectrum, s=size, axes=(0, 1))
    return out[k - 1 : k - 1 + h, k - 1 : k - 1 + w].astype(image.dtype)


def resize(image: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Resize a float (H, W, C) image to `size` (h, w) with `mode` in `RESIZE_MODES`, as OpenCV's `cv2.resize`, which
    BSRGAN uses: bilinear and bicubic (a = -0.75) read only the taps around each output pixel's centre, with no
    antialiasing when shrinking (the aliasing is part of the degradation); area as `area_matrix`."""
    import torch

    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    if mode == "area":
        shrinks = size[0] <= image.shape[0] and size[1] <= image.shape[1]
        rows, cols = (area_matrix(n, m, shrinks) for n, m in zip(image.shape[:2], size, strict=True))
        return np.einsum("ih,hwc,jw->ijc", rows, image, cols, optimize=True).astype(image.dtype)
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    out = torch.nn.functional.interpolate(x, size=size, mode=mode, align_corners=False)
    return out[0].numpy().transpose(1, 2, 0)


def area_matrix(in_length: int, out_length: int, shrinks: bool) -> np.ndarray:
    """OpenCV's `INTER_AREA` along one axis as an (out_length, in_length) matrix. Where the image `shrinks` (on both
    axes, as OpenCV decides), each output pixel is the mean of its footprint of in_length / out_length input pixels,
    those it covers in part weighted by the part (torch's "area" counts them whole); otherwise OpenCV interpolates
    linearly between two taps with its area coefficients."""
    scale = in_length / out_length
    matrix = np.zeros((out_length, in_length))
    if shrinks:
        edges = np.arange(out_length + 1) * scale
        taps = np.arange(in_length)[None, :]
        covered = np.minimum(edges[1:, None], taps + 1) - np.maximum(edges[:-1, None], taps)
        return np.clip(covered, 0.0, None) / scale
    out = np.arange(out_length)
    left = np.floor(out * scale).astype(np.int64)
    frac = (out + 1) - (left + 1) / scale
    frac = np.where(frac <= 0, 0.0, frac - np.floor(frac))
    last = left >= in_length - 1  # OpenCV's edge: the last tap alone
    left, frac = np.where(last, in_length - 1, left), np.where(last, 0.0, frac)
    np.add.at(matrix, (out, left), 1.0 - frac)
    np.add.at(matrix, (out, np.minimum(left + 1, in_length - 1)), frac)
    return matrix


# BSRGAN's Gaussian noise: σ from 2 to 25 grey levels; the correlated kind's covariance is scaled by the largest σ.
NOISE_LEVELS = (2, 25)


def random_gaussian_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 (H, W, C) image in [0, 1] + BSRGAN's random Gaussian noise, clipped to [0, 1] (as BSRGAN, so that a
    later blur or resize does not spread noise beyond white and black).

    σ is an integer number of grey levels in `NOISE_LEVELS`; the noise is the same in every channel (p 0.4),
    independent per channel (p 0.4), or correlated across channels (p 0.2): covariance |(25/255)² · UᵀDU|
    (element-wise absolute value, so channels correlate positively), U a random orthonormal basis, D diagonal
    uniform in [0, 1). Drawn in float32 from `rng`: cheaper than the authors' float64 `add_gaussian_noise`.
    """
    sigma = np.float32(rng.integers(NOISE_LEVELS[0], NOISE_LEVELS[1] + 1) / 255.0)
    kind, channels = rng.random(), image.shape[-1]
    if kind < 0.4:
        noise = sigma * rng.standard_normal((*image.shape[:2], 1), dtype=np.float32)
    elif kind >= 0.6:
        noise = sigma * rng.standard_normal(image.shape, dtype=np.float32)
    else:
        basis = np.linalg.qr(rng.random((channels, channels)))[0]
        covariance = np.abs((NOISE_LEVELS[1] / 255.0) ** 2 * basis.T @ np.diag(rng.random(channels)) @ basis)
        # The absolute value can leave a negative eigenvalue; numpy's multivariate_normal, which BSRGAN calls,
        # factors by SVD and so draws with |eigenvalue| there: the same here.
        values, vectors = np.linalg.eigh(covariance)
        factor = (vectors * np.sqrt(np.abs(values))).astype(np.float32)
        noise = rng.standard_normal(image.shape, dtype=np.float32) @ factor.T
    return np.clip(image + noise, 0.0, 1.0)


# BSRGAN's steps, shuffled per image; `shrink` always comes before `to_lr`, which resizes to the LR size.
STEPS = ("blur", "blur", "shrink", "to_lr", "noise", "jpeg")
JPEG_PROB = 0.9  # of the shuffled JPEG step; the final one is always applied
SHRINK_RESIZE_PROB = 0.75  # else the shrink is a blur and nearest down-sampling
HALVE_PROB = 0.25  # of the first ×2 down-sampling, at scale 4 only
JPEG_QUALITIES = (30, 95)


def degradation_order(rng: np.random.Generator) -> list[str]:
    """A random order of `STEPS`, `shrink` swapped before `to_lr` where it came after (as BSRGAN)."""
    order = [STEPS[i] for i in rng.permutation(len(STEPS))]
    first, second = order.index("shrink"), order.index("to_lr")
    if first > second:
        order[first], order[second] = order[second], order[first]
    return order


def random_resize(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """`resize` to `size` (h, w) with a random mode of `RESIZE_MODES`, clipped to [0, 1] as BSRGAN (bicubic
    overshoots at edges)."""
    return np.clip(resize(image, size, RESIZE_MODES[rng.integers(len(RESIZE_MODES))]), 0.0, 1.0)


def random_halve(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """BSRGAN's ×2 pre-downsample of a float (H, W, C) image: MATLAB's antialiased bicubic `imresize` (p 0.5,
    ceil(H / 2) × ceil(W / 2)) or a random resize to (H // 2, W // 2); clipped to [0, 1]."""
    if rng.random() < 0.5:
        return np.clip(imresize(image, 0.5), 0.0, 1.0)
    return random_resize(image, (max(1, image.shape[0] // 2), max(1, image.shape[1] // 2)), rng)


def random_shrink(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """BSRGAN's first down-sampling of a float (H, W, C) image at scale factor `scale`: a random resize by 1 / f,
    f uniform in [1, 2 · scale) (p `SHRINK_RESIZE_PROB`; the later `to_lr` step brings it to the LR size), else an
    isotropic Gaussian blur (25², σ uniform in [0.1, 0.6 · scale) pixels) centred on each scale × scale block and
    nearest down-sampling by `scale`: (ceil(H / scale), ceil(W / scale), C)."""
    h, w = image.shape[:2]
    if rng.random() < SHRINK_RESIZE_PROB:
        factor = rng.uniform(1.0, 2.0 * scale)
        return random_resize(image, (max(1, int(h / factor)), max(1, int(w / factor))), rng)
    sigma = rng.uniform(0.1, 0.6 * scale)
    # The convolution's output pixel i averages around input i - centre: -(scale - 1) / 2 puts the pixels kept by
    # [::scale] at the middle of their block, so the LR image is not shifted against the HR one.
    kernel = gaussian_kernel(25, sigma, sigma, 0.0, centre=-(scale - 1) / 2)
    return blur(image, kernel)[::scale, ::scale]


def cropped_to_scale(image: np.ndarray, scale: int, name: str) -> tuple[np.ndarray, tuple[int, int]]:
    """(float32 (H', W', C) image in [0, 1], (H' / scale, W' / scale)) of a uint8 (H, W, C) `image` cropped from the
    top-left to multiples of `scale`, as the ground truth it is scored against is (not cropped, the whole image
    resized to the LR size was stretched by up to (scale - 1) / H against it). float32: ample for pixels that end
    as 8-bit, and cheaper. `name`: the degradation, which the errors name."""
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"{name} takes a uint8 (H, W, C) image, got {image.dtype} {image.shape}")
    h, w = image.shape[0] // scale, image.shape[1] // scale
    if h < 1 or w < 1:
        raise ValueError(f"image of {image.shape[:2]} is smaller than the scale factor {scale}")
    return image[: h * scale, : w * scale].astype(np.float32) / 255.0, (h, w)


def real_world_degradation(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, C) high-quality image → uint8 (H // scale, W // scale, C) realistic low-quality image.

    BSRGAN's practical degradation (Zhang et al. 2021, `degradation_bsrgan`), of the image cropped to multiples of the
    scale from the top-left (as BSRGAN, and as the ground truth it is scored against is): at ×4, with p `HALVE_PROB`,
    a ×2 down-sampling (`random_halve`) after which the steps work at the remaining factor 2; then the steps of
    `degradation_order`, two blurs (`random_blur_kernel`), a shrink (`random_shrink`), a random resize to exactly
    1/scale of the input (`to_lr`), Gaussian noise (`random_gaussian_noise`) and a JPEG (p `JPEG_PROB`); then a
    JPEG of the LR image.
    JPEG qualities are uniform in `JPEG_QUALITIES`. Pixels are clipped to [0, 1] after each noise and resize step,
    as BSRGAN does. BSRGAN's optional camera-sensor noise (its ISP model, off by default) is left out. All
    randomness comes from `rng`.
    """
    x, (h, w) = cropped_to_scale(image, scale, "real_world_degradation")
    factor = scale  # what is left to shrink by, for the blur widths and the shrink
    if scale == 4 and rng.random() < HALVE_PROB:
        x, factor = random_halve(x, rng), 2
    for step in degradation_order(rng):
        if step == "blur":
            x = blur(x, random_blur_kernel(rng, factor))
        elif step == "shrink":
            x = random_shrink(x, factor, rng)
        elif step == "to_lr":
            x = random_resize(x, (h, w), rng)
        elif step == "noise":
            x = random_gaussian_noise(x, rng)
        elif rng.random() < JPEG_PROB:
            x = random_jpeg(x, rng).astype(np.float32) / 255.0
    # JPEG last, as BSRGAN: real low-quality inputs are mostly JPEGs, their 8×8 blocks on the LR pixel grid.
    return random_jpeg(x, rng)


def random_jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float (H, W, C) image in [0, 1] → uint8 JPEG of it, quality uniform in `JPEG_QUALITIES` (inclusive)."""
    quality = int(rng.integers(JPEG_QUALITIES[0], JPEG_QUALITIES[1] + 1))
    return jpeg_compress(as_uint8(image), quality)
