"""Image processor: images of any mode / bit depth ↔ `pixel_values` floats in [0, 1]."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

# ITU-R BT.601 luma weights, as Pillow's "L" conversion.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def image_to_float(image: Image.Image | np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """Any image → ((H, W, C) float32 in [0, 1], alpha (H, W) float32 or None).

    PIL modes 1, L, LA, P, PA, RGB, RGBA, CMYK, YCbCr, I;16*, I and F are accepted; palettes are expanded (to RGBA
    when they have transparency). uint8 / uint16 arrays are scaled by their range; float arrays are taken as [0, 1].
    Arrays and tensors are (H, W), (H, W, C) or, for tensors, (C, H, W); 2 and 4 channels carry alpha last.
    """
    if isinstance(image, Image.Image):
        return _pil_to_float(image)
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 3 and t.shape[0] in (1, 2, 3, 4) and t.shape[-1] not in (1, 2, 3, 4):
            t = t.permute(1, 2, 0)
        image = t.numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(image).__name__}")
    arr = image[..., None] if image.ndim == 2 else image
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4) or 0 in arr.shape:
        raise ValueError(f"image array must be (H, W) or (H, W, C) with C in 1..4, got shape {image.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    else:
        raise ValueError(f"unsupported array dtype {arr.dtype}: use uint8, uint16 or float in [0, 1]")
    if arr.shape[-1] in (2, 4):
        return arr[..., :-1], arr[..., -1]
    return arr, None


def _pil_to_float(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = image.mode
    if mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(image, dtype=np.float32) / 65535.0
        return np.clip(arr, 0.0, 1.0)[..., None], None
    if mode == "F":
        return np.asarray(image, dtype=np.float32)[..., None], None
    if mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
    return image_to_float(np.asarray(image))


def match_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) → (H, W, channels): grey is replicated to RGB, RGB becomes BT.601 luma for 1-channel models."""
    c = arr.shape[-1]
    if c == channels:
        return arr
    if c == 1:
        return np.repeat(arr, channels, axis=-1)
    if channels == 1 and c == 3:
        return (arr @ LUMA)[..., None]
    raise ValueError(f"cannot map a {c}-channel image to a {channels}-channel model")


def float_to_image(arr: np.ndarray, bit_depth: int = 8, output_type: str = "pil") -> Image.Image | np.ndarray:
    """(H, W, C) float image → clamped, rounded uint8 / uint16 PIL image or array (C = 1 gives greyscale)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    # In place after one copy: an 8192² RGB float image is 805 MB per temporary.
    scaled = np.clip(arr, 0.0, 1.0)
    scaled *= peak
    out = np.rint(scaled, out=scaled).astype(np.uint8 if bit_depth == 8 else np.uint16)
    if out.shape[-1] == 1:
        out = out[..., 0]
    if output_type == "np":
        return out
    if output_type != "pil":
        raise ValueError(f"output_type must be 'pil' or 'np', got {output_type!r}")
    if bit_depth == 16:
        if out.ndim != 2:
            raise ValueError("PIL has no 16-bit RGB mode: use output_type='np' for 16-bit colour")
        return Image.fromarray(out)  # uint16 (H, W) is mode I;16
    return Image.fromarray(out)


class SwinIRImageProcessor(BaseImageProcessor):
    r"""Turns images into SwinIR `pixel_values` and model outputs back into images.

    No resizing and no padding: the model pads internally, so the output is always exactly scale × the input.

    Args:
        num_channels (`int`, defaults to 3): channels the model expects; grey inputs are replicated for RGB
            models and RGB inputs reduced to BT.601 luma for 1-channel models. Alpha is dropped.
    """

    model_input_names = ["pixel_values"]

    def __init__(self, num_channels: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_channels = num_channels

    def preprocess(self, images: Any, return_tensors: str | None = "pt", **kwargs: Any) -> BatchFeature:
        """One image or a list of same-size images → `pixel_values` (N, C, H, W) float32 in [0, 1]."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        if not images:
            raise ValueError("no images given")
        arrays = [match_channels(image_to_float(im)[0], self.num_channels) for im in images]
        sizes = {a.shape[:2] for a in arrays}
        if len(sizes) > 1:
            raise ValueError(f"images of one batch must share one size (no padding here), got {sorted(sizes)}")
        batch = np.stack(arrays).transpose(0, 3, 1, 2)
        return BatchFeature({"pixel_values": np.ascontiguousarray(batch)}, tensor_type=return_tensors)

    def post_process_image_restoration(
        self, outputs: Any, output_type: str = "pil", bit_depth: int = 8
    ) -> list[Image.Image | np.ndarray]:
        """Model output (or its `reconstruction`, (N, C, H, W)) → list of PIL images / uint arrays."""
        recon = getattr(outputs, "reconstruction", outputs)
        if not isinstance(recon, torch.Tensor) or recon.ndim != 4:
            raise ValueError("expected a model output or an (N, C, H, W) tensor")
        arrays = recon.detach().float().cpu().permute(0, 2, 3, 1).numpy()
        return [float_to_image(a, bit_depth=bit_depth, output_type=output_type) for a in arrays]
