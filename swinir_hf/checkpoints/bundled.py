"""The package's own checkpoints (trained with `swinir_hf.train` on ../shared/trainsets; see their model cards):
`save_pretrained` folders shipped inside the package, so they work offline. Kept free of torch / transformers:
the command line's help and model listing name them."""

from __future__ import annotations

import json
import math
from pathlib import Path

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
DEFAULT_MODEL = "sr-x4"  # what load_default(), the pipeline and `swinir-hf restore` use when no model is named
# {size}: the model's parameter count, read from its weights (`parameter_count`): a re-bundled model's is never stale.
_DESCRIPTIONS = {
    "sr-x4": "x4 super-resolution (SwinIR-S, {size} parameters; bicubic degradation)",
    "sr-x2": "x2 super-resolution (small SwinIR, {size} parameters; bicubic degradation)",
    "denoise-color": "blind colour denoising, Gaussian noise σ 0-50 (small SwinIR, {size} parameters)",
    "real-sr-x4": "x4 super-resolution of real photos (small SwinIR, {size}; BSRGAN-style degradation, L1 only)",
    "jpeg-color": "blind colour JPEG artifact removal, quality 10-90 (small SwinIR, {size} parameters)",
}


def parameter_count(name: str, defaults_dir: Path = DEFAULTS_DIR) -> int:
    """The parameter count of the bundled model `name`, summed from its model.safetensors header (`save_pretrained`
    stores parameters only), without torch."""
    with (defaults_dir / name / "model.safetensors").open("rb") as weights:
        header = json.loads(weights.read(int.from_bytes(weights.read(8), "little")))
    return sum(math.prod(tensor["shape"]) for key, tensor in header.items() if key != "__metadata__")


def millions(count: int) -> str:
    """A parameter count as the descriptions and the docs give it: "0.93 M"."""
    return f"{count / 1e6:.2f} M"


def _described(name: str) -> str:
    try:
        size = millions(parameter_count(name))
    except (OSError, ValueError):  # a folder being replaced by `hub/bundle_default.py` right now
        size = "? M"
    return _DESCRIPTIONS[name].format(size=size)


DEFAULT_MODELS = {name: _described(name) for name in _DESCRIPTIONS}
