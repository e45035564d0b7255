"""The training command: config handling, learning, exact resume, multi-process, saving, fine-tuning."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from PIL import Image
from preloaded_python import PreloadedPython
from safetensors.torch import load_file

from swinir_hf import SwinIRForImageRestoration
from swinir_hf.checkpoints.catalog import find_release
from swinir_hf.models.presets_swinir import PRESETS, UPSAMPLER_SCALES
from swinir_hf.training.card import training_card
from swinir_hf.training.cli import main, parse_command_line
from swinir_hf.training.config import FIELD_TYPES, TrainingConfig, bundled_configs, config_path, read_config_file
from swinir_hf.training.images import check_colour, config_images
from swinir_hf.training.recipe import checkpoint_record, recipe_changes, resumed_changes
from swinir_hf.training.sections import DataArgs, GanArgs, ModelArgs, TrainArgs
from swinir_hf.training.state import InitReport, Progress, build_model, device_label


def summary(out: Path) -> dict:
    return json.loads((out / "training_summary.json").read_text())


def test_from_dict_names_unknown_fields_and_wrong_types():
    raw = {"train": {"max_steps": 3}, "data": {"train": ["x"]}}
    cfg = TrainingConfig.from_dict({**raw, "gan": None}, origin="run.yaml")  # an empty YAML section
    assert (cfg.train.max_steps, cfg.data.train, cfg.gan.enabled) == (3, ["x"], False)
    assert cfg.milestones() == [2, 2, 3, 3]
    one_step = TrainingConfig.from_dict({"train": {"max_steps": 1}, "data": {"train": ["x"]}})
    assert one_step.milestones() == [1, 1, 1, 1]  # not 0: that would lower the learning rate before the first step
    problems = {
        "run.yaml: unknown field train.max_stepz (see --help)": {"train": {"max_steps": 3, "max_stepz": 4}},
        "run.yaml: unknown section(s) ['optimiser']; sections are ['model', 'data', 'train', 'gan']": {"optimiser": {}},
        "run.yaml: section 'model' must be a mapping, got int": {"model": 3},
        "run.yaml: train.batch_size: expected int, got big": {"train": {"batch_size": "big"}},
        "run.yaml: train.num_threads: expected int | None, got 1.5": {"train": {"num_threads": 1.5}},
        "run.yaml: model.scale: expected int | None, got True": {"model": {"scale": True}},
        "run.yaml: data.train: expected list[str], got 5": {"data": {"train": [5]}},
        "run.yaml: data.train: expected list[str], got photos (a list: '[photos]')": {"data": {"train": "photos"}},
        "train.lr_milestones: 1.5 is neither a fraction in (0, 1) nor a step number >= 1": {
            "train": {"lr_milestones": [0.5, 1.5]}
        },
        # each count in its own words
        "train.checkpoint_minutes must be >= 0 (0: off), got -1.0": {"train": {"checkpoint_minutes": -1}},
        "train.log_every must be >= 1, got 0": {"train": {"log_every": 0}},
        "train.keep_checkpoints must be >= 1, got 0": {"train": {"keep_checkpoints": 0}},
        "train.max_steps must be >= 1, got 0": {"train": {"max_steps": 0}},
        "train.seed must be in 0 .. 2**32 - 1, got -1": {"train": {"seed": -1}},  # numpy said it, unnamed
        "data.patch_size must be >= 1, got 0": {"data": {"train": ["x"], "patch_size": 0}},
        "train.compile_mode must be null or one of default, reduce-overhead, max-autotune, "
        "max-autotune-no-cudagraphs, got 'fast'": {"train": {"compile": "inductor", "compile_mode": "fast"}},
        "train.loss must be l1, charbonnier or null, got 'l2'": {"train": {"loss": "l2"}},
        # options that would be ignored
        "train.compile_mode reduce-overhead needs train.compile (inductor, say): the steps run eagerly without it": {
            "train": {"compile_mode": "reduce-overhead"}
        },
        "train.compile_mode is a mode of the inductor backend; train.compile aot_eager ignores it: pass "
        "--train.compile inductor, or drop train.compile_mode": {
            "train": {"compile": "aot_eager", "compile_mode": "max-autotune"}
        },
        "train.compile_regions compiles the Swin layers with train.compile's backend, and this config has none: "
        "pass --train.compile inductor, or drop train.compile_regions": {"train": {"compile_regions": True}},
        "data.train_lr is only read with degradation 'paired' (this config degrades data.train with 'bicubic'): "
        "pass --data.degradation paired, or drop data.train_lr": {"data": {"train": ["x"], "train_lr": ["lr"]}},
        "train.loss / train.charbonnier_eps choose the pixel loss of a run without GAN; a GAN run's is L1 "
        "(× gan.pixel_weight): drop them, or set gan.enabled false": {
            "train": {"loss": "charbonnier"},
            "gan": {"enabled": True, "allow_random_vgg": True},
        },
        "data.noise_sigma is only read with degradation 'noise' (this config degrades with 'bicubic'): pass "
        "--data.degradation noise, or drop it (--data.noise_sigma null)": {"data": {"train": ["x"], "noise_sigma": 10}},
        "data.jpeg_quality is only read with degradation 'jpeg' (this config degrades with 'noise'): pass "
        "--data.degradation jpeg, or drop it (--data.jpeg_quality null)": {
            "data": {"train": ["x"], "degradation": "noise", "jpeg_quality": 0}
        },
        "data.val_noise_sigma is only read with degradation 'noise' (this config degrades with 'paired'): pass "
        "--data.degradation noise, or drop it (--data.val_noise_sigma null)": {
            "data": {"train": ["x"], "train_lr": ["lr"], "degradation": "paired", "val_noise_sigma": 25}
        },
        "data.val_jpeg_quality is only read with degradation 'jpeg' (this config degrades with 'real'): pass "
        "--data.degradation jpeg, or drop it (--data.val_jpeg_quality null)": {
            "data": {"train": ["x"], "degradation": "real", "val_jpeg_quality": 10}
        },
        # Adam and the schedule: refused with the field's name, before the model and data are built
        "train.learning_rate must be >= 0, got -0.001": {"train": {"learning_rate": -1e-3}},
        "train.adam_betas must be two numbers in [0, 1), got [0.9, 1.5]": {"train": {"adam_betas": [0.9, 1.5]}},
        "train.adam_betas must be two numbers in [0, 1), got [0.9]": {"train": {"adam_betas": [0.9]}},
        "train.weight_decay must be >= 0, got -1.0": {"train": {"weight_decay": -1.0}},
        "train.lr_gamma must be > 0, got -0.5": {"train": {"lr_gamma": -0.5}},
        "train.max_grad_norm must be >= 0 (0: no clipping), got -1.0": {"train": {"max_grad_norm": -1.0}},
        "gan.discriminator_lr must be >= 0, got -1.0": {"gan": {"discriminator_lr": -1.0}},
        "data.num_workers must be >= 0 (0: load in the main process), got -1": {
            "data": {"train": ["x"], "num_workers": -1}
        },
        "data.val_max_images must be >= 1 or null (all images), got -4": {
            "data": {"train": ["x"], "val_max_images": -4}
        },
        "train.num_threads must be >= 1 or null (torch's default), got -2": {"train": {"num_threads": -2}},
        # the degradation: its kind and levels, not at the first training sample that draws a bad one
        "data.degradation must be one of bicubic, noise, jpeg, real, real-esrgan, paired, got 'blur'": {
            "data": {"train": ["x"], "degradation": "blur"}
        },
        "data.noise_sigma must be a σ in 0..255 grey levels or a [low, high] range of them, got [-5, 10]": {
            "data": {"train": ["x"], "degradation": "noise", "noise_sigma": [-5, 10]}
        },
        "data.jpeg_quality must be an integer quality in 1..100 or a [low, high] range of them, got [10, 150]": {
            "data": {"train": ["x"], "degradation": "jpeg", "jpeg_quality": [10, 150]}
        },
        "data.val_jpeg_quality must be an integer quality in 1..100, got 0": {
            "data": {"train": ["x"], "degradation": "jpeg", "val_jpeg_quality": 0}
        },
    }
    for message, bad in problems.items():
        with pytest.raises(ValueError) as err:
            TrainingConfig.from_dict({**raw, **bad}, origin="run.yaml")
        assert str(err.value) == message
    with pytest.raises(ValueError, match="^config: expected a mapping of sections, got list$"):
        TrainingConfig.from_dict([1])


def test_a_field_without_the_space_yaml_wants_after_its_colon_is_said_so(capsys):
    """`{scale:2}` (YAML's flow style) is the one key 'scale:2', and `model:\\n  scale:2` a section that is a string:
    each was an unknown field or a wrong section, without a word of the missing space; a command line's
    `--model '{preset: sr-x4,upscale:2}'` was jsonargparse's "Group 'model' does not accept option 'upscale:2'"."""
    for raw, said in [
        (
            {"model": {"scale:2": None}},
            "run.yaml: unknown field model.scale:2 (YAML needs a space after the colon: scale: 2)",
        ),
        (
            {"model": "scale:2"},
            "section 'model' must be a mapping, got str (YAML needs a space after the colon: scale: 2)",
        ),
        ({"data": {"patch_size:48": None}}, "data.patch_size:48 (YAML needs a space after the colon: patch_size: 48)"),
        ({"model": {"colour:2": None}}, "run.yaml: unknown field model.colour:2 (see --help)"),  # no field's slip
    ]:
        with pytest.raises(ValueError) as err:
            TrainingConfig.from_dict(raw, origin="run.yaml")
        assert str(err.value).endswith(said), raw
    assert main(["--config", "tiny_sr_x2", "--model", "{preset: sr-x4,upscale:2}", "--print-config"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown field model.upscale:2 (did you mean scale: 2? YAML needs a space after the colon)\n"
    )


def test_a_degradations_level_left_null_is_its_default_and_old_saved_configs_still_load():
    """The levels default to null, so that one given for a degradation that does not read it is refused (above);
    null is the degradation's default, and a config saved before (both levels recorded, at their defaults, whatever
    the degradation) loads as it ran."""
    data = {"train": ["x"], "noise_sigma": 25.0, "jpeg_quality": 40}  # what every earlier training_config.yaml holds
    levels = {}
    for kind in ("bicubic", "noise", "jpeg", "paired"):
        saved = {**data, "degradation": kind, "train_lr": ["lr"] if kind == "paired" else []}
        for raw in (saved, {"train": ["x"], "degradation": kind, "train_lr": saved["train_lr"]}):  # saved, left null
            d = TrainingConfig.from_dict({"data": raw}).data
            levels.setdefault(kind, set()).add((d.noise_sigma, d.jpeg_quality))
    assert levels == {
        "bicubic": {(None, None)},
        "noise": {(25.0, None)},
        "jpeg": {(None, 40)},
        "paired": {(None, None)},
    }
    noise = TrainingConfig.from_dict({"data": {**data, "degradation": "noise", "noise_sigma": [0, 50]}}).data
    assert (noise.noise_sigma, noise.jpeg_quality) == ([0, 50], None)


def test_a_run_folder_saved_with_every_level_resumes(tiny_run, train_cli, images, tmp_path):
    """A run saved before the levels defaulted to null (its training_config.yaml records noise_sigma 25 and
    jpeg_quality 40 for bicubic SR) resumes from that file."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    saved = yaml.safe_load((out / "training_config.yaml").read_text())
    saved["data"].update(noise_sigma=25.0, jpeg_quality=40)
    saved["train"]["max_steps"] = 3
    assert train_cli(saved, "--resume", "latest") == 0 and summary(out)["step"] == 3
    assert yaml.safe_load((out / "training_config.yaml").read_text())["data"]["noise_sigma"] is None


def test_an_earlier_versions_run_with_an_empty_init_from_resumes_from_scratch(
    tiny_run, train_cli, images, tmp_path, capsys
):
    """An earlier swinir-hf trained `--model.init_from ""` from scratch and wrote `init_from: ''` into the run's
    training_config.yaml and checkpoints; `--resume latest` with that file was refused (`model.init_from is empty
    ...: ... or null`). It resumes as the run trained: from scratch, recorded as null. An empty value given now is
    still refused."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    own, latest = out / "training_config.yaml", out / "checkpoints" / "step-00000002"
    older = yaml.safe_load(own.read_text())
    older["model"]["init_from"] = ""
    own.write_text(yaml.safe_dump(older, sort_keys=False))
    progress = json.loads((latest / "progress.json").read_text())
    progress["config"]["model"]["init_from"], progress["start"] = "", {"init_from": "", "located": ""}
    (latest / "progress.json").write_text(json.dumps(progress))
    capsys.readouterr()
    assert main(["--config", str(own), "--resume", "latest", "--train.max_steps", "3"]) == 0, capsys.readouterr().err
    assert summary(out)["step"] == 3 and yaml.safe_load(own.read_text())["model"]["init_from"] is None
    assert json.loads((out / "checkpoints/step-00000003/progress.json").read_text())["start"]["init_from"] is None
    # Given now (an unset shell variable), on the command line or in a config of one's own, it is refused.
    empty = "model.init_from is empty (an unset shell variable?): name the starting weights, or null to train from "
    empty += "scratch"
    capsys.readouterr()
    assert main(["--config", str(own), "--resume", "latest", "--train.max_steps", "4", "--init-from", ""]) == 2
    assert capsys.readouterr().err == f"error: {empty}\n"
    assert train_cli(older | {"train": {**older["train"], "max_steps": 4}}, "--resume", "latest") == 2
    assert capsys.readouterr().err == f"error: {empty}\n" and summary(out)["step"] == 3


def test_validation_images_inside_the_training_data_are_refused(tmp_path, monkeypatch):
    """Training on the validation folder (Set5 both ways, say), on a folder inside it or one holding it: validation
    would score what the model learnt, so the config is refused before any work; separate folders are fine."""
    (tmp_path / "data" / "Set5" / "HR").mkdir(parents=True)
    (tmp_path / "div2k").mkdir()
    monkeypatch.chdir(tmp_path)
    for train, val in (
        ("data/Set5/HR", "data/Set5/HR"),
        ("imagefolder:data/Set5", str(tmp_path / "data" / "Set5" / "HR")),
        ("data", "data/Set5/HR/"),
        ("data/Set5/HR", "data/Set5"),
    ):
        with pytest.raises(ValueError) as err:
            TrainingConfig.from_dict({"data": {"train": ["div2k", train], "val": val}})
        # validation images inside the training folder: its train/ + val/ layout keeps them apart
        divide = (
            f", divide {train.removeprefix('imagefolder:')} into a train/ and a val/ folder (then --data.train "
            f"'[{train}]' --data.val {train} trains on the one and validates on the other)"
            if val != "data/Set5"
            else ""
        )
        assert str(err.value) == (
            f"data.train {train} and data.val {val} hold the same images: validation would score images the model "
            "trained on. Validate on a separate folder (Set5, say: the benchmark test sets are never training "
            f"data){divide}, or pass --data.val null"
        )
    for val in ("data/Set5/HR", None, "org/dataset"):
        assert TrainingConfig.from_dict({"data": {"train": ["div2k"], "val": val}}).data.val == val


def test_split_folders_and_datasets_validate_on_their_other_split(tmp_path, monkeypatch):
    """A folder divided into train/ and validation/ (imagefolder's layout) or a saved DatasetDict is validated on its
    other split, and trained on its `data.split` only; the same split both ways is refused."""
    from swinir_hf.training.images import load_images

    monkeypatch.chdir(tmp_path)
    for split, n in (("train", 3), ("val", 2)):
        (tmp_path / "photos" / split).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / "photos" / split / f"{i}.png")
    (tmp_path / "dsd" / "train").mkdir(parents=True)
    (tmp_path / "dsd" / "dataset_dict.json").write_text('{"splits": ["train", "validation"]}')
    for source in ("photos", "imagefolder:photos", "dsd"):
        cfg = TrainingConfig.from_dict({"data": {"train": [source], "val": source}})
        assert cfg.data.val == source
        with pytest.raises(ValueError, match="hold the same images"):
            TrainingConfig.from_dict({"data": {"train": [source], "val": source, "val_split": "train"}})
    assert [Path(p).parent.name for p in load_images("photos", "train")] == ["train"] * 3
    assert [Path(p).parent.name for p in load_images("photos", "validation")] == ["val"] * 2
    with pytest.raises(ValueError, match=r"^photos is divided into splits \(train, val\) and has no 'test' split$"):
        load_images("photos", "test")
    # Without a validation folder, sub-folders are all training images (BSD500 comes as train/ and test/).
    for other in ("test", "cats"):
        (tmp_path / "photos" / "val").rename(tmp_path / "photos" / other)
        assert len(load_images("photos", "train")) == 5
        (tmp_path / "photos" / other).rename(tmp_path / "photos" / "val")


def test_a_datasets_ground_truth_column_is_read_not_its_first_image_column(tmp_path, caplog):
    """A saved dataset of `lr` then `target` columns trained on its `lr` images as the ground truth (the first image
    column), and a DatasetDict without the split asked for did not say which field picks it."""
    import datasets

    for i in range(2):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / f"lr{i}.png")
        Image.new("RGB", (16, 16), (0, i, 0)).save(tmp_path / f"hr{i}.png")
    columns = {
        "lr": [str(tmp_path / f"lr{i}.png") for i in range(2)],
        "target": [str(tmp_path / f"hr{i}.png") for i in range(2)],
    }
    ds = datasets.Dataset.from_dict(columns).cast_column("lr", datasets.Image()).cast_column("target", datasets.Image())
    ds.save_to_disk(str(tmp_path / "pairs"))
    caplog.set_level(logging.WARNING)
    items = config_images("data.train", str(tmp_path / "pairs"), "train", None)
    assert [Path(item["path"]).name for item in items] == ["hr0.png", "hr1.png"]
    assert "its lr column is not read: the run makes its inputs from the target images" in caplog.text
    upper = ds.rename_columns({"lr": "LR", "target": "HR"})  # named in capitals, as folders are
    upper.save_to_disk(str(tmp_path / "upper"))
    assert [
        Path(item["path"]).name for item in config_images("data.train", str(tmp_path / "upper"), "train", None)
    ] == [
        "hr0.png",
        "hr1.png",
    ]
    ds.rename_column("lr", "low").save_to_disk(str(tmp_path / "two"))  # which one? not guessed
    with pytest.raises(
        ValueError, match=r"which of its image columns \(low, target\) holds the ground truth\? Name it hr"
    ):
        config_images("data.train", str(tmp_path / "two"), "train", None)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dict"))
    said = r"^data.val: the save_to_disk folder .*dict has no split 'validation' \(splits: \['train'\]\): choose one "
    said += "with data.val_split$"
    with pytest.raises(ValueError, match=said):
        config_images("data.val", str(tmp_path / "dict"), "validation", None)


def test_a_training_folder_holding_a_benchmark_test_set_is_refused(tmp_path, monkeypatch):
    """A folder of datasets (DIV2K/ beside benchmark/Set5/) trained on every image inside it, the test set too:
    refused as it is listed, naming the test set's folder; as validation data it is read, and other names pass."""
    monkeypatch.chdir(tmp_path)
    for name in ("datasets/DIV2K/0001.png", "datasets/benchmark/Set5/HR/baby.png", "mine/Set50/a.png", "mine/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / name)
    with pytest.raises(ValueError) as err:
        config_images("data.train", "datasets", "train", None)
    assert str(err.value) == (
        "data.train datasets holds the benchmark test set Set5 (datasets/benchmark/Set5): a model trained on it "
        "would be scored on images it learnt. Train on other images (DIV2K, Flickr2K, BSD400, WED, ...): give the "
        "folders to train on, or move the test set out"
    )
    assert config_images("data.val", "datasets", "validation", None) == [
        "datasets/DIV2K/0001.png",
        "datasets/benchmark/Set5/HR/baby.png",
    ]
    assert config_images("data.train", "datasets/DIV2K", "train", None) == ["datasets/DIV2K/0001.png"]
    assert config_images("data.train", "mine", "train", None) == ["mine/Set50/a.png", "mine/b.png"]


def test_an_imagefolder_holding_a_benchmark_test_set_is_refused(tmp_path, monkeypatch):
    """`imagefolder:DIR` with `benchmark/Set5/` inside (its rows name files by absolute path, not by folder) is
    refused as a plain folder is, naming the test set's folder, also in a split; the folder itself by its name."""
    monkeypatch.chdir(tmp_path)
    for name in ("datasets/DIV2K/0001.png", "datasets/benchmark/Set5/HR/baby.png", "split/train/Set14/a.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / name)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "split" / "train" / "b.png")
    (tmp_path / "split" / "val").mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "split" / "val" / "c.png")
    for entry, inside, name in (
        ("datasets", "datasets/benchmark/Set5", "Set5"),
        ("split", "split/train/Set14", "Set14"),
    ):
        with pytest.raises(ValueError) as err:
            config_images("data.train", f"imagefolder:{entry}", "train", None)
        assert str(err.value) == (
            f"data.train imagefolder:{entry} holds the benchmark test set {name} ({inside}): a model trained on it "
            "would be scored on images it learnt. Train on other images (DIV2K, Flickr2K, BSD400, WED, ...): give "
            "the folders to train on, or move the test set out"
        )
    via_link = tmp_path / "link"
    via_link.symlink_to(tmp_path / "datasets")
    with pytest.raises(ValueError, match=r"^data.train imagefolder:link holds the benchmark test set Set5 \(link/"):
        config_images("data.train", "imagefolder:link", "train", None)
    train = config_images("data.train", "imagefolder:datasets/DIV2K", "train", None)
    assert [Path(item["path"]).name for item in train] == ["0001.png"]
    assert len(config_images("data.val", "imagefolder:datasets", "train", None)) == 2  # validation may
    with pytest.raises(ValueError, match=r"^data.train imagefolder:datasets/benchmark/Set5 is the benchmark test set "):
        TrainingConfig.from_dict({"data": {"train": ["imagefolder:datasets/benchmark/Set5"]}})


def test_benchmark_test_sets_and_copies_of_validation_images_are_not_training_data(tmp_path, monkeypatch):
    """Named as a test set of the paper (or RealSRSet), as the folder or up to two levels above, or a byte copy of a
    validation image under another name: refused before any work."""
    from swinir_hf.training.images import check_not_trained_on

    monkeypatch.chdir(tmp_path)
    for folder in ("Set14", "testsets/Set5/LR_bicubic/X2", "Urban100_HR", "RealSRSet+5images", "classic5/HR"):
        (tmp_path / folder).mkdir(parents=True)
        with pytest.raises(ValueError) as err:
            TrainingConfig.from_dict({"data": {"train": [folder]}})
        assert str(err.value).startswith(f"data.train {folder} is the benchmark test set ")
    for folder in ("Set50", "BSDS500_train", "BSD400_gray", "my_set5_photos"):  # other names
        (tmp_path / folder).mkdir()
        assert TrainingConfig.from_dict({"data": {"train": [folder]}}).data.train == [folder]
    (tmp_path / "val").mkdir()
    (tmp_path / "train").mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "val" / "baby.png")
    Image.new("RGB", (8, 8), (1, 2, 4)).save(tmp_path / "train" / "a.png")  # the same size, other bytes
    check_not_trained_on(["train/a.png"], ["val/baby.png"])
    shutil.copy(tmp_path / "val" / "baby.png", tmp_path / "train" / "b.png")
    with pytest.raises(ValueError, match="^data.train holds b.png, a copy of the validation image baby.png: "):
        check_not_trained_on(["train/a.png", "train/b.png"], ["val/baby.png"])
    # Images a dataset stores without a file name were each "<in-memory image>": named by row and dataset now.
    import datasets

    from swinir_hf.training.images import config_images

    data = [(tmp_path / "train" / name).read_bytes() for name in ("a.png", "b.png")]
    for name, images in (("ds_train", data), ("ds_val", data[1:])):
        rows = {"image": [{"bytes": b, "path": None} for b in images]}
        datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image()).save_to_disk(str(tmp_path / name))
    train, val = (config_images("data.train", str(tmp_path / name), "train", None) for name in ("ds_train", "ds_val"))
    with pytest.raises(ValueError) as err:
        check_not_trained_on(train, val)
    said = f"data.train holds row 1 of {tmp_path / 'ds_train'}, a copy of the validation image row 0 of "
    assert str(err.value).startswith(f"{said}{tmp_path / 'ds_val'}: ")


def test_benchmark_sets_under_their_other_names_are_not_training_data(tmp_path, monkeypatch):
    """EDSR's / BasicSR's `benchmark/B100` (BSD100), `BSDS100` are test sets too, in any case, as the
    folder given or inside it; as validation data they are read."""
    monkeypatch.chdir(tmp_path)
    names = ("B100", "BSDS100", "Kodak24", "URBAN100", "urban100", "Manga109", "set5", "Set5", "CBSD68")
    for folder in (*names, "McMaster", "classic5", "LIVE1", "b100_HR", "datasets/benchmark/B100/LR_bicubic/X2"):
        (tmp_path / folder).mkdir(parents=True)
        with pytest.raises(ValueError) as err:
            TrainingConfig.from_dict({"data": {"train": [folder]}})
        assert str(err.value).startswith(f"data.train {folder} is the benchmark test set "), folder
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "datasets" / "benchmark" / "B100" / "3096.png")
    with pytest.raises(ValueError, match=r"^data.train datasets holds the benchmark test set B100 \(datasets/bench"):
        config_images("data.train", "datasets", "train", None)
    assert config_images("data.val", "datasets/benchmark/B100", "validation", None) == [
        "datasets/benchmark/B100/3096.png"
    ]
    for folder in ("B1000", "kodak", "kodachrome", "BSDS500"):  # other names
        (tmp_path / folder).mkdir()
        assert TrainingConfig.from_dict({"data": {"train": [folder]}}).data.train == [folder]


def test_command_line_overrides_in_every_form(tmp_path):
    cfg, args = parse_command_line(
        [
            *("--train.max_steps", "100", "--data.patch_size=12", "train.learning_rate=1e-4"),
            *("--config", "tiny_sr_x2"),  # read first wherever it stands: the overrides win
            *("data.val=null", "--train.lr_milestones", "[10, 0.5]", "--data.noise_sigma", "[5, 50]"),
            "data.degradation=noise",  # which reads data.noise_sigma
            *("model.config.embed_dim=8", "--model.config.depths", "[1]", "--gan.perceptual_layers.conv5_4=2"),
            *("--gan.enabled", "true", "--gan.allow_random_vgg=true"),  # which reads gan.perceptual_layers
            *("--init-from", "weights.pth", "--output-dir", str(tmp_path), "--resume", "latest", "--overwrite"),
        ]
    )
    assert (cfg.train.max_steps, cfg.data.patch_size, cfg.train.learning_rate) == (100, 12, 1e-4)
    assert (cfg.data.val, cfg.train.lr_milestones, cfg.milestones()) == (None, [10, 0.5], [10, 50])
    assert cfg.data.noise_sigma == [5, 50] and cfg.gan.perceptual_layers["conv5_4"] == 2.0
    # a dotted key sets one entry of a mapping field (YAML-typed), the file's other entries stay
    assert cfg.model.config == {**read_config_file("tiny_sr_x2")["model"]["config"], "embed_dim": 8, "depths": [1]}
    assert (cfg.model.init_from, cfg.train.output_dir) == ("weights.pth", str(tmp_path))
    assert (args.resume, args.overwrite, args.push_to_hub) == ("latest", True, None)
    assert parse_command_line(["--config=tiny_sr_x2"])[0] == TrainingConfig.from_dict(read_config_file("tiny_sr_x2"))


def test_a_short_option_and_its_field_must_agree():
    with pytest.raises(ValueError, match=r"^--init-from a.pth and --model.init_from b.pth disagree: give one of them$"):
        parse_command_line(["--config", "tiny_sr_x2", "--init-from", "a.pth", "model.init_from=b.pth"])
    with pytest.raises(ValueError, match=r"^--output-dir a and --train.output_dir b disagree"):
        parse_command_line(["--config", "tiny_sr_x2", "--train.output_dir", "b", "--output-dir", "a"])
    same = parse_command_line(["--config", "tiny_sr_x2", "--init-from", "a.pth", "--model.init_from=a.pth"])[0]
    assert same.model.init_from == "a.pth"


@pytest.mark.parametrize("level", ["--data.noise_sigma=25", "--data.val_jpeg_quality=40"])
def test_a_level_given_at_its_default_to_a_degradation_that_does_not_read_it_is_refused(level):
    # at the level's default, DataArgs drops it as a saved config's: only the command line shows it was asked for
    name = level.split("=")[0].removeprefix("--")
    with pytest.raises(ValueError, match=rf"^{name} is only read with degradation '\w+' \(this config degrades with "):
        parse_command_line(["--config", "tiny_sr_x2", level])
    assert parse_command_line(["--config", "tiny_sr_x2", f"--{name}=null"])[0].data.degradation == "bicubic"


def test_gan_options_without_the_gan_stage_are_refused():
    # ignored, and unchecked: `--gan.discriminator_channels 0` trained a plain model without a word
    with pytest.raises(ValueError, match=r"^--gan.discriminator_channels, --gan.gan_weight: the GAN stage's options, "):
        parse_command_line(["--config", "tiny_sr_x2", "--gan.discriminator_channels", "0", "--gan.gan_weight=2"])
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", "--gan.enabled", "true", "--gan.allow_random_vgg", "true"])
    assert cfg.gan.enabled


@pytest.mark.parametrize("section", [["--gan", '{"discriminator_channels": 0}'], ["--gan={discriminator_channels: 0}"]])
def test_a_whole_section_is_checked_as_its_fields(section):
    with pytest.raises(ValueError, match=r"^--gan.discriminator_channels: the GAN stage's options, "):
        parse_command_line(["--config", "tiny_sr_x2", *section])
    with pytest.raises(ValueError, match=r"^data.noise_sigma is only read with degradation 'noise' "):
        parse_command_line(["--config", "tiny_sr_x2", "--data", "{noise_sigma: 25}"])
    enabled = parse_command_line(["--config", "tiny_sr_x2", "--gan", "{enabled: true, allow_random_vgg: true}"])[0]
    assert enabled.gan.enabled and enabled.gan.allow_random_vgg


def test_command_line_errors_are_one_line_with_status_2(tmp_path, capsys):
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("data: {train: [x]}\ntrain: {max_stepz: 3}\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: {train: [x]\n")
    problems = {
        ("--train.max_stepz", "4"): "unrecognized arguments: --train.max_stepz 4 (did you mean --train.max_steps? "
        "see --help)",
        ("--optimiser.lr=1",): "unrecognized arguments: --optimiser.lr=1 (see --help)",
        ("train.max_steps",): "unrecognized arguments: train.max_steps (did you mean --train.max_steps? see --help)",
        ("--data.patchsize", "3", "--data.flips=0"): "unrecognized arguments: --data.patchsize 3 --data.flips=0 (did "
        "you mean --data.patch_size / --data.flip? see --help)",
        ("--train.max_steps",): "argument --train.max_steps: expected one argument",
        ("--train.batch_size", "big"): "train.batch_size: expected int, got big",
        ("train.num_threads=many",): "train.num_threads: expected int | None, got many",
        ("--data.noise_sigma", "[1, x]"): "data.noise_sigma: expected float | list[int | float] | None, got [1, 'x']",
        ("--train.mixed_precision", "fp8"): "train.mixed_precision must be null, no, bf16 or fp16, got 'fp8'",
    }
    for extra, message in problems.items():
        assert main(["--config", "tiny_sr_x2", *extra]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    assert main(["--config", str(bad_file)]) == 2
    assert capsys.readouterr().err == "error: unknown field train.max_stepz (see --help)\n"
    assert main(["--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: argument --config: while parsing a flow mapping in "{broken}", line 1')
    assert err.count("\n") == 1
    assert main(["--config", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: argument --config: config nope not found; bundled configs: ")
    assert main(["--config", str(tmp_path)]) == 2  # it was "not found" too
    said = f"error: argument --config: config {tmp_path} is a folder, not a YAML file; bundled configs: "
    assert capsys.readouterr().err.startswith(said)


@pytest.mark.parametrize(("patch", "choices"), [(6, "4 or 8"), (3, "4")])
def test_a_patch_that_is_not_whole_windows_is_refused_before_the_run(
    patch, choices, tiny_run, train_cli, images, tmp_path, capsys
):
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, data={"patch_size": patch})) == 1  # the tiny model's window is 4
    assert capsys.readouterr().err.endswith(
        f"error: data.patch_size {patch} is not a multiple of the model's window_size 4 (each patch would be "
        f"reflect-padded to {8 if patch == 6 else 4} inside the model): use {choices}\n"
    )
    assert not out.exists()


def test_greyscale_training_images_for_a_colour_model_are_refused_before_the_run(
    tiny_run, train_cli, images, tmp_path, capsys
):
    grey = tmp_path / "grey"
    grey.mkdir()
    for i, mode in enumerate(("L", "I;16", "LA")):  # 8-bit, 16-bit, with alpha
        Image.open(images / f"{i}.png").convert("L").convert(mode).save(grey / f"{i}.png")
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, data={"train": [str(grey)]})) == 1
    assert capsys.readouterr().err.endswith(
        "error: data.train: all its 3 images are greyscale, but the model restores colour (3 channels): give colour "
        "images, or train a 1-channel model (model.preset gray_dn or jpeg_car, or model.config.num_channels=1)\n"
    )
    assert not out.exists()
    # one colour image among grey ones is a mixed set (Set14 has a grey image), and a grey model takes grey images
    shutil.copy(images / "0.png", grey / "rgb.png")
    check_colour(sorted(map(str, grey.iterdir())), 3, "data.train")
    check_colour([str(grey / "0.png")], 1, "data.train")


def test_a_bundled_config_run_away_from_its_data_names_the_field_and_the_folder(tmp_path, monkeypatch, capsys):
    """The bundled configs read ../shared (the repository's fixture folder): run from anywhere else, as a user of
    an installed wheel does, the error says which field, from which folder, and how to give one's own data."""
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "tiny_sr_x2", "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "error: data.train: no such dataset folder: ../shared/trainsets/DIV2K_train_HR_crops128 (relative paths are "
        f"read from the current folder, {tmp_path}; your own: --data.train '[DIR, ...]')\n"
    )
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (48, 48), "gray").save(tmp_path / "photos" / "a.png")
    assert main(["--config", "tiny_sr_x2", "data.train=[photos]", "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "error: data.val: no such dataset folder: ../shared/testsets/Set5/HR (relative paths are read from the "
        f"current folder, {tmp_path}; your own: --data.val DIR (or data.val=null))\n"
    )
    assert not (tmp_path / "run").exists()


def test_a_missing_data_folder_is_refused_before_any_set_up(tiny_run, train_cli, images, tmp_path, monkeypatch, capsys):
    """A local data folder that is not there was found only as the data loaded, after accelerate and the model were
    set up (40 s on a busy machine): now as the config is checked, exit status 2. A Hub dataset id is left to loading,
    and --print-config prints a config whatever its folders."""
    started = []
    monkeypatch.setattr("swinir_hf.training.cli.run_training", lambda cfg, **options: started.append(cfg.data))
    missing, out = tmp_path / "gone", tmp_path / "run"
    faults = {
        "val": ({"val": str(missing)}, f"data.val: no such dataset folder: {missing}"),
        "train": (
            {"train": [str(images), f"imagefolder:{missing}"]},
            f"data.train: no such imagefolder directory: {missing}",
        ),
        "train_lr": (
            {"degradation": "paired", "train_lr": [str(missing)]},
            f"data.train_lr: no such dataset folder: {missing}",
        ),
        "val_lr": ({"val_lr": str(missing)}, f"data.val_lr: no such dataset folder: {missing}"),
    }
    for data, said in faults.values():
        assert train_cli(tiny_run(images, out, data=data)) == 2
        assert capsys.readouterr().err == f"error: {said}\n"
        assert train_cli(tiny_run(images, out, data=data), "--print-config") == 0
    assert started == [] and not out.exists()
    # unused without data.val; a Hub id (offline here) is the loader's to fetch
    assert train_cli(tiny_run(images, out, data={"val": None, "val_lr": str(missing)})) == 0
    assert train_cli(tiny_run(images, out, data={"val": "someone/photos"})) == 0
    assert [d.val for d in started] == [None, "someone/photos"]


def test_the_start_line_counts_one_image_and_one_process_in_the_singular(tiny_run, train_cli, images, tmp_path, capsys):
    """The line a run starts with said "on 1 process(es), cpu, 1 images"."""
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(images / "0.png", one / "0.png")
    assert train_cli(tiny_run(one, tmp_path / "run", data={"val": None}, train={"max_steps": 1})) == 0
    said = capsys.readouterr().err
    assert re.search(r"training [\d,]+ parameters for steps 0\.\.1 on 1 process, cpu, 1 image\n", said), said


@pytest.mark.parametrize("rank", ["0", "1"])
def test_user_errors_are_printed_by_the_main_process_only(
    rank, tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    # Every process of a launch parses the same command line and checks the same inputs: only rank 0 says so.
    monkeypatch.setenv("RANK", rank)
    shown = rank == "0"
    assert main(["--config", "tiny_sr_x2", "--train.batch_size", "big"]) == 2
    assert capsys.readouterr().err == ("error: train.batch_size: expected int, got big\n" if shown else "")
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert train_cli(tiny_run(images, taken)) == 1
    expected = f"error: output folder {taken} is not a folder: choose another train.output_dir\n"
    assert capsys.readouterr().err == (expected if shown else "")


def test_train_num_threads_lasts_only_as_long_as_the_run(tiny_run, train_cli, images, tmp_path):
    """A notebook that trains with `train.num_threads`, then restores images, ran those on the run's thread count."""
    before = torch.get_num_threads()
    try:
        raw = tiny_run(images, tmp_path / "run", train={"num_threads": 1 if before > 1 else 2, "max_steps": 1})
        assert train_cli(raw) == 0
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_an_error_once_training_runs_is_printed_by_the_process_that_met_it(monkeypatch, capsys):
    from swinir_hf.training import cli
    from swinir_hf.training.loop import RUN_ERROR

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(cli, "run_training", lambda *args, **kwargs: _raise_during_run(RUN_ERROR))
    assert cli.main(["--config", "tiny_sr_x2"]) == 1
    assert capsys.readouterr().err == "error: process 1: [Errno 28] No space left on device\n"


@pytest.mark.parametrize("rank", ["0", "1"])
def test_an_interrupt_is_reported_by_the_main_process_only(rank, tmp_path, monkeypatch, capsys):
    # The launcher passes Ctrl-C / SIGTERM on to every process: all stop at one step with one status, rank 0 says so.
    from swinir_hf.training import cli
    from swinir_hf.training.signals import TrainingInterrupted

    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    stopped = TrainingInterrupted(signal.SIGTERM, 3, tmp_path / "checkpoints" / "step-00000003")
    out = ["--config", "tiny_sr_x2", "--train.output_dir", str(tmp_path / "run")]
    cases = [
        (stopped, 143, f"interrupted: {stopped}\n"),
        (KeyboardInterrupt(), 130, "interrupted: stopped at once; no checkpoint was saved yet\n"),
    ]
    for raised, status, message in cases:
        monkeypatch.setattr(cli, "run_training", lambda *args, raised=raised, **kwargs: _raise(raised))
        assert cli.main(out) == status
        assert capsys.readouterr().err == (message if rank == "0" else "")
    # A second Ctrl-C (a run that saved checkpoints): they are kept, and it can resume.
    (tmp_path / "run" / "checkpoints" / "step-00000003").mkdir(parents=True)
    assert cli.main(out) == 130
    kept = "interrupted: stopped at once; the checkpoints saved so far are kept (--resume latest)\n"
    assert capsys.readouterr().err == (kept if rank == "0" else "")


def test_stop_signals_agree_on_one_signal_and_only_the_main_process_announces_it(caplog):
    from swinir_hf.training.signals import StopSignals

    class Launch:
        """Stands in for the Accelerator of a 3-process launch: gather returns every process's value, rank order."""

        num_processes, device = 3, torch.device("cpu")

        def __init__(self, signals: list[int]) -> None:
            self.signals = signals

        def gather(self, tensor: torch.Tensor) -> torch.Tensor:
            return torch.tensor(self.signals, dtype=tensor.dtype)

    INT, TERM = signal.SIGINT, signal.SIGTERM
    # Per process, the signal it got; all agree on the main process's, else the lowest rank's (one exit status).
    for got, agreed in (([0, INT, TERM], INT), ([TERM, INT, 0], TERM), ([0, 0, TERM], TERM), ([0, 0, 0], None)):
        for rank in range(3):
            stop = StopSignals()
            stop.signal = got[rank] or None
            assert stop.requested(Launch(got)) is (agreed is not None)
            assert stop.signal == agreed
    for announce in (True, False):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
            StopSignals(announce=announce)._handle(signal.SIGTERM, None)
        assert [r.getMessage() for r in caplog.records] == (
            ["SIGTERM: stopping after this step with a checkpoint (Ctrl-C again: now)"] if announce else []
        )


def _raise(err: BaseException):
    raise err


def _raise_during_run(attribute: str):
    err = OSError(28, "No space left on device")
    setattr(err, attribute, 1)
    raise err


def test_help_lists_every_field_with_default_and_meaning(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help texts
    for key, hint in FIELD_TYPES.items():
        # lists: `--data.train [ITEM,...], --data.train+ [ITEM,...]`; Python 3.13's argparse writes the metavar once,
        # after the last option string: `--data.train, --data.train+ [ITEM,...]`.
        option = re.escape(f"--{key}")
        entry = re.search(rf"{option}(?: \S+?)?(?:, {option}\+ \S+)? (.+?) \(type: (.+?), default: ", text)
        # a meaning ("Adam betas" is the shortest), then type and default
        assert entry and " --" not in entry[1] and len(entry[1]) >= 10, key
        # jsonargparse ≥ 4.51 writes None as null, and a union holding a list as Union[float, list[...], null]
        members = re.split(r" \| (?![^[]*\])", hint)  # the top-level ones
        union = f"Union[{', '.join(members)}]".replace("None", "null")
        assert entry[2] in (hint, hint.replace("None", "null"), union), key
    assert "--train.max_steps MAX_STEPS optimizer steps (type: int, default: 500000)" in text
    assert "--data.val VAL validation images (same kinds as `train`); null disables validation" in text
    assert all(name in text for name in PRESETS)  # model.preset's help names every preset
    scale = re.search(r"--model.scale SCALE (.+?) \(type: ", text)[1]
    for preset, values in PRESETS.items():  # and model.scale's the scales each super-resolution head builds
        if values["upsampler"] is not None:
            assert re.search(rf"\b{preset}\b[^;]*: {re.escape(UPSAMPLER_SCALES[values['upsampler']])}", scale), preset
    assert all(name in text for name in bundled_configs())


def test_help_names_the_command_it_was_run_as(capsys):
    from swinir_hf.cli import main as cli

    for command, run in (("swinir-hf train", lambda: cli(["train", "--help"])), ("python -m swinir_hf.train", None)):
        with pytest.raises(SystemExit):
            run() if run else main(["--help"])
        assert capsys.readouterr().out.startswith(f"usage: {command} --config CONFIG"), command


def test_no_progress_logs_a_line_per_log_window_and_validation_instead_of_the_bar(
    tiny_run, train_cli, images, tmp_path, capsys, monkeypatch, tqdm_environment
):
    """`--no-progress`, as restore's and eval's: a run logged to a file (nohup) draws no bar, which tqdm redraws with
    carriage returns ~10 times a second there; the bar's figures come as one line per log window and validation.
    So does a run whose stderr is no terminal (`> log 2>&1`: a 600-step run's log was one 60 KB line of redraws,
    its losses only inside them), and one with tqdm's own `TQDM_DISABLE=1`; `--quiet` logs neither."""
    raw = tiny_run(images, tmp_path / "run", train={"log_every": 2, "validate_every": 2})
    loss, val = r"loss \d\.\d{4}, lr [\d.e-]+, \d+\.\d\d steps/s", r"val PSNR \d+\.\d\d dB"
    expected = [f"step 0/4: {val}", f"step 2/4: {loss}", f"step 2/4: {val}", f"step 4/4: {loss}", f"step 4/4: {val}"]

    def run(name: str, *args: str) -> str:
        raw["train"]["output_dir"] = str(tmp_path / name)
        assert train_cli(raw, *args) == 0
        return capsys.readouterr().err

    for err in (run("no-progress", "--no-progress"), run("to-a-file")):
        assert "\r" not in err and "train:" not in err
        lines = [line for line in err.splitlines() if line.startswith("step ")]
        assert len(lines) == len(expected)
        assert all(re.fullmatch(e, line) for e, line in zip(expected, lines, strict=True))
    raw["train"]["max_steps"] = 2  # (quicker)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the bar, and the lines in it
    err = run("bar")
    assert "train: " in err and not any(line.startswith("step ") for line in err.splitlines())
    tqdm_environment(disable=True)  # TQDM_DISABLE=1
    err = run("tqdm-disabled")
    assert "train:" not in err and len([line for line in err.splitlines() if line.startswith("step ")]) == 3
    assert run("quiet", "--quiet") == ""


def test_run_training_from_python_logs_through_the_callers_logging_once(tiny_run, images, tmp_path, capsys, caplog):
    """`run_training` in a program with logging set up added a handler of its own (every line printed twice: its
    own and root's) and forced its logger to INFO (a level set on `swinir_hf` was ignored)."""
    from swinir_hf.training.loop import run_training

    raw = tiny_run(images, tmp_path / "warnings", train={"log_every": 2})
    caplog.set_level(logging.WARNING, logger="swinir_hf")
    run_training(TrainingConfig.from_dict(raw), progress=False)
    assert not [r for r in caplog.records if r.name.startswith("swinir_hf") and r.levelno < logging.WARNING]
    raw["train"]["output_dir"] = str(tmp_path / "info")
    caplog.set_level(logging.INFO, logger="swinir_hf")
    run_training(TrainingConfig.from_dict(raw), progress=False)
    steps = [r.getMessage().split(":")[0] for r in caplog.records if r.getMessage().startswith("step ")]
    assert steps == ["step 2/4", "step 4/4", "step 4/4"]  # the losses, and the validation at the end
    assert capsys.readouterr().err == ""  # nothing of its own on stderr


def test_print_config_prints_the_resolved_config(capsys):
    assert main(["--config", "tiny_sr_x2", "--print-config", "--train.max_steps", "7"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    expected = TrainingConfig.from_dict(read_config_file("tiny_sr_x2")).to_dict()
    expected["train"]["max_steps"] = 7
    assert printed == expected


def test_bundled_configs_are_valid_and_follow_the_paper():
    names = bundled_configs()
    assert {"classical_sr_x2", "lightweight_sr_x2", "real_sr_x4_psnr", "real_sr_x4_gan", "gray_dn", "color_dn"} <= set(
        names
    )
    assert {"jpeg_car", "color_jpeg_car", "tiny_sr_x2", "default_lightweight_sr_x4", "default_color_dn"} <= set(names)
    for name in names:
        cfg = TrainingConfig.from_dict(read_config_file(name), origin=name)
        model, _ = build_model(cfg.model, cfg.train) if name.startswith("tiny") else (None, None)
        if model is not None:
            assert model.num_parameters() < 200_000
    paper = TrainingConfig.from_dict(read_config_file("classical_sr_x2"))
    assert (paper.train.learning_rate, paper.train.max_steps, paper.data.patch_size) == (2e-4, 500_000, 48)
    assert paper.milestones() == [250_000, 400_000, 450_000, 475_000]
    assert paper.train.ema_decay == 0.999
    for name in ("gray_dn", "color_dn", "jpeg_car", "color_jpeg_car"):  # KAIR's options: 1.6 M steps, sqrt(d² + 1e-3)
        cfg = TrainingConfig.from_dict(read_config_file(name))
        assert (cfg.train.max_steps, cfg.milestones()) == (1_600_000, [800_000, 1_200_000, 1_400_000, 1_500_000])
        assert cfg.train.charbonnier_eps**2 == pytest.approx(1e-3)
    real = TrainingConfig.from_dict(read_config_file("real_sr_x4_psnr"))
    assert (real.train.max_steps, real.milestones()) == (1_000_000, [500_000, 800_000, 900_000, 950_000])
    assert TrainingConfig.from_dict(read_config_file("jpeg_car")).data.patch_size == 126
    # KAIR's options validate on Set5 (SR), Set12 / McMaster (grey / colour denoising) and LIVE1 (JPEG, both)
    authors = {"lightweight_sr_x2": "datasets/Set5/HR", "gray_dn": "datasets/Set12", "color_dn": "datasets/McMaster"}
    authors |= {"classical_sr_x2": "datasets/Set5/HR", "jpeg_car": "datasets/LIVE1", "color_jpeg_car": "datasets/LIVE1"}
    assert {name: TrainingConfig.from_dict(read_config_file(name)).data.val for name in authors} == authors


@pytest.mark.parametrize(
    "name", ["classical_sr_x2", "lightweight_sr_x2", "gray_dn", "color_dn", "jpeg_car", "color_jpeg_car"]
)
def test_a_paper_configs_fine_tuning_command_is_the_authors(name):
    """The authors train the x2 / σ 15 / quality 40 model from scratch and fine-tune the others from it with half the
    learning rate and half the steps and milestones (KAIR's options); the command each config's header gives for it
    must do so, into a folder of its own (the source run's would be refused as a run's)."""
    header = [line for line in config_path(name).read_text().splitlines() if re.match(r"#\s{3}--", line)]
    command = shlex.split(" ".join(line.lstrip("#") for line in header))
    base = TrainingConfig.from_dict(read_config_file(name))
    tuned, _ = parse_command_line(["--config", name, *command])
    assert tuned.model.init_from == base.train.output_dir != tuned.train.output_dir
    assert tuned.train.learning_rate == base.train.learning_rate / 2
    assert tuned.train.max_steps == base.train.max_steps // 2
    assert tuned.milestones() == [m // 2 for m in base.milestones()]


@pytest.mark.slow
def test_training_improves_loss_and_validation_psnr(tiny_run, train_cli, shared, tmp_path):
    """On real training images, a few dozen steps lower the loss and raise Set5 x2 PSNR-Y."""
    val = tmp_path / "val"  # two of the smaller Set5 images keep validation quick
    val.mkdir()
    for name in ("bird.png", "head.png"):
        shutil.copy(shared / "testsets/Set5/HR" / name, val)
    raw = tiny_run(
        shared / "trainsets/DIV2K_train_HR_crops128",
        tmp_path / "learn",
        data={"val": str(val), "patch_size": 16},
        train={"max_steps": 25, "batch_size": 8, "log_every": 5, "validate_every": 25},
    )
    assert train_cli(raw) == 0
    s = summary(tmp_path / "learn")
    losses = [entry["loss"] for entry in s["losses"]]
    assert losses[-1] < 0.6 * losses[0]
    first, last = s["history"][0]["psnr"], s["history"][-1]["psnr"]
    assert s["history"][-1]["step"] == 25 and last > first + 3.0


@pytest.mark.slow
def test_kill_and_resume_gives_bitwise_identical_weights(tiny_run, train_cli, images, tmp_path):
    """A run resumed from its step-3 checkpoint ends with the same bits as an uninterrupted 6-step run, although
    it uses DataLoader workers (the data is a function of (seed, step), not of the loader), and logs the same losses,
    although the checkpoint fell inside a log window (steps 3-4) and the learning-rate warmup (steps 0-4)."""
    sections = dict(
        model={
            "preset": "lightweight_sr",
            "scale": 2,
            "config": {**tiny_run(images, tmp_path)["model"]["config"], "drop_path_rate": 0.2},
        },
        train={"max_steps": 6, "checkpoint_every": 3, "ema_decay": 0.9, "max_grad_norm": 0.5, "log_every": 2},
    )
    sections["train"]["warmup_steps"] = 5
    full = tmp_path / "full"
    assert train_cli(tiny_run(images, full, **sections)) == 0

    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copytree(full / "checkpoints/step-00000003", resumed / "checkpoints/step-00000003")
    raw = tiny_run(images, resumed, **sections)
    raw["data"]["num_workers"] = 1
    assert train_cli(raw, "--resume", "latest") == 0

    for name in ("model.safetensors", "checkpoints/step-00000006/model.safetensors"):
        a, b = load_file(full / name), load_file(resumed / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert [e["step"] for e in summary(full)["losses"]] == [2, 4, 6]
    assert summary(full)["losses"] == summary(resumed)["losses"]
    # The compute record: one entry per launch, the resumed run's after the one its checkpoint brought along.
    device = device_label(torch.device("cpu"))
    assert device.endswith(f"({torch.get_num_threads()} threads)")
    launches = [(c["device"], c["processes"], c["start_step"], c["end_step"]) for c in summary(resumed)["compute"]]
    assert launches == [(device, 1, 0, 3), (device, 1, 3, 6)]
    assert [(c["start_step"], c["end_step"]) for c in summary(full)["compute"]] == [(0, 6)]
    # The wall time at each save: the resumed run's first entry is the full run's at its step-3 checkpoint.
    before, after = summary(resumed)["compute"][0]["seconds"], summary(full)["compute"][0]["seconds"]
    assert 0 <= before <= after and all(c["seconds"] >= 0 for c in summary(resumed)["compute"])
    assert "steps 0-3 on " in (resumed / "README.md").read_text()
    assert "; steps 3-6 on " in (resumed / "README.md").read_text()
    # and the EMA (saved model) differs from the raw weights, so both were compared
    assert not torch.equal(
        load_file(full / "model.safetensors")["conv_first.weight"],
        load_file(full / "checkpoints/step-00000006/model.safetensors")["conv_first.weight"],
    )


def test_checkpoint_minutes_saves_by_wall_time(tiny_run, train_cli, images, tmp_path):
    # A minute is long for this run: only the final checkpoint. A tiny interval: one after every step.
    for minutes, steps in ((60.0, [3]), (1e-9, [1, 2, 3])):
        out = tmp_path / f"every-{minutes}"
        raw = tiny_run(images, out, train={"max_steps": 3, "checkpoint_minutes": minutes, "keep_checkpoints": 5})
        assert train_cli(raw) == 0
        assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"step-{s:08d}" for s in steps]


class _TouchesAFile:
    """Unpickling this creates the file `path` (what a planted state would do, more harmfully)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mknod, (str(self.path),))


def test_resume_refuses_a_state_that_would_run_code(tiny_run, train_cli, images, tmp_path, capsys):
    """accelerate unpickles the schedule / EMA states (`custom_checkpoint_N.pkl`) in full: a checkpoint whose state
    holds other objects is refused before it is loaded, with one line; one this package wrote resumes."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2, "ema_decay": 0.9})) == 0
    raw = tiny_run(images, out, train={"max_steps": 3, "checkpoint_every": 2, "ema_decay": 0.9})
    checkpoint = out / "checkpoints/step-00000002"
    assert sorted(p.name for p in checkpoint.glob("custom_checkpoint_*.pkl")) == [
        "custom_checkpoint_0.pkl",
        "custom_checkpoint_1.pkl",
    ]
    kept = tmp_path / "kept"
    shutil.copytree(checkpoint, kept)
    marker = tmp_path / "ran"
    torch.save({"last_epoch": 2, "x": _TouchesAFile(marker)}, checkpoint / "custom_checkpoint_0.pkl")
    capsys.readouterr()
    assert train_cli(raw, "--resume", "latest") == 1
    assert not marker.exists()
    assert capsys.readouterr().err == (
        f"error: cannot resume from {checkpoint}: custom_checkpoint_0.pkl holds Python objects other than a training "
        "state (posix.mknod), and loading it could run code. Resume from a checkpoint this package wrote, or start "
        "afresh with --overwrite\n"
    )
    shutil.rmtree(checkpoint)
    shutil.copytree(kept, checkpoint)
    assert train_cli(raw, "--resume", "latest") == 0 and summary(out)["step"] == 3


def test_a_training_image_replaced_under_its_name_resumes_and_added_or_gone_ones_are_named(
    tiny_run, train_cli, images, tmp_path, caplog
):
    """A damaged image replaced by a good copy (another byte size, another pixel size) changes only the samples drawn
    from it: the epochs' permutations are of the count, and every other sample is a function of (seed, key) alone.
    The resume goes on, naming the file in a warning and in training_config.yaml. An image added or gone changes the
    permutation, so every later sample: refused, naming the files. (It was refused either way, naming none.)"""
    from swinir_hf.training.data import Degradation, TrainingPatches
    from swinir_hf.training.images import load_images

    own = tmp_path / "images"
    shutil.copytree(images, own)
    out = tmp_path / "run"
    assert train_cli(tiny_run(own, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    patches = TrainingPatches(load_images(str(own)), 8, Degradation("bicubic", 2), 3, seed=0)
    before = [patches[key] for key in range(8, 24)]  # the samples of the resumed steps, as the run would draw them
    size = (own / "3.png").stat().st_size
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(own / "3.png")
    after = TrainingPatches(load_images(str(own)), 8, Degradation("bicubic", 2), 3, seed=0)
    for key, then in enumerate(before, start=8):  # those of the other images are the run's
        same = all(torch.equal(then[k], after[key][k]) for k in ("pixel_values", "labels"))
        assert same == (after.image_index(key) != 3), key
    changed = f"data.train file 3.png: {size:,} bytes → {(own / '3.png').stat().st_size:,} bytes"
    raw = tiny_run(own, out, train={"max_steps": 4, "checkpoint_every": 2})
    caplog.clear()
    assert train_cli(raw, "--resume", "latest") == 0 and summary(out)["step"] == 4
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        f"{changed}: changed since the run was started, under the same name (a damaged image replaced?). The run goes "
        "on: its samples from step 2 on are drawn from the files as they are now, those of the other images are the "
        "run's"
    ]
    assert f"#   from step 2: train.max_steps: 2 → 4, {changed}\n" in (out / "training_config.yaml").read_text()
    assert summary(out)["changes"] == [{"step": 2, "changed": ["train.max_steps: 2 → 4", changed]}]

    raw = tiny_run(own, out, train={"max_steps": 6, "checkpoint_every": 2})
    shutil.copy(own / "1.png", own / "8.png")
    (own / "2.png").unlink()
    with pytest.raises(ValueError, match="holds other images than the run was started with") as err:
        run_training_of(raw, resume="latest")
    assert "(8; added: 8.png; gone: 2.png). Each epoch draws a permutation of all of them" in str(err.value)
    (own / "0.png").unlink()
    with pytest.raises(ValueError, match=r"\(8 then, 7 now; added: 8.png; gone: 0.png and 2.png\)"):
        run_training_of(raw, resume="latest")


def test_images_past_the_listed_count_are_checked_by_their_digest_alone(
    tiny_run, train_cli, images, tmp_path, monkeypatch
):
    """Past `LISTED_IMAGES_MAX` images a checkpoint keeps only their digest (a listing would add ~30 bytes per image
    to every checkpoint): a replaced file is then refused, unnamed, as before the listing."""
    from swinir_hf.training import images as listed

    monkeypatch.setattr(listed, "LISTED_IMAGES_MAX", 7)
    assert "files" not in listed.items_fingerprint(listed.load_images(str(images)))
    monkeypatch.setattr(listed, "LISTED_IMAGES_MAX", 8)
    assert len(listed.items_fingerprint(listed.load_images(str(images)))["files"]) == 8
    monkeypatch.setattr(listed, "LISTED_IMAGES_MAX", 7)
    own, out = tmp_path / "images", tmp_path / "run"
    shutil.copytree(images, own)
    assert train_cli(tiny_run(own, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    progress = json.loads((out / "checkpoints" / "step-00000002" / "progress.json").read_text())
    assert "files" not in progress["samples"]["images"]
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(own / "3.png")
    with pytest.raises(ValueError, match=r"holds other images than the run was started with \(8, of other names or "):
        run_training_of(tiny_run(own, out, train={"max_steps": 4, "checkpoint_every": 2}), resume="latest")


def test_training_images_moved_elsewhere_resume_by_their_listing(tiny_run, train_cli, images, tmp_path, capsys):
    """A run's data copied to another disk or machine (the run folder too): the checkpoint lists its images by name
    and size, and where the folder at the new place lists them alike the resume goes on, noting the move; it was
    refused (`draws other training samples (changed: data.train: [...] → [...])`), and its advice, to resume with the
    folder the run named, could not be followed. A folder there that holds other images is refused by those."""
    out, moved = tmp_path / "run", tmp_path / "moved"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    shutil.copytree(images, moved / "images")
    shutil.copytree(out, moved / "run")
    raw = tiny_run(moved / "images", moved / "run", train={"max_steps": 3, "checkpoint_every": 2})
    raw["data"]["val"] = tiny_run(images, out)["data"]["val"]
    (moved / "images/5.png").unlink()
    with pytest.raises(ValueError, match=r"holds other images than the run was started with \(8 then, 7 now; gone"):
        run_training_of(raw, resume="latest")
    shutil.copy(images / "5.png", moved / "images/5.png")
    capsys.readouterr()
    assert train_cli(raw, "--resume", "latest", "--no-progress") == 0 and summary(moved / "run")["step"] == 3
    change = f"data.train: [{str(images)!r}] → [{str(moved / 'images')!r}]"
    assert "changed at this resume (training_config.yaml notes it): train.output_dir: " in capsys.readouterr().err
    assert summary(moved / "run")["changes"][0]["changed"][-1] == change


def test_the_image_listing_names_an_lr_file_and_an_earlier_checkpoint_is_compared_by_its_digest(tmp_path):
    """In paired data the listing is the HR images, then the LR ones: a replaced LR file is named as data.train_lr's.
    A checkpoint of an earlier swinir-hf keeps the listing's digest alone: other images are refused by count."""
    from swinir_hf.training.images import items_fingerprint
    from swinir_hf.training.recipe import CheckpointRecord
    from swinir_hf.training.resume_checks import check_same_images

    folder = tmp_path / "hr"
    folder.mkdir()
    for name, size in (("a.png", 3), ("b.png", 4)):
        (folder / name).write_bytes(b"x" * size)
    items = [str(folder / "a.png"), str(folder / "b.png")]
    raw = {"data": {"train": [str(folder)], "train_lr": [str(folder)], "degradation": "paired"}}
    cfg = TrainingConfig.from_dict(raw)
    then = items_fingerprint(items + items)
    record = CheckpointRecord(tmp_path / "step-1", {"samples": {"images": then}}, None, None, None)
    (folder / "b.png").write_bytes(b"x" * 5)
    now = items_fingerprint(items + items)
    assert check_same_images(record, now, cfg) == [
        "data.train file b.png: 4 bytes → 5 bytes",
        "data.train_lr file b.png: 4 bytes → 5 bytes",
    ]
    earlier = CheckpointRecord(tmp_path / "step-1", {"samples": {"images": then | {"files": None}}}, None, None, None)
    said = r"data\.train and data\.train_lr hold other images than the run was started with"  # counted in pairs
    with pytest.raises(ValueError, match=rf"{said} \(2, of other names or sizes\)\. Each epoch"):
        check_same_images(earlier, now, cfg)
    with pytest.raises(ValueError, match=rf"{said} \(2 then, 1 now\)\. Each epoch"):
        check_same_images(earlier, items_fingerprint(items), cfg)
    # A pair added: each setting's count and name, not both halves' as data.train's ("4 then, 6 now; c.png and c.png")
    (folder / "c.png").write_bytes(b"x")
    more = [*items, str(folder / "c.png")]
    said = "holds other images than the run was started with (2 then, 3 now; added: c.png)"
    with pytest.raises(ValueError, match=re.escape(f": data.train {said}; data.train_lr {said}. Each epoch")):
        check_same_images(record, items_fingerprint(more + more), cfg)


def test_many_images_added_or_gone_are_named_as_other_lists_of_names_are(tmp_path):
    """The files added or gone are listed as every other list of names in a message (`console.some_names`: three,
    then how many more), not in a format of their own."""
    from swinir_hf.training.images import items_fingerprint
    from swinir_hf.training.recipe import CheckpointRecord
    from swinir_hf.training.resume_checks import check_same_images

    for name in ("a", "b", "c", "d", "e", "f", "g"):
        (tmp_path / f"{name}.png").write_bytes(b"x")
    items = [str(tmp_path / f"{name}.png") for name in "abcdefg"]
    record = CheckpointRecord(
        tmp_path / "step-1", {"samples": {"images": items_fingerprint(items[:2])}}, None, None, None
    )
    with pytest.raises(ValueError, match=r"\(2 then, 7 now; added: c\.png, d\.png, e\.png and 2 more\)\. Each"):
        check_same_images(
            record, items_fingerprint(items), TrainingConfig.from_dict({"data": {"train": [str(tmp_path)]}})
        )


def run_training_of(raw: dict, **kwargs):
    """`run_training` of the raw config `raw`: its errors raised, not printed."""
    from swinir_hf.training.loop import run_training

    return run_training(TrainingConfig.from_dict(raw), progress=False, **kwargs)


# What progress.json held before it recorded the run's samples, starting weights and config.
OLD_PROGRESS = ("step", "history", "losses", "loss_window", "speed")


def _as_an_earlier_version_left_it(checkpoint: Path) -> None:
    progress = json.loads((checkpoint / "progress.json").read_text())
    (checkpoint / "progress.json").write_text(json.dumps({k: v for k, v in progress.items() if k in OLD_PROGRESS}))


def _denoising_run(tiny_run, images: Path, out: Path, sigma: float, eps: float, **train) -> dict:
    raw = tiny_run(images, out, data={"degradation": "noise", "noise_sigma": sigma}, train=train)
    raw["model"] = {"preset": "color_dn", "config": raw["model"]["config"]}
    raw["train"] |= {"loss": "charbonnier", "charbonnier_eps": eps, "checkpoint_every": 2}
    return raw


def test_a_resume_with_another_recipe_than_the_runs_is_refused(tiny_run, train_cli, images, tmp_path, capsys):
    """Found by an upgrading user: a bundled config's recipe changed between versions (color_dn: noise σ 25 → 15,
    Charbonnier ε 1e-9 → 0.0316), and `--config color_dn --resume latest --output-dir runs/color_dn_25` trained the σ
    25 run on at σ 15, rewriting its training_config.yaml to the new values. The run's own config (a checkpoint's
    record, or for an earlier version's checkpoint the run folder's training_config.yaml) is the one to go on with."""
    out = tmp_path / "dn"
    assert train_cli(_denoising_run(tiny_run, images, out, 15, 0.0316)) == 0
    latest = out / "checkpoints" / "step-00000004"
    capsys.readouterr()
    # A checkpoint of this version records its config: another loss parameter is refused.
    assert train_cli(_denoising_run(tiny_run, images, out, 15, 1e-3, max_steps=6), "--resume", "latest") == 1
    assert capsys.readouterr().err == (
        f"error: cannot resume from {latest}: this config trains otherwise than the run did (changed: "
        "train.charbonnier_eps: 0.0316 → 0.001). A resume may change how long the run trains, its learning-rate "
        "schedule and how its steps run, validate, checkpoint and log, not what it trains: resume with the run's own "
        f"settings (--config {out / 'training_config.yaml'}), or start from its model with --init-from "
        f"{latest / 'model'} and a new train.output_dir\n"
    )
    # One of an earlier version records none: the run folder's training_config.yaml, the older recipe, stands in.
    _as_an_earlier_version_left_it(latest)
    older = yaml.safe_load((out / "training_config.yaml").read_text())
    older["data"]["noise_sigma"], older["train"]["charbonnier_eps"] = 25.0, 1e-9
    (out / "training_config.yaml").write_text(yaml.safe_dump(older, sort_keys=False))
    model = json.loads((latest / "model" / "config.json").read_text())  # what its loss read
    (latest / "model" / "config.json").write_text(json.dumps(model | {"charbonnier_eps": 1e-9}))
    written = (out / "training_config.yaml").read_text()
    assert train_cli(_denoising_run(tiny_run, images, out, 15, 0.0316, max_steps=6), "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: cannot resume from {latest}: this config trains otherwise than the run did (changed: "
        "data.noise_sigma: 25.0 → 15.0, train.charbonnier_eps: 1e-09 → 0.0316). "
    )
    assert f"(--config {out / 'training_config.yaml'})" in err and "warning" not in err
    assert (out / "training_config.yaml").read_text() == written and not (out / "checkpoints/step-00000006").exists()
    # The run's own config goes on, and keeps its recipe.
    assert main(["--config", str(out / "training_config.yaml"), "--resume", "latest", "--train.max_steps", "6"]) == 0
    kept = yaml.safe_load((out / "training_config.yaml").read_text())
    assert (kept["data"]["noise_sigma"], kept["train"]["charbonnier_eps"], kept["train"]["max_steps"]) == (25, 1e-9, 6)


def test_an_earlier_versions_checkpoint_is_checked_by_its_run_folders_config(
    tiny_run, train_cli, images, tmp_path, capsys
):
    """Found by an upgrading user: a checkpoint written before the samples and starting-weights records resumed with
    any seed and batch, and training_config.yaml then gave them for the whole run. Its run folder's
    training_config.yaml stands in for the records; without it either, a warning says that nothing can be checked."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"checkpoint_every": 2})) == 0
    latest = out / "checkpoints" / "step-00000004"
    _as_an_earlier_version_left_it(latest)
    capsys.readouterr()
    other = tiny_run(images, out, train={"seed": 3, "batch_size": 2, "max_steps": 6})
    assert train_cli(other, "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {latest}: this config draws other training samples (changed: train.seed: 0 → 3, "
        "train.batch_size: 4 → 2). Resume with the settings the run was started with"
    )
    warm = tiny_run(images, out, train={"max_steps": 6}, model={"init_from": str(latest / "model")})
    assert train_cli(warm, "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {latest}: the run started from model.init_from null, this config from "
    )
    (out / "training_config.yaml").unlink()
    assert train_cli(tiny_run(images, out, train={"max_steps": 6}), "--resume", "latest") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {latest} keeps no record of the config its run trained with (an earlier swinir-hf wrote it), and "
        "there is no training_config.yaml in its run folder: whether this config trains as the run did cannot be "
        "checked. Resume it with the settings the run was started with"
    ]


def test_a_resume_goes_on_from_the_runs_starting_weights_named_again_or_not(
    tiny_config, tiny_run, train_cli, images, tmp_path, capsys
):
    """Found in the GPU lease: a model warm-started with `--init-from` a folder of that machine was restored on the
    next one and resumed without it, and was refused (`the run started from model.init_from ..., this config from
    null`); naming it again failed too, the folder gone. Its checkpoint's weights replace the starting ones: the
    resume goes on from the recorded start, which its checkpoints, training_config.yaml and card keep. Without a
    preset, the architecture is the checkpoint's model's, not the gone folder's."""
    source, out = tmp_path / "source", tmp_path / "run"
    SwinIRForImageRestoration(tiny_config(task="lightweight_sr", embed_dim=12)).save_pretrained(source)

    def run(steps: int, **model: str) -> dict:
        raw = tiny_run(images, out, train={"max_steps": steps, "checkpoint_every": 2})
        return raw | {"model": {"config": {"upscale": 2}, **model}}  # no preset: the source's architecture

    assert train_cli(run(2, init_from=str(source))) == 0
    shutil.rmtree(source)
    capsys.readouterr()
    assert train_cli(run(4), "--resume", "latest") == 0
    assert "initialised from" not in capsys.readouterr().err  # nothing loaded from it
    assert train_cli(run(6), "--resume", "latest", "--init-from", str(source)) == 0  # named again, gone
    progress = json.loads((out / "checkpoints/step-00000006/progress.json").read_text())
    assert progress["start"]["init_from"] == str(source) == progress["config"]["model"]["init_from"]
    assert len(progress["start"]["report"]["loaded"]) == 38  # what the first launch loaded
    assert yaml.safe_load((out / "training_config.yaml").read_text())["model"]["init_from"] == str(source)
    card = (out / "README.md").read_text()
    assert f"- initialised from `…/{tmp_path.name}/source` (38 tensors loaded, 0 re-initialised, 0 dropped)" in card
    assert SwinIRForImageRestoration.from_pretrained(out).config.embed_dim == 12  # the source's, not the default
    # Other starting weights are still refused.
    capsys.readouterr()
    assert train_cli(run(8, init_from=str(out)), "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {out / 'checkpoints/step-00000006'}: the run started from model.init_from "
        f"{source}, this config from {out}. "
    )


def test_starting_weights_named_as_the_run_named_them_are_its_own_gone_or_elsewhere(
    tiny_config, tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    """Found in review: a run started with `--init-from src`, a relative folder removed since, was refused by the same
    command (`the run started from model.init_from src, this config from src`) and by `--config
    RUN/training_config.yaml`: where the folder had been was compared with the name as typed. Weights named as the
    run named them (gone, or another machine's folder of that name) or where they were are its own; others are not."""
    out, here, there = tmp_path / "run", tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        SwinIRForImageRestoration(tiny_config(task="lightweight_sr")).save_pretrained(folder / "src")

    def run(steps: int, init_from: str) -> dict:
        raw = tiny_run(images, out, train={"max_steps": steps, "checkpoint_every": 2})
        return raw | {"model": {**raw["model"], "init_from": init_from}}

    monkeypatch.chdir(here)
    assert train_cli(run(2, "src")) == 0
    shutil.rmtree(here / "src")
    assert train_cli(run(4, "src"), "--resume", "latest") == 0  # the same command, the folder gone
    assert main(["--config", str(out / "training_config.yaml"), "--train.max_steps", "6", "--resume", "latest"]) == 0
    monkeypatch.chdir(there)  # another working folder (or machine), whose src is another folder
    assert train_cli(run(8, "src"), "--resume", "latest") == 0
    capsys.readouterr()
    assert train_cli(run(10, str(there / "src")), "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {out / 'checkpoints/step-00000008'}: the run started from model.init_from src, "
        f"this config from {there / 'src'}. "
    )


def test_an_earlier_versions_run_is_compared_by_what_it_read(tiny_run, train_cli, images, tmp_path):
    """Found in review: an earlier swinir-hf took and ignored settings that the run's own settings leave unread, which
    this one refuses (data.train_lr without degradation 'paired', train.loss in a GAN run, train.charbonnier_eps in an
    L1 run): its training_config.yaml kept them, and a resume without them was refused (`draws other training samples
    (changed: data.train_lr: [...] → [])`). What the run did not read counts as unset."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    latest = out / "checkpoints" / "step-00000002"
    _as_an_earlier_version_left_it(latest)
    older = yaml.safe_load((out / "training_config.yaml").read_text())
    older["data"]["train_lr"], older["train"]["charbonnier_eps"] = [str(images)], 0.01  # an L1 run's ε: unread too
    (out / "training_config.yaml").write_text(yaml.safe_dump(older, sort_keys=False))
    model = json.loads((latest / "model" / "config.json").read_text())
    (latest / "model" / "config.json").write_text(json.dumps(model | {"charbonnier_eps": 0.01}))
    assert train_cli(tiny_run(images, out, train={"max_steps": 4, "checkpoint_every": 2}), "--resume", "latest") == 0
    # A GAN run's pixel loss, and a level of another degradation, too.
    checkpoint = tmp_path / "gan" / "checkpoints" / "step-00000002"
    checkpoint.mkdir(parents=True)
    (checkpoint / "progress.json").write_text(json.dumps({"step": 2}))
    gan = {"enabled": True, "allow_random_vgg": True}
    raw = {"data": {"train": ["x"], "jpeg_quality": 10}, "train": {"loss": "l1", "charbonnier_eps": 0.01}, "gan": gan}
    (tmp_path / "gan" / "training_config.yaml").write_text(yaml.safe_dump(raw))
    cfg = TrainingConfig.from_dict({"data": {"train": ["x"]}, "gan": gan})
    recorded = checkpoint_record(checkpoint, {"step": 2}, cfg).config
    assert (recorded.train.loss, recorded.train.charbonnier_eps, recorded.data.jpeg_quality) == (None, None, None)
    assert recipe_changes(recorded, cfg) == []


def test_gan_settings_a_run_without_gan_does_not_read_are_no_change(tiny_run, train_cli, images, tmp_path):
    """Found in review: the GAN stage's settings were compared where neither the run nor its resume trains a GAN: a
    config that changed gan.vgg_weights or gan.pixel_weight (read by no step) was refused as another recipe, and one
    that changed gan.discriminator_lr noted it as a change in training_config.yaml. They are left out there; where
    either trains a GAN, they are compared as before (turning it on or off: `check_gan_resumable`)."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    unused = {"vgg_weights": "vgg19.pth", "pixel_weight": 2.0, "discriminator_lr": 5e-5, "discriminator_channels": 8}
    raw = tiny_run(images, out, train={"max_steps": 4, "checkpoint_every": 2})
    assert train_cli(raw | {"gan": unused}, "--resume", "latest") == 0
    assert summary(out)["changes"] == [{"step": 2, "changed": ["train.max_steps: 2 → 4"]}]
    plain = TrainingConfig(data=DataArgs(train=["x"]))
    other = dataclasses.replace(plain, gan=GanArgs(**unused))
    assert recipe_changes(plain, other) == resumed_changes(plain, other) == []
    gan = dataclasses.replace(plain, gan=GanArgs(enabled=True, vgg_weights="vgg19.pth"))
    changed = dataclasses.replace(gan, gan=GanArgs(enabled=True, **unused))
    assert recipe_changes(gan, changed) == ["gan.pixel_weight: 1.0 → 2.0", "gan.discriminator_channels: 64 → 8"]
    assert resumed_changes(gan, changed) == ["gan.discriminator_lr: 0.0001 → 5e-05"]
    assert "gan.enabled: False → True" in recipe_changes(other, changed)
    assert "gan.enabled: True → False" in recipe_changes(changed, other)


def test_a_runs_own_config_of_an_earlier_version_resumes_without_what_it_ignored(
    tiny_run, train_cli, images, tmp_path, capsys
):
    """Found in review: `--config RUN/training_config.yaml`, the way to go on with a run's own recipe, was refused for
    an earlier swinir-hf's run whose file sets what that version took and ignored (`data.train_lr is only read with
    degradation 'paired' ...`), or a setting this version no longer has (`unknown field ...`). In a run folder's own
    file they are ignored, as the run did, with a note naming them; a config of one's own is refused as before."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    _as_an_earlier_version_left_it(out / "checkpoints" / "step-00000002")
    older = yaml.safe_load((out / "training_config.yaml").read_text())
    older["data"]["train_lr"], older["train"]["old_setting"] = [str(images)], 3
    (out / "training_config.yaml").write_text(yaml.safe_dump(older, sort_keys=False))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(older, sort_keys=False))
    capsys.readouterr()
    assert main(["--config", str(tmp_path / "mine.yaml"), "--print-config"]) == 2
    assert capsys.readouterr().err == "error: unknown field train.old_setting (see --help)\n"
    del older["train"]["old_setting"]
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(older, sort_keys=False))
    assert main(["--config", str(tmp_path / "mine.yaml"), "--print-config"]) == 2
    assert capsys.readouterr().err.startswith("error: data.train_lr is only read with degradation 'paired' ")
    own = out / "training_config.yaml"
    assert main(["--config", str(own), "--train.max_steps", "4", "--resume", "latest"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: {own} is a run's own config: ignoring train.old_setting (not a setting of this swinir-hf), "
        "data.train_lr (unread with its other settings, by the run too)"
    ]
    assert summary(out)["step"] == 4 and yaml.safe_load(own.read_text())["data"]["train_lr"] == []


def test_values_that_mean_the_same_are_no_change_of_recipe(tiny_run, train_cli, images, tmp_path, capsys):
    """Found in review: the settings that the model's config resolves were compared as written, train.loss null and
    the preset's own l1, or model.config without upscale and with model.scale's, as a change of recipe. They are
    compared as the model's config resolves them; a loss that is another is still refused."""
    out = tmp_path / "run"

    def run(steps: int, upscale: dict, **train: str) -> dict:
        raw = tiny_run(images, out, train={"max_steps": steps, "checkpoint_every": 2, **train})
        config = {**raw["model"]["config"], "upsampler": "pixelshuffledirect", **upscale}
        return raw | {"model": {"scale": 2, "config": config}}  # no preset: the architecture is model.config's

    assert train_cli(run(2, {})) == 0
    assert train_cli(run(4, {"upscale": 2}, loss="l1"), "--resume", "latest") == 0
    capsys.readouterr()
    assert train_cli(run(6, {"upscale": 2}, loss="charbonnier"), "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {out / 'checkpoints/step-00000004'}: this config trains otherwise than the run "
        "did (changed: train.loss: 'l1' → 'charbonnier'). "
    )


def test_a_stopped_resume_of_an_earlier_versions_checkpoint_leaves_it_compared_with_the_run(
    tiny_run, train_cli, images, tmp_path, monkeypatch
):
    """Found in review: a resume of a checkpoint that keeps no record of its config (an earlier swinir-hf's) rewrote
    the run folder's training_config.yaml, which stands in for that record, before its first checkpoint; stopped
    before one, it left the next resume comparing with its own settings (`train.max_steps: 6 → 8`, the change from 4
    lost). The checkpoint keeps the file's settings before it is rewritten."""
    from swinir_hf.training import loop

    out = tmp_path / "run"

    def run(steps: int) -> dict:
        return tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": steps})

    assert train_cli(run(4)) == 0
    _as_an_earlier_version_left_it(out / "checkpoints" / "step-00000004")
    with monkeypatch.context() as patched:
        patched.setattr(loop, "run_steps", lambda *args: _raise(OSError(28, "No space left on device")))
        assert train_cli(run(6), "--resume", "latest") == 1
    assert train_cli(run(8), "--resume", "latest") == 0
    assert summary(out)["changes"] == [{"step": 4, "changed": ["train.max_steps: 4 → 8"]}]


def test_a_resume_reads_the_checkpoints_records_once(tiny_run, train_cli, images, tmp_path, monkeypatch):
    """Found in review: a resume read the checkpoint's progress.json in each of its checks (its step, its config, its
    starting weights, its samples, ..., each apart), and an earlier version's run folder's training_config.yaml, which
    stands in for its config, as often. Both are read once, and what they record is handed on."""
    out = tmp_path / "run"

    def run(steps: int) -> dict:
        return tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": steps})

    read, open_file = [], Path.open

    def counted(self: Path, mode: str = "r", *args, **kwargs):
        if "r" in mode and self.name in ("progress.json", "training_config.yaml"):
            read.append(self)
        return open_file(self, mode, *args, **kwargs)

    assert train_cli(run(2)) == 0
    monkeypatch.setattr(Path, "open", counted)
    assert train_cli(run(4), "--resume", "latest") == 0
    assert read == [out / "checkpoints" / "step-00000002" / "progress.json"]
    _as_an_earlier_version_left_it(out / "checkpoints" / "step-00000004")
    read.clear()
    assert train_cli(run(6), "--resume", "latest") == 0
    assert read == [out / "checkpoints" / "step-00000004" / "progress.json", out / "training_config.yaml"]
    assert summary(out)["changes"] == [{"step": 4, "changed": ["train.max_steps: 4 → 6"]}]


def test_what_a_resume_may_change_goes_on_and_training_config_says_from_which_step(
    tiny_run, train_cli, images, tmp_path, capsys
):
    """A finished run extended with a longer schedule at another learning rate goes on; its training_config.yaml (and
    the run's progress) say which values the steps before each resume had, not the last launch's for all of them."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"checkpoint_every": 2})) == 0
    longer = tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": 6, "learning_rate": 1e-3})
    assert train_cli(longer, "--resume", "latest") == 0
    assert "changed at this resume (training_config.yaml notes it): train.max_steps: 4 → 6, train." in (
        capsys.readouterr().err
    )
    assert train_cli(tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": 8}), "--resume", "latest") == 0
    text = (out / "training_config.yaml").read_text()
    assert text.startswith(
        "# The settings of the run's last launch. A resume changed some of them; the steps before each change ran "
        "with\n# the values before its arrows:\n"
        "#   from step 4: train.max_steps: 4 → 6, train.learning_rate: 0.002 → 0.001\n"
        "#   from step 6: train.max_steps: 6 → 8, train.learning_rate: 0.001 → 0.002\n"
    )
    assert read_config_file(str(out / "training_config.yaml"))["train"]["max_steps"] == 8  # still a config
    assert summary(out)["changes"] == [
        {"step": 4, "changed": ["train.max_steps: 4 → 6", "train.learning_rate: 0.002 → 0.001"]},
        {"step": 6, "changed": ["train.max_steps: 6 → 8", "train.learning_rate: 0.001 → 0.002"]},
    ]


def test_summary_records_speed_and_data_wait(tiny_run, train_cli, images, tmp_path):
    out = tmp_path / "speed"
    assert train_cli(tiny_run(images, out, train={"max_steps": 3})) == 0  # data loaded in this process
    speed = summary(out)["speed"]
    assert speed["step"] == 3 and speed["steps_per_s"] > 0
    assert 0 < speed["data_wait"] < 1  # decoding and degrading the batch is part of each step here


def test_speed_leaves_out_validation_time(tiny_run, train_cli, images, tmp_path, monkeypatch):
    """A validation (here 1000 s) between two logs is not training time: steps/s and data wait are the steps'."""
    from swinir_hf.training import loop

    validate, jumped = loop.validation_psnrs, [0.0]

    def validation_of_1000_s(*args):
        jumped[0] += 1000.0  # on the loop's clock, without the wait
        return validate(*args)

    # A real sleep (3 s) made this a race with the machine's load: a step descheduled for 2.5 s read as counted.
    clock = {name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    monkeypatch.setattr(
        loop, "time", types.SimpleNamespace(**{**clock, "perf_counter": lambda: time.perf_counter() + jumped[0]})
    )
    monkeypatch.setattr(loop, "validation_psnrs", validation_of_1000_s)
    out = tmp_path / "speed"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "validate_every": 1})) == 0
    speed = summary(out)["speed"]  # step 2's window, after step 1's validation
    # Counting the 1000 s would give under 0.001 step/s; a tiny step takes far less than 100 s on any machine.
    assert speed["step"] == 2 and speed["steps_per_s"] > 0.01


@pytest.mark.slow
def test_resuming_never_mixes_two_runs_or_two_lineages(tiny_run, train_cli, images, tmp_path, capsys):
    """Found by a training audit: `--resume PATH` of another run overwrote a finished run in train.output_dir;
    rewinding a run to an earlier checkpoint kept the abandoned later ones (the new ones were pruned as saved); a
    checkpoint past max_steps became the final model "12 of 8 steps"; toggling EMA read as a damaged checkpoint."""
    a, b = tmp_path / "a", tmp_path / "b"
    plain = {"checkpoint_every": 1, "keep_checkpoints": 4}
    assert train_cli(tiny_run(images, a, train=plain)) == 0
    assert train_cli(tiny_run(images, b, train=plain)) == 0
    before = {p: p.read_bytes() for p in b.rglob("*") if p.is_file()}
    step2 = a / "checkpoints/step-00000002"
    capsys.readouterr()
    # Another run's checkpoint into a folder holding a run: refused, the folder as it was.
    assert train_cli(tiny_run(images, b, train=plain), "--resume", str(step2)) == 1
    assert capsys.readouterr().err.startswith(f"error: {b} holds another run: resuming {step2} into it would mix")
    assert {p: p.read_bytes() for p in b.rglob("*") if p.is_file()} == before
    # Rewinding a to step 2 with another learning rate: refused; with --overwrite steps 3-4 are this lineage's.
    rewind = tiny_run(images, a, train={**plain, "learning_rate": 1e-4})
    old4 = load_file(a / "checkpoints/step-00000004/model/model.safetensors")
    assert train_cli(rewind, "--resume", str(step2)) == 1
    assert capsys.readouterr().err.startswith(
        f"error: {a} has checkpoints after step-00000002 (step-00000003, step-00000004): continuing from "
    )
    assert train_cli(rewind, "--resume", str(step2), "--overwrite") == 0
    new4 = load_file(a / "checkpoints/step-00000004/model/model.safetensors")
    assert not torch.equal(old4["conv_first.weight"], new4["conv_first.weight"])
    assert torch.equal(load_file(a / "model.safetensors")["conv_first.weight"], new4["conv_first.weight"])
    # b's folder taken over with --overwrite: only the resumed lineage's checkpoints are left.
    assert train_cli(tiny_run(images, b, train=plain), "--resume", str(step2), "--overwrite") == 0
    assert [p.name for p in (b / "checkpoints").iterdir()] == ["step-00000003", "step-00000004"]
    capsys.readouterr()
    # Past max_steps, and EMA switched on: each its own message.
    assert train_cli(tiny_run(images, a, train={**plain, "max_steps": 3}), "--resume", "latest") == 1
    latest = a / "checkpoints/step-00000004"
    assert capsys.readouterr().err == (
        f"error: cannot resume from {latest}: it is at step 4, past train.max_steps 3. Raise train.max_steps, or "
        "resume an earlier checkpoint with --resume PATH --overwrite (which deletes the later ones)\n"
    )
    ema = tiny_run(images, a, train={**plain, "max_steps": 6, "ema_decay": 0.9})
    assert train_cli(ema, "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {latest}: it was saved without a weight EMA (train.ema_decay: 0) and this config "
        "has train.ema_decay: 0.9. "
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("error:Dynamo detected")  # a traced step calls no cached builder (`on_device`)
def test_compiled_training_matches_eager_and_saves_plain_checkpoints(tiny_run, train_cli, images, tmp_path):
    """A compiled run's checkpoints are plain ones: an eager run resumes from its step 1, and its step 2 (loss and
    weights) is the compiled run's, from the same state and batch."""
    from torch._dynamo.utils import counters

    counters.clear()
    plain = {"max_steps": 2, "checkpoint_every": 1}
    compiled, resumed = tmp_path / "compiled", tmp_path / "resumed"
    # aot_eager traces the model as inductor does, without its minutes of code generation on a CPU.
    assert train_cli(tiny_run(images, compiled, train={**plain, "compile": "aot_eager"})) == 0
    assert counters["stats"]["unique_graphs"] > 0  # the steps went through torch.compile
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copytree(compiled / "checkpoints/step-00000001", resumed / "checkpoints/step-00000001")
    assert train_cli(tiny_run(images, resumed, train=plain), "--resume", "latest") == 0
    assert [x["step"] for x in summary(resumed)["losses"]] == [1, 2]
    assert [x["loss"] for x in summary(resumed)["losses"]] == pytest.approx(
        [x["loss"] for x in summary(compiled)["losses"]], rel=1e-5
    )
    a, b = load_file(compiled / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.mark.slow
@pytest.mark.filterwarnings("error:Dynamo detected")
def test_compiled_regions_share_two_graphs_and_validate_eagerly(tiny_run, train_cli, images, tmp_path, capsys):
    """train.compile_regions: four Swin layers, three compiled graphs (shifted or not, with stochastic depth or not:
    the first layer's rate is 0; a rate in the graph made one per layer); the losses of eager steps, the same
    branches dropped; validation (no EMA: the compiled model itself) compiles nothing more; the weights keep their
    names."""
    from torch._dynamo.utils import counters

    model = {
        "config": {
            "embed_dim": 16,
            "depths": [2, 2],
            "num_heads": [2, 2],
            "window_size": 4,
            "image_size": 16,
            "num_feat": 8,
            "drop_path_rate": 0.2,  # 0, 0.067, 0.133 and 0.2
        }
    }
    plain = {"max_steps": 2, "validate_every": 1}
    eager, regions = tmp_path / "eager", tmp_path / "regions"
    assert train_cli(tiny_run(images, eager, model=model, train=plain)) == 0
    counters.clear()
    compiled = {**plain, "compile": "aot_eager", "compile_regions": True}
    assert train_cli(tiny_run(images, regions, model=model, train=compiled)) == 0
    assert counters["stats"]["unique_graphs"] == 3
    assert "train.compile_regions: 4 Swin layers compiled apart, 3 graphs\n" in capsys.readouterr().err
    assert [x["loss"] for x in summary(regions)["losses"]] == pytest.approx(
        [x["loss"] for x in summary(eager)["losses"]], rel=1e-5
    )
    assert [h["psnr"] for h in summary(regions)["history"]] == pytest.approx(
        [h["psnr"] for h in summary(eager)["history"]], abs=1e-4
    )
    a, b = load_file(eager / "model.safetensors"), load_file(regions / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.mark.slow
def test_a_diverging_run_stops_and_saves_nothing_of_it(tiny_run, train_cli, images, tmp_path, capsys):
    """A learning rate of 1e30 makes the weights infinite in one step: the run stops with exit status 1 at the next
    log (the loss) or save (the weights), and its newest checkpoint is the last one with finite weights."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 1})) == 0
    capsys.readouterr()
    # no save due: the loss of step 4, the first computed with the weights step 3 made infinite, is caught
    wild = {"max_steps": 6, "learning_rate": 1e30}
    assert train_cli(tiny_run(images, out, train=wild), "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert "error: training diverged by step 4: the training loss is nan and no longer finite, and nothing of " in err
    step2 = out / "checkpoints/step-00000002"
    assert f"saved. {step2} is from before: resume it (--resume latest) with a lower train.learning_rate, " in err
    # a save due after every step: the weights of step 3 are caught before they are written
    assert train_cli(tiny_run(images, out, train={**wild, "checkpoint_every": 1}), "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert "error: training diverged by step 3: the weights are no longer finite, and nothing" in err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000001", "step-00000002"]
    weights = load_file(step2 / "model" / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


@pytest.mark.slow
def test_gradient_accumulation_matches_one_big_batch(tiny_run, train_cli, images, tmp_path):
    one = tmp_path / "one"
    two = tmp_path / "two"
    assert train_cli(tiny_run(images, one, train={"max_steps": 2})) == 0
    assert train_cli(tiny_run(images, two, train={"max_steps": 2, "gradient_accumulation_steps": 2})) == 0
    a, b = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.mark.slow
def test_bf16_and_gradient_checkpointing_run(tiny_run, train_cli, images, tmp_path):
    out = tmp_path / "bf16"
    raw = tiny_run(
        images, out, model={"gradient_checkpointing": True}, train={"mixed_precision": "bf16", "max_steps": 2}
    )
    assert train_cli(raw) == 0
    assert all(np.isfinite(e["loss"]) for e in summary(out)["losses"])
    assert load_file(out / "model.safetensors")["conv_first.weight"].dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 runs on a GPU")
def test_a_killed_writes_leftover_does_not_make_the_run_folder_taken(tiny_run, train_cli, images, tmp_path):
    """A temporary file or folder of a killed write (a convert, a final save; also as named by a swinir-hf without
    the PID namespace) left in train.output_dir is no run: training starts there, and removes it."""
    import subprocess
    import sys

    from swinir_hf.storage.atomic_writes import process_tag

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    host, pid = process_tag().rsplit("-", 1)[0], dead.stdout.strip()
    out = tmp_path / "run"
    (out / f".swinir-{host}-{pid}-abcd1234").mkdir(parents=True)
    (out / f".swinir-{host.split('.')[0]}-{pid}-abcd1234-config.json").write_text("{")
    assert train_cli(tiny_run(images, out, train={"max_steps": 1})) == 0
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_a_run_resumed_in_fp16_starts_its_gradient_scaler_afresh(tiny_run, train_cli, images, tmp_path, monkeypatch):
    """A run saved in float32 or bf16 (on one GPU), resumed in fp16 (on another, without bf16): its checkpoint has no
    gradient scaler state, which accelerate's load looked for, and the resume was refused as a damaged checkpoint
    ("no such file ... scaler.pt. If its files are damaged, delete it"). The scaler starts as a run starts it.
    (fp16 runs on GPUs only: a CPU gradient scaler stands in for it here.)"""
    from swinir_hf.training import loop

    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    build = loop.build_accelerator

    def with_a_scaler(*args):
        accelerator = build(*args)
        accelerator.scaler = torch.amp.GradScaler("cpu")
        return accelerator

    monkeypatch.setattr(loop, "build_accelerator", with_a_scaler)
    raw = tiny_run(images, out, train={"max_steps": 3, "checkpoint_every": 2})
    assert train_cli(raw, "--resume", "latest") == 0 and summary(out)["step"] == 3
    assert (out / "checkpoints/step-00000003/scaler.pt").is_file()


def test_fp16_without_a_gpu_is_refused_not_trained_in_float32(
    tiny_run, train_cli, images, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"mixed_precision": "fp16"})) == 1
    assert capsys.readouterr().err == (
        "error: train.mixed_precision fp16 does not run on this cpu (accelerate would train in float32 under its "
        "name): use bf16 or no\n"
    )
    assert not out.exists()
    # The launcher's (`accelerate launch --mixed_precision fp16`) for a config that leaves it null: the message
    # named train.mixed_precision, which the command line and the config never set.
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    assert train_cli(tiny_run(images, out)) == 1
    assert capsys.readouterr().err == (
        "error: accelerate launch's --mixed_precision fp16 (or accelerate config's) does not run on this cpu "
        "(accelerate would train in float32 under its name): launch with --mixed_precision bf16 or no, or set "
        "train.mixed_precision\n"
    )
    assert not out.exists()
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION")
    assert train_cli(tiny_run(images, out, train={"max_steps": 1})) == 0  # the next run in this process is fine


@pytest.mark.filterwarnings("error::UserWarning")  # one line, not accelerate's warning above it
def test_a_tracker_that_is_not_installed_is_refused_not_dropped(tiny_run, train_cli, images, tmp_path, capsys):
    import tensorboard  # noqa: F401  (the train extra's: a tracker that is installed)

    if importlib.util.find_spec("dvclive") is not None:
        pytest.skip("dvclive is installed")
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"report_to": "dvclive"})) == 1
    assert capsys.readouterr().err.endswith(
        "error: train.report_to dvclive: its package is not installed (pip install dvclive), or set "
        "train.report_to none\n"
    )
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(("configured", "used"), [(None, "bf16"), ("no", "no")])
def test_precision_left_null_is_the_launchers_and_is_recorded(
    configured, used, tiny_run, train_cli, images, tmp_path, monkeypatch
):
    """`accelerate launch --mixed_precision bf16` (or `accelerate config`) sets ACCELERATE_MIXED_PRECISION: a config
    that leaves the precision null follows it, one that sets it keeps its own; the run records the one it used."""
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 1, "mixed_precision": configured})) == 0
    assert yaml.safe_load((out / "training_config.yaml").read_text())["train"]["mixed_precision"] == used
    assert f"precision {used}, seed 0" in (out / "README.md").read_text()


@pytest.mark.slow
def test_saved_folder_loads_restores_and_pushes_offline(tiny_run, train_cli, images, tmp_path, monkeypatch):
    from huggingface_hub import HfApi, constants

    from swinir_hf.checkpoints.verification import export_files

    calls = []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # online, as the mocks below pretend (whatever the shell)
    monkeypatch.setattr("swinir_hf.checkpoints.loading.hub_reachable", lambda *a: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self: {"name": "me", "orgs": []})
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))

    def upload_folder(self, folder_path, **kw):
        uploaded = Path(folder_path)
        card = (uploaded / "README.md").read_text()
        calls.append(("upload", kw["repo_id"], sorted(os.listdir(uploaded)), card, kw["commit_message"]))
        return "https://hub/commit"

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    out = tmp_path / "saved"
    # A bare name goes to the token's user (the Hub's default), and the cards say so: a name alone loads nothing.
    assert train_cli(tiny_run(images, out), "--push-to-hub", "tiny-swinir", "--license", "cc-by-nc-4.0") == 0
    assert [c[:2] for c in calls] == [("create", "me/tiny-swinir"), ("upload", "me/tiny-swinir")]
    # The pushed folder carries the model code, so it loads with trust_remote_code=True without swinir-hf.
    _, _, files, pushed_card, message = calls[1]
    assert files == sorted(export_files()) and "modeling_swinir.py" in files
    assert 'model="me/tiny-swinir", trust_remote_code=True)' in pushed_card and "4 of 4 steps" in pushed_card
    assert message == "swinir_hf.train: step 4"
    # The license chosen at training is the pushed card's, stated as chosen.
    assert ModelCard(pushed_card).data.license == "cc-by-nc-4.0" and "`cc-by-nc-4.0`, as the publisher" in pushed_card

    card = ModelCard.load(out / "README.md")
    assert "4 of 4 steps" in card.text and "me/tiny-swinir" in card.text
    assert card.data.datasets is None and card.data.base_model is None  # a local folder is no Hub dataset
    assert f"Trained on {images.name} with" in card.text
    model = SwinIRForImageRestoration.from_pretrained(out).eval()
    from swinir_hf.inference.restoration import restore

    image = np.asarray(Image.open(images / "0.png"))
    restored = restore(model, image, dtype="float32")
    assert restored.shape == (96, 96, 3) and restored.dtype == np.uint8
    # a second run into the same folder must be asked for
    assert train_cli(tiny_run(images, out)) == 1


def test_a_charbonnier_eps_for_an_l1_run_is_refused():
    """train.charbonnier_eps was silently unused by an L1 run (the SR presets' loss, or train.loss l1)."""
    args = ModelArgs(preset="lightweight_sr", scale=2, config={"embed_dim": 16, "depths": [2], "num_heads": [2]})
    for loss, whose in ((None, ", the model config's"), ("l1", "")):
        with pytest.raises(ValueError) as err:
            build_model(args, TrainArgs(loss=loss, charbonnier_eps=0.01))
        assert str(err.value) == (
            f"train.charbonnier_eps is only read by the charbonnier loss (this run's is l1{whose}): pass --train.loss "
            "charbonnier, or drop train.charbonnier_eps"
        )
    model, _ = build_model(args, TrainArgs(loss="charbonnier", charbonnier_eps=0.01))
    assert (model.config.loss, model.config.charbonnier_eps) == ("charbonnier", 0.01)


def test_a_model_scale_that_disagrees_with_the_configs_upscale_is_refused():
    """Without a preset, model.scale silently replaced a model.config.upscale it disagreed with."""
    config = {"embed_dim": 16, "depths": [2], "num_heads": [2], "upsampler": "pixelshuffledirect", "upscale": 3}
    with pytest.raises(
        ValueError,
        match=r"^model.scale 2 and model.config.upscale 3 disagree \(either may come from the config file\): set both "
        r"to the scale you want$",
    ):
        build_model(ModelArgs(config=config, scale=2), TrainArgs())
    assert build_model(ModelArgs(config=config, scale=3), TrainArgs())[0].config.upscale == 3


def test_init_from_changes_task_with_a_report(tiny_config, tmp_path, capsys):
    source = SwinIRForImageRestoration(tiny_config(upscale=4, upsampler="pixelshuffle", task="classical_sr"))
    source.save_pretrained(tmp_path / "classical")
    torch.save({"params": source.state_dict()}, tmp_path / "classical.pth")
    for spec in (tmp_path / "classical", tmp_path / "classical.pth"):
        args = ModelArgs(init_from=str(spec), config={"upsampler": "nearest+conv", "task": "real_sr"})
        model, report = build_model(args, TrainArgs())
        assert model.config.upsampler == "nearest+conv" and model.config.upscale == 4
        assert "conv_first.weight" in report.loaded and "conv_before_upsample.0.weight" in report.loaded
        assert {"conv_up1.weight", "conv_up2.weight", "conv_hr.weight"} <= set(report.reinitialised)
        assert "upsample.0.weight" in report.dropped and "conv_last.weight" in report.loaded
        assert torch.equal(model.layers[0].conv.weight, source.layers[0].conv.weight)
        assert "re-initialised" in str(report) and "dropped" in str(report)
        assert "warning" not in str(report)  # the body is loaded
    # A preset of another size (the GAN stage's real_sr after a stage 1 of another width): refused, saying why. (It
    # was a warning, and a run that loaded nothing of its source went on from scratch with exit status 0.)
    classical = tmp_path / "classical"
    args = ModelArgs(preset="real_sr", scale=4, init_from=str(classical), config={"embed_dim": 24})
    with pytest.raises(ValueError) as err:
        build_model(args, TrainArgs())
    assert re.fullmatch(
        rf"model.init_from: \d+ of this model's \d+ tensors fit {re.escape(str(classical))}'s, so most of it would "
        r"start from scratch. With model.preset set, the architecture is the preset's \(and model.config's\), not "
        r"the source's: model.preset=null takes the source's; or drop model.init_from \(--init-from\) to train from "
        "scratch",
        str(err.value),
    )
    # nothing at all fits (another width everywhere): "0 of ... so most of it" said less than it was
    wider = ModelArgs(preset="lightweight_sr", scale=2, init_from=str(classical), config={"embed_dim": 36})
    with pytest.raises(ValueError, match=r"^model.init_from: none of this model's \d+ tensors fit .*, so all of it "):
        build_model(wider, TrainArgs())
    # Without a preset, model.config's widths: telling this run to set model.preset=null, which it has, helped no one.
    config = {"embed_dim": 24, "num_heads": [4], "window_size": source.config.window_size}  # the window as it was
    with pytest.raises(ValueError) as err:
        build_model(ModelArgs(init_from=str(classical), config=config), TrainArgs())
    assert "This run's model.config / model.scale give embed_dim, num_heads other than the source's: drop them to " in (
        str(err.value)
    )


def test_init_from_shows_transformers_loading_bar_only_where_asked(tiny_config, tmp_path, capsys):
    """Every process of a launch loads `--init-from`: each printed transformers' "Loading weights" bar (two for
    `--num_processes 2`), where the init report and the training bar are the main process's alone."""
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "source")
    for bars in (True, False):
        build_model(ModelArgs(init_from=str(tmp_path / "source")), TrainArgs(), bars=bars)
        assert ("Loading weights" in capsys.readouterr().err) is bars


def test_init_from_another_window_size_keeps_the_position_bias_of_shared_offsets(tiny_config, tmp_path):
    # The JPEG models' window 7 beside the SR models' 8: everything loads, the bias tables fitted, none resized.
    source = SwinIRForImageRestoration(tiny_config(window_size=8, upscale=1, upsampler=None, task="color_dn"))
    with torch.no_grad():
        for block in source.layers[0].residual_group.blocks:
            block.attn.relative_position_bias_table.normal_()
    source.save_pretrained(tmp_path / "w8")
    for window, offsets in ((7, 49), (5, 25)):
        args = ModelArgs(
            init_from=str(tmp_path / "w8"),
            config={"window_size": window, "image_size": 4 * window, "task": "color_jpeg_car"},
        )
        model, report = build_model(args, TrainArgs())
        assert model.config.window_size == window and report.reinitialised == [] == report.dropped
        tables = [k for k in report.loaded if k.endswith("relative_position_bias_table")]
        assert report.fitted == tables and len(tables) == 2
        assert "fitted to this window size (relative-position bias, shared offsets kept): 2:" in str(report)
        # Each pair of pixels of a window-sized square keeps the bias the source gave their offset.
        inside = torch.tensor([r * 8 + c for r in range(window) for c in range(window)])
        for new, old in zip(model.layers[0].residual_group.blocks, source.layers[0].residual_group.blocks, strict=True):
            expected = old.attn.position_bias()[:, inside][:, :, inside]
            assert expected.shape[-1] == offsets and torch.equal(new.attn.position_bias(), expected)
    # Back up to 8: the offsets a 7-window never saw repeat its outermost ones.
    small = SwinIRForImageRestoration(
        tiny_config(window_size=7, image_size=14, upscale=1, upsampler=None, task="color_dn")
    )
    small.save_pretrained(tmp_path / "w7")
    model, report = build_model(
        ModelArgs(init_from=str(tmp_path / "w7"), config={"window_size": 8, "image_size": 16}), TrainArgs()
    )
    table = model.layers[0].residual_group.blocks[0].attn.relative_position_bias_table.T.reshape(2, 15, 15)
    old = small.layers[0].residual_group.blocks[0].attn.relative_position_bias_table.T.reshape(2, 13, 13)
    assert torch.equal(table[:, 1:-1, 1:-1], old) and torch.equal(table[:, 0, 1:-1], old[:, 0])
    assert torch.equal(table[:, -1, -1], old[:, -1, -1]) and len(report.fitted) == 2


# `accelerate launch ARGS` as its command runs it.
ACCELERATE_MAIN = "import sys\nfrom accelerate.commands.accelerate_cli import main\nsys.argv[0] = 'accelerate'\nmain()"


@pytest.fixture(scope="module")
def trainer_python(tmp_path_factory):
    """A Python that imported the trainer's modules and accelerate's launcher once, running each script in a fork of
    itself that ends as an interpreter does (`run(..., exit=True)`): for the tests of how a run's process exits, and
    of `accelerate launch`, without their seconds of imports each."""
    preload = (
        "import swinir_hf.cli, swinir_hf.training.cli, swinir_hf.training.loop, accelerate.commands.accelerate_cli"
    )
    python = PreloadedPython(tmp_path_factory.mktemp("trainer"), preload)
    yield python
    python.close()


def launch_two_processes(python: PreloadedPython, raw: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """`accelerate launch` of the trainer on the config `raw` in two CPU processes (gloo), output captured: the
    launcher a fork of `python` (its imports made), the processes it starts fresh interpreters, as they are."""
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(raw))
    cmd = ["launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    cmd += ["--main_process_port", "0"]  # any free port: another test may be launching beside this one
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "swinir_hf.train", "--config", str(config)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return python.run(ACCELERATE_MAIN, cmd, Path.cwd(), env, exit=True, timeout=120)  # in the test's folder, as before


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None, reason="no accelerate")
def test_two_cpu_processes_checkpoint_share_the_validation_and_resume_on_one(
    trainer_python, tiny_run, train_cli, images, tmp_path, caplog
):
    """One 2-process run (a launch is the slow part: both checks share it), checkpointed, then resumed on 1 process
    (a smaller machine): the samples are a function of the step, not of the process count, so it goes on. Each
    process scores its share of the validation images (0 and 2 on one, 1 and the broken 3 on the other, which has
    one readable image left); the recorded PSNRs and the baseline are those of the whole set in one process."""
    from swinir_hf.training.data import build_validation
    from swinir_hf.training.validation import baseline_psnrs, mean_psnr, validation_psnrs

    val = tmp_path / "val"
    val.mkdir()
    for i in range(3):  # mirrored: a byte copy of a training image is refused as a validation image
        Image.open(images / f"{i}.png").transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(val / f"{i}.png")
    (val / "3.png").write_bytes(b"not a PNG")
    out = tmp_path / "ddp"
    # The main process's clock decides a timed checkpoint for both (here after every step).
    train = {"max_steps": 2, "ema_decay": 0.5, "checkpoint_minutes": 1e-9, "validate_every": 1}
    raw = tiny_run(images, out, data={"val": str(val), "val_max_images": 4}, train=train)
    done = launch_two_processes(trainer_python, raw, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "on 2 processes" in done.stdout + done.stderr
    assert done.stderr.count("warning: skipping unreadable validation image 3.png") == 1, done.stderr[-3000:]
    model = SwinIRForImageRestoration.from_pretrained(out)
    assert model.config.upscale == 2
    for step in (1, 2):
        assert sorted(p.name for p in (out / f"checkpoints/step-{step:08d}").glob("random_states_*")) == [
            "random_states_0.pkl",
            "random_states_1.pkl",
        ]
    recorded = summary(out)
    assert [h["step"] for h in recorded["history"]] == [0, 1, 2]
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        whole = build_validation(TrainingConfig.from_dict(raw), model.config)
    assert [m.split(":")[0] for m in caplog.messages] == ["skipping unreadable validation image 3.png"]
    assert [im.name for im in whole] == ["0.png", "1.png", "2.png"]
    assert recorded["history"][-1]["psnr"] == pytest.approx(mean_psnr(validation_psnrs(model, whole)), abs=1e-4)
    assert recorded["baseline_psnr"] == pytest.approx(mean_psnr(baseline_psnrs(whole, model.config)), abs=1e-9)
    raw["train"]["max_steps"] = 3
    assert train_cli(raw, "--resume", "latest") == 0
    assert [(c["processes"], c["start_step"], c["end_step"]) for c in summary(out)["compute"]] == [(2, 0, 2), (1, 2, 3)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None, reason="no accelerate")
@pytest.mark.parametrize("fault", ["data.val", "train.output_dir"])
def test_accelerate_launch_a_main_process_failure_is_one_line(fault, trainer_python, tiny_run, images, tmp_path):
    """Only the main process reads data.val and creates train.output_dir: its error must reach the other process,
    not leave it dying in the next collective with a communication traceback, and be printed once."""
    missing, taken = tmp_path / "no_val", tmp_path / "taken"
    taken.write_text("a file")
    # Under a file: the checks on every process see no folder there, and the main process's mkdir fails.
    out = taken / "ddp" if fault == "train.output_dir" else tmp_path / "ddp"
    raw = tiny_run(images, out, data={"val": str(missing)} if fault == "data.val" else {})
    message = {
        "data.val": f"error: data.val: no such dataset folder: {missing}",
        "train.output_dir": f"error: output folder {out} is not a folder ({taken} is a file): choose another train.",
    }[fault]
    done = launch_two_processes(trainer_python, raw, tmp_path)
    assert done.returncode != 0
    assert done.stderr.count(message) == 1 and done.stderr.count("error:") == 1, done.stderr[-3000:]
    assert "[rank1]" not in done.stderr and "Connection" not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "ddp").exists()


def test_training_card_metadata(tiny_config, tiny_run, images, tmp_path):
    """The trainer's card: training data, tags, measured figures and, for Hub starting weights only, `base_model`."""
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out"))
    model = SwinIRForImageRestoration(tiny_config(task="lightweight_sr"))
    progress = Progress(step=4, history=[{"step": 4, "psnr": 30.5, "metric": "psnr_y"}])
    measured = {"Set5": {"psnr": 33.123456, "ssim": 0.91}}
    starts = {
        None: None,
        "swinir-lightweight-sr-x2": find_release("swinir-lightweight-sr-x2").repo_id(),  # catalogue name → Hub id
        "someone/swinir-base": "someone/swinir-base",
        "sr-x2": None,  # bundled with the package
        str(tmp_path): None,  # a local folder
    }
    for source, base_model in starts.items():
        init = None if source is None else InitReport(source, ["conv_first.weight"], [], [])
        card = ModelCard(training_card(cfg, model, progress, 29.0, init, "me/tiny", measured_results=measured))
        assert card.data.base_model == base_model, source
    tags = ["swinir", "image-restoration", "super-resolution", "lightweight", "arxiv:2108.10257", "swinir-hf-trained"]
    assert card.data.tags == tags
    assert (card.data.datasets, card.data.model_name) == (None, "tiny")  # a local folder is no Hub dataset
    cfg.data.train = [str(images), "org/photos", f"imagefolder:{images}"]
    hub = ModelCard(training_card(cfg, model, progress, 29.0, None, "me/tiny"))
    assert hub.data.datasets == ["org/photos"]
    # the validation set as scored (data.val_max_images 2) and the patches the run trained on (data.patch_size 8,
    # not the config's image_size 16)
    # local folders by their last two parts (the card may be pushed), not the machine's whole path
    shown = f"…/{images.parent.name}/{images.name}"
    val = f"…/{images.parent.name}/{images.name}-val"  # conftest's validation_copy
    assert f"Validation on {val} (its first 2 images) during training (PSNR in dB, Y channel" in hub.text
    assert f"- data: {shown}, org/photos, imagefolder:{shown}\n" in hub.text and str(images) not in hub.text
    cfg.data.val_max_images = 1
    assert f"Validation on {val} (its first image) during" in training_card(cfg, model, progress, 29.0, None, "x")
    assert f"Trained on {images.name}, photos, {images.name} with 8×8 training patches." in hub.text
    assert card.data.pipeline_tag == "image-to-image"
    assert "(1 tensors loaded, 0 re-initialised, 0 dropped)" in card.text  # the last start: a local folder
    fitted = InitReport("sr-x4", ["a", "b", "c"], ["conv_last.weight"], [], fitted=["b"])
    assert (
        "- initialised from `sr-x4` (3 tensors loaded, 1 of them fitted to this window size, 1 re-initialised, 0 "
        in (training_card(cfg, model, progress, 29.0, fitted, "x"))
    )
    results = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results == {("Set5", "psnr"): 33.1235, ("Set5", "ssim"): 0.91}
    assert "| step 4 | 30.50 |" in card.text and "import swinir_hf" in card.text
    assert "input: a bicubic-downscaled image;" in card.text  # lightweight SR takes what classical SR takes


def test_ema_warm_up_forgets_the_initial_weights():
    from swinir_hf.training.state import EMA

    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for step in range(100):
        ema.update(model, step)
    # Plain 0.999 decay would keep 0.999**100 ≈ 90 % of the initial weights; the warm-up keeps ∏ d_t < 1 %.
    assert torch.allclose(ema.model.weight, torch.ones(2, 2), atol=0.01)
    late = EMA(model, decay=0.999)
    with torch.no_grad():
        model.weight.fill_(2.0)
    late.update(model, 10_000)  # past the warm-up, the configured decay applies
    assert torch.allclose(late.model.weight, torch.full((2, 2), 1.001), atol=1e-6)
    with pytest.raises(ValueError, match="^EMA of 2 tensors updated from a model of 1$"):
        late.update(torch.nn.Linear(2, 2, bias=False), 1)


def test_resumed_schedule_follows_the_current_config():
    """A checkpoint restores the schedule it was saved with; resuming with another max_steps / learning_rate must
    give the schedule a fresh run of the current config has from that step on (not the old milestones)."""
    from swinir_hf.training.schedule import WarmupMultiStepLR
    from swinir_hf.training.state import set_schedule

    def schedule(lr: float, milestones: list[int]) -> WarmupMultiStepLR:
        optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        return WarmupMultiStepLR(optimizer, milestones, 0.5, warmup_steps=0)

    def run(scheduler, steps: int) -> list[float]:
        lrs = []
        for _ in range(steps):
            scheduler.optimizer.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr()[0])
        return lrs

    old = schedule(2e-4, [10, 20])  # as saved: 2,000-step milestones, say
    run(old, 15)
    args = TrainArgs(learning_rate=1e-3, lr_gamma=0.5, max_steps=40)
    assert set_schedule(old, [5, 30], args, step=15)
    fresh = schedule(1e-3, [5, 30])
    expected = run(fresh, 40)[15:]
    assert old.get_last_lr()[0] == pytest.approx(5e-4)
    assert run(old, 25) == pytest.approx(expected)
    assert not set_schedule(fresh, [5, 30], args, step=40)  # unchanged config: nothing to change
    assert fresh.get_last_lr()[0] == pytest.approx(2.5e-4)


@pytest.mark.slow
def test_resuming_after_a_kill_leaves_one_tensorboard_point_per_step(tiny_run, train_cli, images, tmp_path):
    """A run killed after its step-2 checkpoint had logged steps 3-4 too; resumed from step 2, TensorBoard drops
    those (purge_step) instead of drawing steps 3-4 twice."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # the train extra's

    out = tmp_path / "run"
    raw = tiny_run(images, out, train={"checkpoint_every": 2, "report_to": "tensorboard"})
    assert train_cli(raw) == 0
    shutil.rmtree(out / "checkpoints/step-00000004")  # killed before this save: the latest checkpoint is step 2
    assert train_cli(raw, "--resume", "latest") == 0
    folder = out / "logs" / TrainArgs().project_name  # the scalars (hparams go to sub-folders)
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2  # one TensorBoard run, written in two sittings
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("fields", "name", "border", "description"),
    [
        ({"upscale": 2}, "psnr_y", 2, "Y channel, border 2"),  # colour SR: on Y, border = scale
        ({"upscale": 1, "upsampler": None}, "psnr_rgb", 0, "RGB, border 0"),  # colour denoising / JPEG
        ({"upscale": 1, "upsampler": None, "num_channels": 1}, "psnr_grey", 0, "grey channel, border 0"),
        ({"upscale": 3, "num_channels": 1}, "psnr_grey", 3, "grey channel, border 3"),
    ],
)
def test_validation_follows_the_papers_protocol_per_task(tiny_config, fields, name, border, description):
    """Validation scores colour SR on Y with border = scale, and colour ×1 models (denoising, JPEG) on RGB with no
    border, as the paper's tables; the recorded metric says which, and the figures are `swinir-hf eval`'s: its
    restoration (the authors' padding, not the model's own, on an input whose sides are not multiples of the window)."""
    from swinir_hf.degradations.setting import Degradation
    from swinir_hf.evaluation.benchmark import _restored, baseline, score
    from swinir_hf.inference.options import PAPER_ENGINE
    from swinir_hf.training.data import ValidationImage
    from swinir_hf.training.validation import baseline_psnrs, validation_metric, validation_psnrs

    model = SwinIRForImageRestoration(tiny_config(**fields)).eval()
    c, s = model.config.num_channels, model.config.upscale
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (24, 18, c), dtype=np.uint8)
    lq = rng.integers(0, 256, (24 // s, 18 // s, c), dtype=np.uint8)
    lr = lq.astype(np.float32) / 255
    metric = validation_metric(model.config)
    assert (metric.name, metric.border, str(metric)) == (name, border, description)
    restored = _restored(PAPER_ENGINE.restorer(model), lq)  # as `swinir-hf eval` runs the model
    setting = Degradation("bicubic", s) if s > 1 else Degradation("noise")
    key = "psnr_y" if name == "psnr_y" else "psnr"  # the benchmark's column for this metric
    images = [ValidationImage("a", lr, hr)]
    assert validation_psnrs(model, images) == [pytest.approx(score(restored, hr, setting)[key], abs=1e-9)]
    trivial = score(baseline(lq, setting), hr, setting)[key]  # bicubic upscaling, or the input itself
    assert baseline_psnrs(images, model.config) == [pytest.approx(trivial, abs=1e-6)]


def test_a_colour_denoising_run_records_rgb_validation(tiny_run, train_cli, images, tmp_path):
    """A ×1 colour run's history, summary and card name the metric: PSNR on RGB, border 0."""
    out = tmp_path / "dn"
    raw = tiny_run(images, out, data={"degradation": "noise", "val_max_images": 1}, train={"max_steps": 1})
    raw["model"] = {"preset": "color_dn", "config": raw["model"]["config"]}
    assert train_cli(raw) == 0
    s = summary(out)
    assert [(h["step"], h["metric"]) for h in s["history"]] == [(1, "psnr_rgb")]
    assert "(PSNR in dB, RGB, border 0)" in (out / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    "entry",
    [
        "import runpy; runpy.run_module('swinir_hf.train', run_name='__main__')",  # python -m swinir_hf.train
        "from swinir_hf.cli import main; sys.argv.insert(1, 'train'); sys.exit(main())",  # swinir-hf train
    ],
)
def test_a_stop_while_a_finished_run_exits_does_not_fail_it(entry, trainer_python, tiny_run, images, tmp_path):
    """SIGTERM (a scheduler, the GPU lease's budget) arriving after the final model is saved, during the seconds the
    interpreter takes to exit, leaves the finished run's exit status 0, not 'killed by SIGTERM'."""
    raw = tiny_run(images, tmp_path / "out", train={"max_steps": 1})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    script = (
        "import atexit, os, signal, sys, time\n"
        f"sys.argv = ['train', '--config', {str(config)!r}]\n"
        # atexit runs as the interpreter shuts down: the signal lands in the teardown, deterministically
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.5)))\n"
        f"{entry}\n"
    )
    done = trainer_python.run(script, exit=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "model.safetensors").is_file()


@pytest.mark.slow
def test_an_unexpected_error_with_data_workers_exits(trainer_python, tiny_run, images, tmp_path):
    """An error the trainer does not expect (here in a step), with DataLoader workers, printed its traceback and then
    hung for ever: the traceback kept the workers, and the interpreter's exit waited for them."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_run(images, tmp_path / "out", data={"num_workers": 1})))
    script = (
        "import runpy, sys\n"
        "from swinir_hf.training import loop\n"
        "def broken(run, batches, step):\n"
        "    raise RuntimeError('a step failed')\n"
        "loop.train_step = broken\n"
        f"sys.argv = ['train', '--config', {str(config)!r}, '--no-progress']\n"
        "runpy.run_module('swinir_hf.train', run_name='__main__')\n"
    )
    done = trainer_python.run(script, exit=True)  # hung: its 300 s are a TimeoutError
    assert done.returncode == 1 and done.stderr.endswith("RuntimeError: a step failed\n"), done.stderr[-2000:]


def _spawned_workers(pid: int) -> list[int]:
    """The DataLoader workers `pid` has spawned (its children but multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            workers.append(int(child))
    return workers


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_ctrl_c_while_spawned_workers_start_stops_after_a_step_with_a_checkpoint(
    trainer_python, tiny_run, images, tmp_path
):
    """macOS and Windows start DataLoader workers with `spawn`: each boots a fresh interpreter for seconds before it
    ignores Ctrl-C, and a Ctrl-C then (the terminal's, to every process of the run) killed it, and the run with it:
    'DataLoader worker exited unexpectedly', status 1, no checkpoint. One worker: each is started alike, and a second
    one's boot cost the test seconds of CPU."""
    out = tmp_path / "out"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_run(images, out, train={"max_steps": 10_000}, data={"num_workers": 1})))
    script = (
        "import multiprocessing, runpy, signal, sys\n"
        "multiprocessing.set_start_method('spawn', force=True)\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal, however pytest was started
        f"sys.argv = ['train', '--config', {str(config)!r}]\n"
        "runpy.run_module('swinir_hf.train', run_name='__main__')\n"
    )
    # The run: a fork of a Python that imported the trainer, ending as an interpreter does; its workers as they are.
    stderr = tmp_path / "stderr"
    run = trainer_python.start(script, [], tmp_path / "status", Path(os.devnull), stderr, exit=True)
    try:
        deadline = time.monotonic() + 240
        while not _spawned_workers(run.pid):
            assert run.poll() is None and time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.02)
        time.sleep(0.3)  # booting
        os.killpg(run.pid, signal.SIGINT)  # the terminal's Ctrl-C
        run.wait(timeout=240)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    log = stderr.read_text()
    assert run.returncode == 130 and "Traceback" not in log, log[-3000:]
    assert "interrupted: SIGINT: stopped after step " in log
    assert list((out / "checkpoints").iterdir())


def test_bad_validation_and_lr_folders_are_refused_naming_their_field(tiny_run, train_cli, images, tmp_path, capsys):
    """A validation folder of undecodable files, or an empty LR folder, is a one-line error naming the config field,
    before the run writes anything."""
    broken, empty = tmp_path / "broken", tmp_path / "empty"
    broken.mkdir()
    empty.mkdir()
    (broken / "a.png").write_text("not an image")
    out = tmp_path / "run"
    suffixes = ".bmp, .heic, .heif, .jpeg, .jpg, .pgm, .png, .ppm, .tif, .tiff, .webp"
    cases = [
        (
            {"val": str(broken)},
            f"error: data.val: none of its 1 images can be decoded (e.g. a.png: cannot identify image file "
            f"'{broken / 'a.png'}')\n",
        ),
        (
            {"degradation": "paired", "train_lr": [str(empty)]},
            f"error: data.train_lr: no images ({suffixes}) under {empty}\n",
        ),
        ({"val_lr": str(empty)}, f"error: data.val_lr: no images ({suffixes}) under {empty}\n"),
    ]
    for data, message in cases:
        assert train_cli(tiny_run(images, out, data=data)) == 1
        assert capsys.readouterr().err == message
        assert not out.exists()


def test_a_partial_save_left_by_a_kill_is_ignored_and_cleared(tiny_run, train_cli, images, tmp_path):
    """A checkpoint whose save was killed (`step-N.tmp`, at a step the resumed run does not save again) is never
    resumed from, and the next save deletes it instead of leaving a checkpoint's worth of disk behind."""
    out = tmp_path / "run"
    raw = tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})
    assert train_cli(raw) == 0
    partial = out / "checkpoints" / "step-00000003.tmp"
    partial.mkdir()
    (partial / "optimizer.bin").write_bytes(b"\0" * 10)  # killed while accelerate wrote it
    raw["train"].update(max_steps=4)
    assert train_cli(raw, "--resume", "latest") == 0
    assert summary(out)["losses"][0]["step"] == 1 and summary(out)["step"] == 4
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002", "step-00000004"]


def test_ctrl_c_forwarded_by_the_launcher_is_not_a_second_ctrl_c(monkeypatch):
    """Under `accelerate launch` / torchrun, a Ctrl-C reaches each process twice within milliseconds (from the
    terminal, then forwarded by the launcher): that copy must not be taken for the second Ctrl-C ("stop now", without
    a checkpoint). A later Ctrl-C still stops at once; without a launcher, the second one always does."""
    from swinir_hf.training.signals import StopSignals

    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    stop = StopSignals(announce=False)
    stop._handle(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")  # set by torchrun's agent in every process it starts
    stop = StopSignals(announce=False)
    stop._handle(signal.SIGINT, None)
    stop._handle(signal.SIGINT, None)  # the launcher's copy: still stopping after the step, with a checkpoint
    assert stop.signal == signal.SIGINT
    monkeypatch.setattr("swinir_hf.training.signals.time.monotonic", lambda: float("inf"))  # a person's second press
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)


def test_the_sigterm_a_launcher_sends_after_a_ctrl_c_keeps_the_ctrl_c(caplog):
    """`accelerate launch`'s one-process launcher (accelerate 1.16) answers a Ctrl-C by sending its process a SIGTERM,
    which already got the SIGINT from the terminal: the run said `SIGTERM: stopping ...` a second time and ended
    `interrupted: SIGTERM: stopped after step N`, naming a signal nobody sent by hand. The first stop is the one."""
    from swinir_hf.training.signals import StopSignals

    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        stop = StopSignals()
        stop._handle(signal.SIGINT, None)
        stop._handle(signal.SIGTERM, None)  # the launcher's, still stopping after the step with a checkpoint
    assert stop.signal == signal.SIGINT
    assert [r.getMessage() for r in caplog.records] == [
        "SIGINT: stopping after this step with a checkpoint (Ctrl-C again: now)"
    ]


def test_a_batch_that_does_not_split_is_refused_first_naming_the_fields(tiny_run, train_cli, tmp_path, capsys):
    """`train.batch_size` not divisible by accumulation × processes is said before the model or any data is read
    (a large data.train takes minutes to list), in the config's field names, with the sizes that would split, and
    the accumulations that would split the size as it is: a resume, which keeps it (it draws the samples), on more
    processes (a run of 1 process accumulating 4 steps of 4 samples, resumed on 2) was told only "use 8", which it
    then refuses."""
    from swinir_hf.training.sampler import check_batch_split

    out, empty = tmp_path / "run", tmp_path / "empty"  # there (a missing one is refused first), but never listed
    empty.mkdir()
    raw = tiny_run(empty, out, data={"val": None}, train={"batch_size": 6, "gradient_accumulation_steps": 4})
    assert train_cli(raw) == 1
    assert capsys.readouterr().err == (
        "error: train.batch_size 6 must be divisible by train.gradient_accumulation_steps × processes = 4 × 1: "
        "use 4 or 8, or keep it (as a resumed run must) with train.gradient_accumulation_steps 1, 2, 3 or 6\n"
    )
    assert not out.exists()
    with pytest.raises(ValueError, match=r"= 4 × 2: use 8, or keep it \(as a resumed run must\) with train\.grad"):
        check_batch_split(4, 4, 2)
    with pytest.raises(ValueError, match=r"= 1 × 4: use 4 or 8, or keep it .* with a process count that divides 6$"):
        check_batch_split(6, 1, 4)
    started = time.perf_counter()  # the accumulations are found from the divisors: a loop to 10⁸ took 7 s
    with pytest.raises(ValueError, match=r"with train\.gradient_accumulation_steps 1, 17, 5882353 or 100000001$"):
        check_batch_split(10**8 + 1, 2, 1)
    assert time.perf_counter() - started < 1
    with pytest.raises(
        ValueError, match=r"accumulation_steps 1, 2, 3, 4, 5, 6, \.\.\. \(192 in all: the divisors of 360360\)$"
    ):
        check_batch_split(720720, 17, 2)


@pytest.mark.parametrize(
    ("variable", "engine"),
    [
        ("ACCELERATE_USE_FSDP", "FSDP"),
        ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed"),
        ("ACCELERATE_USE_MEGATRON_LM", "Megatron-LM"),
    ],
)
def test_a_sharding_engine_is_refused_before_anything_is_written(
    variable, engine, monkeypatch, tiny_run, train_cli, images, tmp_path, capsys
):
    """`accelerate launch --use_fsdp` (or DeepSpeed, Megatron-LM) would shard the weights that the EMA copy,
    validation and model folders read whole: one line naming the alternative, not a crash hours in."""
    monkeypatch.setenv(variable, "true")  # what accelerate's launcher sets for --use_fsdp / ...
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {engine} is not supported: the trainer keeps whole weights on every process")
    assert err.endswith("launch with --multi_gpu, without FSDP / DeepSpeed in your accelerate config\n")
    assert not out.exists()


def test_a_lost_peer_is_one_line_from_the_process_that_noticed(monkeypatch, capsys):
    """Another process of a launch killed (out of memory, kill -9): the survivor's collective fails in gloo /
    NCCL, which printed 27 lines of `[rank0]:` traceback beside the launcher's one line naming the dead process."""
    import swinir_hf.training.cli as cli
    from swinir_hf.training.loop import RUN_ERROR

    gloo = "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:3724: "
    errors = [  # as DDP's backward hook raises it (a plain RuntimeError), and as a collective does
        RuntimeError(
            f"{gloo}Connection reset by peer. This is typically caused by a remote worker hanging or bugs in "
            "the application. Check the logs of the remote worker before reporting an error. GLHF! 🏖️"
        ),
        torch.distributed.DistBackendError(f"{gloo}Connection reset by peer\nException raised from recvFromRank at x"),
    ]

    def lose_peer(*args, **kwargs):
        err = errors.pop(0)
        setattr(err, RUN_ERROR, 0)
        raise err

    # A checkpoint save whose collective failed as the other process could not write (a full disk): taken for this
    # process's own write failure ("cannot write ...: No space left on device (RuntimeError: gloo's ...)").
    from swinir_hf.storage.atomic_writes import WriteError

    saving = WriteError("run/checkpoints/step-6", "No space left on device")
    saving.__cause__ = RuntimeError(f"{gloo}Connection reset by peer. This is typically caused by a remote worker")
    errors.append(saving)
    monkeypatch.setattr(cli, "run_training", lose_peer)
    monkeypatch.setattr(cli, "launched_processes", lambda: 2)
    for _ in range(3):
        assert cli.main(["--config", "tiny_sr_x2", "--train.output_dir", "unused"]) == 1
        assert capsys.readouterr().err == (  # gloo's source path left out
            "error: process 0: lost contact with the other processes (Read error [127.0.0.1]:3724: Connection reset "
            "by peer)\n"
        )
    errors.append(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))  # a bug stays a traceback
    with pytest.raises(RuntimeError, match="mat1"):
        cli.main(["--config", "tiny_sr_x2", "--train.output_dir", "unused"])


def test_a_trained_models_card_states_the_license_chosen_or_says_whose_default_it_is(
    tiny_config, tiny_run, images, tmp_path
):
    """A run's card does not claim a license on its trainer's behalf: `--license` (train.license, which a resume may
    change) is stated as chosen; without one the card says apache-2.0 is swinir-hf's default and how to change it.
    Training data with terms of its own (DIV2K: research only) is named in the text."""
    from swinir_hf.checkpoints.card_metadata import LICENSE_DEFAULT_NOTE

    chosen, _ = parse_command_line(["--config", "tiny_sr_x2", "--license", "cc-by-nc-4.0"])
    assert chosen.train.license == "cc-by-nc-4.0"
    with pytest.raises(ValueError, match=r"^--license mit and --train.license cc0-1.0 disagree: give one of them$"):
        parse_command_line(["--config", "tiny_sr_x2", "--license", "mit", "--train.license", "cc0-1.0"])
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out"))
    assert cfg.train.license is None
    cfg.data.train = [str(tmp_path / "DIV2K_train_HR"), str(images)]
    model = SwinIRForImageRestoration(tiny_config(task="lightweight_sr"))
    default = ModelCard(training_card(cfg, model, Progress(step=4), None, None, "me/tiny"))
    assert default.data.license == "apache-2.0" and f"## License\n\n{LICENSE_DEFAULT_NOTE}\n\n" in default.text
    assert "Training data: DIV2K is released for academic research only" in default.text
    relicensed = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, license="cc-by-nc-4.0"))
    assert recipe_changes(cfg, relicensed) == []  # a resume may change it: the weights are the same
    card = ModelCard(training_card(relicensed, model, Progress(step=4), None, None, "me/tiny"))
    assert card.data.license == "cc-by-nc-4.0"
    assert "`cc-by-nc-4.0`, as the publisher of these weights chose it." in card.text
    assert LICENSE_DEFAULT_NOTE not in card.text and "DIV2K is released for academic research only" in card.text


def test_a_run_on_the_paper_configs_bsd500_folder_names_the_bsds500_terms(tiny_run, train_cli, images, tmp_path):
    """The denoising and JPEG paper configs train on `datasets/BSD500` (BSDS500's images): the card names BSDS500's
    terms for it, as for a `BSDS500_train` folder (it named DIV2K's alone)."""
    bsd500 = tmp_path / "datasets" / "BSD500"
    shutil.copytree(images, bsd500)
    raw = tiny_run(bsd500, tmp_path / "run", train={"max_steps": 1})
    assert train_cli(raw, "--no-progress", "-q") == 0
    license_text = (tmp_path / "run" / "README.md").read_text().split("## License")[1]
    assert "Training data: BSDS500 (the Berkeley Segmentation Dataset, Corel photographs) is released for " in (
        license_text
    )


def test_train_license_must_be_a_hub_license_id(tiny_run, images, tmp_path):
    """`--license` / `train.license` is refused at parsing, before any work, unless the Hub knows it (any case, kept
    lower-case as the Hub's ids are): the message names close ids."""
    with pytest.raises(
        ValueError, match=r"^train\.license: 'Apache' is not a Hub license id \(did you mean apache-2\.0"
    ):
        parse_command_line(["--config", "tiny_sr_x2", "--license", "Apache"])
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", "--license", "CC-BY-NC-4.0"])
    assert cfg.train.license == "cc-by-nc-4.0"
    with pytest.raises(ValueError, match=r"^train\.license: 'my terms' is not a Hub license id: see https"):
        TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", train={"license": "my terms"}))


def test_train_license_is_looked_up_once(tiny_run, images, tmp_path, monkeypatch):
    # `_check_license` looked the id up itself, then `license_terms` looked the id it returned up again.
    from swinir_hf.checkpoints import hub_licenses
    from swinir_hf.training import config

    looked_up = []

    def counted(license: str) -> str:
        looked_up.append(license)
        return lookup(license)

    lookup = hub_licenses.hub_license
    monkeypatch.setattr(hub_licenses, "hub_license", counted)
    monkeypatch.setattr(config, "hub_license", counted, raising=False)  # as config.py imported it
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", train={"license": "MIT"}))
    assert (cfg.train.license, looked_up) == ("mit", ["MIT"])


def test_train_license_other_names_its_terms_on_the_card(tiny_config, tiny_run, images, tmp_path):
    """`--license other` takes `--license-name` / `--license-link` (train.license_name / license_link), which the card
    writes beside it as the Hub asks of `other`; either without `other`, or `other` without both, is refused at
    parsing, in the config's own names."""
    terms = ["--license", "other", "--license-name", "My-Terms", "--license-link", "LICENSE"]
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", *terms])
    assert (cfg.train.license, cfg.train.license_name, cfg.train.license_link) == ("other", "my-terms", "LICENSE")
    model = SwinIRForImageRestoration(tiny_config(task="lightweight_sr"))
    data = ModelCard(training_card(cfg, model, Progress(step=4), None, None, "me/tiny")).data
    assert (data.license, data.license_name, data.license_link) == ("other", "my-terms", "LICENSE")
    with pytest.raises(
        ValueError, match=r"^train\.license_name names terms of your own, for train\.license other only"
    ):
        parse_command_line(["--config", "tiny_sr_x2", "--license-name", "my-terms"])
    with pytest.raises(ValueError, match=r"^train\.license other needs train\.license_name, the id the Hub shows"):
        TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", train={"license": "other"}))


def test_a_resume_relicensed_from_other_drops_the_terms_it_named(tiny_run, train_cli, images, tmp_path, capsys):
    """`--resume latest --license mit` on a run of `license: other` was refused: its training_config.yaml's
    license_name / license_link "for train.license other only", with no word of how to clear them. A command line
    changing the license from other drops them (a change the run's record notes); its own name, or a config file's
    with another license, is refused as before."""
    out, terms = tmp_path / "run", {"license": "other", "license_name": "my-terms", "license_link": "LICENSE"}
    assert train_cli(tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": 2, **terms})) == 0
    own = ["--config", str(out / "training_config.yaml"), "--resume", "latest", "--train.max_steps", "4"]
    assert main([*own, "--license", "MIT"]) == 0
    card = ModelCard.load(out / "README.md").data
    assert (card.license, card.license_name, card.license_link) == ("mit", None, None)
    changed = ["train.max_steps: 2 → 4", "train.license: 'other' → 'mit'", "train.license_name: 'my-terms' → None"]
    assert summary(out)["changes"] == [{"step": 2, "changed": [*changed, "train.license_link: 'LICENSE' → None"]}]
    capsys.readouterr()
    assert main([*own[:2], "--train.license", "cc0-1.0", "--license-name", "x", "--print-config"]) == 2
    assert capsys.readouterr().err == (
        "error: train.license_name names terms of your own, for train.license other only (train.license is cc0-1.0)\n"
    )
    with pytest.raises(ValueError, match=r"^train\.license_name names terms of your own, .*\(train\.license is mit\)$"):
        parse_command_line(["--config", str(tiny_train_config(tmp_path, {"license": "mit", "license_name": "x"}))])


def tiny_train_config(tmp_path: Path, train: dict) -> Path:
    """tiny_sr_x2 with `train` set, as a file of one's own."""
    raw = read_config_file("tiny_sr_x2")
    raw["train"].update(train)
    (path := tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
    return path


def test_scores_of_another_metric_before_a_resume_are_marked_on_the_card(tiny_config, tiny_run, images, tmp_path):
    """A run resumed from an earlier swinir-hf's checkpoint (colour ×1 validated on Y, no `metric` recorded) kept its
    scores under the new metric's heading: a 5 dB "drop" at the resume."""
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", data={"degradation": "noise"}))
    model = SwinIRForImageRestoration(tiny_config(task="color_dn", upscale=1, upsampler=""))
    history = [{"step": 2, "psnr": 18.95}, {"step": 4, "psnr": 14.5, "metric": "psnr_y"}]
    history.append({"step": 6, "psnr": 15.01, "metric": "psnr_rgb"})
    card = training_card(cfg, model, Progress(step=6, history=history), 12.0, None, "x")
    table = card[card.index("Validation on") :]
    assert "(PSNR in dB, RGB, border 0):" in table
    assert "| step 2 | 18.95 † |\n| step 4 | 14.50 † |\n| step 6 | 15.01 |\n\n" in table
    assert "† scored with another metric (not recorded, by an earlier swinir-hf, psnr_y): not comparable" in table
    plain = training_card(cfg, model, Progress(step=6, history=history[2:]), 12.0, None, "x")
    assert "| step 6 | 15.01 |\n" in plain and "†" not in plain
    # A resume with other validation images (data.val or val_max_images changed) drew one curve of two sets under
    # the new set's name: a fall of 3 dB that was another set's scores.
    from swinir_hf.training.validation import validation_set

    now = validation_set(cfg.data)
    assert now == f"{os.path.realpath(cfg.data.val)}, split validation, first 2"  # where it is, not as written
    other = [{"step": 2, "psnr": 26.27, "metric": "psnr_rgb", "set": "/data/Set5/HR, split validation, first 2"}]
    sets = other + [{"step": 6, "psnr": 23.42, "metric": "psnr_rgb", "set": now}, {"step": 8, "psnr": 23.5}]
    table = training_card(cfg, model, Progress(step=8, history=sets), 12.0, None, "x")
    assert "| step 2 | 26.27 ‡ |\n| step 6 | 23.42 |\n| step 8 | 23.50 † |\n\n" in table
    assert (
        "‡ scored on other validation images (another data.val, split, LR folder, level or number of images): " in table
    )
    assert "/data/Set5" not in table and os.path.realpath(cfg.data.val) not in table  # no machine's paths
    cfg.data.val = None  # validation turned off at a resume: the curve as it was, none of it "other"
    assert "‡" not in training_card(cfg, model, Progress(step=8, history=sets), 12.0, None, "x")


def test_a_run_resumed_without_validation_keeps_its_curve_on_the_card(tiny_run, train_cli, images, tmp_path):
    """`data.val=null` on resuming a run that validated (to go faster, or the set is gone): the run finishes, and its
    card keeps the validation curve so far, saying validation was turned off."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2})) == 0
    raw = tiny_run(images, out, train={"max_steps": 4})
    raw["data"]["val"] = None
    assert train_cli(raw, "--resume", "latest") == 0
    card = (out / "README.md").read_text()
    assert "Validation during training, until it was turned off at a resume (PSNR in dB" in card
    assert "| step 2 |" in card and "| step 4 |" not in card


def test_a_schedule_resumed_exactly_at_a_milestone_is_already_decayed_there():
    """After `milestone` optimizer steps a fresh MultiStepLR has applied that milestone's decay: a resume at that
    very step with a changed config gets the decayed rate, as the fresh run of the current config has."""
    from swinir_hf.training.schedule import WarmupMultiStepLR
    from swinir_hf.training.state import set_schedule

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    old = WarmupMultiStepLR(optimizer, [20], 0.5, warmup_steps=0)
    fresh_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    fresh = WarmupMultiStepLR(fresh_optimizer, [10, 30], 0.5, warmup_steps=0)
    for scheduler in (old, fresh):
        for _ in range(10):
            scheduler.optimizer.step()
            scheduler.step()
    assert fresh.get_last_lr()[0] == pytest.approx(5e-4)
    assert set_schedule(old, [10, 30], TrainArgs(learning_rate=1e-3, lr_gamma=0.5, max_steps=40), step=10)
    assert old.get_last_lr()[0] == pytest.approx(5e-4) and optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_only_the_newest_keep_checkpoints_checkpoints_are_kept(tiny_run, train_cli, images, tmp_path):
    """A checkpoint after each of 3 steps with keep_checkpoints 2 leaves exactly the last two."""
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 3, "checkpoint_every": 1, "keep_checkpoints": 2})) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002", "step-00000003"]
    # Every file follows the umask, as the progress file does: accelerate's weights came out 0600 (safetensors').
    saved = out / "checkpoints" / "step-00000003"
    modes = {p.relative_to(saved).as_posix(): p.stat().st_mode & 0o777 for p in saved.rglob("*") if p.is_file()}
    assert "model.safetensors" in modes and set(modes.values()) == {modes["progress.json"]}, modes


def test_a_mixed_precision_run_validates_in_float32_as_eval(tiny_run, train_cli, images, tmp_path):
    """A bf16 run trains under autocast, but its recorded validation PSNR is the float32 one that its saved model
    gets (as `swinir-hf eval` runs it), also without an EMA copy (the trained model itself is validated)."""
    from swinir_hf.training.data import build_validation
    from swinir_hf.training.validation import mean_psnr, validation_psnrs

    out = tmp_path / "bf16"
    train = {"max_steps": 1, "mixed_precision": "bf16", "ema_decay": 0.0}
    raw = tiny_run(images, out, train=train)
    assert train_cli(raw) == 0
    model = SwinIRForImageRestoration.from_pretrained(out)
    expected = mean_psnr(validation_psnrs(model, build_validation(TrainingConfig.from_dict(raw), model.config)))
    assert summary(out)["history"][-1]["psnr"] == pytest.approx(expected, abs=1e-5)
