"""The package's own checkpoints (trained with `swinir_hf.train` on ../shared/trainsets; see their model cards):
`save_pretrained` folders shipped inside the package, so they work offline. Kept free of torch / transformers:
the command line's help and model listing name them."""

from __future__ import annotations

from pathlib import Path

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
DEFAULT_MODELS = {
    "sr-x4": "x4 super-resolution (small SwinIR, bicubic degradation)",
    "sr-x2": "x2 super-resolution (small SwinIR, bicubic degradation)",
    "denoise-color": "blind colour denoising, Gaussian noise σ 0-50 (small SwinIR)",
    "real-sr-x4": "x4 super-resolution of real photos (small SwinIR, BSRGAN-style degradation, L1 only)",
    "jpeg-color": "blind colour JPEG artifact removal, quality 10-90 (small SwinIR)",
}
