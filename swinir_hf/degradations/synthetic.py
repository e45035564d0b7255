"""The paper's synthetic degradations, made as the SwinIR authors make them: MATLAB's bicubic `imresize` (and the
benchmark's bicubic LR images, whole or by patch), Gaussian noise and JPEG; `as_uint8` turns float images into the
8-bit images they start from and end as.

Images are numpy arrays (H, W) or (H, W, C), channels in RGB order. The BSRGAN-style practical degradation is in
`real_world`; `Degradation` (`setting`) names one of them for training and the benchmark.
"""

from __future__ import annotations

import io
import math

import numpy as np
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


def as_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; float in [0, 1] clipped, scaled to 255 and rounded (as the authors save outputs)."""
    if image.dtype == np.uint8:
        return image
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _output_length(in_length: int, scale: float) -> int:
    # ceil(in·scale) with scale = 1/3 etc. given as floats: absorb the representation error before ceiling.
    exact = in_length * scale
    return max(1, math.ceil(exact - 1e-9 * max(1.0, exact)))
