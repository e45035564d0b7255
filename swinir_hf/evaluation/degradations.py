"""Degradations that make low-quality inputs, for the benchmark and for training: MATLAB bicubic resize, Gaussian
noise, JPEG and the BSRGAN-style practical degradation, and `Degradation`, the setting that names one of them.

Images are numpy arrays (H, W) or (H, W, C), channels in RGB order. Each degradation is one function; a new one is a
further top-level function plus a kind in `DEGRADATIONS` that `Degradation.sample` (training and the benchmark both
call it) and `Degradation.description` handle.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.sparse
from PIL import Image


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, the one MATLAB's `imresize` uses."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_weights(in_length: int, scale: float, antialiasing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's bicubic resampling along one axis: output pixel i = Σ_k weights[i, k] · input[indices[i, k]].

    Both are (out_length, taps) with out_length = ceil(in_length · scale); indices are 0-based. When shrinking
    (scale < 1) with `antialiasing`, the kernel is stretched by 1 / scale, as MATLAB does. Taps beyond the edges
    are mirrored (symmetric padding); every row of weights sums to 1.
    """
    out_length = _output_length(in_length, scale)
    stretch = scale < 1 and antialiasing
    kernel_width = 4.0 / scale if stretch else 4.0
    # Centre, in input coordinates (1-based as in MATLAB), of each output pixel.
    u = np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    idx = left[:, None] + np.arange(math.ceil(kernel_width) + 2)[None, :]
    dist = u[:, None] - idx
    weights = scale * cubic(scale * dist) if stretch else cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    # Mirror out-of-range taps: ... 2 1 | 1 2 ... n | n n-1 ...
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    return mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_length)], weights


def resize_matrix(in_length: int, scale: float, antialiasing: bool = True) -> scipy.sparse.csr_matrix:
    """`resize_weights` as a sparse (out_length, in_length) matrix (mirrored taps that meet add up): one sparse
    product per axis is several times faster than gathering tap by tap (benchmarks/training_data.py)."""
    indices, weights = resize_weights(in_length, scale, antialiasing)
    rows = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    return scipy.sparse.csr_matrix((weights.ravel(), (rows, indices.ravel())), shape=(indices.shape[0], in_length))


def imresize(image: np.ndarray, scale: float, antialiasing: bool = True) -> np.ndarray:
    """Bicubic resize by `scale` as MATLAB's `imresize(image, scale)`: output (ceil(H·s), ceil(W·s)[, C]).

    Antialiased when shrinking. uint8 / uint16 in → same out, rounded and clipped after *each* of the two 1-D
    passes as MATLAB does; float in → float out of the same dtype, unclipped. Rows are resized first (MATLAB
    starts with the axis that shrinks most, rows on ties, and both axes share one scale here).
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or 0 in image.shape:
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    integer = image.dtype in (np.uint8, np.uint16)
    if not integer and not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"unsupported dtype {image.dtype}: use uint8, uint16 or float")
    out = image.astype(np.float64)
    for axis in (0, 1):
        lines = np.moveaxis(out, axis, 0)
        matrix = resize_matrix(lines.shape[0], scale, antialiasing)
        acc = matrix @ lines.reshape(lines.shape[0], -1)
        out = np.moveaxis(acc.reshape((matrix.shape[0],) + lines.shape[1:]), 0, axis)
        if integer:
            info = np.iinfo(image.dtype)
            # MATLAB rounds halves away from zero (np.round would go to even); negatives are clipped anyway.
            out = np.clip(np.floor(out + 0.5), info.min, info.max)
    return out.astype(image.dtype)


def bicubic_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """The benchmark LR image: crop (H, W) to multiples of `factor` from the top-left, then `imresize` by 1/factor."""
    h, w = image.shape[:2]
    if h < factor or w < factor:
        raise ValueError(f"image of {h}×{w} is smaller than the scale factor {factor}")
    return imresize(image[: h - h % factor, : w - w % factor], 1.0 / factor)


# How far MATLAB's antialiased bicubic kernel reaches when shrinking by an integer factor: ±2 output pixels.
BICUBIC_REACH = 2


def bicubic_patch(image: np.ndarray, top: int, left: int, size: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The (size, size) LR patch and its (size·factor)² HR patch whose top-left HR pixel is (top, left) of `image`.

    The LR patch is exactly the crop of `bicubic_downscale` of the whole image (taken from (top % factor,
    left % factor)): the kernel's reach beyond the patch is read from the image, and mirrored only at the image's
    own edges. Downscaling the HR patch alone would mirror at the patch's edges, and the outer LR pixels would no
    longer match the ones a model meets inside a real LR image.
    """
    h, w = image.shape[:2]
    if top + size * factor > h or left + size * factor > w:
        raise ValueError(f"a {size}² patch ×{factor} at ({top}, {left}) does not fit an image of {h}×{w}")
    up, before = min(BICUBIC_REACH, top // factor), min(BICUBIC_REACH, left // factor)
    down = min(BICUBIC_REACH, (h - top) // factor - size)
    after = min(BICUBIC_REACH, (w - left) // factor - size)
    region = image[
        top - up * factor : top + (size + down) * factor, left - before * factor : left + (size + after) * factor
    ]
    lr = imresize(region, 1.0 / factor)[up : up + size, before : before + size]
    return lr, image[top : top + size * factor, left : left + size * factor]


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int | None = 0) -> np.ndarray:
    """float image in [0, 1] + N(0, (sigma/255)²) noise, as float64, not clipped (σ in 0..255 grey levels).

    Draws exactly what the SwinIR authors draw (`np.random.seed(seed); np.random.normal(0, sigma / 255, shape)`)
    on the same image read by OpenCV: colour noise is drawn in OpenCV's BGR order and applied to RGB reversed.
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"add_gaussian_noise takes a float image in [0, 1], got dtype {image.dtype}")
    noise = np.random.RandomState(seed).normal(0.0, sigma / 255.0, image.shape)
    if image.ndim == 3 and image.shape[-1] == 3:
        noise = noise[..., ::-1]
    return image + noise


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with Pillow's JPEG at `quality` (1..100): uint8 (H, W[, 1]) grey or (H, W, 3) RGB in → same
    shape out. Grey images are coded as single-channel (luma) JPEG; colour ones as Pillow's default YCbCr 4:2:0."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"jpeg_compress takes a uint8 image, got dtype {image.dtype}")
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if image.ndim == 3 and image.shape[-1] == 1:
        return jpeg_compress(image[..., 0], quality)[..., None]
    if not (image.ndim == 2 or image.ndim == 3 and image.shape[-1] == 3):
        raise ValueError(f"jpeg_compress takes a grey (H, W) or RGB (H, W, 3) image, got shape {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


def _output_length(in_length: int, scale: float) -> int:
    # ceil(in·scale) with scale = 1/3 etc. given as floats: absorb the representation error before ceiling.
    exact = in_length * scale
    return max(1, math.ceil(exact - 1e-9 * max(1.0, exact)))


# --- Practical ("real-world") degradation for training real-world SR, BSRGAN-style -------------------------------
# Blurs, a shrink, a resize to the LR size, noise and JPEG, shuffled, then a JPEG of the LR image. Every random choice
# comes from one numpy Generator, so a (seed, sample) pair always gives the same LR image.

RESIZE_MODES = ("bicubic", "bilinear", "area")


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, centre: float = 0.0) -> np.ndarray:
    """(size, size) float64 Gaussian blur kernel summing to 1: standard deviations `sigma_x` / `sigma_y` (pixels)
    along axes rotated by `theta` radians; `sigma_x == sigma_y` gives the isotropic kernel. It peaks `centre`
    pixels right of and below the middle tap (0: centred)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64) - centre
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    kernel = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
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


def as_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; float in [0, 1] clipped, scaled to 255 and rounded (as the authors save outputs)."""
    if image.dtype == np.uint8:
        return image
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


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


def real_world_degradation(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, C) high-quality image → uint8 (H // scale, W // scale, C) realistic low-quality image.

    BSRGAN's practical degradation (Zhang et al. 2021, `degradation_bsrgan`): at ×4, with p `HALVE_PROB`, a ×2
    down-sampling (`random_halve`) after which the steps work at the remaining factor 2; then the steps of
    `degradation_order`, two blurs (`random_blur_kernel`), a shrink (`random_shrink`), a random resize to exactly
    1/scale of the input (`to_lr`), Gaussian noise (`random_gaussian_noise`) and a JPEG (p `JPEG_PROB`); then a
    JPEG of the LR image.
    JPEG qualities are uniform in `JPEG_QUALITIES`. Pixels are clipped to [0, 1] after each noise and resize step,
    as BSRGAN does. BSRGAN's optional camera-sensor noise (its ISP model, off by default) is left out. All
    randomness comes from `rng`.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"real_world_degradation takes a uint8 (H, W, C) image, got {image.dtype} {image.shape}")
    h, w = image.shape[0] // scale, image.shape[1] // scale
    if h < 1 or w < 1:
        raise ValueError(f"image of {image.shape[:2]} is smaller than the scale factor {scale}")
    x = image.astype(np.float32) / 255.0  # float32: ample for pixels that end as 8-bit, and cheaper
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


# --- the setting -----------------------------------------------------------------------------------------------

DEGRADATIONS = ("bicubic", "noise", "jpeg", "real", "paired")


class Level(NamedTuple):
    """The level a degradation takes: its `Degradation` field, bounds, whether it is an integer, and in words."""

    field: str
    low: float
    high: float
    integer: bool
    text: str


LEVELS = {
    "noise": Level("noise_sigma", 0.0, 255.0, False, "a σ in 0..255 grey levels"),
    "jpeg": Level("jpeg_quality", 1, 100, True, "an integer quality in 1..100"),
}


def check_level(kind: str, value: float | Sequence[float], name: str, ranged: bool = True) -> None:
    """Raise `ValueError` naming `name` unless `value` is a level of the degradation `kind` (see `LEVELS`) or, if
    `ranged`, a [low, high] range of them, low <= high: a bad one is refused when configured, not by the random
    training sample that first draws it."""
    level = LEVELS[kind]
    single = isinstance(value, (int, float))
    values = [value] if single else list(value)
    fits = all(
        isinstance(v, (int, float)) and level.low <= v <= level.high and (not level.integer or v == int(v))
        for v in values
    )
    if not (fits and (single or ranged and len(values) == 2 and values[0] <= values[1])):
        ranges = " or a [low, high] range of them" if ranged else ""
        raise ValueError(f"{name} must be {level.text}{ranges}, got {value!r}")


@dataclass(frozen=True)
class Degradation:
    """How a low-quality input is made from a high-quality image: the one definition that training (random
    patches, `__call__`) and the benchmark (`swinir_hf.evaluation.benchmark.degrade`, fixed seeds) share, both
    through `sample`.

    Attributes:
        kind: one of `DEGRADATIONS`: `bicubic` (MATLAB bicubic downscale by `scale`), `noise` (additive Gaussian,
            not clipped), `jpeg` (Pillow JPEG; on luma for 1-channel models), `real` (BSRGAN-style practical
            degradation, `degradations.real_world_degradation`) or `paired` (LR images supplied alongside).
        scale: upscale factor of the model (1 for denoising / JPEG).
        noise_sigma: σ in grey levels (0..255): one value, or [low, high] drawn uniformly per sample.
        jpeg_quality: JPEG quality: one value, or [low, high] drawn uniformly (inclusive) per sample.
    """

    kind: str
    scale: int = 1
    noise_sigma: float | Sequence[float] = 25.0
    jpeg_quality: int | Sequence[int] = 40

    def __post_init__(self) -> None:
        if self.kind not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {self.kind!r}")
        if self.kind in ("bicubic", "real") and self.scale < 2:
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
            "real": "BSRGAN's practical degradation (at ×4 sometimes a ×2 pre-downsample; two blurs, a shrink, a "
            "resize to the LR size, noise, JPEG in random order; final JPEG)",
            "paired": "pre-made LR/HR pairs",
        }[self.kind]

    # --- the benchmark's view: one setting (`task`, `value`), scored with `border`, against `baseline_name` ---

    @property
    def task(self) -> str:
        """The benchmark's name of the setting (`swinir-hf eval --json`'s "task"): sr, dn or jpeg."""
        return {"bicubic": "sr", "real": "sr", "noise": "dn"}.get(self.kind, self.kind)

    @property
    def value(self) -> float:
        """The setting's level: the scale (SR), σ (noise) or the JPEG quality."""
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
            return {"sr": f"bicubic ×{self.value}", "dn": f"noise σ={self.value:g}", "jpeg": f"JPEG q={self.value}"}[
                self.task
            ]
        return f"{self.kind} ×{self.scale}"


def _draw(value: float | Sequence[float], rng: np.random.Generator, integer: bool) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    low, high = value
    return float(rng.integers(low, high + 1)) if integer else float(rng.uniform(low, high))
