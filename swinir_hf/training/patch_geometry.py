"""A training patch's geometry: the image mirror-padded to a patch's size, and the random flip and rotation."""

from __future__ import annotations

import numpy as np


def pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Mirror-pad (symmetric, repeatedly if needed) the bottom / right of an (H, W, C) image to at least size²."""
    h, w = image.shape[:2]
    return np.pad(image, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="symmetric")


def augment(image: np.ndarray, flip: int, rot: int) -> np.ndarray:
    """Horizontal flip (`flip` = 1) then `rot` × 90° rotation of an (H, W, C) array."""
    if flip:
        image = image[:, ::-1]
    return np.rot90(image, rot)
