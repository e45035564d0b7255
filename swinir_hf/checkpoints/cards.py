"""Hub model cards (`README.md`) for SwinIR checkpoints: metadata and `model-index` through `huggingface_hub`'s
`ModelCardData` / `EvalResult` (`card_metadata`), and a Markdown body with usage, architecture and results (a
training run's card adds its recipe: `swinir_hf.training.card`)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence

from huggingface_hub import ModelCard

from ..models.configuration_swinir import MIN_TRANSFORMERS, TASK_TABLE, SwinIRConfig
from ..models.constants_swinir import TILE_OVERLAP
from .card_metadata import (
    METRICS,
    PAPER_URL,
    PIPELINE_TAG,
    Results,
    card_data,
    card_tags,
    eval_results,
    hub_datasets,
    license_section,
    metric_label,
)
from .hub_licenses import LicenseTerms, license_terms
from .measured_results import read_results

CITATION = """@inproceedings{liang2021swinir,
  title={SwinIR: Image Restoration Using Swin Transformer},
  author={Liang, Jingyun and Cao, Jiezhang and Sun, Guolei and Zhang, Kai and Van Gool, Luc and Timofte, Radu},
  booktitle={IEEE/CVF International Conference on Computer Vision Workshops (ICCVW)},
  pages={1833--1844},
  year={2021}
}"""


def _results_table(paper: Results, measured: Results) -> str:
    keys = [k for k in METRICS if any(k in f for f in (*paper.values(), *measured.values()))]
    head = ["benchmark", "source"] + [metric_label(k) for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for source, table in (("paper", paper), ("swinir-hf eval", measured)):
        for dataset, figures in table.items():
            # A benchmark may lack a metric another one has (SSIM not reported): "–" in its cell.
            cells = [f"{figures[k]:.{4 if k == 'ssim' else 2}f}" if k in figures else "–" for k in keys]
            lines.append("| " + " | ".join([dataset, source, *cells]) + " |")
    return "\n".join(lines)


def _shape(config: SwinIRConfig) -> tuple[int, str]:
    """Channels and the output size prefix ("4·" for x4, "" at scale 1) the snippets' comments use."""
    return config.num_channels, "" if config.upscale == 1 else f"{config.upscale}·"


def _usage_setup(remote_code: bool) -> tuple[str, str, str]:
    """(intro sentence, first snippet line, extra `from_pretrained` argument) for folders with or without code."""
    if remote_code:
        intro = (
            f"With the `swinir-hf` package, or with only `transformers` (≥ {MIN_TRANSFORMERS}) + `torch` thanks to the "
            "model code stored in this repository (`trust_remote_code=True`; below transformers 5.18, "
            "`AutoImageProcessor` also wants `torchvision`, the pipeline does not)."
        )
        return intro, "", ", trust_remote_code=True"
    intro = "With the `swinir-hf` package installed (importing it registers the model with `transformers`)."
    return intro, "import swinir_hf  # registers SwinIR with the Auto classes and the pipeline\n", ""


def _pipeline_snippet(ref: str, config: SwinIRConfig, setup: str, trust: str) -> str:
    task = TASK_TABLE.get(config.task or "")
    kinds = {"sr": "a bicubic-downscaled image", "real_sr": "a real low-quality photo"}  # what each SR task takes
    input_kind = kinds.get(task.restores if task else "", "a degraded image")
    return f"""### Pipeline

```python
{setup}from transformers import pipeline

restore = pipeline("image-restoration", model={ref}{trust})
restore("input.png").save("restored.png")  # input: {input_kind}; any mode, bit depth and alpha are kept
restore("large.png", tile=512).save("restored.png")  # in 512-pixel tiles, blended: bounded memory
```"""


def _from_pretrained_snippet(ref: str, config: SwinIRConfig, setup: str, trust: str) -> str:
    c, times = _shape(config)
    return f"""### `from_pretrained`

```python
{setup}import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageToImage

model = AutoModelForImageToImage.from_pretrained({ref}{trust}).eval()
processor = AutoImageProcessor.from_pretrained({ref}{trust})
inputs = processor(Image.open("input.png"), return_tensors="pt")
with torch.no_grad():
    outputs = model(**inputs)  # reconstruction: (1, {c}, {times}H, {times}W) in [0, 1]
processor.post_process_image_restoration(outputs)[0].save("restored.png")
```

With the package installed, `swinir_hf.SwinIRForImageRestoration.from_pretrained({ref})` loads the same
weights without remote code."""


def _cli_snippet(model_id: str) -> str:
    return f"""### Command line

```bash
pip install -e .   # in a checkout of the swinir-hf repository (not on PyPI yet)
swinir-hf restore input.png -o restored/ --model {shlex.quote(model_id)}   # --tile 256 bounds memory on large images
```"""


def _endpoint_snippet() -> str:
    return f"""### Inference Endpoints

This repository's `handler.py` is a custom handler for Hugging Face Inference Endpoints (Deploy → Inference
Endpoints, with the Inference Toolkit; the endpoint installs this repository's `requirements.txt` at start-up, which
brings a new enough `transformers` where the container's is older): it restores each
image with the model code stored here, on the endpoint's GPU where it has one, whole (an image too large for its
memory is refused, saying so) or in tiles (`"parameters": {{"tile": 512}}`). Images over 1,048,576 pixels (width ×
height) are refused; the endpoint's owner sets another limit with the environment variable
`SWINIR_ENDPOINT_MAX_PIXELS` (the endpoint's settings). Send the image file and ask for PNG back:

```bash
curl "$ENDPOINT_URL" -H "Authorization: Bearer $HF_TOKEN" -H "Content-Type: image/png" -H "Accept: image/png" \\
  --data-binary @input.png -o restored.png
```

An image body reaches the handler in RGB; to keep alpha (or 16-bit grey) where the toolkit passes a JSON string on as
it is, send `Content-Type: application/json` with
`{{"inputs": "<the file in base64>", "parameters": {{"alpha": "bicubic", "tile": 512}}}}` instead (`parameters` is
optional: `alpha`, "model" or "bicubic"; `tile`, input pixels a tile side; `tile_overlap`, pixels neighbouring tiles
share, {TILE_OVERLAP} by default, as `swinir-hf restore --tile` takes them; any other is refused). The export checked
the handler (it gives the package's pixels, whole and in tiles), but it is untested on a running endpoint: please
report what goes wrong."""


def _fine_tuning_snippet(ref: str, config: SwinIRConfig, setup: str) -> str:
    c, times = _shape(config)
    loss = "L1" if config.loss == "l1" else "Charbonnier"
    return f"""### Fine-tuning

The model computes its training loss ({loss}) when `labels`
(the clean images in [0, 1], {times}H × {times}W for an H × W input) are passed:

```python
{setup}import torch
from swinir_hf import SwinIRForImageRestoration

model = SwinIRForImageRestoration.from_pretrained({ref}).train()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-5)
for lq, gt in loader:  # lq (N, {c}, H, W), gt (N, {c}, {times}H, {times}W)
    loss = model(pixel_values=lq, labels=gt).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
```

For full recipes (data pipeline, mixed precision, multi-GPU) use `accelerate launch -m swinir_hf.train --config
CONFIG.yaml` with this repository as the initial weights; see the package's `docs/training.md`."""


def _usage(model_id: str, config: SwinIRConfig, remote_code: bool) -> str:
    """The "How to use" section: pipeline, `from_pretrained`, command line, (with the model code) Inference Endpoints
    and fine-tuning snippets. A bundled
    model's name (`sr-x4`) is its folder in the package for Python and its name for the command line."""
    from .loading import DEFAULT_MODELS

    intro, setup, trust = _usage_setup(remote_code)
    # A folder's path may hold quotes, backslashes (Windows) or spaces: a string literal as Python reads it.
    ref, bundled_setup = json.dumps(model_id, ensure_ascii=False), ""
    if model_id in DEFAULT_MODELS and not remote_code:
        ref = f'str(DEFAULTS_DIR / "{model_id}")'
        bundled_setup = "from swinir_hf.loading import DEFAULTS_DIR  # the bundled models' folder\n"
    return "\n\n".join(
        [
            "## How to use",
            intro,
            _pipeline_snippet(ref, config, setup + bundled_setup, trust),
            _from_pretrained_snippet(ref, config, setup + bundled_setup, trust),
            _cli_snippet(model_id),
            *([_endpoint_snippet()] if remote_code else []),
            _fine_tuning_snippet(ref, config, bundled_setup),
        ]
    )


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


def _results_section(config: SwinIRConfig, paper: Results, measured: Results, protocol: str | None) -> list[str]:
    if not (paper or measured):
        why = " (real-world inputs have no ground truth: judge them visually)" if config.task == "real_sr" else ""
        return ["## Results", f"No benchmark figures for this checkpoint{why}."]
    return ["## Results", _results_table(paper, measured)] + ([f"Protocol: {protocol}."] if protocol else [])


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
    license: str | None = None,
    authors_license: bool = False,
    remote_code: bool = True,
    base_model: str | None = None,
    datasets: Sequence[str] | None = None,
    training_patch: int | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
) -> str:
    """A complete `README.md` for a SwinIR checkpoint folder, built offline (nothing is validated on the Hub).

    Args:
        config: the checkpoint's configuration (task, scale, architecture).
        model_id: Hub repo id, local path or bundled model name (`sr-x4`) the usage snippets load; its last part
            names the model-index.
        title: first heading, e.g. "SwinIR-M classical image super-resolution x4 (DIV2K+Flickr2K)".
        description: a paragraph saying what the weights are and where they come from.
        training_data: dataset names for the training section (and, unless `datasets`, the `datasets` metadata:
            those the Hub holds, `hub_datasets`).
        paper_results / measured_results: benchmark → {"psnr": dB, "ssim": …, "psnrb": dB}; the paper's figures
            and this project's own `swinir-hf eval` figures. Both go into a results table; `model-index` holds the
            measured ones when there are any, else the paper's (see `eval_results`).
        protocol: how the figures are measured (channel, border, degradation).
        num_parameters: shown in the architecture summary when given.
        tags: extra Hub tags.
        license: the Hub license id the weights' publisher chose; None: `apache-2.0`, the card saying it is
            swinir-hf's default (`card_metadata.license_section`, which also states the training data's terms).
        license_name / license_link: with `license="other"` (and only then), the id and the place (a file in the
            repo, a URL) of the publisher's own terms, which the Hub asks of `other`.
        authors_license: the weights are the SwinIR authors' release: their license, said to be theirs.
        remote_code: whether the folder ships the model code (`trust_remote_code=True` snippets) or needs the
            package (snippets import `swinir_hf`).
        base_model: Hub id of the model these weights were fine-tuned from, if any.
        datasets: the `datasets` metadata, which the Hub links as dataset repos (default: `training_data`).
        training_patch: the side of the model's input patches in training (default: `config.image_size`, the
            authors' training patch, which a run of `swinir_hf.train` may leave at another value).

    Raises:
        TypeError: a string where a list of names goes (`training_data="DIV2K"`).
        ValueError: a license the Hub does not know, or terms of one's own not as it asks them
            (`hub_licenses.license_terms`).
    """
    # A string is a sequence too: its letters would become the card's datasets (D, I, V, 2, K) without a word.
    for name, names in (("training_data", training_data), ("tags", tags), ("datasets", datasets)):
        if isinstance(names, str):
            raise TypeError(f"{name} takes a list of names, not the string {names!r}: pass [{names!r}]")
    paper, measured = read_results(paper_results), read_results(measured_results)
    license, license_name, license_link = license_terms(license, license_name, license_link)
    license, license_text = license_section(
        license, authors=authors_license, training_data=training_data, name=license_name, link=license_link
    )
    data = card_data(
        config,
        model_id.rstrip("/").rsplit("/", 1)[-1],
        training_data=hub_datasets(training_data) if datasets is None else datasets,
        results=eval_results(config, paper, measured),
        tags=tags,
        license=license,
        base_model=base_model,
        license_name=license_name,
        license_link=license_link,
    )
    sections = [
        f"# {title}",
        description.strip(),
        "## Model",
        f"SwinIR ({_architecture(config, num_parameters)}). Paper: [{PAPER_URL}]({PAPER_URL}).",
    ]
    if training_data:
        side = training_patch or config.image_size
        patch = f"{side}×{side}"
        sections.append(f"Trained on {', '.join(training_data)} with {patch} training patches.")
    sections += _results_section(config, paper, measured, protocol)
    sections += [_usage(model_id, config, remote_code), license_text, "## Citation", f"```bibtex\n{CITATION}\n```"]
    # Parsing the text back checks that huggingface_hub reads the model-index it wrote.
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n"))


def hub_card(
    card: str,
    config: SwinIRConfig,
    *,
    model_id: str,
    measured_results: Results | None = None,
    protocol: str | None = None,
    remote_code: bool = True,
    license: str | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
) -> str:
    """`card` (a `README.md` of `render_model_card` / `training_card`, say a trained run's) for a Hub folder that
    ships the model code: its "How to use" section becomes the `trust_remote_code=True` one for `model_id` (with
    `remote_code=False`, the package's: a bundled model's card, say), and with `measured_results` its results section
    and `model-index` become those figures. The rest (title, recipe,
    validation curve, metadata) is kept as written; a card without such sections gets them before the citation, and
    one without the metadata the Hub shows a transformers model by (library, pipeline tag, SwinIR tags) gets it.
    `license` (a Hub license id the publisher chose; `other` with its terms' `license_name` and `license_link`)
    replaces the card's license (and its terms') and the first paragraph of its License section (the training data's
    terms stay); a card with no license at all gets the default one, saying so (`card_metadata.license_section`).
    ValueError: `license_terms`'."""
    terms = license_terms(license, license_name, license_link)
    parsed = ModelCard(card)
    data = parsed.data
    # A hand-written README (no front matter, or another one) would leave the repo without a pipeline or a library.
    data.library_name = data.library_name or "transformers"
    data.pipeline_tag = data.pipeline_tag or PIPELINE_TAG
    data.tags = [*(tag for tag in card_tags(config) if tag not in (data.tags or ())), *(data.tags or ())]
    replace = {"How to use": _usage(model_id, config, remote_code)}
    # Sections start at a line "## Title"; `###` sub-headings stay inside their section.
    parts = re.split(r"(?m)^(?=## )", parsed.text.strip("\n"))
    titles = [part.splitlines()[0][3:].strip() if part.startswith("## ") else None for part in parts]
    if measured_results:
        measured_results = read_results(measured_results)
        replace["Results"] = "\n\n".join(_results_section(config, {}, measured_results, protocol))
        data.eval_results = eval_results(config, {}, measured_results)
    if data.eval_results:
        data.model_name = model_id.rstrip("/").rsplit("/", 1)[-1]
    if license or not data.license:
        old = parts[titles.index("License")] if "License" in titles else ""
        data.license, replace["License"] = _relicensed(terms, old)
        data.license_name, data.license_link = terms[1:]  # another license's terms go with it
    for title, text in replace.items():
        if title in titles:
            parts[titles.index(title)] = text + "\n\n"
        else:
            at = titles.index("Citation") if "Citation" in titles else len(parts)
            parts.insert(at, text + "\n\n")
            titles.insert(at, title)
    body = "".join(part if part.endswith("\n\n") else part.rstrip("\n") + "\n\n" for part in parts)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + body.rstrip("\n") + "\n"))


def _relicensed(terms: LicenseTerms, section: str) -> tuple[str, str]:
    """(license, License section) of a card whose License section was `section` ("" for none) under `terms`
    (`license_terms`'; a None license: the default): its first paragraph replaced, the training data's terms kept."""
    license, name, link = terms
    license, text = license_section(license, name=name, link=link)
    kept = [p.strip() for p in section.split("\n\n")[2:] if p.strip()]
    return license, "\n\n".join([text, *kept])
