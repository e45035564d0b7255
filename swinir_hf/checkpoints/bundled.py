"""The package's own checkpoints (trained with `swinir_hf.train` on ../shared/trainsets; see their model cards):
`save_pretrained` folders shipped inside the package, so they work offline. Kept free of torch / transformers:
the command line's help and model listing name them."""

from __future__ import annotations

from pathlib import Path

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
DEFAULT_MODEL = "sr-x4"  # what load_default(), the pipeline and `swinir-hf restore` use when no model is named
DEFAULT_MODELS = {
    "sr-x4": "x4 super-resolution (SwinIR-S, 0.93 M parameters; bicubic degradation)",
    "sr-x2": "x2 super-resolution (small SwinIR, 0.33 M parameters; bicubic degradation)",
    "denoise-color": "blind colour denoising, Gaussian noise σ 0-50 (small SwinIR, 0.32 M parameters)",
    "real-sr-x4": "x4 super-resolution of real photos (small SwinIR, 0.46 M; BSRGAN-style degradation, L1 only)",
    "jpeg-color": "blind colour JPEG artifact removal, quality 10-90 (small SwinIR, 0.32 M parameters)",
}
