"""Real-ESRGAN's sharpened ground truth (Wang et al. 2021, its training details): the training targets are
unsharp-masked, which makes a model's outputs visibly sharper, while its inputs are still degraded from the
unsharpened image (`data.sharpen_target`, applied by `data.TrainingPatches`; validation targets stay as they are).

Written from the paper's description of unsharp masking, not from Real-ESRGAN's code. Deterministic: no random
draws, so a sample stays a pure function of `(seed, key)`.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import gaussian

# The detail added back: sharpened = image + WEIGHT · (image - blurred).
USM_WEIGHT = 0.5
# The Gaussian blur of a 51 × 51 kernel: its half-width in pixels, and σ as OpenCV derives it for that size when
# given none, 0.3 · ((51 - 1) / 2 - 1) + 0.8 = 8.0 px.
USM_RADIUS = 25
USM_SIGMA = 8.0
# Detail below this (on the [0, 1] scale: 10 grey levels) is left unsharpened.
USM_THRESHOLD = 10 / 255


def _blurred(image: np.ndarray) -> np.ndarray:
    """The (H, W, C) float32 image blurred channel by channel with the 51-wide Gaussian, mirrored at the borders."""
    return gaussian(
        image, sigma=USM_SIGMA, mode="reflect", truncate=USM_RADIUS / USM_SIGMA, channel_axis=-1, preserve_range=True
    )


def sharpened(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) float32 image in [0, 1], unsharp-masked as Real-ESRGAN's targets: float32, clipped to [0, 1].

    The blur is scikit-image's; `skimage.filters.unsharp_mask` is not used because the soft mask below needs the
    detail it does not return (and its kernel spans ±4σ, 65 px, not 51): calling it would blur once more.
    """
    detail = image - _blurred(image)
    sharp = np.clip(image + USM_WEIGHT * detail, 0.0, 1.0)
    # The soft mask: sharpened only where the detail passes the threshold (edges, texture), blurred so that the
    # sharpened areas fade into the rest; flat areas and faint noise are left as they are, not amplified.
    mask = _blurred((np.abs(detail) > USM_THRESHOLD).astype(np.float32))
    return np.clip(image + mask * (sharp - image), 0.0, 1.0).astype(np.float32, copy=False)
