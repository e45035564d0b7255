"""The paper's settings (`PRESETS`, which `SwinIRConfig.from_preset` builds) and the reconstruction heads with the
scales each builds (`UPSAMPLERS`, `UPSAMPLER_SCALES`, `builds_scale`; the refusal of another, `scale_error`), which
the config checks."""

from __future__ import annotations

from typing import Any

UPSAMPLERS = ("pixelshuffle", "pixelshuffledirect", "nearest+conv", None)
# The scales each head builds, in words: "pixelshuffle" chains ×2 steps (or one ×3 step), "nearest+conv" has one
# or two ×2 stages, "pixelshuffledirect" is one PixelShuffle of any factor; None restores at the input size.
UPSAMPLER_SCALES = {
    "pixelshuffle": "3 or a power of 2 (2, 4, 8, 16, ...)",
    "pixelshuffledirect": "any integer >= 2",
    "nearest+conv": "2 or 4",
    None: "1",
}

# The seven official settings of the paper (Table 1 / the authors' `main_test_swinir.py`).
_MEDIUM = {"embed_dim": 180, "depths": [6] * 6, "num_heads": [6] * 6, "mlp_ratio": 2.0}
PRESETS: dict[str, dict[str, Any]] = {
    "classical_sr": {
        **_MEDIUM,
        "image_size": 48,
        "window_size": 8,
        "upsampler": "pixelshuffle",
        "_scales": (2, 3, 4, 8),
    },
    "lightweight_sr": {
        "embed_dim": 60,
        "depths": [6] * 4,
        "num_heads": [6] * 4,
        "mlp_ratio": 2.0,
        "image_size": 64,
        "window_size": 8,
        "upsampler": "pixelshuffledirect",
        "_scales": (2, 3, 4),
    },
    "real_sr": {**_MEDIUM, "image_size": 64, "window_size": 8, "upsampler": "nearest+conv", "_scales": (2, 4)},
    "real_sr_large": {
        "embed_dim": 240,
        "depths": [6] * 9,
        "num_heads": [8] * 9,
        "mlp_ratio": 2.0,
        "resi_connection": "3conv",
        "image_size": 64,
        "window_size": 8,
        "upsampler": "nearest+conv",
        "_scales": (4,),
        "task": "real_sr",
    },
    "gray_dn": {**_MEDIUM, "num_channels": 1, "image_size": 128, "window_size": 8, "upsampler": None, "_scales": (1,)},
    "color_dn": {**_MEDIUM, "num_channels": 3, "image_size": 128, "window_size": 8, "upsampler": None, "_scales": (1,)},
    "jpeg_car": {
        **_MEDIUM,
        "num_channels": 1,
        "image_size": 126,
        "window_size": 7,
        "img_range": 255.0,
        "upsampler": None,
        "_scales": (1,),
    },
    "color_jpeg_car": {
        **_MEDIUM,
        "num_channels": 3,
        "image_size": 126,
        "window_size": 7,
        "img_range": 255.0,
        "upsampler": None,
        "_scales": (1,),
    },
}


def builds_scale(upsampler: str | None, scale: int) -> bool:
    """Whether the head `upsampler` (one of `UPSAMPLERS`) restores at `scale` × the input."""
    if upsampler is None:
        return scale == 1
    if upsampler == "pixelshuffle":
        return scale == 3 or (scale >= 2 and scale & (scale - 1) == 0)
    if upsampler == "nearest+conv":
        return scale in (2, 4)
    return scale >= 2


def scale_error(name: str, scale: object, upsampler: str | None, preset: str | None = None) -> str:
    """The message refusing `scale`, given as the field `name`, for the head `upsampler` (of `preset`)."""
    head = f"preset {preset!r} (upsampler {upsampler!r})" if preset else f"upsampler {upsampler!r}"
    message = f"{name} must be {UPSAMPLER_SCALES[upsampler]} for {head}, got {scale!r}"
    return message + _heads_for(scale) if upsampler is None and preset is None else message


def _heads_for(scale: object) -> str:
    """What to pass to upscale by `scale` (SwinIRConfig's default head, None, does not; Swin2SR's config does):
    the heads that build it and the first preset of one, or "" where none does."""
    heads = [f'"{h}"' for h in UPSAMPLERS if h is not None and isinstance(scale, int) and builds_scale(h, scale)]
    if not heads:
        return ""
    preset = next(name for name, v in PRESETS.items() if v["upsampler"] and builds_scale(v["upsampler"], scale))
    named = " or ".join(filter(None, (", ".join(heads[:-1]), heads[-1])))
    return (
        f": upsampler None restores at the input size; to upscale x{scale}, pass upsampler={named}, or start from "
        f'SwinIRConfig.from_preset("{preset}", scale={scale})'
    )
