"""Hub folders from the authors' checkpoints: contents, card metadata, verification, loading without the package,
and the push path against a fake Hub."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard, constants
from PIL import Image
from preloaded_python import PreloadedPython
from safetensors.torch import load_file

from swinir_hf import SwinIRForImageRestoration, SwinIRImageProcessor, restore
from swinir_hf.checkpoints import export as hub
from swinir_hf.checkpoints import export_cli, folders, loading, remote_code, repo_names
from swinir_hf.checkpoints.card_metadata import METRICS, PAPER_NAME, PAPER_URL
from swinir_hf.checkpoints.cards import hub_card, render_model_card
from swinir_hf.checkpoints.catalog import find_release
from swinir_hf.checkpoints.convert import CheckpointError
from swinir_hf.checkpoints.export import export_checkpoint, push_folder
from swinir_hf.checkpoints.loading import load_model
from swinir_hf.checkpoints.remote_code import HubExportError, remote_code_sources
from swinir_hf.cli import main
from swinir_hf.demo.limits import DEFAULT_MAX_PIXELS
from swinir_hf.evaluation.benchmark import evaluate
from swinir_hf.models import handler_swinir
from swinir_hf.models.configuration_swinir import MIN_TRANSFORMERS, SwinIRConfig
from swinir_hf.storage.atomic_writes import process_tag

# One per head / channel count / window: pixelshuffle RGB, nearest+conv 3conv (params_ema), grey window-7 x255.
CASES = ("classical_sr_x2", "real_sr_x4_large", "jpeg_car")
EXPECTED_FILES = [
    "README.md",
    "alpha_swinir.py",
    "code_files_swinir.py",
    "config.json",
    "configuration_swinir.py",
    "constants_swinir.py",
    "frames_swinir.py",
    "handler.py",
    "hub_files_swinir.py",
    "hub_push_swinir.py",
    "image_files_swinir.py",
    "image_processing_swinir.py",
    "loading_swinir.py",
    "memory_swinir.py",
    "model.safetensors",
    "modeling_swinir.py",
    "moved_swinir.py",
    "pil_images_swinir.py",
    "pipeline_swinir.py",
    "pixels_swinir.py",
    "preprocessor_config.json",
    "presets_swinir.py",
    "requirements.txt",
    "runtime_swinir.py",
    "tiling_swinir.py",
    "weight_files_swinir.py",
    "windows_swinir.py",
]


@pytest.fixture(scope="module")
def parity(shared):
    return shared / "fixtures" / "official_parity"


@pytest.fixture(scope="module")
def bench(shared, tmp_path_factory):
    """A two-image benchmark folder (crops of Set5) for --eval."""
    dataset = tmp_path_factory.mktemp("bench")
    for path in sorted((shared / "testsets" / "Set5" / "HR").iterdir())[:2]:
        Image.open(path).convert("RGB").crop((0, 0, 40, 32)).save(dataset / f"{path.stem}.png")
    return dataset


@pytest.fixture(scope="module")
def exported(parity, bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("hub")
    return {
        case: export_checkpoint(
            parity / f"{case}.pth", out, organization="me", eval_datasets=[str(bench)] if case == CASES[0] else ()
        )
        for case in CASES
    }


def golden(parity, case):
    return load_file(parity / f"{case}.safetensors")


def test_folder_contents_config_and_processor(exported):
    folder = exported["real_sr_x4_large"]
    assert folder.repo_id == "me/swinir-real-sr-x4-large"
    assert folder.files() == EXPECTED_FILES
    assert sorted(p.name for p in folder.path.parent.iterdir()) == sorted(f.path.name for f in exported.values())
    modes = {(folder.path / name).stat().st_mode & 0o777 for name in EXPECTED_FILES}
    assert modes == {(folder.path / "config.json").stat().st_mode & 0o777}  # model.safetensors is not 0600
    config = json.loads((folder.path / "config.json").read_text())
    assert config["auto_map"] == remote_code.AUTO_MAP
    assert config["custom_pipelines"] == {
        "image-restoration": {
            "impl": "pipeline_swinir.ImageRestorationPipeline",
            "pt": ["AutoModelForImageToImage"],
            "type": "image",
        }
    }
    assert (config["model_type"], config["upsampler"], config["resi_connection"]) == ("swinir", "nearest+conv", "3conv")
    processor = json.loads((folder.path / "preprocessor_config.json").read_text())
    assert processor["auto_map"] == {"AutoImageProcessor": "image_processing_swinir.SwinIRImageProcessor"}
    assert folder.max_abs_diff <= 1e-5


def test_remote_code_is_generated_from_the_package(exported):
    folder = exported["classical_sr_x2"].path
    for name, source in remote_code_sources().items():
        assert (folder / name).read_text() == source
        if name == remote_code.REQUIREMENTS_FILE:
            continue
        module = remote_code.HANDLER_MODULE + ".py" if name == remote_code.HANDLER_FILE else name
        package_source = (Path(remote_code.models.__file__).parent / module).read_text()
        assert source.endswith(package_source) and source.startswith("# ")


def test_remote_code_refuses_imports_it_does_not_ship(monkeypatch):
    monkeypatch.setattr(remote_code, "REMOTE_MODULES", ("modeling_swinir",))
    with pytest.raises(HubExportError, match="imports .code_files_swinir, which is not shipped"):
        remote_code_sources()


def test_card_metadata_parses(exported):
    card = ModelCard.load(exported["jpeg_car"].path / "README.md")
    assert card.data.license == "apache-2.0"
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "image-to-image"
    assert {"swinir", "jpeg-artifact-reduction"} <= set(card.data.tags)
    assert card.data.eval_results is None  # not a catalogued release: no paper figures
    for snippet in ('AutoModelForImageToImage.from_pretrained("me/swinir-jpeg-car"', "swinir-hf restore", "labels=gt"):
        assert snippet in card.text
    assert "@inproceedings{liang2021swinir" in card.text
    # Grey and RGB models alike: the folder's own pipeline, through remote code.
    assert 'pipeline("image-restoration", model="me/swinir-jpeg-car", trust_remote_code=True)' in card.text
    assert "import swinir_hf" not in card.text


def test_card_round_trip_credits_each_figure_to_its_source(tmp_path):
    """render → ModelCard.load: model-index holds this package's measured figures (self-reported) when there are
    any, else the paper's, credited to the paper; never a mix under one source. The text's table shows both."""
    release = find_release("swinir-classical-sr-x4-df2k")
    measured = {"Set5": {"psnr": 32.90123, "ssim": 0.904312}, "Urban100": {"psnr": 27.4}}
    (tmp_path / "README.md").write_text(
        render_model_card(
            release.config(),
            model_id=release.repo_id("me"),
            title=release.title(),
            description="test",
            training_data=release.training_data,
            paper_results=release.results,
            measured_results=measured,
            protocol=release.protocol,
            base_model="me/swinir-base",
        )
    )
    card = ModelCard.load(tmp_path / "README.md")
    data = card.data
    assert (data.license, data.library_name, data.pipeline_tag) == ("apache-2.0", "transformers", "image-to-image")
    assert data.tags == ["swinir", "image-restoration", "super-resolution", "arxiv:2108.10257"]
    assert (data.datasets, data.base_model, data.model_name) == (["eugenesiow/Div2k"], "me/swinir-base", release.repo)

    # Measured figures present: model-index holds them, self-reported; the paper's stay in the table only.
    own = {("Set5", "psnr"): 32.9012, ("Set5", "ssim"): 0.9043, ("Urban100", "psnr"): 27.4}
    assert _figures(data.eval_results) == own
    assert {(r.source_name, r.source_url) for r in data.eval_results} == {(None, None)}
    names = {r.metric_name for r in data.eval_results}
    assert names == {f"{name}, measured with swinir-hf eval" for name in ("PSNR (dB, Y channel)", "SSIM (Y channel)")}
    paper_only = ModelCard(
        render_model_card(
            release.config(), model_id=release.repo_id("me"), title="t", description="d", paper_results=release.results
        )
    )
    paper = paper_only.data.eval_results
    assert _figures(paper) == {(d, METRICS[k][0]): v for d, f in release.results.items() for k, v in f.items()}
    assert {(r.source_name, r.source_url) for r in paper} == {(PAPER_NAME, PAPER_URL)}
    assert {(r.task_type, r.task_name) for r in data.eval_results} == {("image-to-image", "Image Super-Resolution x4")}
    assert all(r.dataset_type == r.dataset_name for r in data.eval_results)
    assert "| Set5 | paper | 32.92 | 0.9044 |" in card.text
    assert "| Set5 | swinir-hf eval | 32.90 | 0.9043 |" in card.text
    assert "Y channel" in card.text


@pytest.mark.parametrize(
    ("repo", "channel", "args"),
    [
        ("swinir-classical-sr-x4-df2k", "Y channel", {"crop_border": 4, "test_y_channel": True}),
        ("swinir-denoising-color-sigma15", "RGB", {"crop_border": 0, "test_y_channel": False}),
        ("swinir-jpeg-car-gray-q10", "grey", {"crop_border": 0, "test_y_channel": False}),
    ],
)
def test_card_model_index_says_what_each_figure_is_computed_on(repo, channel, args):
    """A PSNR on Y reads 1-2 dB above one on RGB: each model-index metric names its unit and channel and carries the
    arguments of `swinir_hf.evaluation.metrics` it was computed with; the benchmarks are test splits."""
    release = find_release(repo)
    card = ModelCard(
        render_model_card(
            release.config(), model_id=release.repo_id("me"), title="t", description="d", paper_results=release.results
        )
    )
    results = card.data.eval_results
    assert _figures(results) == {(d, METRICS[k][0]): v for d, f in release.results.items() for k, v in f.items()}
    expected = {"psnr": f"PSNR (dB, {channel})", "ssim": f"SSIM ({channel})", "psnr-b": f"PSNR-B (dB, {channel})"}
    assert {r.metric_name for r in results} == {expected[r.metric_type] for r in results}
    assert all(r.metric_args == args and r.dataset_split == "test" for r in results)
    assert "| benchmark | source | PSNR (dB) |" in card.text  # the table's columns say the unit alone


def _figures(results: list) -> dict[tuple[str, str], float]:
    """A card's model-index figures: (benchmark, metric type) → value."""
    return {(r.dataset_name, r.metric_type): r.metric_value for r in results}


def _bundled_figures(name: str) -> tuple[Path, SwinIRConfig, dict[str, dict[str, float]]]:
    """A bundled model's folder, config and results.json figures on the paper's channel (what `--rescore` writes)."""
    from swinir_hf.checkpoints.bundled import DEFAULTS_DIR
    from swinir_hf.checkpoints.measured_results import paper_figures

    folder = DEFAULTS_DIR / name
    config = SwinIRConfig.from_pretrained(folder)
    recorded = json.loads((folder / "results.json").read_text())
    return folder, config, {k: paper_figures(v["model"], config.upscale) for k, v in recorded.items() if "model" in v}


def _rounded(measured: dict[str, dict[str, float]]) -> dict[tuple[str, str], float]:
    """`_figures` of a card given `measured`: each figure rounded to 4 places, keyed by its metric type."""
    return {(d, METRICS[k][0]): round(v, 4) for d, f in measured.items() for k, v in f.items()}


@pytest.mark.parametrize("name", ["sr-x4", "jpeg-color", "denoise-color"])
def test_a_bundled_cards_rescored_model_index_round_trips_its_results_json(name):
    """`hub/bundle_default.py --rescore` puts results.json's figures into the card through `hub_card`: the parsed
    card's model-index holds each of them (rounded to 4 places) on the paper's channel, self-reported."""
    from swinir_hf.checkpoints.measured_results import split_level

    folder, config, measured = _bundled_figures(name)
    text = hub_card(
        (folder / "README.md").read_text(), config, model_id=name, measured_results=measured, remote_code=False
    )
    data = ModelCard(text).data
    assert _figures(data.eval_results) == _rounded(measured)
    channel = "Y channel" if config.upscale > 1 else "RGB"
    assert {r.metric_name for r in data.eval_results} >= {f"PSNR (dB, {channel}), measured with swinir-hf eval"}
    assert {(r.source_url, r.task_type) for r in data.eval_results} == {(None, "image-to-image")}
    # One benchmark at several levels ("LIVE1 q10" ... "q40"): one entry per level, the benchmark its type.
    assert {(r.dataset_type, r.dataset_config) for r in data.eval_results} == {split_level(d) for d in measured}
    assert (data.library_name, data.license, data.model_name) == ("transformers", "apache-2.0", name)


@pytest.mark.parametrize("name", ["sr-x4", "sr-x2", "real-sr-x4", "jpeg-color", "denoise-color"])
def test_a_bundled_cards_results_table_shows_every_metric_its_model_index_holds(name):
    """The card's body and its header agree: the Results table has a column for each metric results.json holds
    (PSNR-B for the JPEG model, as its model-index has it), each cell that benchmark's figure."""
    from swinir_hf.checkpoints.card_metadata import metric_label

    folder, _, measured = _bundled_figures(name)
    card = ModelCard((folder / "README.md").read_text())
    section = card.text.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("| ").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    header_metrics = {r.metric_type for r in card.data.eval_results}
    keys = [k for k in METRICS if METRICS[k][0] in header_metrics]
    assert rows[0] == ["benchmark", "source", *(metric_label(k) for k in keys)]
    cells = {row[0]: row[2:] for row in rows[1:]}
    assert cells == {d: [f"{f[k]:.{4 if k == 'ssim' else 2}f}" for k in keys] for d, f in measured.items()}


def test_a_jpeg_models_card_carries_psnr_b_whichever_path_writes_it(tiny_config, tiny_run, images, tmp_path):
    """The paper reports JPEG models by PSNR, SSIM and PSNR-B: every path that writes a card puts all three into its
    model-index where the figures have them. The bundled JPEG model's card exported as it is (no --eval), made a Hub
    card with its results.json figures (--eval of a folder, `bundle_default --rescore`), a new card (--eval of a
    folder without one) and a training card (`bundle_default`, a run given figures) each read results.json back."""
    from swinir_hf.training.card import training_card
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.state import Progress

    folder, config, measured = _bundled_figures("jpeg-color")
    expected = _rounded(measured)
    assert {metric for _, metric in expected} == {"psnr", "ssim", "psnr-b"}
    own = (folder / "README.md").read_text()
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", data={"degradation": "jpeg"}))
    model = SwinIRForImageRestoration(tiny_config(task="color_jpeg_car", upscale=1, upsampler=""))
    cards = {
        "export": hub_card(own, config, model_id="me/jpeg"),
        "export --eval, rescore": hub_card(own, config, model_id="me/jpeg", measured_results=measured),
        "new card": render_model_card(config, model_id="me/x", title="t", description="d", measured_results=measured),
        "training card": training_card(cfg, model, Progress(step=4), None, None, "x", measured_results=measured),
    }
    for path, text in cards.items():
        results = ModelCard(text).data.eval_results
        assert _figures(results) == expected, path
        names = {r.metric_name for r in results if r.metric_type == "psnr-b"}
        assert names == {"PSNR-B (dB, RGB), measured with swinir-hf eval"}, path


def test_a_cards_license_is_the_authors_for_their_release_else_chosen_or_said_to_be_a_default(tiny_config):
    """apache-2.0 is the authors' statement for their release, not the publisher's for a model of their own: a
    release's card says whose it is; another card states the license given, or says apache-2.0 is swinir-hf's default
    and how to change it; `hub_card(license=...)` relicenses a card, keeping its training data's terms."""
    from swinir_hf.checkpoints.card_metadata import LICENSE_DEFAULT_NOTE

    release = find_release("swinir-denoising-color-sigma15")
    model = SwinIRForImageRestoration(tiny_config(task="color_dn", upscale=1, upsampler=None))
    checkpoint = Path(release.file)
    authors = ModelCard(
        hub._release_card(model, "me/x", release, checkpoint, 1e-6, {}, release.protocol, (None, None, None))
    )
    assert authors.data.license == "apache-2.0"
    assert "the license the SwinIR authors publish their code and these weights under" in authors.text
    assert "Training data: DIV2K is released for academic research only" in authors.text  # DIV2K among its data
    config = tiny_config()
    default = render_model_card(config, model_id="me/x", title="t", description="d", training_data=["DIV2K_crops"])
    parsed = ModelCard(default)
    assert parsed.data.license == "apache-2.0" and LICENSE_DEFAULT_NOTE in parsed.text
    mine = ModelCard(render_model_card(config, model_id="me/x", title="t", description="d", license="mit"))
    assert (mine.data.license, "Training data:" in mine.text) == ("mit", False)
    assert "## License\n\n`mit`, as the publisher of these weights chose it.\n\n## Citation" in mine.text
    relicensed = ModelCard(hub_card(default, config, model_id="me/x", license="cc-by-nc-4.0"))
    assert relicensed.data.license == "cc-by-nc-4.0" and LICENSE_DEFAULT_NOTE not in relicensed.text
    section = relicensed.text.split("## License\n\n")[1].split("## Citation")[0]
    assert section.startswith("`cc-by-nc-4.0`, as the publisher") and "DIV2K is released for academic" in section
    assert ModelCard(hub_card(str(mine), config, model_id="me/y")).data.license == "mit"  # kept without --license
    plain = ModelCard(hub_card("# My model\n\nTrained on my photos.\n", config, model_id="me/mine"))
    assert plain.data.license == "apache-2.0" and LICENSE_DEFAULT_NOTE in plain.text


def test_a_denoising_releases_card_names_the_noise_level_of_each_figure(tiny_config):
    """A denoiser's PSNR means nothing without its σ: a release's card names each figure, the paper's and the
    measured ones alike, with the release's level ("CBSD68 σ15"), which the model-index keeps as the dataset's
    config beside the benchmark as its type."""
    release = find_release("swinir-denoising-color-sigma15")
    model = SwinIRForImageRestoration(tiny_config(task="color_dn", upscale=1, upsampler=None))
    checkpoint = Path(release.file)

    def card(measured):
        return ModelCard(hub._release_card(model, "me/x", release, checkpoint, 1e-6, measured, release.protocol))

    paper = card({})
    assert {(r.dataset_type, r.dataset_config, r.dataset_name) for r in paper.data.eval_results} == {
        (b, "σ15", f"{b} σ15") for b in release.results
    }
    assert "| CBSD68 σ15 | paper | 34.42 |" in paper.text
    measured = card({"CBSD68 σ15": {"psnr": 34.4}}).data.eval_results
    assert [(r.dataset_type, r.dataset_config, r.metric_value) for r in measured] == [("CBSD68", "σ15", 34.4)]


def test_card_datasets_name_only_datasets_on_the_hub():
    """The Hub links `datasets` as dataset repos: the authors' training sets are linked by their Hub copy where
    there is one (DIV2K's), the others (Flickr2K, WED, BSD500: no Hub repo of that name) are named in the text only;
    an `owner/name` id is kept as given."""
    release = find_release("swinir-denoising-color-sigma15")
    assert release.training_data == ("DIV2K", "Flickr2K", "WED", "BSD500")
    card = ModelCard(
        render_model_card(
            release.config(), model_id="me/x", title="t", description="d", training_data=release.training_data
        )
    )
    assert card.data.datasets == ["eugenesiow/Div2k"]
    assert "Trained on DIV2K, Flickr2K, WED, BSD500 with" in card.text
    config = release.config()
    mine = ModelCard(
        render_model_card(config, model_id="me/x", title="t", description="d", training_data=["me/photos", "my_photos"])
    )
    assert mine.data.datasets == ["me/photos"]
    plain = ModelCard(render_model_card(config, model_id="me/x", title="t", description="d", training_data=["x"]))
    assert plain.data.datasets is None  # no empty `datasets:` list in the header


def test_every_card_links_the_paper_by_its_arxiv_tag(tiny_config):
    """The Hub links a model to its paper page by an `arxiv:ID` tag, which it adds itself only for an arXiv link in
    the card's text: a hand-written card made a Hub folder's by `hub_card` gets it, as every rendered card has."""
    config = tiny_config(task="lightweight_sr")
    plain = ModelCard(hub_card("# My model\n\nTrained on my photos.\n", config, model_id="me/mine"))
    assert "arxiv" not in plain.text and "arxiv:2108.10257" in plain.data.tags
    rendered = ModelCard(render_model_card(config, model_id="me/x", title="t", description="d"))
    assert "arxiv:2108.10257" in rendered.data.tags


def test_card_refuses_a_string_where_a_list_of_names_goes():
    """training_data="DIV2K" would put D, I, V, 2, K into the card's datasets and text: refused, saying what to pass."""
    config = find_release("swinir-lightweight-sr-x4").config()
    for field in ("training_data", "tags", "datasets"):
        with pytest.raises(TypeError) as err:
            render_model_card(config, model_id="me/x", title="t", description="d", **{field: "DIV2K"})
        assert str(err.value) == f"{field} takes a list of names, not the string 'DIV2K': pass ['DIV2K']"


def test_package_loads_reproduce_the_reference_outputs(exported, parity):
    """Both package routes on the saved folder reproduce the authors' implementation's golden outputs."""
    for case, folder in exported.items():
        ref = golden(parity, case)
        for model in (SwinIRForImageRestoration.from_pretrained(folder.path).eval(), load_model(folder.path)):
            with torch.no_grad():
                out = model(ref["input_odd"]).reconstruction
            assert (out - ref["output_odd"]).abs().max() <= 1e-5, case


CHILD = textwrap.dedent(
    """
    import json, sys
    import torch
    from PIL import Image
    from safetensors.torch import load_file
    from transformers import AutoModel, pipeline

    report = {}
    for case, folder, golden, images in json.loads(sys.argv[1]):
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        with torch.no_grad():
            ref = load_file(golden)
            out = model(ref["input_odd"]).reconstruction
        entry = {"module": type(model).__module__, "diff": (out - ref["output_odd"]).abs().max().item()}
        restore = pipeline("image-restoration", model=folder, trust_remote_code=True)
        entry["pipeline"] = type(restore).__module__
        for path in images:
            restore(Image.open(path)).save(path.replace(".png", ".out.png"))
            restore(Image.open(path), tile=8, tile_overlap=3).save(path.replace(".png", ".tiled.png"))
        report[case] = entry
    print(json.dumps(report))
    """
)


# -S: no site processing, so the editable install's import hook never runs; site-packages is added by hand, and a
# wheel installed there is hidden (None in sys.modules: `import swinir_hf` is an ImportError).
WITHOUT_THE_PACKAGE = """
sys.path.append(SITE)
sys.modules["swinir_hf"] = None
import numpy, PIL.Image, torch, transformers
from transformers import AutoImageProcessor, AutoModel, AutoModelForImageToImage, pipeline
"""


@pytest.fixture(scope="module")
def without_package(tmp_path_factory):
    """A Python that cannot import swinir_hf, with torch and transformers imported (`tests/preloaded_python.py`);
    transformers read HF_MODULES_CACHE on that import: its children share the folder."""
    folder = tmp_path_factory.mktemp("without-package")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"HF_MODULES_CACHE": str(folder / "modules"), "HF_HUB_OFFLINE": "1"}
    preload = WITHOUT_THE_PACKAGE.replace("SITE", repr(sysconfig.get_paths()["purelib"]))
    python = PreloadedPython(folder, preload, ("-S",), env)
    yield python
    python.close()


def run_without_the_package(python: PreloadedPython, code: str, argument, tmp_path):
    """Run `code` in a child of `python` (the `without_package` fixture), with `json.dumps(argument)` as
    sys.argv[1], in `tmp_path`; returns the JSON its last line of output prints."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {k: python.env[k] for k in ("HF_MODULES_CACHE", "HF_HUB_OFFLINE")}
    proc = python.run(code, [json.dumps(argument)], tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


PLAIN = textwrap.dedent(
    """
    import json, sys
    import torch
    from transformers import AutoModelForImageToImage

    folder, inputs = json.loads(sys.argv[1])
    model = AutoModelForImageToImage.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        out = model(torch.tensor(inputs)).reconstruction
    print(json.dumps({"module": type(model).__module__, "output": out.tolist()}))
    """
)


def test_a_plain_save_pretrained_loads_with_trust_remote_code_without_the_package(
    without_package, tiny_config, tmp_path
):
    """transformers' own `model.save_pretrained` (as `push_to_hub` calls it) writes the model code and the auto_map
    that names it, so the folder loads without this package; with it, without trust_remote_code, as before. The
    model's config is left as it was, and the package's own folders (convert, train) stay code-free."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    model.save_pretrained(tmp_path / "plain")
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [
        "code_files_swinir.py",  # which modeling_swinir.py imports
        "config.json",
        "configuration_swinir.py",
        "constants_swinir.py",  # which configuration_swinir.py imports
        "hub_files_swinir.py",  # which modeling_swinir.py imports
        "hub_push_swinir.py",  # which configuration_swinir.py imports
        "loading_swinir.py",  # which modeling_swinir.py imports
        "memory_swinir.py",  # likewise
        "model.safetensors",
        "modeling_swinir.py",
        "moved_swinir.py",  # likewise
        "presets_swinir.py",  # which configuration_swinir.py imports
        "runtime_swinir.py",  # which modeling_swinir.py imports
        "weight_files_swinir.py",  # likewise
        "windows_swinir.py",  # likewise
    ]
    config = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert config["auto_map"] == {k: v for k, v in remote_code.AUTO_MAP.items() if k != "AutoImageProcessor"}
    assert "custom_pipelines" not in config and getattr(model.config, "auto_map", None) is None
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        expected = model(x).reconstruction
        assert torch.equal(SwinIRForImageRestoration.from_pretrained(tmp_path / "plain")(x).reconstruction, expected)
    report = run_without_the_package(without_package, PLAIN, [str(tmp_path / "plain"), x.tolist()], tmp_path)
    assert report["module"].startswith("transformers_modules.plain.")
    torch.testing.assert_close(torch.tensor(report["output"]), expected, rtol=0, atol=1e-6)
    folders.save_model_folder(tmp_path / "package", model)
    assert sorted(p.name for p in (tmp_path / "package").iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]


def test_a_config_naming_code_outside_its_folder_gets_none_of_it_copied(tiny_config, tmp_path, caplog):
    """A saved config.json's `auto_map` names the code files a save copies beside it: a hostile one naming
    "../outside" had that file (outside every folder involved) read for its imports, and "../../x" ended the save in
    `ValueError: Invalid name` (a security audit). Such names are said and skipped; the model is saved."""
    src, out = tmp_path / "src", tmp_path / "out"
    SwinIRForImageRestoration(tiny_config()).save_pretrained(src)
    (tmp_path / "outside.py").write_text("from .secret import x\n")
    config = json.loads((src / "config.json").read_text())
    auto_map = {"AutoModel": "../outside.SwinIRForImageRestoration", "AutoConfig": "../../planted.SwinIRConfig"}
    (src / "config.json").write_text(json.dumps({**config, "auto_map": auto_map}))
    model = SwinIRForImageRestoration.from_pretrained(src)
    caplog.clear()
    model.save_pretrained(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside.py", "src"]
    assert caplog.messages == [
        f"config.json names {name}, which is not a file of the folder: not copied"
        for name in ("../outside.py", "../../planted.py")
    ]


def test_two_threads_saving_one_model_each_get_the_code_and_leave_its_config(tiny_config, tmp_path, monkeypatch):
    """A save edits the model's config while it writes (the auto_map of its code); a second save on another thread,
    begun meanwhile and writing after the first had put the config back, wrote a folder without auto_map or code
    (which no longer loaded without the package) and left auto_map in the model's config for good."""
    import threading
    import time

    model = SwinIRForImageRestoration(tiny_config()).eval()
    write = SwinIRForImageRestoration._save_weights_and_config
    first_inside, first_done = threading.Event(), threading.Event()

    def paced_write(self, folder, *args, **kwargs):
        if folder.name == "first":
            first_inside.set()
            time.sleep(0.3)  # the second save begins meanwhile
        else:
            assert first_done.wait(10)  # and writes once the first has ended
        write(self, folder, *args, **kwargs)

    monkeypatch.setattr(SwinIRForImageRestoration, "_save_weights_and_config", paced_write)
    first = threading.Thread(target=lambda: (model.save_pretrained(tmp_path / "first"), first_done.set()))
    first.start()
    assert first_inside.wait(10)
    model.save_pretrained(tmp_path / "second")
    first.join(timeout=30)
    assert not first.is_alive(), "the first save did not end within 30 s"
    for folder in ("first", "second"):
        assert json.loads((tmp_path / folder / "config.json").read_text())["auto_map"], folder
        assert (tmp_path / folder / "modeling_swinir.py").is_file(), folder
    assert getattr(model.config, "auto_map", None) is None


@pytest.mark.parametrize("resaved", [False, True])
def test_save_pretrained_with_push_to_hub_uploads_the_model_code(tiny_config, tmp_path, monkeypatch, resaved):
    """`model.save_pretrained(folder, push_to_hub=True)` uploads the code files its config.json's auto_map names:
    transformers uploads from inside its save (before the package copies them) and only files the save changed, which
    code already in the folder from an earlier save is not. `push_to_hub` uploads them too."""
    from huggingface_hub import HfApi, constants
    from transformers import modeling_utils
    from transformers.utils import hub as transformers_hub

    uploads = {}
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # a Hub, faked
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: type("Url", (), {"repo_id": repo_id}))
    monkeypatch.setattr(
        HfApi, "create_commit", lambda self, repo_id, operations, **kw: uploads.update({repo_id: operations})
    )
    card = lambda repo_id, tags, token=None: ModelCard("card")  # noqa: E731 (no Hub card to fetch)
    monkeypatch.setattr(modeling_utils, "create_and_tag_model_card", card)
    monkeypatch.setattr(transformers_hub, "create_and_tag_model_card", card)
    model = SwinIRForImageRestoration(tiny_config()).eval()
    if resaved:
        model.save_pretrained(tmp_path / "out")
    model.save_pretrained(tmp_path / "out", push_to_hub=True, repo_id="me/saved")
    model.push_to_hub("me/pushed")
    code = {
        "configuration_swinir.py",
        "constants_swinir.py",
        "modeling_swinir.py",
        "loading_swinir.py",
        "code_files_swinir.py",
        "moved_swinir.py",
        "runtime_swinir.py",
        "windows_swinir.py",
        "presets_swinir.py",
        "weight_files_swinir.py",
        "hub_files_swinir.py",
        "memory_swinir.py",
    }
    code.add("README.md")  # and a card
    for repo in ("me/saved", "me/pushed"):
        assert code <= {op.path_in_repo for op in uploads[repo]}, repo
    assert getattr(model.config, "auto_map", None) is None
    uploads.clear()  # a distributed save: only the main process pushes
    model.save_pretrained(tmp_path / "rank1", push_to_hub=True, repo_id="me/rank1", is_main_process=False)
    assert uploads == {}


def test_a_push_without_the_hub_says_what_to_do(tiny_config, monkeypatch):
    """`model.push_to_hub` with the Hub out of reach ended in the HTTP client's error from inside the upload
    (`httpx2.ConnectError: [Errno -2] Name or service not known`); offline, in huggingface_hub's."""
    from huggingface_hub import HfApi, constants

    try:  # huggingface_hub's HTTP client: httpx2 from huggingface_hub 2, httpx before
        import httpx2 as client
    except ImportError:
        import httpx as client

    model = SwinIRForImageRestoration(tiny_config()).eval()
    later = "save it (.save_pretrained(FOLDER)) and upload the folder later (hf upload me/x FOLDER)"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        OSError,
        match=re.escape(
            f"cannot push to me/x: HF_HUB_OFFLINE is set; unset it where the Hub can be reached, or {later}"
        ),
    ):
        model.push_to_hub("me/x")

    def unreachable(self, repo_id, **kwargs):
        raise client.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(HfApi, "create_repo", unreachable)
    message = "cannot push to me/x: the Hub (https://huggingface.co) cannot be reached (ConnectError: [Errno -2] Name "
    with pytest.raises(OSError, match=re.escape(f"{message}or service not known); retry when it can, or {later}")):
        model.push_to_hub("me/x")


def test_a_save_with_a_push_without_the_hub_is_saved_and_says_so(tiny_config, tmp_path, monkeypatch):
    """`save_pretrained(folder, push_to_hub=True)` offline raised huggingface_hub's OfflineModeIsEnabled from inside
    transformers, which creates the repo before saving: nothing was saved. The config, the image processor and the
    model are now saved, and the error says the push is what failed, with the folder to upload."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = SwinIRForImageRestoration(tiny_config()).eval()
    for thing, stored in (
        (model, "model.safetensors"),
        (model.config, "config.json"),
        (SwinIRImageProcessor(), "preprocessor_config.json"),
    ):
        folder = tmp_path / type(thing).__name__
        message = f"saved in {folder}, but cannot push to me/x: HF_HUB_OFFLINE is set; unset it where the Hub can "
        with pytest.raises(
            OSError, match=re.escape(f"{message}be reached, or upload the folder later (hf upload me/x {folder})")
        ):
            thing.save_pretrained(folder, push_to_hub=True, repo_id="me/x", commit_message="first")
        assert (folder / stored).is_file()
        thing.save_pretrained(tmp_path / "without_push")  # the same folder: the model's code files were left out
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (tmp_path / "without_push").iterdir())
        shutil.rmtree(tmp_path / "without_push")
        if thing is model:  # and saved as asked: a package folder without code, say
            with pytest.raises(OSError, match="^saved in "):
                model.save_pretrained(tmp_path / "plain", push_to_hub=True, remote_code=False)
            assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["config.json", "model.safetensors"]
        with pytest.raises(OSError, match=re.escape("cannot push to me/y: HF_HUB_OFFLINE is set;")):
            thing.push_to_hub("me/y")
    assert torch.equal(
        SwinIRForImageRestoration.from_pretrained(tmp_path / "SwinIRForImageRestoration").conv_first.weight,
        model.conv_first.weight,
    )


@pytest.mark.parametrize("resaved", [False, True])
def test_a_pipeline_pushes_its_whole_folder_in_one_commit_or_says_why_not(tiny_config, tmp_path, monkeypatch, resaved):
    """`pipe.save_pretrained(folder, push_to_hub=True)` pushed the model (one commit), then the image processor
    (another); offline it raised once the model was saved, so preprocessor_config.json was never written, and
    `pipe.push_to_hub` raised huggingface_hub's OfflineModeIsEnabled. Now the folder is saved whole and pushed in one
    commit, code included, and a push without the Hub says what to do, as the model's does."""
    from huggingface_hub import HfApi
    from transformers import modeling_utils, pipeline
    from transformers.utils import hub as transformers_hub

    restorer = pipeline("image-restoration", model=SwinIRForImageRestoration(tiny_config()).eval())
    folder = tmp_path / "saved"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    message = f"saved in {folder}, but cannot push to me/x: HF_HUB_OFFLINE is set; unset it where the Hub can be "
    with pytest.raises(
        OSError, match=re.escape(f"{message}reached, or upload the folder later (hf upload me/x {folder})")
    ):
        restorer.save_pretrained(folder, push_to_hub=True, repo_id="me/x")
    assert (folder / "preprocessor_config.json").is_file() and (folder / "modeling_swinir.py").is_file()
    later = "save it (.save_pretrained(FOLDER)) and upload the folder later (hf upload me/y FOLDER)"
    with pytest.raises(
        OSError,
        match=re.escape(
            f"cannot push to me/y: HF_HUB_OFFLINE is set; unset it where the Hub can be reached, or {later}"
        ),
    ):
        restorer.push_to_hub("me/y")

    commits = {}
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # a Hub, faked
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: type("Url", (), {"repo_id": repo_id}))
    monkeypatch.setattr(
        HfApi,
        "create_commit",
        lambda self, repo_id, operations, **kw: commits.setdefault(repo_id, []).append(
            {op.path_in_repo for op in operations}
        ),
    )
    card = lambda repo_id, tags, token=None: ModelCard("card")  # noqa: E731 (no Hub card to fetch)
    monkeypatch.setattr(modeling_utils, "create_and_tag_model_card", card)
    monkeypatch.setattr(transformers_hub, "create_and_tag_model_card", card)
    if resaved:  # code already in the folder, unchanged by the save that pushes
        restorer.save_pretrained(tmp_path / "out")
    restorer.save_pretrained(tmp_path / "out", push_to_hub=True, repo_id="me/saved")
    restorer.push_to_hub("me/pushed")
    expected = {p.name for p in folder.iterdir()} | {"README.md"}
    assert "model.safetensors" in expected and "loading_swinir.py" in expected
    assert commits == {"me/saved": [expected], "me/pushed": [expected]}


@pytest.mark.slow
def test_loads_with_trust_remote_code_without_the_package(without_package, exported, parity, tmp_path):
    """A subprocess that cannot import swinir_hf: AutoModel gives the golden outputs, and the folder's own
    `image-restoration` pipeline gives exactly `restore()`'s pixels for RGB, grey, 16-bit grey and RGBA."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (19, 21, 3), dtype=np.uint8)
    kinds = {
        "rgb": Image.fromarray(rgb),
        "grey": Image.fromarray(rgb[..., 0]),
        "grey16": Image.fromarray(rgb[..., 1].astype(np.uint16) * 257),
        "rgba": Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (19, 21), dtype=np.uint8)])),
    }
    jobs = []
    for case in ("classical_sr_x2", "jpeg_car"):  # an RGB and a greyscale model
        paths = []
        for kind, image in kinds.items():
            paths.append(str(tmp_path / f"{case}-{kind}.png"))
            image.save(paths[-1])
        jobs.append([case, str(exported[case].path), str(parity / f"{case}.safetensors"), paths])
    report = run_without_the_package(without_package, CHILD, jobs, tmp_path)
    for case, folder, _, paths in jobs:
        entry = report[case]
        assert entry["module"].startswith("transformers_modules.") and entry["diff"] <= 1e-5, (case, entry)
        assert entry["pipeline"].startswith("transformers_modules."), entry["pipeline"]
        model = load_model(folder)
        for path in paths:
            for out, options in ((".out.png", {}), (".tiled.png", {"tile": 8, "tile_overlap": 3})):
                expected = restore(model, Image.open(path), dtype="float32", **options)
                got = Image.open(path.replace(".png", out))
                assert got.mode == expected.mode and got.size == expected.size, path
                np.testing.assert_array_equal(np.asarray(got), np.asarray(expected), err_msg=path + out)


RESAVE = textwrap.dedent(
    """
    import json, os, sys
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageToImage, pipeline

    folder, image = json.loads(sys.argv[1])
    # A Trainer's save without a processor, first: only the model's modules have been fetched yet.
    AutoModelForImageToImage.from_pretrained(folder, trust_remote_code=True).save_pretrained("model_only")
    # A fine-tuning script's save (model and processor), and a pipeline's own save_pretrained.
    AutoModelForImageToImage.from_pretrained(folder, trust_remote_code=True).save_pretrained("model_and_processor")
    AutoImageProcessor.from_pretrained(folder, trust_remote_code=True).save_pretrained("model_and_processor")
    pipeline("image-restoration", model=folder, trust_remote_code=True).save_pretrained("pipeline")
    report = {}
    for resaved in ("model_only", "model_and_processor", "pipeline"):
        restore = pipeline("image-restoration", model=resaved, trust_remote_code=True)
        restore(Image.open(image)).save(f"{resaved}.png")
        report[resaved] = {"files": sorted(os.listdir(resaved)), "pipeline": type(restore).__module__}
    # A model object (loaded with options, or fine-tuned) in the repo's pipeline class, as docs/hub.md shows.
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    Pipeline = get_class_from_dynamic_module("pipeline_swinir.ImageRestorationPipeline", folder)
    Pipeline(model=AutoModelForImageToImage.from_pretrained(folder, trust_remote_code=True))(Image.open(image)).save(
        "object.png"
    )
    print(json.dumps(report))
    """
)


@pytest.mark.slow
def test_a_folder_resaved_with_trust_remote_code_keeps_its_pipeline(without_package, parity, tmp_path):
    """A Hub folder loaded with trust_remote_code=True (without the package) and saved again, by the model alone, by
    the model and the image processor or by the pipeline, keeps every code file config.json names (auto_map,
    custom_pipelines): transformers copies a remote module's relative imports only, and the model alone fetched
    neither the image processor's module nor the pipeline's."""
    folder = export_checkpoint(parity / "gray_dn.pth", tmp_path / "out").path
    image = tmp_path / "grey.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (13, 17), dtype=np.uint8)).save(image)
    report = run_without_the_package(without_package, RESAVE, [str(folder), str(image)], tmp_path)
    expected = restore(load_model(folder), Image.open(image), dtype="float32")
    assert list(report) == ["model_only", "model_and_processor", "pipeline"]
    for resaved, entry in report.items():
        # handler.py and requirements.txt, which no config names, come along (`copy_endpoint_files`)
        without = {"README.md"} | ({"preprocessor_config.json"} if resaved == "model_only" else set())
        assert entry["files"] == [f for f in EXPECTED_FILES if f not in without], resaved
        config = json.loads((tmp_path / resaved / "config.json").read_text())
        assert config["auto_map"] == remote_code.AUTO_MAP, resaved
        assert config["custom_pipelines"] == remote_code.CUSTOM_PIPELINES, resaved
        assert entry["pipeline"].startswith(f"transformers_modules.{resaved}."), entry
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"{resaved}.png")), np.asarray(expected))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "object.png")), np.asarray(expected))


RELOAD = textwrap.dedent(
    """
    import json, sys
    from PIL import Image
    from transformers import pipeline

    folder, image = json.loads(sys.argv[1])
    restore = pipeline("image-restoration", model=folder, trust_remote_code=True)
    restore(Image.open(image)).save("restored.png")
    print(json.dumps(type(restore.model).__module__))
    """
)


@pytest.mark.slow
def test_a_hub_folder_resaved_through_the_package_still_loads_without_it(without_package, parity, tmp_path):
    """Loaded with the package (its registered classes win), fine-tuned and saved with plain `save_pretrained`, a
    Hub folder keeps config.json's auto_map / custom_pipelines, so the code files they name must come along:
    transformers copies files only for remote-code classes."""
    folder = export_checkpoint(parity / "gray_dn.pth", tmp_path / "out").path
    model = SwinIRForImageRestoration.from_pretrained(folder)
    assert type(model).__module__.startswith("swinir_hf") and model.config.auto_map == remote_code.AUTO_MAP
    model.save_pretrained(tmp_path / "resaved")
    SwinIRImageProcessor.from_pretrained(folder).save_pretrained(tmp_path / "resaved")
    resaved = sorted(p.name for p in (tmp_path / "resaved").iterdir())
    assert resaved == [f for f in EXPECTED_FILES if f != "README.md"]  # handler.py and requirements.txt too
    image = tmp_path / "grey.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (13, 17), dtype=np.uint8)).save(image)
    module = run_without_the_package(without_package, RELOAD, [str(tmp_path / "resaved"), str(image)], tmp_path)
    assert module.startswith("transformers_modules.resaved.")
    expected = restore(model, Image.open(image), dtype="float32")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "restored.png")), np.asarray(expected))


# A shipped file changed as a copy could differ from the package (its text replaced), and the check that refuses it.
TAMPERED_REMOTE_CODE = {
    "pipeline": (
        "pipeline_swinir.py",
        "compose_image(from_reconstruction(",
        "compose_image(0.99 * from_reconstruction(",
        "own pipeline does not reproduce",
    ),
    "model": (
        "modeling_swinir.py",
        "return self.conv_last(self.upsample(x))",
        "return 1.001 * self.conv_last(self.upsample(x))",
        "loaded via remote code differs from the original",
    ),
    # The export's check runs the folder's pipeline and handler in tiles too: a blend that differs from the
    # package's (which the whole-image checks never reach) is refused.
    "tiling": (
        "tiling_swinir.py",
        "(torch.arange(n) + 0.5)",
        "(torch.arange(n) + 0.25)",
        r"own pipeline does not reproduce swinir_hf\.restore\(\) on an RGBA image \(tile=8\)$",
    ),
    "handler": (  # a base64 image's alpha dropped
        "handler.py",
        "return _within(Image.open(io.BytesIO(inputs)), limit)",
        "return _within(Image.open(io.BytesIO(inputs)).convert('RGB'), limit)",
        r"handler\.py does not reproduce swinir_hf\.restore\(\) on a base64 PNG",
    ),
    "requirements": (
        "requirements.txt",
        "transformers>=5.18,<6",
        "transformers>=99",
        r"requirements\.txt asks for transformers>=99, but it was verified with ",
    ),
}


@pytest.mark.parametrize(("name", "old", "new", "refusal"), TAMPERED_REMOTE_CODE.values(), ids=TAMPERED_REMOTE_CODE)
def test_refuses_remote_code_that_differs_from_the_package(parity, tmp_path, monkeypatch, name, old, new, refusal):
    sources = remote_code_sources()
    bad = sources[name].replace(old, new)
    assert bad != sources[name]
    monkeypatch.setattr(hub, "remote_code_sources", lambda: {**sources, name: bad})
    with pytest.raises(HubExportError, match=refusal):
        export_checkpoint(parity / "classical_sr_x2.pth", tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing published, no staging folder left


def test_an_installed_wheel_writes_the_requirements_from_its_metadata(tmp_path, monkeypatch):
    """A wheel has no pyproject.toml beside the package: the ranges come from its metadata (made from it)."""
    from packaging.requirements import Requirement

    import swinir_hf.extras

    from_pyproject = remote_code.endpoint_requirements()
    monkeypatch.setattr(swinir_hf.extras, "PACKAGE_PARENT", tmp_path)  # no pyproject.toml there
    from_metadata = remote_code.endpoint_requirements()
    assert [(r.name, r.specifier) for r in map(Requirement, from_metadata)] == [
        (r.name, r.specifier) for r in map(Requirement, from_pyproject)
    ]


ENDPOINT = textwrap.dedent(
    """
    import base64, importlib.util, json, sys
    from PIL import Image

    folder, image_path = json.loads(sys.argv[1])
    # As the Inference Endpoints toolkit loads a repo's handler: by its path, with the folder first on sys.path.
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("handler", f"{folder}/handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    handler = module.EndpointHandler(folder)
    report = {"device": str(handler.pipeline.device), "pipeline": type(handler.pipeline).__module__}
    # An image body reaches the handler as a PIL image converted to RGB, a JSON body's file as base64.
    handler({"inputs": Image.open(image_path).convert("RGB"), "parameters": {}}).save("pil.png")
    with open(image_path, "rb") as f:
        encoded = base64.b64encode(f.read()).decode()
    handler({"inputs": encoded}).save("base64.png")
    handler({"inputs": "data:image/png;base64," + encoded, "parameters": {"alpha": "bicubic"}}).save("bicubic.png")
    handler({"inputs": encoded, "parameters": {"tile": 4, "tile_overlap": 1}}).save("tiled.png")
    # An image body with query parameters (`?tile=4&tile_overlap=1`): the toolkit passes their values as strings.
    query = {"tile": "4", "tile_overlap": "1"}
    handler({"inputs": Image.open(image_path).convert("RGB"), "parameters": query}).save("tiled_query.png")
    # `?tile=none`: the whole image, as the refusal of an unknown parameter says (it was refused itself)
    handler({"inputs": Image.open(image_path).convert("RGB"), "parameters": {"tile": "None"}}).save("whole_query.png")
    errors = {}
    for name, data in {
        "outscale": {"inputs": encoded, "parameters": {"tile": 64, "outscale": 3}},
        "auto": {"inputs": encoded, "parameters": {"tile": "auto"}},
        "negative": {"inputs": encoded, "parameters": {"tile": "-4"}},
        "unknown": {"inputs": encoded, "parameters": {"strength": 2}},
        "alpha": {"inputs": encoded, "parameters": {"alpha": "nearest"}},
        "path": {"inputs": image_path},
        "key": {"inputs": encoded, "options": {}},
        "list": {"inputs": encoded, "parameters": []},
    }.items():
        try:
            handler(data)
        except (TypeError, ValueError) as err:
            errors[name] = f"{type(err).__name__}: {err}"
    report["errors"] = errors
    print(json.dumps(report))
    """
)


def test_an_exported_endpoint_handler_restores_without_the_package(without_package, tiny_config, tmp_path, monkeypatch):
    """An exported folder's handler.py, loaded as Inference Endpoints load it in a Python without swinir_hf,
    restores a PIL image (what the toolkit makes of an image body) and a base64 PNG (a JSON body's, alpha kept) to
    exactly `restore()`'s pixels, and refuses parameters it does not take, saying why."""
    monkeypatch.setenv("SWINIR_CPU_ATTENTION", "matmul")  # one attention kernel in both processes
    model = _trained_folder(tiny_config, tmp_path / "run").eval()
    folder = hub.export_model_folder(tmp_path / "run", tmp_path / "out", repo_id="me/tiny-x2").path
    rgba = np.random.default_rng(0).integers(0, 256, (11, 13, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "in.png")
    report = run_without_the_package(without_package, ENDPOINT, [str(folder), str(tmp_path / "in.png")], tmp_path)
    assert report["device"] == "cpu" and report["pipeline"].startswith("transformers_modules."), report
    image = Image.fromarray(rgba)
    expected = {
        "pil.png": restore(model, image.convert("RGB"), dtype="float32"),
        "base64.png": restore(model, image, dtype="float32"),
        "bicubic.png": restore(model, image, dtype="float32", alpha="bicubic"),
        "tiled.png": restore(model, image, dtype="float32", tile=4, tile_overlap=1),
        "tiled_query.png": restore(model, image.convert("RGB"), dtype="float32", tile=4, tile_overlap=1),
        "whole_query.png": restore(model, image.convert("RGB"), dtype="float32"),
    }
    for name, want in expected.items():
        got = Image.open(tmp_path / name)
        assert (got.mode, got.size) == (want.mode, want.size) == (want.mode, (26, 22)), name
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)
    assert not np.array_equal(np.asarray(expected["tiled.png"]), np.asarray(expected["base64.png"]))  # tiles ran
    errors = report["errors"]
    assert errors["outscale"].startswith("ValueError: unknown parameter(s) outscale: this endpoint takes alpha")
    assert "which has no outscale, self-ensemble or precision options" in errors["outscale"]
    assert errors["auto"].startswith("ValueError: tile must be None (or 0) or a positive int")
    assert "tiles sized to the free memory are the swinir-hf package's" in errors["auto"]
    assert errors["negative"].endswith("got '-4'")
    assert errors["unknown"] == (
        "ValueError: unknown parameter(s) strength: this endpoint takes alpha ('model' or 'bicubic'), tile (input "
        "pixels a tile side; none: whole images) and tile_overlap"
    )
    assert errors["alpha"] == "ValueError: alpha must be 'model' or 'bicubic', got 'nearest'"
    assert errors["path"].startswith("ValueError: inputs: a string is taken as an image file in base64, and this")
    assert errors["key"] == "ValueError: a request holds inputs and parameters, not options"
    assert errors["list"] == "TypeError: parameters must be an object, got list []"
    card = (folder / "README.md").read_text()
    assert "### Inference Endpoints" in card and "untested on a running endpoint" in card
    assert 'restore("large.png", tile=512)' in card and '"parameters": {"alpha": "bicubic", "tile": 512}' in card
    assert "### Inference Endpoints" not in (tmp_path / "run" / "README.md").read_text()  # no handler there
    assert (folder / "requirements.txt").read_text() == remote_code_sources()["requirements.txt"]
    folders.save_model_folder(folder, model)  # the package's save, without code: no handler left that cannot load
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]


def _png_header(w: int, h: int) -> bytes:
    """A PNG file of w×h pixels with no pixel data: Pillow reads its size, and decoding it fails."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", b"")


def test_the_endpoint_handler_refuses_an_image_over_its_pixel_limit_from_the_header(tmp_path, monkeypatch):
    """handler.py passed any image Pillow decodes (up to ≈179 MP) to the model, whose output is scale² larger: it
    refuses one over the demo's default limit, or its SWINIR_ENDPOINT_MAX_PIXELS, from the file's header."""
    handler = object.__new__(handler_swinir.EndpointHandler)  # no model: the pipeline gets the undecoded image
    handler.engine_options, handler.max_pixels = set(), handler_swinir.max_pixels()
    handler.pipeline = lambda image, **options: image.size
    assert handler.max_pixels == handler_swinir.DEFAULT_MAX_PIXELS == DEFAULT_MAX_PIXELS
    encode = lambda w, h: base64.b64encode(_png_header(w, h)).decode()  # noqa: E731
    assert handler({"inputs": encode(1024, 1024)}) == (1024, 1024)
    over = "inputs: this image is {}; this endpoint takes up to {} (width × height): send a smaller or cropped image, "
    over += "or, as the endpoint's owner, set SWINIR_ENDPOINT_MAX_PIXELS higher in its settings"
    with pytest.raises(ValueError) as caught:
        handler({"inputs": encode(1025, 1024)})  # a decode would fail: the file has no pixels
    assert str(caught.value) == over.format("1025×1024 = 1,049,600 pixels", "1,048,576")
    with pytest.raises(ValueError) as caught:  # Pillow's own limit, over whatever the endpoint's is
        handler({"inputs": encode(20_000, 20_000)})
    assert str(caught.value) == over.format("over 178,956,970 pixels, more than Pillow decodes", "1,048,576")
    handler.max_pixels = 99  # an image body, which the toolkit decoded: refused before the model runs
    with pytest.raises(ValueError, match=r"^inputs: this image is 10×10 = 100 pixels; this endpoint takes up to 99 "):
        handler({"inputs": Image.new("RGB", (10, 10))})
    for text, limit in (("", DEFAULT_MAX_PIXELS), (" 4000000 ", 4_000_000), ("1", 1)):
        monkeypatch.setenv("SWINIR_ENDPOINT_MAX_PIXELS", text)
        assert handler_swinir.max_pixels() == limit, text
    for text in ("0", "-5", "1e6", "4,000,000", "big"):
        monkeypatch.setenv("SWINIR_ENDPOINT_MAX_PIXELS", text)
        with pytest.raises(ValueError) as caught:  # at the start, before the folder is read
            handler_swinir.EndpointHandler(str(tmp_path / "missing"))
        assert str(caught.value) == (
            "SWINIR_ENDPOINT_MAX_PIXELS must be a whole number of pixels (width × height), at least 1, not "
            f"{text!r}: correct it in the endpoint's settings, or remove it for the default 1,048,576"
        )


def test_a_package_save_removes_only_the_handler_and_requirements_an_export_wrote(tiny_config, tmp_path):
    """A save into an exported folder (`convert --overwrite`, a training save) removed handler.py whatever wrote it:
    a user's own went without a word. It removes the export's (first line: its header) and keeps a user's own."""
    model = SwinIRForImageRestoration(tiny_config())
    sources = remote_code_sources()
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in (ours, theirs):
        folders.save_model_folder(folder, model)
    for name in ("handler.py", "requirements.txt"):
        (ours / name).write_text(sources[name], encoding="utf-8")
    (theirs / "handler.py").write_text("class EndpointHandler:  # mine\n", encoding="utf-8")
    (theirs / "requirements.txt").write_text("transformers>=5.20\n", encoding="utf-8")
    assert [p.name for p in folders.model_folder_files(theirs)] == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]
    for folder in (ours, theirs):
        folders.save_model_folder(folder, SwinIRForImageRestoration(tiny_config(upscale=3)))
    assert sorted(p.name for p in ours.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert (theirs / "handler.py").read_text() == "class EndpointHandler:  # mine\n"
    assert (theirs / "requirements.txt").read_text() == "transformers>=5.20\n"


def test_a_model_loaded_from_an_export_is_saved_again_with_its_endpoint_handler(tiny_config, tmp_path, caplog):
    """A model loaded from an exported folder and saved again kept every code file but handler.py and
    requirements.txt, which no config names: the folder could no longer be deployed to Inference Endpoints. They
    come along where they are of the saved code's version; another version's are left out, saying so; a file
    already in the target folder is kept."""
    model = SwinIRForImageRestoration(tiny_config())
    model.config.custom_pipelines = remote_code.CUSTOM_PIPELINES
    sources = remote_code_sources()
    source, older = tmp_path / "export", tmp_path / "older"
    for folder in (source, older):
        model.save_pretrained(folder)
    for name in ("handler.py", "requirements.txt"):
        (source / name).write_text(sources[name], encoding="utf-8")
        (older / name).write_text(sources[name].replace(" of swinir-hf ", " of swinir-hf 0.0.1, was ", 1))
    SwinIRForImageRestoration.from_pretrained(source).save_pretrained(tmp_path / "resaved")
    for name in ("handler.py", "requirements.txt"):
        assert (tmp_path / "resaved" / name).read_text(encoding="utf-8") == sources[name], name
    with caplog.at_level(logging.WARNING):
        SwinIRForImageRestoration.from_pretrained(older).save_pretrained(tmp_path / "from_older")
    assert not (tmp_path / "from_older" / "handler.py").exists()
    assert not (tmp_path / "from_older" / "requirements.txt").exists()
    assert f"handler.py of {older} is swinir-hf 0.0.1's and the model code saved " in caplog.text
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "handler.py").write_text("class EndpointHandler:  # mine\n", encoding="utf-8")
    SwinIRForImageRestoration.from_pretrained(source).save_pretrained(tmp_path / "mine")
    assert (tmp_path / "mine" / "handler.py").read_text() == "class EndpointHandler:  # mine\n"
    assert (tmp_path / "mine" / "requirements.txt").read_text(encoding="utf-8") == sources["requirements.txt"]


def test_resaving_a_hub_export_asks_the_hub_once_at_most_and_not_offline(tiny_config, tmp_path, monkeypatch):
    """A model loaded from a Hub export and saved again looked handler.py and requirements.txt up on the Hub, one
    request each, even where the cache held them. The cache's copies are taken with no request; where it lacks them,
    one listing of the repo's files; offline, none."""
    from huggingface_hub.utils import get_session

    model = SwinIRForImageRestoration(tiny_config())
    model.config.custom_pipelines = remote_code.CUSTOM_PIPELINES
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    sources = remote_code_sources()
    for repo, with_files in (("with", True), ("without", False)):
        snapshot = tmp_path / "cache" / f"models--org--{repo}" / "snapshots" / ("0" * 40)
        model.save_pretrained(snapshot)
        (snapshot.parents[1] / "refs").mkdir()
        (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
        for name in ("handler.py", "requirements.txt") if with_files else ():
            (snapshot / name).write_text(sources[name], encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    loaded = {repo: SwinIRForImageRestoration.from_pretrained(f"org/{repo}") for repo in ("with", "without")}
    asked, client = [], type(get_session())

    def send(self, request, **kwargs):  # a Hub that does not answer; nothing leaves the host
        asked.append(f"{request.method} {request.url.path}")
        raise ConnectionError("the Hub does not answer")

    monkeypatch.setattr(client, "send", send)
    for offline in (True, False):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        for repo, model in loaded.items():
            folder = tmp_path / f"{repo}-{offline}"
            model.save_pretrained(folder)
            endpoint = sorted(p.name for p in folder.iterdir() if p.name in ("handler.py", "requirements.txt"))
            assert endpoint == (["handler.py", "requirements.txt"] if repo == "with" else []), (repo, offline)
            listing = [] if offline or repo == "with" else [f"GET /api/models/org/{repo}/tree/main"]
            assert asked == listing, (repo, offline)
            asked.clear()


def test_resaving_a_hub_export_loaded_with_a_cache_dir_takes_its_files_from_that_cache(
    tiny_config, tmp_path, monkeypatch
):
    """A model loaded with from_pretrained(..., cache_dir=...) and saved again looked handler.py and
    requirements.txt up in the default cache only: offline they were left out, online the Hub was asked for files
    the given cache held. They are taken from it, with no request (after a lenient load too)."""
    from huggingface_hub.utils import get_session

    model = SwinIRForImageRestoration(tiny_config())
    model.config.custom_pipelines = remote_code.CUSTOM_PIPELINES
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default"))  # empty
    snapshot = tmp_path / "custom" / "models--org--repo" / "snapshots" / ("0" * 40)
    model.save_pretrained(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    sources = remote_code_sources()
    for name in ("handler.py", "requirements.txt"):
        (snapshot / name).write_text(sources[name], encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "custom"
    loaded = [
        SwinIRForImageRestoration.from_pretrained("org/repo", cache_dir=cache),
        SwinIRForImageRestoration.from_pretrained("org/repo", cache_dir=str(cache), output_loading_info=True)[0],
    ]
    asked = []

    def send(self, request, **kwargs):  # a Hub that does not answer; nothing leaves the host
        asked.append(f"{request.method} {request.url.path}")
        raise ConnectionError("the Hub does not answer")

    monkeypatch.setattr(type(get_session()), "send", send)
    for offline in (True, False):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        for i, loaded_model in enumerate(loaded):
            folder = tmp_path / f"resaved-{offline}-{i}"
            loaded_model.save_pretrained(folder)
            for name in ("handler.py", "requirements.txt"):
                assert (folder / name).read_text(encoding="utf-8") == sources[name], (name, offline, i)
            assert asked == [], (offline, i)
    assert not (tmp_path / "default").exists()


def test_resaving_a_model_loaded_from_a_subfolder_or_with_a_token_looks_there(tiny_config, tmp_path, monkeypatch):
    """A model loaded with from_pretrained(..., subfolder="x") (a folder or repo holding several models) and saved
    again looked for handler.py and requirements.txt in the root, and a private repo's without the token it was
    loaded with. They are taken from the subfolder, the Hub asked with the token; which no save or pickle keeps."""
    import pickle

    from huggingface_hub import HfApi
    from huggingface_hub.utils import get_session

    model = SwinIRForImageRestoration(tiny_config())
    model.config.custom_pipelines = remote_code.CUSTOM_PIPELINES
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    sources = remote_code_sources()
    for root in (tmp_path / "local", tmp_path / "cache" / "models--org--repo" / "snapshots" / ("0" * 40)):
        model.save_pretrained(root / "x")
        for name in ("handler.py", "requirements.txt"):
            (root / "x" / name).write_text(sources[name], encoding="utf-8")
    bare = tmp_path / "cache" / "models--org--bare" / "snapshots" / ("0" * 40)
    model.save_pretrained(bare / "x")  # without them: the Hub is asked
    for repo in ("repo", "bare"):
        (tmp_path / "cache" / f"models--org--{repo}" / "refs").mkdir()
        (tmp_path / "cache" / f"models--org--{repo}" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    local = SwinIRForImageRestoration.from_pretrained(tmp_path / "local", subfolder="x")
    hub = SwinIRForImageRestoration.from_pretrained("org/repo", subfolder="x", token="hf_secret")
    asked = []

    def send(self, request, **kwargs):  # a Hub that does not answer; nothing leaves the host
        asked.append((request.method, request.url.path, request.headers.get("authorization")))
        raise ConnectionError("the Hub does not answer")

    monkeypatch.setattr(type(get_session()), "send", send)
    for i, loaded in enumerate((local, hub)):
        loaded.save_pretrained(tmp_path / f"resaved-{i}")
        for name in ("handler.py", "requirements.txt"):
            assert (tmp_path / f"resaved-{i}" / name).read_text(encoding="utf-8") == sources[name], (name, i)
    listed = []

    def list_repo_files(self, repo_id, **kwargs):
        listed.append((repo_id, kwargs.get("token")))
        return ["config.json", "x/config.json", "x/handler.py"]

    monkeypatch.setattr(HfApi, "list_repo_files", list_repo_files)
    loaded = SwinIRForImageRestoration.from_pretrained("org/bare", subfolder="x", token="hf_secret")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    loaded.save_pretrained(tmp_path / "resaved-bare")
    assert listed == [("org/bare", "hf_secret")]
    fetched = {(path.removeprefix("/org/bare/resolve/").split("/", 1)[1], auth) for _, path, auth in asked}
    assert fetched == {("x/handler.py", "Bearer hf_secret")}  # at the revision loaded, in the subfolder, with the token
    saved = b"".join(p.read_bytes() for p in tmp_path.glob("resaved-*/*"))
    assert b"hf_secret" not in saved and b"hf_secret" not in pickle.dumps(loaded)
    assert "hf_secret" not in repr(loaded._loaded_with)


def test_a_deep_copy_of_a_loaded_model_saves_as_the_model_does(tiny_config, tmp_path, monkeypatch):
    """`copy.deepcopy(model)` (EMA, accelerate, a user's) of a model loaded with from_pretrained(..., subfolder=...,
    token=...) lost the token: a save of the copy asked a private repo for its Inference Endpoints files without it,
    and did not find them. The copy saves as the model: from the subfolder, the Hub asked with the token, which no
    save or pickle of it keeps."""
    import copy
    import pickle

    from huggingface_hub import HfApi
    from huggingface_hub.utils import get_session

    model = SwinIRForImageRestoration(tiny_config())
    model.config.custom_pipelines = remote_code.CUSTOM_PIPELINES
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    sources = remote_code_sources()
    model.save_pretrained(tmp_path / "local" / "x")
    for name in ("handler.py", "requirements.txt"):
        (tmp_path / "local" / "x" / name).write_text(sources[name], encoding="utf-8")
    bare = tmp_path / "cache" / "models--org--bare"
    model.save_pretrained(bare / "snapshots" / ("0" * 40) / "x")  # without them: the Hub is asked
    (bare / "refs").mkdir()
    (bare / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    loaded = SwinIRForImageRestoration.from_pretrained(tmp_path / "local", subfolder="x", token="hf_secret")
    local = copy.deepcopy(loaded)
    local.save_pretrained(tmp_path / "resaved-local")
    for name in ("handler.py", "requirements.txt"):
        assert (tmp_path / "resaved-local" / name).read_text(encoding="utf-8") == sources[name], name
    asked, listed = [], []

    def send(self, request, **kwargs):  # a Hub that does not answer; nothing leaves the host
        asked.append((request.url.path, request.headers.get("authorization")))
        raise ConnectionError("the Hub does not answer")

    def list_repo_files(self, repo_id, **kwargs):
        listed.append((repo_id, kwargs.get("token")))
        return ["config.json", "x/config.json", "x/handler.py"]

    monkeypatch.setattr(type(get_session()), "send", send)
    monkeypatch.setattr(HfApi, "list_repo_files", list_repo_files)
    hub = copy.deepcopy(SwinIRForImageRestoration.from_pretrained("org/bare", subfolder="x", token="hf_secret"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub.save_pretrained(tmp_path / "resaved-hub")
    assert listed == [("org/bare", "hf_secret")]
    assert [(path.rsplit("/", 2)[-2:], auth) for path, auth in asked] == [(["x", "handler.py"], "Bearer hf_secret")]
    saved = b"".join(p.read_bytes() for p in tmp_path.glob("resaved-*/*"))
    assert b"hf_secret" not in saved and b"hf_secret" not in pickle.dumps(hub)
    assert "hf_secret" not in repr(hub._loaded_with)


def test_a_save_neither_removes_nor_replaces_a_users_own_file_named_like_the_model_code(tiny_config, tmp_path):
    """A package save (`convert --overwrite`, a training's) removed any modeling_swinir.py, configuration_swinir.py,
    ... in the folder, a user's own included, and `save_pretrained` left one in place for config.json to name. The
    package's copies (first line: the code header, or byte for byte the package's module) are still replaced; a file
    of the user's stays, and a save that would write that name is refused before it writes anything."""
    from swinir_hf import __version__
    from swinir_hf.models import configuration_swinir

    model = SwinIRForImageRestoration(tiny_config())
    ours, theirs, older = tmp_path / "ours", tmp_path / "theirs", tmp_path / "older"
    model.save_pretrained(ours)
    assert (ours / "modeling_swinir.py").read_text().splitlines()[0] == (
        f"# modeling_swinir.py of swinir-hf {__version__}, copied for trust_remote_code=True (edit the package)."
    )
    model.save_pretrained(ours)  # the package's own copies: replaced
    folders.save_model_folder(theirs, model)
    folders.save_model_folder(older, model)
    mine = "print('my own configuration')\n"
    (theirs / "configuration_swinir.py").write_text(mine)
    (older / "configuration_swinir.py").write_bytes(Path(configuration_swinir.__file__).read_bytes())  # header-less
    config = (theirs / "config.json").read_bytes()
    with pytest.raises(FileExistsError) as err:
        model.save_pretrained(theirs)
    assert str(err.value) == (
        f"{theirs / 'configuration_swinir.py'} is not this swinir-hf's copy of SwinIR's model code (its first line is "
        "not '# configuration_swinir.py of swinir-hf VERSION, copied for trust_remote_code=True (edit the package).': "
        "a file of your own, or a copy an earlier version saved) and the save writes a file of that name: move it out "
        "of the folder (delete an earlier save's copy), or save with remote_code=False (no code files)"
    )
    assert (theirs / "config.json").read_bytes() == config and (theirs / "configuration_swinir.py").read_text() == mine
    for folder in (ours, theirs, older):
        folders.save_model_folder(folder, SwinIRForImageRestoration(tiny_config(upscale=3)))
    assert sorted(p.name for p in ours.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert sorted(p.name for p in older.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert (theirs / "configuration_swinir.py").read_text() == mine


def test_a_save_replaces_the_model_code_an_earlier_save_of_the_package_copied(tiny_config, tmp_path):
    """`save_pretrained` left any file of a code name in place, so a folder saved by an earlier version (its copies
    marked by the header line, or byte for byte the package's module) kept that version's code beside this version's
    config.json. The package's copies are now replaced with this version's."""
    from swinir_hf import __version__
    from swinir_hf.models import modeling_swinir

    model = SwinIRForImageRestoration(tiny_config())
    model.save_pretrained(tmp_path)
    stale = "# modeling_swinir.py of swinir-hf 0.1.0, copied for trust_remote_code=True (edit the package).\n# old\n"
    (tmp_path / "modeling_swinir.py").write_text(stale)
    (tmp_path / "configuration_swinir.py").unlink()
    header_less = Path(modeling_swinir.__file__).with_name("runtime_swinir.py").read_bytes()  # an early save's copy
    (tmp_path / "runtime_swinir.py").write_bytes(header_less)
    model.save_pretrained(tmp_path)
    for name in ("modeling_swinir.py", "configuration_swinir.py", "runtime_swinir.py"):
        lines = (tmp_path / name).read_text().splitlines()
        assert lines[0] == f"# {name} of swinir-hf {__version__}, copied for trust_remote_code=True (edit the package)."
        assert "\n".join(lines[1:]) == Path(modeling_swinir.__file__).with_name(name).read_text().rstrip("\n")


def test_a_save_into_a_folder_an_earlier_version_saved_says_its_copy_may_be_that(tiny_config, tmp_path):
    """An earlier version's `save_pretrained` copied the model code without the header line: after an upgrade, a save
    into that folder is refused as for a file of the user's (the copy, of other bytes, cannot be told from one
    edited), and the message said the file "is not SwinIR's model code", which it is. It now says it may be an
    earlier save's copy, and what to do."""
    from swinir_hf.models import configuration_swinir

    model = SwinIRForImageRestoration(tiny_config())
    folder = tmp_path / "saved-before"
    folders.save_model_folder(folder, model)
    earlier = Path(configuration_swinir.__file__).read_text().replace("SwinIR", "SwinIR (an earlier version)", 1)
    (folder / "configuration_swinir.py").write_text(earlier)
    with pytest.raises(FileExistsError, match=r"or a copy an earlier version saved\) .* \(delete an earlier save's"):
        model.save_pretrained(folder)
    assert (folder / "configuration_swinir.py").read_text() == earlier


def _third_party_imports(source: str) -> set[str]:
    """The top-level modules `source` imports (at its top or inside functions) that are not the standard library's
    nor its own relative imports."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__"}


def test_the_requirements_txt_names_what_the_shipped_code_imports_at_pyprojects_ranges():
    """Inference Endpoints pip-install a repo's requirements.txt: it holds every distribution the shipped code
    imports, as pyproject.toml states it (never torch: the container's CUDA build stays), and nothing else."""
    toml = pytest.importorskip("tomllib")
    pyproject = Path(remote_code.__file__).parents[2] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a checkout: no pyproject.toml beside the package")
    declared = toml.loads(pyproject.read_text())["project"]["dependencies"]
    sources = remote_code_sources()
    lines = sources["requirements.txt"].splitlines()
    assert lines[0].startswith("# requirements.txt: what the model code of swinir-hf ")
    assert lines[1:] == [
        next(d for d in declared if re.match(rf"{name}\b", d, flags=re.IGNORECASE))
        for name in ("transformers", "huggingface_hub", "safetensors", "Pillow", "numpy")
    ]
    assert "transformers>=5.18,<6" in lines and not any(line.startswith("torch") for line in lines)
    imported = set().union(*(_third_party_imports(s) for n, s in sources.items() if n.endswith(".py")))
    # packaging comes with transformers (its own requirement); pillow_heif only for HEIC, its message says to add it.
    assert imported == {"torch", "transformers", "huggingface_hub", "safetensors", "PIL", "numpy"} | {
        "packaging",
        "pillow_heif",
    }


def test_refuses_a_file_named_like_a_release_with_other_weights(parity, tmp_path):
    fake = tmp_path / "001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth"
    shutil.copy(parity / "classical_sr_x4.pth", fake)
    with pytest.raises(CheckpointError, match="do not match it: .*embed_dim 24 .catalogue: 180."):
        export_checkpoint(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_does_not_overwrite_an_existing_folder(parity, tmp_path, caplog):
    target = tmp_path / "swinir-gray-dn"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    message = f"{target} exists and is not an export of these weights (it holds mine.txt); pass --overwrite to replace"
    with pytest.raises(HubExportError, match=re.escape(message)):
        export_checkpoint(parity / "gray_dn.pth", tmp_path)
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    # replaced with --overwrite (the folder is what gets uploaded), but said: convert's keeps such files
    export_checkpoint(parity / "gray_dn.pth", tmp_path, overwrite=True)
    assert not (target / "mine.txt").exists()
    assert caplog.messages == [f"--overwrite removes from {target} what is not part of the export: mine.txt"]


class FakeHfApi:
    """Records what would reach the Hub."""

    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def whoami(self):
        return {"name": "me", "orgs": []}

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False):
        self.calls.append(("create_repo", repo_id, repo_type, private, exist_ok))

    def upload_folder(self, repo_id, folder_path, repo_type=None, commit_message=None):
        files = sorted(p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*") if p.is_file())
        self.calls.append(("upload_folder", repo_id, repo_type, files, commit_message))
        return type("CommitInfo", (), {"commit_url": f"https://hub.test/{repo_id}/commit/1"})()


@pytest.fixture
def fake_api(monkeypatch):
    FakeHfApi.calls = []
    monkeypatch.setattr(repo_names, "HfApi", FakeHfApi)  # whoami: the default organisation
    monkeypatch.setattr(hub, "HfApi", FakeHfApi)  # the push
    # A Hub that answers (this fake one), whatever the machine running the tests has.
    monkeypatch.setattr(loading, "hub_reachable", lambda *args, **kwargs: True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return FakeHfApi


def test_a_folder_without_remote_code_declares_none(tiny_config, tmp_path):
    """A model loaded from a Hub export (its config has auto_map, custom_pipelines), saved as a plain folder (what
    the trainer does after --init-from): config.json points at no code files it lacks, and the pipeline loads."""
    from transformers import pipeline

    model = SwinIRForImageRestoration(tiny_config())
    model.config.auto_map, model.config.custom_pipelines = dict(remote_code.AUTO_MAP), remote_code.CUSTOM_PIPELINES
    folders.save_model_folder(tmp_path, model)
    config = json.loads((tmp_path / "config.json").read_text())
    assert "auto_map" not in config and "custom_pipelines" not in config
    assert model.config.auto_map == remote_code.AUTO_MAP
    assert model.config.custom_pipelines == remote_code.CUSTOM_PIPELINES
    restorer = pipeline("image-restoration", model=str(tmp_path))
    assert restorer(Image.new("RGB", (5, 4))).size == (10, 8)


def test_an_export_writes_its_files_once_into_its_own_staging_folder(parity, tmp_path, monkeypatch):
    """The export staged its folder, then `save_model_folder` staged every file again inside it (a second rename of
    each); the model's code files, copied by the save, are the export's own (with their headers)."""
    monkeypatch.setattr(folders, "written_aside", None)  # the save's own staging: not to be used
    folder = export_checkpoint(parity / "classical_sr_x2.pth", tmp_path, organization="me")
    assert sorted(p.name for p in folder.path.iterdir()) == EXPECTED_FILES
    for name, source in remote_code_sources().items():
        assert (folder.path / name).read_text(encoding="utf-8") == source


def test_push_uploads_the_folder_in_one_commit(exported, fake_api):
    url = push_folder(exported["classical_sr_x2"], private=True)
    assert url == "https://hub.test/me/swinir-classical-sr-x2/commit/1"
    (create, upload) = fake_api.calls
    assert create == ("create_repo", "me/swinir-classical-sr-x2", "model", True, True)
    assert upload[:4] == ("upload_folder", "me/swinir-classical-sr-x2", "model", EXPECTED_FILES)
    assert "classical_sr_x2.pth" in upload[4]


def test_a_float16_copy_of_a_release_exports_in_float16(shared, tmp_path):
    """Like a float16 model folder, a float16 `.pth` exports value for value in float16 (it was float32, twice the
    size), verified against the model converted from it."""
    state = torch.load(shared / "fixtures/official_parity/lightweight_sr_x2.pth", weights_only=True)["params"]
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"params": half}, tmp_path / "half.pth")
    folder = export_checkpoint(tmp_path / "half.pth", tmp_path / "out", organization="me")
    saved = load_file(folder.path / "model.safetensors")
    assert {v.dtype for v in saved.values()} == {torch.float16}
    assert all(torch.equal(saved[k], half[k]) for k in saved) and folder.max_abs_diff == 0
    assert json.loads((folder.path / "config.json").read_text())["dtype"] == "float32"


def test_a_float16_folder_with_float32_edges_exports_each_tensor_in_its_precision(shared, tmp_path):
    """`convert` writes a float16 copy as float16 with the edges where float16 overflows in float32 (as
    `from_pretrained` keeps them): its Hub folder, and that of its weights file taken as an authors' checkpoint,
    keep each tensor's precision, value for value (they were float32 throughout, twice the size)."""
    state = torch.load(shared / "fixtures/official_parity/lightweight_sr_x2.pth", weights_only=True)["params"]
    torch.save({"params": {k: v.half() if v.is_floating_point() else v for k, v in state.items()}}, tmp_path / "h.pth")
    assert main(["convert", str(tmp_path / "h.pth"), str(tmp_path / "half")]) == 0
    weights = load_file(tmp_path / "half" / "model.safetensors")
    assert {v.dtype for v in weights.values()} == {torch.float16, torch.float32}
    shutil.copy(tmp_path / "half" / "model.safetensors", tmp_path / "bare.safetensors")
    for folder in (
        hub.export_model_folder(tmp_path / "half", tmp_path / "out", repo_id="me/half"),
        export_checkpoint(tmp_path / "bare.safetensors", tmp_path / "out", repo_id="me/bare"),
    ):
        saved = load_file(folder.path / "model.safetensors")
        assert {k: v.dtype for k, v in saved.items()} == {k: v.dtype for k, v in weights.items()}
        assert all(torch.equal(v, weights[k]) for k, v in saved.items()), folder.path


def test_verification_finds_weights_changed_below_the_output_tolerance_and_a_float16_default(shared, tmp_path):
    """What `verify_folder` checks besides the outputs: the saved tensors equal the source's bit for bit (a change
    far below the outputs' 1e-5 tolerance is one), and the folder loads in float32 when no dtype is asked for."""
    from safetensors.torch import save_file

    from swinir_hf.checkpoints.convert import BUFFER_SUFFIXES, convert_original_checkpoint
    from swinir_hf.checkpoints.verification import verify_folder

    state = torch.load(shared / "fixtures/official_parity/lightweight_sr_x2.pth", weights_only=True)["params"]
    params = {k: v for k, v in state.items() if not k.endswith(BUFFER_SUFFIXES)}
    reference = convert_original_checkpoint(state)
    folder = export_checkpoint(shared / "fixtures/official_parity/lightweight_sr_x2.pth", tmp_path, organization="me")
    assert verify_folder(folder.path, reference, params) <= 1e-5
    weights = folder.path / "model.safetensors"
    saved = load_file(weights)
    nudged = dict(saved)
    key = "layers.0.residual_group.blocks.0.mlp.fc2.bias"
    nudged[key] = torch.nextafter(saved[key], torch.full_like(saved[key], torch.inf))  # one float32 step up
    save_file(nudged, weights, metadata={"format": "pt"})
    with pytest.raises(HubExportError, match=rf"^saved weights differ from the original in \['{re.escape(key)}'\]$"):
        verify_folder(folder.path, reference, params)
    save_file(saved, weights, metadata={"format": "pt"})
    config = json.loads((folder.path / "config.json").read_text())
    (folder.path / "config.json").write_text(json.dumps({**config, "dtype": "float16"}))
    with pytest.raises(HubExportError, match=r"^the folder loads in \[.*'torch.float16'.*\] by default, not float32"):
        verify_folder(folder.path, reference, params)


def _trained_folder(tiny_config, folder: Path, dtype=torch.float32) -> SwinIRForImageRestoration:
    """A `save_pretrained` folder with a card written as the trainer writes it (no remote code)."""
    torch.manual_seed(0)
    model = SwinIRForImageRestoration(tiny_config()).to(dtype)
    recipe = "Trained with `swinir_hf.train`.\n\n- 40 of 40 steps\n\n| model | PSNR |\n|---|---:|\n| step 40 | 31.00 |"
    card = render_model_card(
        model.config, model_id=str(folder), title="SwinIR tiny (40 steps)", description=recipe, remote_code=False
    )
    folders.save_model_folder(folder, model, card)
    return model


def test_a_trained_folder_exports_with_its_own_card_and_the_model_code(tiny_config, tmp_path, capsys):
    """A run of swinir_hf.train becomes a Hub folder that loads without the package: the model code is added, the
    weights are kept bit for bit in their own precision, and the training card keeps its recipe and curve while
    its usage becomes the trust_remote_code one for the repo."""
    run = tmp_path / "runs" / "tiny"
    model = _trained_folder(tiny_config, run, torch.float16)
    folder = hub.export_model_folder(run, tmp_path / "out", repo_id="me/tiny-x2")
    assert folder.path == tmp_path / "out" / "tiny-x2" and folder.files() == EXPECTED_FILES
    saved = load_file(folder.path / "model.safetensors")
    assert {v.dtype for v in saved.values()} == {torch.float16}
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())

    card = ModelCard.load(folder.path / "README.md")
    original = ModelCard.load(run / "README.md")
    assert card.text.split("## Model")[0] == original.text.split("## Model")[0]  # title, recipe, curve
    assert 'pipeline("image-restoration", model="me/tiny-x2", trust_remote_code=True)' in card.text
    assert "import swinir_hf" not in card.text and str(run) not in card.text
    assert card.data.tags == original.data.tags

    remote = remote_code.folder_classes(folder.path)
    loaded = remote["model"].from_pretrained(folder.path, dtype=torch.float32).eval()
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert torch.equal(loaded(x).reconstruction, model.float().eval()(x).reconstruction)
    remote_code.drop_remote_module_cache(folder.path)

    # the run folder is untouched, and exporting it again into the same -o rebuilds the same folder
    assert not any(name.endswith(".py") for name in os.listdir(run))
    assert hub.export_model_folder(run, tmp_path / "out", repo_id="me/tiny-x2").files() == EXPECTED_FILES
    # ... but not once the run's own card has changed: the error says that this is a reason too
    (run / "README.md").write_text(original.content.replace("40 of 40 steps", "40 of 40 steps, my notes"))
    with pytest.raises(HubExportError, match=r"or the source folder's README\.md has changed since\); pass --overwr"):
        hub.export_model_folder(run, tmp_path / "out", repo_id="me/tiny-x2")


def test_a_model_folder_card_gets_measured_figures_and_a_new_folder_gets_a_card(tiny_config, tmp_path, bench):
    run = tmp_path / "tiny"
    model = _trained_folder(tiny_config, run)
    folder = hub.export_model_folder(run, tmp_path / "out", organization="me", eval_datasets=[str(bench)])
    assert folder.repo_id == "me/swinir-tiny"
    expected = evaluate(model.eval(), bench, progress=False, model_name="m").mean("m")
    card = ModelCard.load(folder.path / "README.md")
    (result,) = [r for r in card.data.eval_results if r.metric_type == "psnr"]
    assert result.metric_value == pytest.approx(expected["psnr_y"], abs=1e-4)
    assert card.data.model_name == "swinir-tiny" and result.source_url is None
    assert "| bench" in card.text and "border of `scale` pixels cropped; MATLAB-bicubic x2 inputs" in card.text

    (run / "README.md").unlink()  # a plain save_pretrained folder: a card is written for it
    folder = hub.export_model_folder(run, tmp_path / "plain", repo_id="me/plain")
    card = ModelCard.load(folder.path / "README.md")
    assert card.text.startswith("\n# SwinIR plain\n") and "trust_remote_code=True" in card.text


def test_hub_license_relicenses_a_model_of_ones_own_and_is_refused_for_an_authors_release(
    tiny_config, tmp_path, capsys
):
    """`swinir-hf hub --license ID` writes a model folder's card under that license; the authors' release keeps
    theirs (refused before anything is built)."""
    run = tmp_path / "tiny"
    _trained_folder(tiny_config, run)
    out = tmp_path / "out"
    assert export_cli.main([str(run), "-o", str(out), "--org", "me", "--license", "cc-by-nc-4.0"]) == 0
    card = ModelCard.load(out / "swinir-tiny" / "README.md")
    assert card.data.license == "cc-by-nc-4.0" and "`cc-by-nc-4.0`, as the publisher of these" in card.text
    release = tmp_path / find_release("swinir-lightweight-sr-x2").file
    release.write_bytes(b"not read")
    capsys.readouterr()
    assert export_cli.main([str(release), "-o", str(out), "--license", "mit"]) == 1
    err = capsys.readouterr().err
    assert f"error: {release.name}: --license is for other models: the authors' release is under their license" in err
    assert sorted(p.name for p in out.iterdir()) == ["swinir-tiny"]


def test_hub_license_must_be_a_hub_license_id_checked_before_any_work(tmp_path, capsys):
    """The Hub refuses (or shows as unlicensed) a card whose `license` is not one of its ids: `--license` takes those
    only, in any case (written lower-case, as the Hub matches them), and an unknown one stops at argument parsing
    with one line naming close ids and how to state terms of one's own (`other`)."""
    from swinir_hf.checkpoints.hub_licenses import HUB_LICENSES, hub_license

    assert (hub_license("MIT"), hub_license("Apache-2.0"), hub_license("other")) == ("mit", "apache-2.0", "other")
    assert {"mit", "cc-by-nc-4.0", "openrail++", "llama3.1", "other"} <= set(HUB_LICENSES)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit:
        main(["hub", str(tmp_path / "missing-model"), "-o", str(out), "--license", "cc-by-nc-4"])
    assert exit.value.code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("swinir-hf hub: error: argument --license: 'cc-by-nc-4' is not a Hub license id (did you ")
    assert "cc-by-nc-4.0" in err and "use 'other' and give their license_name and license_link" in err


def _front_matter(card: Path) -> dict:
    """The YAML header of a written card, as the Hub reads it."""
    return yaml.safe_load(card.read_text(encoding="utf-8").split("---\n")[1])


def test_the_export_api_checks_its_license_as_the_command_line_does_before_any_work(tiny_config, tmp_path):
    """`export_model_folder` / `export_checkpoint(license=...)` take the Hub's ids only, with `hub_license`'s message,
    before reading the source or writing anything (the file given here is no checkpoint at all), and write the id
    lower-case; `other` wants its terms' name and link (`license_terms`)."""
    from swinir_hf.checkpoints.hub_licenses import hub_license

    run, out = tmp_path / "tiny", tmp_path / "out"
    _trained_folder(tiny_config, run)
    with pytest.raises(ValueError) as expected:
        hub_license("cc-by-nc-4")
    not_a_checkpoint = tmp_path / "mine.pth"
    not_a_checkpoint.write_bytes(b"not read")
    for export, source in ((hub.export_model_folder, run), (export_checkpoint, not_a_checkpoint)):
        with pytest.raises(ValueError) as refused:
            export(source, out, repo_id="me/x", license="cc-by-nc-4")
        assert str(refused.value) == str(expected.value)
        with pytest.raises(ValueError, match=r"^license other needs license_name, the id the Hub shows for your"):
            export(source, out, repo_id="me/x", license="other", license_name="my-terms")
        with pytest.raises(ValueError, match=r"^license_link names terms of your own, for license other only"):
            export(source, out, repo_id="me/x", license="mit", license_link="LICENSE")
    assert not out.exists()
    folder = hub.export_model_folder(run, out, repo_id="me/x", license="CC-BY-NC-4.0")
    assert _front_matter(folder.path / "README.md")["license"] == "cc-by-nc-4.0"


def test_hub_license_other_writes_the_terms_name_and_link_the_hub_asks_for(tiny_config, tmp_path, capsys):
    """`--license other --license-name ID --license-link URL` writes `license_name` (an id, lower-case) and
    `license_link` beside `license: other`, and names them in the License section; a later --license replaces them
    with its own, no --license keeps them. Either option without `other`, and `other` without both, is a usage
    error before anything is built."""
    run, out = tmp_path / "tiny", tmp_path / "out"
    _trained_folder(tiny_config, run)
    terms = ["--license", "other", "--license-name", "My-Terms-1.0", "--license-link", "https://example.org/terms"]
    assert export_cli.main([str(run), "-o", str(out), "--org", "me", *terms]) == 0
    card = out / "swinir-tiny" / "README.md"
    header = _front_matter(card)
    assert (header["license"], header["license_name"], header["license_link"]) == (
        "other",
        "my-terms-1.0",
        "https://example.org/terms",
    )
    text = card.read_text(encoding="utf-8")
    assert "## License\n\n`other`: [my-terms-1.0](https://example.org/terms), the terms the publisher" in text
    config = SwinIRConfig.from_pretrained(out / "swinir-tiny")
    kept = ModelCard(hub_card(text, config, model_id="me/again")).data  # a later export without --license
    assert (kept.license, kept.license_name, kept.license_link) == (
        "other",
        "my-terms-1.0",
        "https://example.org/terms",
    )
    relicensed = ModelCard(hub_card(text, config, model_id="me/again", license="mit")).data.to_dict()
    assert relicensed["license"] == "mit" and not {"license_name", "license_link"} & set(relicensed)
    capsys.readouterr()
    refused = {
        ("--license-name", "x"): "--license-name names terms of your own, for --license other only (no --license is",
        ("--license", "mit", "--license-link", "LICENSE"): "--license-link names terms of your own, for --license "
        "other only (--license is mit)",
        ("--license", "other", "--license-link", "LICENSE"): "--license other needs --license-name, the id the Hub",
        ("--license", "other", "--license-name", "my terms", "--license-link", "L"): "--license-name 'my terms' is "
        "not an id",
    }
    for options, message in refused.items():
        assert export_cli.main([str(run), "-o", str(tmp_path / "refused"), "--org", "me", *options]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"swinir-hf hub: error: {message}") and "\n" not in err, err
    assert not (tmp_path / "refused").exists()


def test_a_hand_written_card_gets_the_metadata_the_hub_needs(tiny_config):
    """A save_pretrained folder's own README.md without front matter (or with tags of its own) keeps its text and
    metadata, and gains the library, pipeline tag and SwinIR tags the Hub shows the model by."""
    config = tiny_config(task="lightweight_sr")
    plain = ModelCard(hub_card("# My model\n\nTrained on my photos.\n", config, model_id="me/mine"))
    assert plain.text.startswith("\n# My model\n\nTrained on my photos.\n\n## How to use\n")
    assert (plain.data.library_name, plain.data.pipeline_tag) == ("transformers", "image-to-image")
    assert plain.data.tags == ["swinir", "image-restoration", "super-resolution", "lightweight", "arxiv:2108.10257"]
    tagged = "---\nlicense: mit\ntags:\n- mine\n- swinir\n---\n# My model\n"
    data = ModelCard(hub_card(tagged, config, model_id="me/mine")).data
    assert data.license == "mit"
    assert data.tags == ["image-restoration", "super-resolution", "lightweight", "arxiv:2108.10257", "mine", "swinir"]


def test_cli_exports_a_run_folder_and_a_checkpoint_of_it(tiny_config, tmp_path, capsys):
    run = tmp_path / "runs" / "tiny"
    _trained_folder(tiny_config, run)
    checkpoint = run / "checkpoints" / "step-00000040"
    shutil.copytree(run, checkpoint / "model", ignore=shutil.ignore_patterns("checkpoints"))
    (checkpoint / "progress.json").write_text("{}")
    out = tmp_path / "out"
    assert export_cli.main([str(run), "-o", str(out), "--org", "me", "--name", "tiny-swinir"]) == 0
    assert export_cli.main([str(checkpoint), "-o", str(out), "--org", "me"]) == 0
    printed, err = capsys.readouterr()
    assert "Loading weights" not in err  # no progress bar for each of an export's loads
    assert f"tiny → {out / 'tiny-swinir'} (me/tiny-swinir), verified" in printed
    assert f"step-00000040 → {out / 'swinir-tiny-step-40'} (me/swinir-tiny-step-40), verified" in printed
    assert sorted(os.listdir(out)) == ["swinir-tiny-step-40", "tiny-swinir"]
    # the checkpoint's model/ folder is that checkpoint; a checkpoint kept under another name is named after it
    assert repo_names.folder_repo_name(checkpoint / "model") == "swinir-tiny-step-40"
    assert repo_names.folder_repo_name(tmp_path / "SwinIR_my_x4") == "swinir-my-x4"  # not swinir-swinir-my-x4
    assert repo_names.local_repo_name(Path("swinir.pth")) == "swinir"
    assert repo_names.local_repo_name(Path("swinirx.pth")) == "swinir-swinirx"
    shutil.copytree(checkpoint, tmp_path / "best")
    assert export_cli.main([str(tmp_path / "best"), "-o", str(out), "--org", "me"]) == 0
    assert f"best → {out / 'swinir-best'} (me/swinir-best), verified" in capsys.readouterr().out

    (tmp_path / "empty").mkdir()
    assert export_cli.main([str(tmp_path / "empty"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    none = "holds no checkpoint files (.pth, .pt, .ckpt, .safetensors) and is no save_pretrained folder"
    assert err == f"error: {tmp_path / 'empty'} {none}\n"
    # a run stopped before its final save: its checkpoints are named
    for name in ("config.json", "model.safetensors", "README.md", "preprocessor_config.json"):
        (run / name).unlink()
    assert export_cli.main([str(run), "-o", str(out)]) == 1
    said = f"error: {run} {none}; its latest checkpoint is a model folder: {checkpoint}\n"
    assert capsys.readouterr().err == said
    # a folder whose weights are damaged: one line naming it once
    shutil.copytree(checkpoint / "model", tmp_path / "trunc")
    (tmp_path / "trunc" / "model.safetensors").write_bytes(b"\x10" * 100)
    # One's own model without --org: its card named the repo swinir-hf/..., the project's org.
    assert export_cli.main([str(tmp_path / "trunc"), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: trunc: --org is needed for a model folder: the Hub user or organisation to publish it under, which "
        "its card names (the default, swinir-hf, is this project's, for the authors' releases)\n"
    )
    assert export_cli.main([str(tmp_path / "trunc"), "-o", str(out), "--org", "me"]) == 1
    err = capsys.readouterr().err
    weights = tmp_path / "trunc" / "model.safetensors"
    assert err.startswith(f"error: trunc: {weights} is not a readable safetensors file (truncated or corrupt?)")
    assert err.count("/trunc") == 1
    # an authors' file that is not one: named once too (was "error: notes.pth: notes.pth is not a readable ...")
    notes = tmp_path / "notes.pth"
    notes.write_text("hello world")
    # So does a .pth other than the authors' releases (one's own, trained with their code).
    assert export_cli.main([str(notes), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: notes.pth: --org is needed for a checkpoint other than the authors' releases: the Hub user or "
        "organisation to publish it under, which its card names (the default, swinir-hf, is this project's, for the "
        "authors' releases)\n"
    )
    assert export_cli.main([str(notes), "-o", str(out), "--org", "me"]) == 1
    assert capsys.readouterr().err == (
        f"error: {notes} is not a readable PyTorch checkpoint: it is a text file, not a file torch.save writes\n"
        "1 of 1 checkpoints failed\n"
    )


def test_an_export_never_replaces_its_own_source(tiny_config, tmp_path, capsys):
    """A target that is the source folder, or holds it (a run, for one of its checkpoints), is refused even with
    --overwrite, which would remove the run's checkpoints, logs and config with it."""
    run = tmp_path / "runs" / "tiny"
    _trained_folder(tiny_config, run)
    checkpoint = run / "checkpoints" / "step-00000040"
    shutil.copytree(run, checkpoint / "model", ignore=shutil.ignore_patterns("checkpoints"))
    (checkpoint / "progress.json").write_text("{}")
    files = sorted(p.relative_to(run) for p in run.rglob("*"))
    for source in (run, checkpoint):
        args = [str(source), "-o", str(run.parent), "--org", "me", "--name", "tiny", "--overwrite"]
        assert export_cli.main(args) == 1
        named = "" if source == run else f"{source.name}: "  # a message that starts with the source names it once
        assert capsys.readouterr().err.endswith(
            f"error: {named}{run} is or holds the source {source}, which the export would replace: "
            "choose another -o\n1 of 1 checkpoints failed\n"
        )
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == files


def test_cli_names_the_level_options_eval_needs(tiny_config, tmp_path, bench, capsys):
    """--eval of a ×1 model needs --noise / --jpeg, which a ×2 model refuses and which say nothing without --eval:
    each mistake is one error naming the option, and nothing is written."""
    x1, x2, out = tmp_path / "dn", tmp_path / "sr", tmp_path / "out"
    config = tiny_config(upscale=1, upsampler="", task="color_dn")
    folders.save_model_folder(x1, SwinIRForImageRestoration(config))
    folders.save_model_folder(x2, SwinIRForImageRestoration(tiny_config()))
    cases = {
        (x1, "--eval", str(bench)): "dn: --eval of a ×1 (color_dn) model needs --noise SIGMA or --jpeg QUALITY: the "
        "level its benchmark inputs are degraded at",
        (x2, "--eval", str(bench), "--noise", "25"): "sr: --noise is for --eval of ×1 models; this one is ×2 (scored "
        "on bicubic-downscaled inputs): drop --noise",
    }
    for args, message in cases.items():
        assert export_cli.main([str(args[0]), "-o", str(out), "--org", "me", *args[1:]]) == 1
        assert capsys.readouterr().err.endswith(f"error: {message}\n1 of 1 checkpoints failed\n")
    assert export_cli.main([str(x1), "-o", str(out), "--org", "me", "--jpeg", "10"]) == 2
    said = "--jpeg is the level --eval scores at: give --eval DATASET too"
    assert capsys.readouterr().err == f"swinir-hf hub: error: {said}\n"
    assert not out.exists()

    # with its level, the figures are named by it (the card and its model-index would not say the σ otherwise)
    assert (
        export_cli.main([str(x1), "-o", str(out), "--eval", str(bench), "--noise", "25", "--name", "dn", "--org", "me"])
        == 0
    )
    card = ModelCard.load(out / "dn" / "README.md")
    assert {r.dataset_name for r in card.data.eval_results} == {f"{bench.name} σ25"}
    assert f"| {bench.name} σ25 | swinir-hf eval |" in card.text and "sigma 25" in card.text


def test_cli_refuses_options_that_do_not_apply_before_building(parity, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(export_cli, "_export", lambda *a, **k: pytest.fail("built"))
    source = tmp_path / "releases"
    source.mkdir()
    for name in ("gray_dn.pth", "jpeg_car.pth"):
        shutil.copy(parity / name, source)
    assert export_cli.main([str(source), "-o", str(tmp_path / "out"), "--org", "me", "--name", "mine"]) == 2
    assert capsys.readouterr().err == f"swinir-hf hub: error: --name names one repo, but {source} holds 2 checkpoints\n"
    shutil.copy(parity / "gray_dn.pth", source / "005_colorDN_DFWB_s128w8_SwinIR-M_noise15.pth")
    release = source / "005_colorDN_DFWB_s128w8_SwinIR-M_noise15.pth"
    assert (
        export_cli.main([str(release), "-o", str(tmp_path / "out"), "--org", "me", "--eval", "bench", "--noise", "25"])
        == 1
    )
    assert capsys.readouterr().err == (
        f"error: {release.name}: --noise is for other checkpoints: the authors' release is scored at its own level\n"
    )
    assert export_cli.main([str(release), "-o", str(tmp_path / "out"), "--push", "--dry-run"]) == 2
    said = "--dry-run lists what --push would upload, without pushing: give one of them"
    assert capsys.readouterr().err == f"swinir-hf hub: error: {said}\n"
    for option in (["--private"], ["--token", "hf_x"]):  # accepted, then ignored without a push
        assert export_cli.main([str(release), "-o", str(tmp_path / "out"), "--org", "me", *option]) == 2
        push = "is for the push: give --push (or --dry-run) too"
        assert capsys.readouterr().err == f"swinir-hf hub: error: {option[0]} {push}\n"
    assert not (tmp_path / "out").exists()


def test_cli_push_and_dry_run(parity, tmp_path, fake_api, capsys):
    source = tmp_path / "releases"
    source.mkdir()
    shutil.copy(parity / "lightweight_sr_x2.pth", source)
    (source / "notes.txt").write_text("not a checkpoint")
    assert export_cli.main([str(source), "-o", str(tmp_path / "out"), "--dry-run", "--org", "me"]) == 0
    assert fake_api.calls == []
    printed = capsys.readouterr().out
    assert "would push" in printed and "model.safetensors" in printed
    assert "me/swinir-lightweight-sr-x2-custom" in printed

    # the README's sequence: --push into the same -o rebuilds the dry run's own folder
    args = [str(source / "lightweight_sr_x2.pth"), "-o", str(tmp_path / "out"), "--push", "--org", "me"]
    assert export_cli.main(args) == 0
    assert [c[0] for c in fake_api.calls] == ["create_repo", "upload_folder"]
    assert fake_api.calls[1][3] == EXPECTED_FILES
    assert fake_api.calls[0][1] == "me/swinir-lightweight-sr-x2-custom"  # not the authors' release repo

    # another file's weights in that folder are not replaced without --overwrite
    shutil.copy(parity / "classical_sr_x2.pth", source / "lightweight_sr_x2.pth")
    assert export_cli.main(args) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert export_cli.main([*args, "--overwrite"]) == 0


def test_a_rerun_export_is_the_same_whatever_attention_kernel_this_process_timed(parity, tmp_path, monkeypatch):
    """The card's max abs difference is measured with one CPU attention kernel pinned: a process that timed SDPA as
    faster made another figure than one that timed the matmuls, and a rerun into the same -o was refused as changed
    (half the time). Here SDPA differs from the matmuls by 1e-6, to show any mix of the two, and is slow, so that
    the folder's own code, timing them itself, takes the matmuls."""
    import time

    import torch.nn.functional as F

    from swinir_hf.models import runtime_swinir

    monkeypatch.delenv("SWINIR_CPU_ATTENTION")  # as users run it: conftest pins the kernel for the whole suite
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: time.sleep(1e-3) or sdpa(*a, **k) + 1e-6)
    args = [str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me"]
    cards = []
    for timed in ("sdpa", "matmul"):
        monkeypatch.setattr(runtime_swinir, "faster_cpu_attention", lambda *shape, timed=timed: timed)
        assert export_cli.main(args) == 0  # the second over the first: allowed only if every file is the same
        cards.append((tmp_path / "swinir-gray-dn" / "README.md").read_text())
    assert cards[0] == cards[1] and "max abs difference 0.0e+00" in cards[0]


def test_rebuilding_an_earlier_export_keeps_edits_and_added_files(parity, tmp_path, fake_api, capsys):
    """docs/hub.md's sequence (--dry-run, then --push --org ORG into the same -o) rebuilds the dry run's folder, but
    never over a hand-edited card or a file added to the folder: those need --overwrite."""
    source, out = parity / "gray_dn.pth", tmp_path / "out"
    assert export_cli.main([str(source), "-o", str(out), "--org", "me", "--dry-run"]) == 0
    folder = out / "swinir-gray-dn"
    card = (folder / "README.md").read_text()
    push = [str(source), "-o", str(out), "--push", "--org", "me"]

    (folder / "README.md").write_text(card + "\nMy notes.\n")
    (folder / "sample.png").write_bytes(b"mine")
    assert export_cli.main(push) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert (folder / "README.md").read_text().endswith("My notes.\n")
    assert (folder / "sample.png").read_bytes() == b"mine"

    (folder / "sample.png").unlink()
    assert export_cli.main(push) == 1
    assert "but README.md differ(s) from this export's (edited" in capsys.readouterr().err
    assert (folder / "README.md").read_text().endswith("My notes.\n")
    assert fake_api.calls == []

    (folder / "README.md").write_text(card)  # the dry run's own card, made for swinir-hf/: rebuilt for me/
    assert export_cli.main(push) == 0
    assert 'model="me/swinir-gray-dn"' in (folder / "README.md").read_text()
    assert [c[0] for c in fake_api.calls] == ["create_repo", "upload_folder"]


def test_cli_push_that_cannot_happen_is_refused_before_building(tmp_path, fake_api, monkeypatch, capsys):
    """Offline (or without the right to push), --push fails at once, not after converting and verifying every
    checkpoint."""
    monkeypatch.setattr(export_cli, "export_checkpoint", lambda *a, **k: pytest.fail("built before the push check"))
    source, out = tmp_path / "x.pth", tmp_path / "out"
    source.write_bytes(b"")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert export_cli.main([str(source), "-o", str(out), "--push", "--org", "me"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --push me/swinir-x: HF_HUB_OFFLINE is set, so nothing can be pushed: unset it, or ")
    assert f"drop --push and upload the saved folder later (`hf upload me/swinir-x {out / 'swinir-x'}`)" in err
    assert "Traceback" not in err
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert export_cli.main([str(source), "-o", str(out), "--push", "--org", "someone"]) == 1
    assert "the token's user 'me' is not 'someone' nor a member of it" in capsys.readouterr().err
    assert not out.exists() and fake_api.calls == []


def test_cli_reports_a_failed_push(exported, fake_api, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise OSError("401 Unauthorized")

    monkeypatch.setattr(FakeHfApi, "upload_folder", refuse)
    source = exported["jpeg_car"].source
    args = [str(source), "-o", str(exported["jpeg_car"].path.parent), "--overwrite", "--push", "--org", "me"]
    assert export_cli.main(args) == 1
    assert "pushing" in (err := capsys.readouterr().err) and "401 Unauthorized" in err and "1 of 1" in err


def test_cli_refuses_an_output_folder_that_is_a_file(parity, tmp_path, capsys):
    (tmp_path / "out").write_text("mine")
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path / "out"), "--org", "me"]) == 1
    assert capsys.readouterr().err == f"error: output folder {tmp_path / 'out'} is not a folder: choose another -o\n"
    assert (tmp_path / "out").read_text() == "mine"


def test_cli_ctrl_c_is_one_line_and_leaves_no_staging_folder(parity, tmp_path, monkeypatch, capsys):
    def interrupted(folder, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub, "verify_folder", interrupted)
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me"]) == 130
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"interrupted: each folder this run wrote to {tmp_path}")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(parity, tmp_path, monkeypatch):
    """SIGKILL skips the `finally` that removes the staging folder: the next export into that -o removes those of
    dead processes on this host, and leaves a running export's (and another host's, which cannot be checked)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    host = process_tag().rsplit("-", 1)[0]
    stale, live, other = (f"{host}-{dead.pid}-a_b2c3d4", f"{host}-{os.getpid()}-b", f"elsewhere-{dead.pid}-c")
    mine = f"{host}-{dead.pid}-notes"  # a folder of the user's, named like one but not mkdtemp's: kept
    for name in (stale, live, other, mine):
        (tmp_path / f"swinir_staging_{name}").mkdir()
        (tmp_path / f"swinir_staging_{name}" / "model.safetensors").write_bytes(b"half written")
    staged = []
    verify = hub.verify_folder
    monkeypatch.setattr(hub, "verify_folder", lambda folder, *a: staged.append(folder.name) or verify(folder, *a))
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me"]) == 0
    assert staged[0].startswith(f"swinir_staging_{host}-{os.getpid()}-")  # its own staging folder names its process
    left = {"swinir-gray-dn", f"swinir_staging_{live}", f"swinir_staging_{other}", f"swinir_staging_{mine}"}
    assert {p.name for p in tmp_path.iterdir()} == left


def test_a_refused_export_removes_a_killed_exports_staging_folder(parity, tmp_path):
    """A rerun refused because its target exists removes a killed export's staging folder all the same: it is not
    left until an export that succeeds."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    stale = tmp_path / f"swinir_staging_{process_tag().rsplit('-', 1)[0]}-{dead.pid}-a_b2c3d4"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half written")
    (tmp_path / "swinir-gray-dn").mkdir()
    (tmp_path / "swinir-gray-dn" / "notes.txt").write_text("mine")
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me"]) == 1
    assert {p.name for p in tmp_path.iterdir()} == {"swinir-gray-dn"}


def test_an_export_killed_while_replacing_an_earlier_one_leaves_one_of_them_whole(parity, tmp_path, monkeypatch):
    """A kill -9 (or power loss) while the earlier export is removed: `target` holds the earlier export or the new one
    whole, never the part of one that removing it in place left (a folder without its model code, say)."""

    class Killed(BaseException):  # nothing after the kill runs: no `except Exception` takes it
        pass

    first = export_checkpoint(parity / "gray_dn.pth", tmp_path).path
    files = sorted(p.name for p in first.iterdir())
    rmtree = shutil.rmtree

    def killed_midway(path, *args, **kwargs):
        exported = sorted(Path(path).iterdir()) if Path(path).is_dir() else []
        if exported and [p.name for p in exported] == files:  # an export being removed, not a staging folder
            exported[0].unlink()
            monkeypatch.setattr(shutil, "rmtree", rmtree)
            raise Killed
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", killed_midway)
    with pytest.raises(Killed):
        export_checkpoint(parity / "gray_dn.pth", tmp_path, overwrite=True)
    assert sorted(p.name for p in first.iterdir()) == files
    assert load_model(first).num_parameters() > 0


def test_staging_folders_it_cannot_claim_are_named_and_look_alikes_are_left(parity, tmp_path, capsys):
    """An earlier swinir-hf's staging folder (`swinir_staging_<mkdtemp's 8 characters>`, left by a killed export)
    and another machine's cannot be told from a running export's: each gets a note, none is removed. Folders that
    only look like staging folders are neither named nor removed; a running export's here is not named."""
    host = process_tag().rsplit("-", 1)[0]
    short = host.split(".")[0]  # a container on this host (another PID namespace), or an earlier swinir-hf
    noted = [
        "swinir_staging_k2j4_5g1",
        "swinir_staging_elsewhere-4242-abcd1234",
        f"swinir_staging_{short}.1234-4242-abcd1234",
        f"swinir_staging_{short}-{os.getpid()}-abcd1234",  # running (a dead one's is removed)
    ]
    quiet = [f"swinir_staging_{host}-{os.getpid()}-abcd1234", "swinir_staging_mine", f"swinir_staging_{host}-notes"]
    for name in noted + quiet:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"half written")
    (tmp_path / "swinir_staging_abcd1234").write_text("a file, not a folder")
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: {tmp_path / name} looks like the staging folder of an unfinished export, by another machine or an "
        f"earlier swinir-hf (so it is not removed): delete it unless an export into {tmp_path} is running"
        for name in sorted(noted)
    ]
    left = {*noted, *quiet, "swinir_staging_abcd1234", "swinir-gray-dn"}
    assert {p.name for p in tmp_path.iterdir()} == left


def test_an_export_leaves_no_copy_of_its_staging_folders_code_in_the_modules_cache(parity, tmp_path, monkeypatch):
    """Verifying loads the staging folder's remote code, which transformers copies into HF_MODULES_CACHE under the
    folder's name made an identifier (`-` → `_hyphen_`): removed with the staging folder, and with a killed
    export's."""
    from transformers.utils import HF_MODULES_CACHE

    modules = Path(HF_MODULES_CACHE) / "transformers_modules"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    host = process_tag().rsplit("-", 1)[0]
    stale = f"swinir_staging_{host}-{dead.pid}-a1b2c3d4"
    (tmp_path / stale).mkdir()
    cached_stale = modules / stale.replace(".", "_dot_").replace("-", "_hyphen_") / "0123456789abcdef"
    cached_stale.mkdir(parents=True)
    (cached_stale / "modeling_swinir.py").write_text("")
    staged = []
    verify = hub.verify_folder
    monkeypatch.setattr(hub, "verify_folder", lambda folder, *a: staged.append(folder.name) or verify(folder, *a))
    export_checkpoint(parity / "gray_dn.pth", tmp_path)
    assert not cached_stale.parent.exists()
    identifier = staged[0].replace(".", "_dot_").replace("-", "_hyphen_")
    assert staged and not {staged[0], identifier} & {p.name for p in modules.iterdir()}


def test_a_folder_of_safetensors_checkpoints_is_exported(parity, tmp_path, capsys):
    """`hub file.safetensors` worked, but a folder of them was "no .pth files"."""
    from safetensors.torch import save_file

    (tmp_path / "zoo").mkdir()
    state = torch.load(parity / "gray_dn.pth", map_location="cpu", weights_only=True)["params"]
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "zoo" / "gray_dn.safetensors")
    assert export_cli.main([str(tmp_path / "zoo"), "-o", str(tmp_path / "out"), "--org", "me"]) == 0
    assert "gray_dn.safetensors → " in capsys.readouterr().out
    assert (tmp_path / "out" / "swinir-gray-dn" / "model.safetensors").is_file()


def test_cli_refuses_an_invalid_organisation_before_building(parity, tmp_path, capsys):
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--push", "--org", "my org"]) == 1
    err = capsys.readouterr().err
    assert "error: gray_dn.pth: 'my org/swinir-gray-dn' is not a valid Hub repo id (check --org): " in err
    assert list(tmp_path.iterdir()) == []
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me", "--name", "Bad Name"]) == 1
    assert "'me/Bad Name' is not a valid Hub repo id (check --name): " in capsys.readouterr().err  # not --org
    assert export_cli.main([str(parity / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me", "--name", "me/x"]) == 1
    assert "'me/me/x' is not a valid Hub repo id (check --name): " in capsys.readouterr().err  # it said --org


def test_cli_reports_missing_source(tmp_path, capsys):
    assert export_cli.main([str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_catalogued_release_gets_its_repo_name_and_paper_figures(layout_state_dict, shared, tmp_path):
    """A file named like a release, with that release's exact layout (random weights): catalogue name and card."""
    release = find_release("swinir-lightweight-sr-x2")
    layout = json.loads((shared / "fixtures" / "release_layouts.json").read_text())[release.file]
    state = layout_state_dict(layout["tensors"], release.patch_size, 8)
    state = {k: torch.randn(v.shape) if v.is_meta else v for k, v in state.items()}
    torch.save({release.state_dict_key: state}, tmp_path / release.file)
    folder = export_checkpoint(tmp_path / release.file, tmp_path / "out", organization="me")
    assert folder.release is release and folder.repo_id == "me/swinir-lightweight-sr-x2"
    card = ModelCard.load(folder.path / "README.md")
    assert card.data.datasets == ["eugenesiow/Div2k"]  # DIV2K as its Hub copy
    set5 = {r.metric_type: r.metric_value for r in card.data.eval_results if r.dataset_name == "Set5"}
    assert set5 == {"psnr": 38.14, "ssim": 0.9611}
    assert release.title() in card.text and release.file in card.text and "910,152 parameters" in card.text


def test_a_release_named_file_must_convert_to_that_release(layout_state_dict, shared, tmp_path, capsys):
    """A ×4 release without its last upsampling step converted silently into a ×2 model through `convert`,
    `--model FILE.pth` and `load_model` (only `swinir-hf hub` checked it); a copy saved bare (no `params` entry),
    which those take, was refused by `swinir-hf hub`."""
    release = find_release("swinir-classical-sr-x4-df2k")
    layout = json.loads((shared / "fixtures" / "release_layouts.json").read_text())[release.file]
    state = layout_state_dict(layout["tensors"], release.patch_size, 8)
    state = {k: torch.randn(v.shape) if v.is_meta else v for k, v in state.items()}
    cut = {k: v for k, v in state.items() if not k.startswith("upsample.2.")}
    torch.save({release.state_dict_key: cut}, tmp_path / release.file)
    message = (
        f"{tmp_path / release.file} is named like the release {release.file} but its weights do not match it: "
        "upscale 2 (catalogue: 4); the file may be cut or damaged (download it again), or another model (rename it)"
    )
    with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
        load_model(tmp_path / release.file)
    assert main(["convert", str(tmp_path / release.file), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"error: {message}\n" and not (tmp_path / "out").exists()
    (tmp_path / "renamed.pth").write_bytes((tmp_path / release.file).read_bytes())
    assert load_model(tmp_path / "renamed.pth").config.upscale == 2  # another model: named as one, it is taken
    # A copy saved bare exports as its release. Shown on the smallest release: the export's checks are the same
    # for every release, and this ×4's (an 11.9M-parameter model built, saved and run) took 13 s of CPU.
    small = find_release("swinir-lightweight-sr-x2")
    layout = json.loads((shared / "fixtures" / "release_layouts.json").read_text())[small.file]
    bare = layout_state_dict(layout["tensors"], small.patch_size, 8)
    torch.save({k: torch.randn(v.shape) if v.is_meta else v for k, v in bare.items()}, tmp_path / small.file)
    assert export_checkpoint(tmp_path / small.file, tmp_path / "hub", organization="me").release is small


def test_eval_figures_go_into_the_card(exported, bench):
    from swinir_hf.evaluation.benchmark import evaluate

    folder = exported[CASES[0]]
    expected = evaluate(load_model(folder.path), bench, progress=False, model_name="m").mean("m")
    assert folder.measured_results == {bench.name: {"psnr": expected["psnr_y"], "ssim": expected["ssim_y"]}}
    (result,) = ModelCard.load(folder.path / "README.md").data.eval_results[:1]
    assert (result.dataset_name, result.metric_value) == (bench.name, round(expected["psnr_y"], 4))
    assert "measured with swinir-hf eval" in result.metric_name
    assert result.source_url is None
    # how (a file not in the catalogue said nothing of the channel, the border or the inputs)
    card = (folder.path / "README.md").read_text()
    assert "Protocol: PSNR / SSIM on the Y channel (ITU-R BT.601;" in card and "; MATLAB-bicubic x2 inputs.\n" in card


def test_a_sharded_save_pretrained_folder_exports_as_one_file(tiny_config, tmp_path):
    """`save_pretrained(max_shard_size=...)` folders load everywhere; the export refused them ("holds no
    model.safetensors: re-save it with save_pretrained")."""
    model = SwinIRForImageRestoration(tiny_config())
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    assert len(list((tmp_path / "sharded").glob("model-*.safetensors"))) > 1
    folder = hub.export_model_folder(tmp_path / "sharded", tmp_path / "out", repo_id="me/tiny")
    saved = load_file(folder.path / "model.safetensors")
    assert saved.keys() == model.state_dict().keys() and all(
        torch.equal(saved[k], v) for k, v in model.state_dict().items()
    )
    remote_code.drop_remote_module_cache(folder.path)


def test_a_name_given_never_publishes_other_weights_as_an_authors_release(parity, tmp_path, capsys):
    """Derived names get "-custom" when they are a release's; --name could still send any model to the release's
    repo name (swinir-hf/... by default)."""
    release = find_release("001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth")
    args = [str(parity / "classical_sr_x4.pth"), "-o", str(tmp_path / "out"), "--name", release.repo, "--dry-run"]
    assert export_cli.main(args) == 1
    assert capsys.readouterr().err == (
        f"error: classical_sr_x4.pth: --name {release.repo} is the repo name of the authors' release {release.file}, "
        "and this is not that file: choose another name\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_model_code_names_the_transformers_it_needs(exported, monkeypatch):
    """On transformers 4.x a repo's code failed with "cannot import name 'PreTrainedConfig'"; the card did not say
    which transformers it needs."""
    import runpy

    import transformers

    folder = exported[CASES[0]].path
    assert f"`transformers` (≥ {MIN_TRANSFORMERS}) + `torch`" in (folder / "README.md").read_text()
    for version, missing in (("4.57.6", "PreTrainedConfig"), ("5.3.0", None)):
        monkeypatch.setattr(transformers, "__version__", version)
        if missing:
            monkeypatch.delattr(transformers, missing)
        with pytest.raises(ImportError) as err:
            runpy.run_path(str(folder / "configuration_swinir.py"))
        assert str(err.value) == (
            f"SwinIR's model code needs transformers >= {MIN_TRANSFORMERS}: "
            f"pip install -U 'transformers>={MIN_TRANSFORMERS}' (this is {version})"
        )
        monkeypatch.undo()


OLDER = textwrap.dedent(
    """
    import json, sys
    from transformers import AutoImageProcessor, AutoModel, pipeline

    folder, version = json.loads(sys.argv[1])
    # What an older transformers says (the code's check reads nothing else). On the module these imports leave in
    # sys.modules, which the folder's code imports: transformers replaces its lazy module on first use.
    sys.modules["transformers"].__version__ = version
    said = {}
    for name, load in (  # the image processor first: it loads before any config
        ("processor", lambda: AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)),
        ("model", lambda: AutoModel.from_pretrained(folder, trust_remote_code=True)),
        ("pipeline", lambda: pipeline("image-restoration", model=folder, trust_remote_code=True)),
    ):
        try:
            said[name] = type(load()).__name__
        except ImportError as err:
            said[name] = str(err)
    print(json.dumps(said))
    """
)


def test_every_entry_of_a_folder_names_the_transformers_it_needs_without_the_package(
    without_package, exported, tmp_path
):
    """On transformers 5.0-5.3 (what the folder's code sees as transformers.__version__, faked here: CI has one
    transformers) AutoImageProcessor failed with "No module named 'transformers.image_processing_backends'": only
    the config's module checked the version, and an image processor loads none. Each entry now says it in one line
    (hub/transformers_versions.py checks real older versions)."""
    report = run_without_the_package(without_package, OLDER, [str(exported[CASES[0]].path), "5.3.0"], tmp_path)
    upgrade = (
        f"SwinIR's model code needs transformers >= {MIN_TRANSFORMERS}: "
        f"pip install -U 'transformers>={MIN_TRANSFORMERS}' (this is 5.3.0)"
    )
    assert report == {"processor": upgrade, "model": upgrade, "pipeline": upgrade}


# The modules a folder's config.json names (`auto_map`, `custom_pipelines`): transformers loads each by itself.
ENTRY_MODULES = sorted(
    {ref.split(".")[0] for ref in remote_code.AUTO_MAP.values()}
    | {entry["impl"].split(".")[0] for entry in remote_code.CUSTOM_PIPELINES.values()}
)


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_each_entry_module_imports_every_module_it_needs_itself(module):
    """transformers < 5.18 copies only the direct relative imports of a local folder's module, then fails on the
    first one missing: AutoImageProcessor of an exported folder ended in FileNotFoundError for runtime_swinir.py
    (which the pipeline imports), before the version check could run, and on 5.4.0 pipeline("image-restoration")
    did for frames_swinir.py, then pil_images_swinir.py (which the pipeline reaches through pixels_swinir)."""
    sources = remote_code_sources()

    def imports(name: str) -> set[str]:
        return set(re.findall(r"^\s*from \.(\w+) import", sources[f"{name}.py"], flags=re.MULTILINE))

    needed, todo = set(), list(imports(module))
    while todo:
        if (name := todo.pop()) not in needed:
            needed.add(name)
            todo += imports(name)
    assert sorted(needed - {module} - imports(module)) == []


def test_a_bundled_model_is_exported_by_its_name(tmp_path, monkeypatch, capsys):
    """`swinir-hf hub sr-x2` said "sr-x2 does not exist": only the bundled folder's path in a checkout worked."""
    monkeypatch.chdir(tmp_path)
    assert export_cli.main(["sr-x2", "-o", "out", "--org", "me", "--dry-run"]) == 0
    assert f"sr-x2 → {Path('out') / 'swinir-sr-x2'} (me/swinir-sr-x2), verified" in capsys.readouterr().out
    Path("sr-x2").mkdir()  # a folder of that name here is the source: it is empty
    assert export_cli.main(["sr-x2", "-o", "out2", "--org", "me"]) == 1
    assert "sr-x2 holds no checkpoint files" in capsys.readouterr().err
