"""The options of the tools SwinIR users come from (the authors' `main_test_swinir.py`, Real-ESRGAN's
`inference_realesrgan.py` and its `RealESRGANer`) and what each is here: what a command line's error
(`processes.LaunchParser.other_names`) or `restore()`'s TypeError says of one typed from habit. docs/migrating.md
has the whole table."""

from __future__ import annotations

from collections.abc import Iterable

_READ_OFF = "not needed (read off the checkpoint's weights)"
_BLIND = "not needed (give the model made for it: denoise-color and jpeg-color are blind, one model for every level)"

# main_test_swinir.py's options, as both `restore` and `eval` take them.
AUTHORS_OPTIONS = {
    "--task": "--model (each model is made for its task; an authors' .pth is converted on the fly)",
    "--model_path": "--model PATH (an authors' .pth is converted on the fly)",
    "--training_patch_size": _READ_OFF,
    "--large_model": _READ_OFF,
    "--tile_overlap": "--tile-overlap",
}

REAL_ESRGAN_OPTIONS = {
    "-n": "--model",
    "--model_name": "--model",
    "--model_path": "--model PATH (an authors' .pth is converted on the fly)",
    "--fp32": "--dtype float32",
    "--alpha_upsampler": "--alpha (model or bicubic)",
    "--tile_pad": "--tile-overlap",
    "--pre_pad": "not needed (the model pads to its window itself)",
    "-g": "--device cuda:N",
    "--gpu-id": "--device cuda:N",
    "-dn": "not available (denoise-color is blind: one model for every noise level)",
    "--denoise_strength": "not available (denoise-color is blind: one model for every noise level)",
    "--face_enhance": "not available (no face model: whole images are restored)",
}

RESTORE_OTHER_OPTIONS = {
    **AUTHORS_OPTIONS,
    **REAL_ESRGAN_OPTIONS,
    "--folder_lq": "INPUT (a folder, or -i FOLDER)",
    "--folder_gt": "not used by restore: `swinir-hf eval --dataset GT --lr-dir LQ` scores outputs against them",
    "--scale": "the model's own (--model sr-x2 for ×2); -s / --outscale resizes its output",
    "--noise": _BLIND,
    "--jpeg": _BLIND,
}

EVAL_OTHER_OPTIONS = {
    **AUTHORS_OPTIONS,
    "--folder_gt": "--dataset (a folder of ground-truth images, or one holding HR/)",
    "--folder_lq": "--lr-dir (without it, the inputs are made from --dataset by the paper's degradation)",
}

# `RealESRGANer(...)` and its `enhance(img, outscale, alpha_upsampler)`'s arguments, passed to `restore()`.
REAL_ESRGAN_ARGUMENTS = {
    "half": "dtype='float16' (or 'bfloat16'; half=False is dtype='float32')",
    "tile_pad": "tile_overlap",
    "pre_pad": "not needed (the model pads to its window itself)",
    "scale": "the model's own; outscale resizes its output",
    "gpu_id": "device='cuda:N'",
    "alpha_upsampler": "alpha ('model' or 'bicubic')",
    "model_path": "the model: swinir_hf.load_model(PATH) (an authors' .pth is converted)",
}


def unexpected_keywords(function: str, names: Iterable[str]) -> str:
    """A TypeError's message for the keyword arguments `names` that `function` ("restore()") does not take, saying
    what Real-ESRGAN's (`REAL_ESRGAN_ARGUMENTS`) are here."""
    names = list(names)
    hints = "".join(
        f"; {name} is {REAL_ESRGAN_ARGUMENTS[name]} here" for name in names if name in REAL_ESRGAN_ARGUMENTS
    )
    return f"{function} got unexpected keyword argument{'s' * (len(names) > 1)} {', '.join(map(repr, names))}{hints}"
