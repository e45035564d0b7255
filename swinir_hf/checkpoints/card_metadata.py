"""The YAML header of a SwinIR model card (`cards`): license, library, pipeline tag, tags, datasets, `base_model`
and the `model-index` of its benchmark figures, built with `huggingface_hub`'s `ModelCardData` / `EvalResult`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from huggingface_hub import EvalResult, ModelCardData

from ..models.configuration_swinir import TASK_TABLE, SwinIRConfig
from .hub_lookup import is_repo_id
from .measured_results import PSNR_B, read_results, scoring, split_level

PAPER_URL = "https://arxiv.org/abs/2108.10257"
PAPER_NAME = "SwinIR paper (Liang et al., ICCVW 2021)"
PIPELINE_TAG = "image-to-image"
# The Hub links a card to its paper page by this tag (it adds it itself only for an arXiv link in the card's text,
# which a hand-written card given to `hub_card` may lack).
PAPER_TAG = "arxiv:2108.10257"
# Metric key of a results mapping → (model-index type, display name, unit).
METRICS = {"psnr": ("psnr", "PSNR", "dB"), "ssim": ("ssim", "SSIM", ""), PSNR_B: ("psnr-b", "PSNR-B", "dB")}
Results = Mapping[str, Mapping[str, float]]
# The Hub links `datasets` entries as dataset repos: a training set by its Hub copy where one is known (DIV2K's, a
# community upload of its images); a bare name (Flickr2K, OST, WED, ...) is no Hub dataset and stays in the text.
HUB_DATASETS = {"DIV2K": "eugenesiow/Div2k"}
# The SwinIR authors publish their code and released weights under this license (their repository's LICENSE): a
# converted release's card states theirs. A model of the user's own gets it too unless they choose another
# (`--license`), its card saying so (`LICENSE_DEFAULT_NOTE`): the Hub's filters want a license, and it is the code's.
AUTHORS_LICENSE = "apache-2.0"
AUTHORS_REPO = "https://github.com/JingyunLiang/SwinIR"
LICENSE_DEFAULT_NOTE = (
    f"`{AUTHORS_LICENSE}`: swinir-hf's default for a model it trains or exports (the license of the SwinIR code), not "
    "one the publisher of these weights chose. To state another, export them with `swinir-hf hub ... --license ID` "
    "(or train with `--license ID`) or edit this card's `license:` line (a Hub license id, `other` for terms of "
    "your own)."
)
# Training sets whose images come with terms that bind what a model learnt from them may be used for, by the starts
# of their name as a card lists them (a folder of them: "DIV2K_train_HR_crops128", "BSDS500_train"; the paper
# configs' "BSD500" and the denoisers' "BSD400" are BSDS500's images too).
DATA_TERMS = {
    ("div2k",): "DIV2K is released for academic research only (https://data.vision.ee.ethz.ch/cvl/DIV2K/)",
    ("bsds", "bsd500", "bsd400"): "BSDS500 (the Berkeley Segmentation Dataset, Corel photographs) is released for "
    "non-commercial research and education",
}


def hub_datasets(names: Sequence[str]) -> list[str]:
    """The Hub dataset ids of training sets `names`: a known copy's (`HUB_DATASETS`), an `owner/name` as it is."""
    return [HUB_DATASETS.get(n, n) for n in names if n in HUB_DATASETS or ("/" in n and is_repo_id(n))]


def _task_tags(config: SwinIRConfig) -> tuple[str, ...]:
    task = TASK_TABLE.get(config.task or "")
    return task.tags if task else ()


def card_tags(config: SwinIRConfig) -> list[str]:
    """The Hub tags of every SwinIR card: the model's, its task's and its paper's."""
    return ["swinir", "image-restoration", *_task_tags(config), PAPER_TAG]


def _task_name(config: SwinIRConfig) -> str:
    task = TASK_TABLE.get(config.task or "")
    name = task.card_name if task else "Image Restoration"
    return f"{name} x{config.upscale}" if config.upscale > 1 else name


def metric_label(key: str, channel: str = "") -> str:
    """A metric's display name with its unit and, where given, the channel it is computed on: "PSNR (dB, Y channel)"."""
    _, name, unit = METRICS[key]
    details = ", ".join(filter(None, (unit, channel)))
    return f"{name} ({details})" if details else name


def _eval_result(config: SwinIRConfig, dataset: str, key: str, value: float, measured: bool) -> EvalResult:
    # A PSNR on Y reads about 1-2 dB above one on RGB: the name and the arguments say which one the figure is.
    channel, args = scoring(config.upscale, config.num_channels)
    # The type names the benchmark ("CBSD68"); its level ("σ25") is the config, which also keeps one benchmark's
    # levels apart (huggingface_hub merges the results of one type and config into one model-index entry).
    benchmark, level = split_level(dataset)
    return EvalResult(
        task_type=PIPELINE_TAG,
        task_name=_task_name(config),
        dataset_type=benchmark,
        dataset_name=dataset,
        dataset_config=level,
        dataset_split="test",
        metric_type=METRICS[key][0],
        metric_value=round(float(value), 4),
        metric_name=f"{metric_label(key, channel)}{', measured with swinir-hf eval' if measured else ''}",
        metric_args=args,
        source_name=None if measured else PAPER_NAME,
        source_url=None if measured else PAPER_URL,
    )


def eval_results(config: SwinIRConfig, paper: Results, measured: Results) -> list[EvalResult]:
    """One `EvalResult` per benchmark figure: this package's own `swinir-hf eval` figures (self-reported, no source)
    when there are any, else the paper's (with the paper as source). Never both: huggingface_hub merges the results
    of one benchmark into one model-index entry with a single source, so mixing them would misattribute one set; the
    card's results table shows both."""
    paper, measured = read_results(paper), read_results(measured)
    own = bool(measured)
    return [
        _eval_result(config, dataset, key, value, own)
        for dataset, figures in (measured if own else paper).items()
        for key, value in figures.items()
    ]


def card_data(
    config: SwinIRConfig,
    model_name: str,
    *,
    training_data: Sequence[str] = (),
    results: Sequence[EvalResult] = (),
    tags: Sequence[str] = (),
    license: str = AUTHORS_LICENSE,
    base_model: str | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
) -> ModelCardData:
    """The card's metadata: license (with `other`, its terms' `license_name` and `license_link`), `transformers` as
    library, the image-to-image pipeline tag, SwinIR and task tags plus `tags`, training datasets, `base_model` and
    the `model-index` of `results` under `model_name`."""
    return ModelCardData(
        license=license,
        license_name=license_name,
        license_link=license_link,
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=[*card_tags(config), *tags],
        datasets=list(training_data) or None,
        base_model=base_model,
        # ModelCardData writes `model_name` as its own key unless there is a model-index to name.
        model_name=model_name if results else None,
        eval_results=list(results) or None,
    )


def data_terms(training_data: Sequence[str]) -> str | None:
    """The paragraph naming the terms of the training sets among `training_data` that have some (`DATA_TERMS`)."""
    names = [name.rsplit("/", 1)[-1].lower() for name in training_data]
    terms = [text for starts, text in DATA_TERMS.items() if any(name.startswith(starts) for name in names)]
    if not terms:
        return None
    return (
        f"Training data: {'; '.join(terms)}. These weights were learnt from those images: check that your use of them "
        "fits those terms as well as the license above."
    )


def license_section(
    license: str | None,
    *,
    authors: bool = False,
    training_data: Sequence[str] = (),
    name: str | None = None,
    link: str | None = None,
) -> tuple[str, str]:
    """(the card's `license` metadata, its "## License" section): the authors' license for their release
    (`authors`), else `license` as its publisher chose it (`other`: the terms `name`d, at `link`), else
    `AUTHORS_LICENSE` with `LICENSE_DEFAULT_NOTE`; then the terms of the training data (`data_terms`)."""
    if authors:
        license = AUTHORS_LICENSE
        text = (
            f"`{AUTHORS_LICENSE}`: the license the SwinIR authors publish their code and these weights under "
            f"([their repository]({AUTHORS_REPO}))."
        )
    elif license == "other":
        text = f"`other`: [{name}]({link}), the terms the publisher of these weights chose."
    elif license:
        text = f"`{license}`, as the publisher of these weights chose it."
    else:
        license, text = AUTHORS_LICENSE, LICENSE_DEFAULT_NOTE
    return license, "\n\n".join(filter(None, ["## License", text, data_terms(training_data)]))
