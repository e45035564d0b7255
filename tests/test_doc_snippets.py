"""The Python snippets of README.md and the docs run as written, offline: the bundled models and small images stand in
for the files they name, and the Hub-only ones fail with the documented offline error."""

from __future__ import annotations

import re
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
from PIL import Image

from swinir_hf.checkpoints.loading import ModelNotAvailableError
from swinir_hf.loading import DEFAULTS_DIR

ROOT = Path(__file__).resolve().parent.parent
PAGES = (
    "README.md",
    "docs/restoration.md",
    "docs/transformers.md",
    "docs/hub.md",
    "docs/evaluation.md",
    "docs/training.md",
    "docs/migrating.md",
)
SR_X4 = str(DEFAULTS_DIR / "sr-x4")
# A snippet's placeholders for the user's own model and data → what stands in for them here.
MODEL_NAMES = {
    "path/to/model-folder": SR_X4,
    "path/or/org/swinir-x4": SR_X4,
    "converted/x4": SR_X4,
    "runs/tiny_sr_x2": str(DEFAULTS_DIR / "sr-x2"),
}
# The checkout's fixture folder → small sets of the same layout that user_files makes in the working folder.
SHARED = "../shared/"


def python_blocks() -> dict[str, str]:
    """Every ```python block of PAGES, by "page#n" (the page's n-th, from 1: edits around it keep its name)."""
    blocks = {}
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for n, code in enumerate(re.findall(r"```python\n(.*?)```", text, re.S), start=1):
            blocks[f"{page}#{n}"] = code
    return blocks


def user_files(folder: Path) -> dict[str, object]:
    """The files the snippets name, small, in `folder`; → the placeholders for the user's own data."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    for name in ("photo.jpg", "photo.png", "scan.png", "scan.tif"):
        rgb.save(folder / name)
    rgba = Image.fromarray(rng.integers(0, 256, (12, 16, 4), dtype=np.uint8))
    rgba.save(folder / "logo.png")
    rgba.save(folder / "logo_rgba.png")
    Image.fromarray(rng.integers(0, 65536, (12, 8), dtype=np.uint16)).save(folder / "grey16.png")
    (folder / "photos").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / "photos" / f"{i}.png")
    for name, count, side in (("testsets/Set5/HR", 2, 24), ("trainsets/DIV2K_train_HR_crops128", 2, 96)):
        (folder / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / name / f"{i}.png")
    thumbnails = [Image.open(folder / "photo.png"), str(folder / "logo.png")]
    array = np.asarray(rgb)  # an OpenCV-style image (docs/migrating.md) and the metrics' arguments (evaluation.md)
    arrays = {"img": array, "out": array[::-1].copy(), "gt": array, "img01": array / 255, "img_uint8": array}
    return {
        "image": rgb,
        "thumbnails": thumbnails,
        "paths": ["photo.png", "scan.png"],
        "dataset": {"image": [rgb]},
    } | arrays


def as_run_here(code: str) -> str:
    """`code` with the placeholders' models replaced, and a GPU's device by this machine's."""
    for name, stand_in in MODEL_NAMES.items():
        code = code.replace(name, stand_in)
    code = code.replace(SHARED, "")
    return code if torch.cuda.is_available() else code.replace('device="cuda"', 'device="cpu"')


def check_outputs(key: str, ns: dict) -> None:
    """What the snippet's text says it gives (sizes for the 16 × 12 inputs and the bundled ×4 model)."""
    if key == "README.md#1":
        assert ns["out"].size == (32, 24) and [o.size for o in ns["outs"]] == [(64, 48), (64, 48)]
    elif key == "README.md#2" or key == "docs/transformers.md#1":
        assert tuple(ns["out"].reconstruction.shape) == (1, 3, 48, 64) and ns["restored"].size == (64, 48)
    elif key == "docs/restoration.md#1":
        assert ns["out"].size == (56, 42) and [o.size for o in ns["outputs"]] == [(32, 24), (32, 24)]
        assert [o.mode for o in ns["outputs"]] == ["RGB", "RGBA"]
    elif key == "docs/restoration.md#2+3":
        assert [image.size for image in ns["ds"]["image"]] == [(16, 16)] * 3
        assert ns["row"]["image"].size == (32, 32)
    elif key == "docs/hub.md#4":
        assert ns["release"].config().upscale == 4
    elif key == "docs/evaluation.md#1":
        assert ns["result"].methods[0] == "bicubic" and len(ns["result"].methods) == 2
        assert ns["both"].methods == ["bicubic", "sr-x4", "x4"] and len(ns["result"].scores["bicubic"]) == 2
    elif key == "docs/training.md#1":
        assert ns["model"].config.upscale == 2
    elif key == "docs/migrating.md#1":
        assert ns["out"].shape == (42, 56, 3) and ns["out"].dtype == np.uint8  # round(3.5 × 12) × round(3.5 × 16)


# The snippets that run offline here; the dataset ones run as one, the second using the first's `restorer`.
RUNNABLE = {
    "README.md#1": ["README.md#1"],
    "README.md#2": ["README.md#2"],
    "README.md#3": ["README.md#3"],
    "docs/restoration.md#1": ["docs/restoration.md#1"],
    "docs/restoration.md#2+3": ["docs/restoration.md#2", "docs/restoration.md#3"],
    "docs/restoration.md#4": ["docs/restoration.md#4"],
    "docs/transformers.md#1": ["docs/transformers.md#1"],
    "docs/hub.md#4": ["docs/hub.md#4"],
    "docs/evaluation.md#1": ["docs/evaluation.md#1"],
    "docs/evaluation.md#2": ["docs/evaluation.md#2"],
    "docs/training.md#1": ["docs/training.md#1"],
    "docs/migrating.md#1": ["docs/migrating.md#1"],
}
# Hub-only snippets: what they raise offline (docs/hub.md, "Offline").
HUB_ONLY = {"docs/hub.md#1": ModelNotAvailableError, "docs/hub.md#2": OSError, "docs/hub.md#3": OSError}
# Needs onnx + onnxscript, which the package does not depend on (benchmarks/onnx_export.py runs it).
ONNX = "docs/transformers.md#2"
# transformers' Trainer: its 4 steps take ~20 CPU seconds, so all but trainer.train() / save_model runs here.
TRAINER = "docs/training.md#2"


def test_every_python_snippet_of_the_docs_is_run_here():
    """A new snippet (or one moved) is added to the lists above, so that it is run."""
    listed = {key for keys in RUNNABLE.values() for key in keys} | set(HUB_ONLY) | {ONNX, TRAINER}
    assert set(python_blocks()) == listed


@pytest.mark.parametrize("key", sorted(RUNNABLE))
def test_a_docs_python_snippet_runs_as_written(key, tmp_path, monkeypatch):
    blocks = python_blocks()
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__", **user_files(tmp_path)}
    for part in RUNNABLE[key]:
        exec(compile(as_run_here(blocks[part]), part, "exec"), namespace)
    check_outputs(key, namespace)


@pytest.mark.parametrize("key", sorted(HUB_ONLY))
def test_a_hub_only_docs_snippet_fails_offline_as_documented(key, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    from swinir_hf.loading import load_default

    with pytest.raises(HUB_ONLY[key], match="cache"):
        exec(python_blocks()[key], {"model": load_default("sr-x4")})


def test_the_onnx_snippet_has_its_imports():
    """It ran without them as `NameError: name 'torch' is not defined`; with onnx installed, it runs as written."""
    code = python_blocks()[ONNX]
    namespace: dict = {}
    exec(code.split("torch.onnx.export(", 1)[0], namespace)  # all but the export (onnx is not a dependency)
    assert {"torch", "model", "dims"} <= set(namespace)
    assert namespace["model"].config.upscale == 4


def test_the_trainer_snippet_builds_its_pairs_metric_and_trainer(tmp_path, monkeypatch):
    """docs/training.md's `Trainer` recipe up to `trainer.train()`: aligned ×4 (LR, HR) patches, whole validation
    images, the per-batch PSNR and the Trainer itself."""
    monkeypatch.chdir(tmp_path)
    user_files(tmp_path)
    code = as_run_here(python_blocks()[TRAINER])
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code.split("trainer.train()", 1)[0], TRAINER, "exec"), namespace)
    row, whole = namespace["train"][0], namespace["val"][0]
    assert [tuple(row[k].shape) for k in ("pixel_values", "labels")] == [(3, 24, 24), (3, 96, 96)]
    assert [tuple(whole[k].shape) for k in ("pixel_values", "labels")] == [(3, 6, 6), (3, 24, 24)]
    predictions = [np.full((1, 3, 4, 4), 0.5), np.full((1, 3, 8, 8), 0.5)]  # two batches of different sizes
    evaluation = type("EvalPrediction", (), {"predictions": predictions, "label_ids": [p + 0.1 for p in predictions]})
    assert namespace["psnr"](evaluation) == pytest.approx({"psnr": 20.0})
    assert namespace["trainer"].args.eval_do_concat_batches is False


def test_restoration_md_names_the_engine_options_the_pipeline_refuses():
    """docs/restoration.md said the pipeline runs no tiles and refuses `tile=`, which it takes (restore()'s pixels)."""
    from transformers import pipeline

    intro = (ROOT / "docs/restoration.md").read_text(encoding="utf-8").split("## Python", 1)[0]
    refused = re.findall(r"`(\w+)=`", re.search(r"other arguments \(([^)]*)\) are a `TypeError`", intro)[1])
    upscaler = pipeline("image-restoration", model=str(DEFAULTS_DIR / "sr-x2"))
    image = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    values = {"ensemble": True, "dtype": "float16", "padding": "authors", "tile": 8}
    for name in refused:
        with pytest.raises(TypeError, match=f"takes no {name}"):
            upscaler(image, **{name: values[name]})
    assert "tile" not in refused and np.asarray(upscaler(image, tile=8, tile_overlap=4)).shape == (24, 32, 3)


def _heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives `page`'s headings: lower case, punctuation dropped, spaces as hyphens, `-1`, `-2`...
    after a repeated one."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # a `# comment` is no heading
    anchors: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = sum(1 for a in anchors if a == slug or re.fullmatch(rf"{re.escape(slug)}-\d+", a))
        anchors.add(f"{slug}-{n}" if n else slug)
    return anchors


def test_the_docs_links_name_files_and_sections_that_exist():
    """A link of README.md or docs/ to a page's section ([figures](../benchmarks/README.md#...), the README's
    [docs/restoration.md#python]) lands on a heading there: a renamed heading leaves no link dangling."""
    dangling = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", link):  # https:, mailto:
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists() or (anchor and target.suffix == ".md" and anchor not in _heading_anchors(target)):
                dangling.append(f"{page.relative_to(ROOT)}: {link}")
    assert dangling == []
