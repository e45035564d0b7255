"""Names from the user (files, folders, datasets, run folders) in the package's errors, warnings and notes: a newline
or tab in one is shown escaped (`console.shown_name`), so that a message stays one line and no name forges one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from swinir_hf.checkpoints.convert import CheckpointError
from swinir_hf.checkpoints.loading import load_model
from swinir_hf.degradations.setting import Degradation
from swinir_hf.image_datasets import load_image_dataset, missing_folder, split_folder
from swinir_hf.inference.files import IMAGE_SUFFIXES
from swinir_hf.training.checks import check_output_dir
from swinir_hf.training.cli import parse_command_line
from swinir_hf.training.config import bundled_configs, config_path
from swinir_hf.training.data import validation_images
from swinir_hf.training.gan import VGG19Features
from swinir_hf.training.images import check_readable, config_images, load_images
from swinir_hf.training.pairing import pair_lr_images
from swinir_hf.training.resume_checks import NEW_FOLDER, cannot_resume, unreadable_checkpoint
from swinir_hf.training.signals import TrainingInterrupted

NAME = "a\nrestored 3, failed 0\tb"  # as a file or folder name: a forged line, and a tab
SHOWN = "a\\nrestored 3, failed 0\\tb"


def _model_folder(tmp_path: Path, config: str | None) -> Path:
    folder = tmp_path / NAME
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "{dir}/{name}/model does not exist"),
        ("no config", "{dir}/{name} is a folder without config.json: not a save_pretrained folder"),
        ("not an object", "{dir}/{name}/config.json is not a model config (a JSON object): re-export the model"),
        (
            "no weights",
            "{dir}/{name} has a config.json but no weights (model.safetensors): copy the whole save_pretrained folder",
        ),
        ("revision", "{dir}/{name} is a local model: a revision is for a Hub model (org/name)"),
    ],
)
def test_loading_a_model_names_its_path_on_one_line(case, expected, tmp_path):
    config = {"missing": None, "no config": None, "not an object": "[]", "no weights": "{}", "revision": "{}"}[case]
    folder = tmp_path / NAME / "model" if case == "missing" else _model_folder(tmp_path, config)
    with pytest.raises(CheckpointError) as caught:
        load_model(folder, revision="main" if case == "revision" else None)
    assert str(caught.value) == expected.format(dir=tmp_path, name=SHOWN)


def test_loading_a_model_with_an_invalid_config_names_it_on_one_line(tmp_path):
    folder = _model_folder(tmp_path, "{")
    with pytest.raises(CheckpointError) as caught:
        load_model(folder)
    assert str(caught.value).startswith(f"{tmp_path}/{SHOWN}/config.json is not valid JSON (")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("imagefolder", "no such imagefolder directory: {dir}/{name}"),
        ("missing", "no such dataset folder: {dir}/{name}"),
        ("file", "{dir}/{name} is a file, not a dataset folder (imagefolder:DIR for a folder of images; a parquet"),
        ("splits", "{dir}/{name} is divided into splits (train, val) and has no 'test' split"),
        (
            "not saved",
            "{dir}/{name} is not a datasets save_to_disk folder (for a folder of images: imagefolder:{dir}/{name})",
        ),
    ],
)
def test_dataset_messages_name_the_folder_on_one_line(case, expected, tmp_path):
    path = tmp_path / NAME
    if case == "file":
        path.write_bytes(b"")
    elif case in ("splits", "not saved"):
        (path / "train").mkdir(parents=True)
        (path / "val").mkdir()
    expected = expected.format(dir=tmp_path, name=SHOWN)
    if case in ("splits", "not saved"):
        with pytest.raises((ValueError, FileNotFoundError)) as caught:
            split_folder(path, "test") if case == "splits" else load_image_dataset(str(path))
        said = str(caught.value)
    else:
        said = missing_folder(("imagefolder:" if case == "imagefolder" else "") + str(path))
    assert said.startswith(expected) if case == "file" else said == expected


def _raised(case: str, path: Path) -> str:
    """The message of the error the trainer's `case` raises about `path`."""
    calls = {
        "output_dir": lambda: check_output_dir(path, None, False),
        "config": lambda: config_path(str(path / "c.yaml")),
        "no images": lambda: config_images("data.train", str(path), "train", None),
        "undecodable": lambda: check_readable([str(path / f"{NAME}.png")], 3, "data.train"),
        "vgg weights": lambda: VGG19Features(("conv1_2",), weights=path),
        "pairing": lambda: pair_lr_images(load_images(str(path)), str(path.parent / "LR"), 2, "train", None),
    }
    with pytest.raises((OSError, ValueError, CheckpointError)) as caught:
        calls[case]()
    return str(caught.value)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("output_dir", "{dir}/{name} is not empty: pass --resume latest to continue it or --overwrite to reuse it"),
        ("config", "config {dir}/{name}/c.yaml not found; bundled configs: " + ", ".join(bundled_configs())),
        ("no images", f"data.train: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {{dir}}/{{name}}"),
        ("undecodable", "data.train: none of its 1 images can be decoded (e.g. {name}.png: "),
        ("vgg weights", "{dir}/{name} is a folder without model.safetensors"),
        (
            "pairing",
            "data.train_lr: no LR image in {dir}/LR for 1 of 1 HR images, e.g. {dir}/{name}/{name}.png: an HR "
            "image NAME.* is paired with the LR image NAME.* or NAMEx2.*, or NAME_HR.* with NAME_LR.*, NAME_LR2.* or "
            "NAME_LRx2.* (also _hr / _lr, -HR / -LR; any image type). Rename the LR images (or the HR ones) so, e.g. "
            "{dir}/LR/c.png → {name}x2.png",
        ),
        ("interrupted", "SIGTERM: stopped after step 5, saved in {dir}/{name}; continue with --resume latest"),
        ("resume", "cannot resume from {dir}/{name}: gone. If its files are damaged, delete it and resume again"),
    ],
)
def test_the_trainers_messages_name_paths_on_one_line(case, expected, tmp_path):
    path = tmp_path / NAME
    path.mkdir()
    if case != "no images":
        (path / f"{NAME}.png").write_bytes(b"not a png")  # the folder is not empty, and holds no image that decodes
    if case == "pairing":
        (tmp_path / "LR").mkdir()
        (tmp_path / "LR" / "c.png").write_bytes(b"not a png")
    expected = expected.format(dir=tmp_path, name=SHOWN)
    if case == "interrupted":
        said = str(TrainingInterrupted(15, 5, path))
    elif case == "resume":
        said = str(unreadable_checkpoint(path, FileNotFoundError("gone")))
    else:
        said = _raised(case, path)
    assert said.startswith(expected) if case in ("undecodable", "resume") else said == expected
    assert "\n" not in said


def test_a_refused_resume_names_the_checkpoint_and_its_model_folder_on_one_line():
    # Every resume check states its reason only (`cannot_resume`): the checkpoint and the model folder that the
    # closing advice names go through shown_name, once each, as the eight messages that spelt it out did.
    checkpoint = Path(NAME) / "checkpoints" / "step-4"
    assert cannot_resume(checkpoint, "it is odd") == (
        f"cannot resume from {SHOWN}/checkpoints/step-4: it is odd. Resume with the settings the run was started with "
        f"(its training_config.yaml), or start from its model with --init-from {SHOWN}/checkpoints/step-4/model and a "
        "new train.output_dir"
    )
    assert cannot_resume(checkpoint, "it is odd", "Do this", NEW_FOLDER).endswith(
        ": it is odd. Do this, or train into a new train.output_dir"
    )


def test_a_skipped_validation_images_warning_names_it_on_one_line(tmp_path, caplog):
    bad = tmp_path / f"{NAME}.png"
    bad.write_bytes(b"not a png")
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        assert validation_images([str(bad)], Degradation("bicubic", 2), 3, seed=0) == []
    [record] = caplog.records
    assert record.getMessage().startswith(f"skipping unreadable validation image {SHOWN}.png: ")
    assert "\n" not in record.getMessage()


def test_a_dataset_rows_file_is_named_on_one_line_in_its_error_and_the_readers_warnings(tmp_path, caplog):
    """A row's image read from its stored bytes through a temporary file: the reader's error and warnings name the
    row's file instead, escaped as every name is."""
    import datasets
    from PIL import Image

    from swinir_hf.inference.dataset_restoration import decoded_image

    with pytest.raises(ValueError) as caught:
        decoded_image(datasets.Image(), {"bytes": b"not an image", "path": f"{NAME}.png"}, 3)
    assert str(caught.value).startswith(f"row 3 of the dataset ({SHOWN}.png) cannot be decoded: not a readable image")
    assert "\n" not in str(caught.value)
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        decoded_image(datasets.Image(), {"bytes": (tmp_path / "anim.gif").read_bytes(), "path": f"{NAME}.gif"}, 0)
    assert caplog.messages == [f"{SHOWN}.gif has 2 frames: only frame 1 is restored"]


def test_a_short_option_at_odds_with_its_dotted_one_names_its_value_on_one_line():
    with pytest.raises(ValueError) as caught:
        parse_command_line(["--config", "tiny_sr_x2", "--init-from", NAME, "--model.init_from", "x"])
    assert str(caught.value) == f"--init-from '{SHOWN}' and --model.init_from x disagree: give one of them"


@pytest.mark.parametrize(
    "case, expected",
    [
        ("folder", "checkpoint {dir}/{name} is a folder: give a .pth / .safetensors file of the authors' layout"),
        ("missing", "checkpoint {dir}/{name}.pth does not exist or is not a file"),
        ("text", "{dir}/{name}.pth is not a readable PyTorch checkpoint: it is a text file, not a file torch.save"),
        ("safetensors", "{dir}/{name}.safetensors is not a readable safetensors file (truncated or corrupt?): "),
        ("not swinir", "{dir}/{name}.pth: not a SwinIR checkpoint: missing 'conv_first.weight'"),
    ],
)
def test_a_checkpoint_to_convert_is_named_on_one_line(case, expected, tmp_path):
    import torch

    from swinir_hf.checkpoints.convert import convert_original_checkpoint, load_state_dict_file

    path = tmp_path / NAME
    if case == "folder":
        path.mkdir()
    elif case in ("text", "not swinir"):
        path = path.with_name(f"{NAME}.pth")
        if case == "text":
            path.write_text("hello")
        else:
            torch.save({"weight": torch.zeros(1)}, path)
    elif case == "safetensors":
        path = path.with_name(f"{NAME}.safetensors")
        path.write_bytes(b"\x01")
    else:
        path = path.with_name(f"{NAME}.pth")
    with pytest.raises(CheckpointError) as caught:
        convert_original_checkpoint(path) if case == "not swinir" else load_state_dict_file(path)
    assert str(caught.value).startswith(expected.format(dir=tmp_path, name=SHOWN))
    assert "\n" not in str(caught.value)


def test_the_convert_command_names_its_folders_on_one_line(tmp_path, capsys):
    from swinir_hf.cli import main

    inside = tmp_path / NAME / f"{NAME}.pth"
    inside.parent.mkdir()
    inside.write_bytes(b"")
    assert main(["convert", str(inside), str(inside.parent)]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/{SHOWN} holds the checkpoint {tmp_path}/{SHOWN}/{SHOWN}.pth, beside which the model "
        "would be saved: choose another output folder\n"
    )


@pytest.mark.parametrize(
    "case, expected",
    [
        ("write", "cannot write {dir}/{name}: No space left on device"),
        ("appeared", "{dir}/{name} was written by another run (or program) since this one started: kept; pass "),
        ("not a folder", "output folder {dir}/{name}/out is not a folder ({dir}/{name} is a file): choose another -o"),
        ("not empty", "{dir}/{name} exists and is not empty; pass --overwrite to replace it"),
        ("long name", "output folder {dir}/{name}/" + "x" * 256 + ": a name in it is 256 bytes, more than the 255 "),
    ],
)
def test_the_storage_messages_name_paths_on_one_line(case, expected, tmp_path):
    from swinir_hf.storage.atomic_writes import WriteError, move_unless_exists
    from swinir_hf.storage.output_folders import check_fresh_output_folder, check_output_folder

    path = tmp_path / NAME
    if case == "write":
        said = str(WriteError(path, "No space left on device"))
    else:
        if case in ("appeared", "not a folder"):
            path.write_text("in the way")
        else:
            path.mkdir()
            (path / "file").write_text("mine")
        (tmp_path / "new").write_text("new")
        calls = {
            "appeared": lambda: move_unless_exists(tmp_path / "new", path),
            "not a folder": lambda: check_output_folder(path / "out"),
            "not empty": lambda: check_fresh_output_folder(path, False),
            "long name": lambda: check_output_folder(path / ("x" * 256)),
        }
        with pytest.raises((OSError, ValueError)) as caught:
            calls[case]()
        said = str(caught.value)
    assert said.startswith(expected.format(dir=tmp_path, name=SHOWN))
    assert "\n" not in said


def test_a_replaced_data_file_with_a_line_break_in_its_name_leaves_training_config_yaml_as_written(tmp_path):
    """A resume notes the data files replaced since the run started in a comment atop training_config.yaml: a line
    break in a file's name (a newline, Unicode's line separator, which YAML takes for one) ended the comment there,
    and what followed was read as settings (here, a forged batch size)."""
    from swinir_hf.training.config import TrainingConfig, read_config_file
    from swinir_hf.training.images import items_fingerprint
    from swinir_hf.training.recipe import CheckpointRecord, config_text
    from swinir_hf.training.resume_checks import check_same_images

    folder = tmp_path / "hr"
    folder.mkdir()
    names = [f"a{brk}train: {{batch_size: 3}}{brk}#.png" for brk in ("\n", "\u2028", "\u2029")]
    items = [str(folder / name) for name in names]
    for item in items:
        Path(item).write_bytes(b"x")
    cfg = TrainingConfig.from_dict({"data": {"train": [str(folder)]}})
    record = CheckpointRecord(tmp_path / "step-1", {"samples": {"images": items_fingerprint(items)}}, None, None, None)
    for item in items:
        Path(item).write_bytes(b"xy")
    changed = check_same_images(record, items_fingerprint(items), cfg)
    assert changed[1] == "data.train file a\\u2028train: {batch_size: 3}\\u2028#.png: 1 bytes → 2 bytes"
    (tmp_path / "training_config.yaml").write_text(config_text(cfg, [{"step": 5, "changed": changed}]), "utf-8")
    assert read_config_file(str(tmp_path / "training_config.yaml")) == cfg.to_dict()
    # Whatever an entry holds, the comment stays one line.
    text = config_text(cfg, [{"step": 5, "changed": ["x\ntrain: {batch_size: 3}"]}])
    assert text.splitlines()[2] == "#   from step 5: x\\ntrain: {batch_size: 3}"
    (tmp_path / "training_config.yaml").write_text(text, "utf-8")
    assert read_config_file(str(tmp_path / "training_config.yaml")) == cfg.to_dict()


@pytest.mark.parametrize("case", ["missing", "no checkpoints", "resume", "no weights"])
def test_the_hub_export_and_resume_name_their_folders_on_one_line(case, tmp_path, capsys):
    from swinir_hf.checkpoints.export import HubExportError
    from swinir_hf.checkpoints.export_cli import _sources
    from swinir_hf.checkpoints.folders import stored_weights
    from swinir_hf.checkpoints.run_folder import resolve_resume

    path = tmp_path / NAME
    if case != "missing":
        path.mkdir()
    if case in ("missing", "no checkpoints"):
        assert _sources(path) == []
        said = capsys.readouterr().err
        what = "does not exist" if case == "missing" else "holds no checkpoint files (.pth, .pt, .ckpt, .safetensors)"
        assert said.startswith(f"error: {tmp_path}/{SHOWN} {what}")
        assert said.count("\n") == 1
        return
    with pytest.raises((FileNotFoundError, HubExportError)) as caught:
        resolve_resume(str(path), tmp_path) if case == "resume" else stored_weights(path)
    what = "is not a checkpoint folder (no progress.json)" if case == "resume" else "holds no safetensors weights ("
    assert str(caught.value).startswith(f"{tmp_path}/{SHOWN} {what}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("sources", [1, 2])
def test_the_hub_push_refused_names_its_output_folder_on_one_line(sources, tmp_path, monkeypatch, capsys):
    """--push refused before building: its `hf upload ORG/NAME OUT/NAME` hint named -o raw (a forged line)."""
    from huggingface_hub import constants

    from swinir_hf.checkpoints import export_cli

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for name in ("x.pth", "y.pth")[:sources]:
        (tmp_path / name).write_bytes(b"")
    given = tmp_path / "x.pth" if sources == 1 else tmp_path
    assert export_cli.main([str(given), "-o", str(tmp_path / NAME), "--push", "--org", "me"]) == 1
    said = capsys.readouterr().err
    shown = f"me/swinir-x {tmp_path}/{SHOWN}/swinir-x`" if sources == 1 else f"me/NAME {tmp_path}/{SHOWN}/NAME` for"
    assert f"(`hf upload {shown}" in said and said.count("\n") == 1


def _restore_or_eval_said(case: str, path: Path) -> str:
    """What `restore` / `eval` say of `case` about the folder or file `path`."""
    import argparse

    import numpy as np

    from swinir_hf.evaluation.benchmark import _check_scoreable
    from swinir_hf.evaluation.dataset_checks import lr_dir_problem
    from swinir_hf.evaluation.testsets import Sample, check_lr_size, columns_problem, load_samples
    from swinir_hf.inference.collection import check_not_a_file_name
    from swinir_hf.inference.files import collect_inputs
    from swinir_hf.inference.jobs import OutputOptions, plan_jobs
    from swinir_hf.inference.parts_folder import clear_parts_folder

    if case == "columns":
        return columns_problem(path, None, "image", None)
    if case == "lr folder":
        return lr_dir_problem(argparse.Namespace(lr_dir=str(path / "LR"), lr_column=None, real=False))
    if case == "hub export changed":
        from swinir_hf.checkpoints.remote_code import HubExportError
        from swinir_hf.checkpoints.verification import refuse_changed_export

        (path / "config.json").write_text("{}")
        (path.parent / "staging").mkdir()
        (path.parent / "staging" / "config.json").write_text("[]")
        with pytest.raises(HubExportError) as caught:
            refuse_changed_export(path, path.parent / "staging", "org/name")
        return str(caught.value)
    if case == "output is a folder":
        (path / "out" / f"{NAME}.png").mkdir(parents=True)
        (path / f"{NAME}.png").write_bytes(b"")
        [(_, said)] = plan_jobs([(path / f"{NAME}.png", Path(f"{NAME}.png"))], path / "out", OutputOptions()).errors
        return said
    calls = {
        "no input": lambda: collect_inputs([str(path / "in")]),
        "no images": lambda: collect_inputs([str(path)]),
        "-o an image": lambda: check_not_a_file_name(path / f"{NAME}.png"),
        "no test images": lambda: load_samples(path),
        "size": lambda: check_lr_size(NAME, np.zeros((4, 4, 3)), np.zeros((1, 1, 3)), 2, str(path / "lr.png")),
        "parts": lambda: clear_parts_folder(path, ()),
        "too small": lambda: _check_scoreable(
            Sample(NAME, np.zeros((12, 12, 3), np.uint8)), Degradation("bicubic", 2), NAME
        ),
    }
    with pytest.raises((OSError, ValueError)) as caught:
        calls[case]()
    return str(caught.value)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("no input", "no such file, folder or matching files: {dir}/{name}/in"),
        ("no images", "no image files in folder {dir}/{name} (only {name}.txt)"),
        ("-o an image", "-o {dir}/{name}/{name}.png looks like an image file's name, but -o is the output folder: "),
        ("no test images", f"no images ({', '.join(IMAGE_SUFFIXES)}) in {{dir}}/{{name}}"),
        ("columns", "{dir}/{name} is a plain folder of images, which has no columns: drop --column / --lr-column, or "),
        ("lr folder", "no such LR folder: {dir}/{name}/LR"),
        ("size", "HR/LR size mismatch for {name}: HR 4×4×3 at ×2 needs LR 2×2×3, but {dir}/{name}/lr.png is 1×1×3"),
        ("parts", "the parts folder {dir}/{name} holds {name}.txt, which no restoration wrote: give a folder of "),
        ("output is a folder", "output {dir}/{name}/out/{name}.png is a folder: move it or use a --suffix"),
        ("too small", "{name}/{name}: "),
        ("hub export changed", "{dir}/{name} holds an export of these weights, but config.json differ(s) from this "),
    ],
)
def test_restore_and_eval_name_their_inputs_and_outputs_on_one_line(case, expected, tmp_path):
    path = tmp_path / NAME
    path.mkdir()
    if case in ("no images", "parts"):
        (path / f"{NAME}.txt").write_text("not an image")
    said = _restore_or_eval_said(case, path)
    assert said.startswith(expected.format(dir=tmp_path, name=SHOWN))
    assert "\n" not in said


def test_restores_warnings_and_notes_name_outputs_on_one_line(tmp_path, caplog):
    from swinir_hf.inference.collection_cli import _parts_kept
    from swinir_hf.inference.dataset_restoration import PARTS_FOLDER
    from swinir_hf.inference.image_writing import warn_alpha_dropped

    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        warn_alpha_dropped([tmp_path / f"{NAME}.jpg"])
    assert caplog.messages == [
        f"{tmp_path}/{SHOWN}.jpg: JPEG has no transparency, so the alpha channel is dropped (png / webp keep it)"
    ]
    (tmp_path / NAME / PARTS_FOLDER).mkdir(parents=True)
    (tmp_path / NAME / PARTS_FOLDER / "part-0.arrow").write_bytes(b"")
    assert _parts_kept(tmp_path / NAME) == (
        f"; the images restored so far are kept in {tmp_path}/{SHOWN}/{PARTS_FOLDER}: the same command goes on from "
        "there"
    )


@pytest.mark.parametrize("given", [None, 50])
def test_evals_note_of_a_runs_level_names_the_run_on_one_line(given, tmp_path):
    """`swinir-hf eval --model RUN` says the level a training run validated at, naming the run as given: raw, a
    newline in its folder's name split the note (or warning) in two."""
    import argparse

    import yaml

    from swinir_hf.evaluation.model_levels import trained_levels

    run = tmp_path / NAME
    run.mkdir()
    raw = {"data": {"train": ["photos"], "degradation": "noise", "noise_sigma": 15, "val": "photos"}}
    (run / "training_config.yaml").write_text(yaml.safe_dump(raw))
    options = {"model": [str(run)], "scale": None, "noise": given, "jpeg": None, "lr_dir": None, "real": False}
    said = trained_levels(argparse.Namespace(**options))
    run_said = f"{tmp_path}/{SHOWN} validated at"
    assert said == (
        f"note: scoring at --noise 15, the level {run_said} (its training_config.yaml)"
        if given is None
        else f"warning: {run_said} --noise 15 (its training_config.yaml)"
    )


@pytest.mark.parametrize("name", [NAME, "it's a\\b\x1b[2K\u2028c", "plain name"])
def test_the_push_later_command_is_one_line_and_pasted_names_the_run_folder(name, tmp_path):
    """The trainer's `swinir-hf hub ... --push` to paste, for when the Hub cannot be reached: shlex's quotes kept a
    newline in the run folder's name, so the command printed on two lines; bash's $'...' escapes it, and the pasted
    command still names the folder."""
    import subprocess

    from swinir_hf.training.checks import push_later_command

    command = push_later_command("me/model", tmp_path / name)
    assert command.startswith("`swinir-hf hub ") and command.endswith(" --push`") and len(command.splitlines()) == 1
    words = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command.strip('`')}"],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C.UTF-8"},
        timeout=60,
    ).stdout.decode()
    assert words.split("\0")[:3] == ["swinir-hf", "hub", str(tmp_path / name)]
