"""Hub model cards (`README.md` with YAML metadata and a `model-index`) for SwinIR checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..models.configuration_swinir import TASK_TABLE, SwinIRConfig

if TYPE_CHECKING:  # a training run's card reads its config and state (the trainer calls this layer, not back)
    from ..models.modeling_swinir import SwinIRForImageRestoration
    from ..training.config import TrainingConfig
    from ..training.state import InitReport, Progress

PAPER_URL = "https://arxiv.org/abs/2108.10257"
PAPER_NAME = "SwinIR paper (Liang et al., ICCVW 2021)"
CITATION = """@inproceedings{liang2021swinir,
  title={SwinIR: Image Restoration Using Swin Transformer},
  author={Liang, Jingyun and Cao, Jiezhang and Sun, Guolei and Zhang, Kai and Van Gool, Luc and Timofte, Radu},
  booktitle={IEEE/CVF International Conference on Computer Vision Workshops (ICCVW)},
  pages={1833--1844},
  year={2021}
}"""

# Metric key of a results mapping → (model-index type, display name).
METRICS = {"psnr": ("psnr", "PSNR (dB)"), "ssim": ("ssim", "SSIM"), "psnr_b": ("psnr-b", "PSNR-B (dB)")}

Results = Mapping[str, Mapping[str, float]]


def _task_tags(config: SwinIRConfig) -> tuple[str, ...]:
    task = TASK_TABLE.get(config.task or "")
    return task.tags if task else ()


def _task_name(config: SwinIRConfig) -> str:
    task = TASK_TABLE.get(config.task or "")
    name = task.card_name if task else "Image Restoration"
    return f"{name} x{config.upscale}" if config.upscale > 1 else name


def _model_index(name: str, config: SwinIRConfig, paper: Results, measured: Results) -> list:
    task = {"type": "image-to-image", "name": _task_name(config)}
    results = []
    for source, table in (("paper", paper), ("measured", measured)):
        for dataset, figures in table.items():
            metrics = []
            for key, value in figures.items():
                kind, label = METRICS[key]
                metric = {"type": kind, "value": round(float(value), 4), "name": label}
                if source == "measured":
                    metric["name"] = f"{label}, measured with swinir-hf eval"
                metrics.append(metric)
            entry = {"task": dict(task), "dataset": {"name": dataset, "type": dataset}, "metrics": metrics}
            if source == "paper":
                entry["source"] = {"name": PAPER_NAME, "url": PAPER_URL}
            results.append(entry)
    return [{"name": name, "results": results}] if results else []


def _results_table(paper: Results, measured: Results) -> str:
    keys = [k for k in METRICS if any(k in f for f in (*paper.values(), *measured.values()))]
    head = ["benchmark", "source"] + [METRICS[k][1] for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for source, table in (("paper", paper), ("swinir-hf eval", measured)):
        for dataset, figures in table.items():
            cells = [f"{figures[k]:.4f}" if k == "ssim" else f"{figures[k]:.2f}" if k in figures else "–" for k in keys]
            lines.append("| " + " | ".join([dataset, source, *cells]) + " |")
    return "\n".join(lines)


def _usage(model_id: str, config: SwinIRConfig, remote_code: bool) -> str:
    c, s = config.num_channels, config.upscale
    times = "" if s == 1 else f"{s}·"
    input_kind = {"real_sr": "a real low-quality photo", "classical_sr": "a bicubic-downscaled image"}.get(
        config.task or "", "a degraded image"
    )
    if remote_code:
        intro = (
            "With the `swinir-hf` package, or with only `transformers` + `torch` thanks to the model code stored "
            "in this repository (`trust_remote_code=True`)."
        )
        setup, trust = "", ", trust_remote_code=True"
    else:
        intro = "With the `swinir-hf` package installed (importing it registers the model with `transformers`)."
        setup, trust = "import swinir_hf  # registers SwinIR with the Auto classes and the pipeline\n", ""
    return f"""## How to use

{intro}

### Pipeline

```python
{setup}from transformers import pipeline

restore = pipeline("image-restoration", model="{model_id}"{trust})
restore("input.png").save("restored.png")  # input: {input_kind}; any mode, bit depth and alpha are kept
```

### `from_pretrained`

```python
{setup}import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageToImage

model = AutoModelForImageToImage.from_pretrained("{model_id}"{trust}).eval()
processor = AutoImageProcessor.from_pretrained("{model_id}"{trust})
inputs = processor(Image.open("input.png"), return_tensors="pt")
with torch.no_grad():
    outputs = model(**inputs)  # reconstruction: (1, {c}, {times}H, {times}W) in [0, 1]
processor.post_process_image_restoration(outputs)[0].save("restored.png")
```

With the package installed, `swinir_hf.SwinIRForImageRestoration.from_pretrained("{model_id}")` loads the same
weights without remote code.

### Command line

```bash
pip install swinir-hf
swinir-hf restore input.png -o restored/ --model {model_id}   # --tile 256 bounds memory on large images
```

### Fine-tuning

The model computes its training loss ({config.loss.upper() if config.loss == "l1" else "Charbonnier"}) when `labels`
(the clean images in [0, 1], {times}H × {times}W for an H × W input) are passed:

```python
import torch
from swinir_hf import SwinIRForImageRestoration

model = SwinIRForImageRestoration.from_pretrained("{model_id}").train()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-5)
for lq, gt in loader:  # lq (N, {c}, H, W), gt (N, {c}, {times}H, {times}W)
    loss = model(pixel_values=lq, labels=gt).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
```

For full recipes (data pipeline, mixed precision, multi-GPU) use `accelerate launch -m swinir_hf.train --config
CONFIG.yaml` with this repository as the initial weights; see the package's `docs/training.md`.
"""


def _architecture(config: SwinIRConfig, num_parameters: int | None) -> str:
    arch = (
        f"embed_dim {config.embed_dim}, {len(config.depths)} residual Swin Transformer blocks of depths "
        f"{config.depths} with {config.num_heads} heads, window {config.window_size}, "
        f"{f'`{config.upsampler}` upsampler' if config.upsampler else 'same-size output with a global residual'}, "
        f"x{config.upscale}, "
        f"{config.num_channels} channel{'s' if config.num_channels > 1 else ''}"
    )
    if num_parameters is not None:
        arch += f", {num_parameters:,} parameters"
    return arch


def render_model_card(
    config: SwinIRConfig,
    *,
    model_id: str,
    title: str,
    description: str,
    training_data: Sequence[str] = (),
    paper_results: Results | None = None,
    measured_results: Results | None = None,
    protocol: str | None = None,
    num_parameters: int | None = None,
    tags: Sequence[str] = (),
    license: str = "apache-2.0",
    remote_code: bool = True,
) -> str:
    """A complete `README.md` for a SwinIR checkpoint folder.

    Args:
        config: the checkpoint's configuration (task, scale, architecture).
        model_id: Hub repo id (or local path) the usage snippets load.
        title: first heading, e.g. "SwinIR-M classical image super-resolution x4 (DIV2K+Flickr2K)".
        description: a paragraph saying what the weights are and where they come from.
        training_data: dataset names for the `datasets` metadata and the training section.
        paper_results / measured_results: benchmark → {"psnr": dB, "ssim": …, "psnr_b": dB}; the paper's figures
            and this project's own `swinir-hf eval` figures. Both go into `model-index` and a results table.
        protocol: how the figures are measured (channel, border, degradation).
        num_parameters: shown in the architecture summary when given.
        tags: extra Hub tags.
        remote_code: whether the folder ships the model code (`trust_remote_code=True` snippets) or needs the
            package (snippets import `swinir_hf`).
    """
    paper, measured = dict(paper_results or {}), dict(measured_results or {})
    name = model_id.rstrip("/").rsplit("/", 1)[-1]
    metadata = {
        "license": license,
        "library_name": "transformers",
        "pipeline_tag": "image-to-image",
        "tags": list(dict.fromkeys(["swinir", "image-restoration", *_task_tags(config), *tags])),
    }
    if training_data:
        metadata["datasets"] = list(training_data)
    if model_index := _model_index(name, config, paper, measured):
        metadata["model-index"] = model_index
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)

    arch = _architecture(config, num_parameters)
    sections = [f"# {title}", description.strip(), "## Model", f"SwinIR ({arch}). Paper: [{PAPER_URL}]({PAPER_URL})."]
    if training_data:
        patch = f"{config.image_size}×{config.image_size}"
        sections.append(f"Trained on {', '.join(training_data)} with {patch} training patches.")
    if paper or measured:
        sections += ["## Results", _results_table(paper, measured)]
        if protocol:
            sections.append(f"Protocol: {protocol}.")
    else:
        why = " (real-world inputs have no ground truth: judge them visually)" if config.task == "real_sr" else ""
        sections += ["## Results", f"No benchmark figures for this checkpoint{why}."]
    sections += [_usage(model_id, config, remote_code).strip(), "## Citation", f"```bibtex\n{CITATION}\n```"]
    return f"---\n{front}---\n\n" + "\n\n".join(sections) + "\n"


def training_card(
    cfg: TrainingConfig,
    model: SwinIRForImageRestoration,
    progress: Progress,
    baseline: float | None,
    init: InitReport | None,
    model_id: str,
    **results: Any,
) -> str:
    """README.md for a model trained with `swinir_hf.train` (`render_model_card`) with the training data, recipe,
    steps and the validation curve; `results` (`paper_results`, `measured_results`, `protocol`) go to the card's
    results."""
    c, d = model.config, cfg.data
    recipe = _training_recipe(cfg, model, progress, init)
    description = "Trained with `swinir_hf.train` (the swinir-hf package).\n\n" + "\n".join(recipe)
    if progress.history:
        rows = [f"| {'bicubic' if c.upscale > 1 else 'input'} | {baseline:.2f} |"] if baseline is not None else []
        rows += [f"| step {h['step']} | {h['psnr']:.2f} |" for h in progress.history]
        channel = "Y channel" if c.num_channels == 3 else "grey channel"
        description += (
            f"\n\nValidation on {d.val} during training (PSNR in dB, {channel}, border {c.upscale}):\n\n"
            "| model | PSNR |\n|---|---:|\n" + "\n".join(rows)
        )
    task = (c.task or "restoration").replace("_", " ")
    title = f"SwinIR {task}" + (f" x{c.upscale}" if c.upscale > 1 else "") + f" ({progress.step} steps)"
    return render_model_card(
        c,
        model_id=model_id,
        title=title,
        description=description,
        training_data=[Path(str(s)).name for s in d.train],
        num_parameters=model.num_parameters(),
        tags=["swinir-hf-trained"],
        remote_code=False,  # the trainer saves weights, config and processor only
        **results,
    )


def _training_recipe(
    cfg: TrainingConfig, model: SwinIRForImageRestoration, progress: Progress, init: InitReport | None
) -> list[str]:
    """The recipe lines of a training card: data, degradation, schedule, GAN terms, starting weights."""
    c, t, d = model.config, cfg.train, cfg.data
    kind = {
        "bicubic": "MATLAB bicubic downscaling",
        "noise": f"additive Gaussian noise, σ = {d.noise_sigma} grey levels",
        "jpeg": f"JPEG, quality {d.jpeg_quality}",
        "real": "BSRGAN-style practical degradation (blur, resize, noise, JPEG; random order, two rounds)",
        "paired": "pre-made LR/HR pairs",
    }[d.degradation]
    recipe = [
        f"- data: {', '.join(map(str, d.train))}" + (f" (LR: {', '.join(d.train_lr)})" if d.train_lr else ""),
        f"- degradation: {kind}; {d.patch_size}×{d.patch_size} input patches, flips {d.flip}, rotations {d.rot90}",
        f"- {progress.step} of {t.max_steps} steps, batch {t.batch_size}, Adam lr {t.learning_rate} × {t.lr_gamma} "
        f"at steps {cfg.milestones()}, {c.loss} loss"
        + (f", EMA {t.ema_decay} (these are the EMA weights)" if t.ema_decay else "")
        + f", precision {t.mixed_precision}, seed {t.seed}",
    ]
    if cfg.gan.enabled:
        g = cfg.gan
        recipe.append(
            f"- GAN: pixel L1 × {g.pixel_weight} + VGG-19 perceptual × {g.perceptual_weight} "
            f"({g.perceptual_layers}) + GAN × {g.gan_weight}; VGG weights: {g.vgg_weights}"
        )
    if init is not None:
        recipe.append(
            f"- initialised from `{init.source}` ({len(init.loaded)} tensors loaded, "
            f"{len(init.reinitialised)} re-initialised, {len(init.dropped)} dropped)"
        )
    return recipe
