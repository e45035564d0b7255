"""The measured results of an exported model's card (`--eval`): this package's benchmark on each dataset given, in
the paper's convention, at the noise level or JPEG quality of a ×1 model.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models.modeling_swinir import SwinIRForImageRestoration
from .remote_code import HubExportError


def measure(model: SwinIRForImageRestoration, datasets: Sequence[str], levels: dict, labelled: bool = False) -> dict:
    """This package's `evaluate` on each dataset, at `levels` (its `noise` / `jpeg` arguments) → {dataset: {"psnr",
    "ssim"[, "psnr_b"]}} in the paper's convention (Y channel for super-resolution, the image's own channels
    otherwise). `labelled`: the benchmarks are named with their level (`CBSD68 σ25`, `LIVE1 q10`), for a model
    whose name does not say it (a release's does)."""
    from ..evaluation.benchmark import evaluate

    given = [f"--{k}" for k, v in levels.items() if v is not None]
    c = model.config
    if c.upscale == 1 and not given:
        raise HubExportError(
            f"--eval of a ×1 ({c.task}) model needs --noise SIGMA or --jpeg QUALITY: the level its benchmark inputs "
            "are degraded at"
        )
    if c.upscale > 1 and given:
        raise HubExportError(
            f"{given[0]} is for --eval of ×1 models; this one is ×{c.upscale} (scored on bicubic-downscaled "
            f"inputs): drop {given[0]}"
        )
    results = {}
    for dataset in datasets:
        try:
            evaluation = evaluate(model, dataset, progress=False, model_name="model", **levels)
        except (ValueError, FileNotFoundError) as err:
            raise HubExportError(f"--eval on {dataset}: {err}") from err
        mean = evaluation.mean("model")
        suffix = "_y" if model.config.upscale > 1 else ""
        figures = {"psnr": mean[f"psnr{suffix}"], "ssim": mean[f"ssim{suffix}"]}
        if f"psnrb{suffix}" in mean:
            figures["psnr_b"] = mean[f"psnrb{suffix}"]
        label = {"noise": "σ{:g}", "jpeg": "q{}"}
        name = " ".join([evaluation.dataset] + [label[k].format(v) for k, v in levels.items() if v is not None])
        results[name if labelled else evaluation.dataset] = figures
    return results
