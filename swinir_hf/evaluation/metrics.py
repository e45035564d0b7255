"""Image-quality metrics exactly as the restoration literature computes them: PSNR, SSIM and PSNR-B.

All three take two images of one shape, (H, W) or (H, W, C) with C = 1 or 3 (channels in RGB order), as uint8
(peak 255), uint16 (peak 65535) or float (peak 1.0), and:

- `crop_border`: pixels dropped from every side first (the super-resolution convention: border = scale);
- `test_y_channel`: score only the luma Y of ITU-R BT.601 as MATLAB's `rgb2ycbcr` defines it,
  Y = 16/255·peak + (65.481 R + 128.553 G + 24.966 B) / 255 (R, G, B in [0, peak]); one-channel images are
  scored as they are (their own grey level is their Y).

SSIM is Wang et al. (2004): an 11×11 Gaussian window of σ = 1.5, only positions where the window fits inside the
image ('valid'), K1 = 0.01, K2 = 0.03, averaged over channels. PSNR-B (Yim & Bovik 2011) adds the blocking-effect
factor of 8×8 blocks of the *restored* image (the first argument) to the mean squared error, per channel.
"""

from __future__ import annotations

import numbers

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

# MATLAB rgb2ycbcr: Y = 16 + RGB · Y_WEIGHTS, with RGB in [0, 1] and Y in [0, 255]; Y_COEFFICIENTS are for RGB in
# [0, 255] (Y = 16 + RGB · Y_COEFFICIENTS / 255).
Y_COEFFICIENTS = (65.481, 128.553, 24.966)
Y_WEIGHTS = np.array(Y_COEFFICIENTS) / 255.0
Y_OFFSET = 16.0 / 255.0

JPEG_BLOCK = 8  # pixels: the side of a JPEG block


def peak_value(dtype: np.dtype) -> float:
    """The white level of an image dtype: 255 for uint8, 65535 for uint16, 1.0 for floats."""
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if np.issubdtype(dtype, np.floating):
        return 1.0
    raise ValueError(f"unsupported image dtype {dtype}: use uint8, uint16 or float in [0, 1]")


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB → (H, W) float64 BT.601 luma Y (MATLAB `rgb2ycbcr`), in the units of the input dtype.

    Not rounded: round and cast yourself to get MATLAB's uint8 Y.
    """
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"rgb_to_y needs an (H, W, 3) RGB image, got shape {image.shape}")
    peak = peak_value(image.dtype)
    return Y_OFFSET * peak + image.astype(np.float64) @ Y_WEIGHTS


def psnr(image: np.ndarray, reference: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images); see the module docstring for the arguments."""
    a, b, peak = _prepare(image, reference, crop_border, test_y_channel)
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(b, a, data_range=peak))


def ssim(image: np.ndarray, reference: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Structural similarity in [-1, 1], Gaussian 11×11 σ 1.5 window, mean over channels."""
    a, b, peak = _prepare(image, reference, crop_border, test_y_channel)
    check_size(*a.shape[:2])
    # skimage reflect-pads then drops (win - 1) / 2 pixels per side: exactly the 'valid' window positions.
    return float(
        structural_similarity(
            a,
            b,
            data_range=peak,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            K1=0.01,
            K2=0.03,
        )
    )


def psnrb(image: np.ndarray, reference: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """PSNR-B in dB: PSNR with the blocking-effect factor of `image` (the restored one) added to the MSE, per
    channel, averaged over channels."""
    a, b, peak = _prepare(image, reference, crop_border, test_y_channel)
    check_size(*a.shape[:2], ssim=False, psnrb=True)
    a, b = a / peak, b / peak
    values = []
    for c in range(a.shape[-1]):
        error = np.mean((a[..., c] - b[..., c]) ** 2) + blocking_effect_factor(a[..., c])
        values.append(10.0 * np.log10(1.0 / error) if error > 0 else float("inf"))
    return float(np.mean(values))


def check_size(height: int, width: int, ssim: bool = True, psnrb: bool = False) -> None:
    """Raise the ValueError SSIM (`ssim`) and PSNR-B (`psnrb`) give an image of `height` × `width` pixels (after
    cropping) they cannot score: SSIM's window must fit; PSNR-B needs an 8×8 block boundary inside (its count would
    be 0 or negative: -inf, nan or a meaningless figure)."""
    if ssim and min(height, width) < 11:
        raise ValueError(f"SSIM needs images of at least 11×11 pixels after cropping, got {(height, width)}")
    if psnrb and (min(height, width) < JPEG_BLOCK or max(height, width) < 2 * JPEG_BLOCK):
        raise ValueError(
            f"PSNR-B needs a boundary between {JPEG_BLOCK}×{JPEG_BLOCK} blocks inside the image: at least "
            f"{JPEG_BLOCK} pixels a side and {2 * JPEG_BLOCK} on one after cropping, got {(height, width)}"
        )


def blocking_effect_factor(image: np.ndarray) -> float:
    """Blocking-effect factor of one (H, W) float channel: how much more the squared differences across 8×8 block
    boundaries exceed those inside blocks, weighted by log2(8) / log2(min(H, W)); 0 when they do not."""
    h, w = image.shape
    dx = np.diff(image, axis=1) ** 2  # (H, W-1): pixel j vs j+1
    dy = np.diff(image, axis=0) ** 2
    on_x = np.zeros(w - 1, dtype=bool)
    on_x[JPEG_BLOCK - 1 :: JPEG_BLOCK] = True
    on_y = np.zeros(h - 1, dtype=bool)
    on_y[JPEG_BLOCK - 1 :: JPEG_BLOCK] = True
    # Boundary counts as in Yim & Bovik: (blocks - 1) boundaries per row / column.
    n_boundary = h * (w // JPEG_BLOCK - 1) + w * (h // JPEG_BLOCK - 1)
    n_inner = h * (w - 1) + w * (h - 1) - n_boundary
    boundary = (dx[:, on_x].sum() + dy[on_y].sum()) / n_boundary
    inner = (dx[:, ~on_x].sum() + dy[~on_y].sum()) / n_inner
    if boundary <= inner:
        return 0.0
    return float(np.log2(JPEG_BLOCK) / np.log2(min(h, w)) * (boundary - inner))


def _prepare(
    image: np.ndarray, reference: np.ndarray, crop_border: int, test_y_channel: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate a pair and return both as (H, W, C) float64 (cropped, Y if asked) with their peak value."""
    image, reference = np.asarray(image), np.asarray(reference)
    for name, arr in (("image", image), ("reference", reference)):
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3)):
            raise ValueError(f"{name} must be (H, W) or (H, W, C) with C = 1 or 3, got shape {arr.shape}")
    grey = [arr.ndim == 2 or arr.shape[-1] == 1 for arr in (image, reference)]
    if grey[0] != grey[1]:
        raise ValueError(
            f"cannot compare a greyscale image with an RGB one (shapes {image.shape} and {reference.shape}): "
            "convert the RGB one to grey, or replicate the grey one to RGB, first"
        )
    if image.shape != reference.shape:
        raise ValueError(f"image shapes differ: {image.shape} vs {reference.shape}")
    if image.dtype != reference.dtype:
        raise ValueError(f"image dtypes differ: {image.dtype} vs {reference.dtype}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, numbers.Integral):
        raise ValueError(f"crop_border must be an int (pixels), got {crop_border!r}")
    if crop_border < 0 or 2 * crop_border >= min(image.shape[:2]):
        raise ValueError(f"crop_border {crop_border} does not fit an image of {image.shape[:2]}")
    peak = peak_value(image.dtype)
    if peak == 1.0:
        _check_unit_range(image, reference)
    out = []
    for arr in (image, reference):
        if crop_border:
            arr = arr[crop_border:-crop_border, crop_border:-crop_border]
        if test_y_channel and arr.ndim == 3 and arr.shape[-1] == 3:
            arr = rgb_to_y(arr)
        arr = arr.astype(np.float64)
        out.append(arr[..., None] if arr.ndim == 2 else arr)
    return out[0], out[1], peak


def _check_unit_range(*images: np.ndarray) -> None:
    """Raise ValueError for a float image far outside [0, 1] (a 0-255 one, as the reference code's metrics take):
    scored with peak 1.0, it would give wrong figures, some of them plausible (SSIM). A restored image's slight
    overshoot (unclipped outputs) passes."""
    for name, arr in zip(("image", "reference"), images, strict=True):
        low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
        if low < -0.5 or high > 1.5:
            raise ValueError(
                f"{name} is a float image with values in [{low:.4g}, {high:.4g}], but float images are scored on "
                "[0, 1] (peak 1.0): divide a 0-255 image by 255, or pass it as uint8"
            )
