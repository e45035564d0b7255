"""Bad inputs and faults (issue 14): each gets one clear message, nothing comes out silently wrong, no work is lost."""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from swinir_hf import CheckpointError, SwinIRForImageRestoration
from swinir_hf.checkpoints.loading import load_model
from swinir_hf.cli import main as cli
from swinir_hf.models.image_processing_swinir import SwinIRImageProcessor
from swinir_hf.storage.atomic_writes import process_tag


@pytest.fixture
def folder(tiny_config, tmp_path) -> Path:
    """An intact tiny ×2 save_pretrained folder."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    model.save_pretrained(tmp_path / "intact")
    SwinIRImageProcessor().save_pretrained(tmp_path / "intact")
    return tmp_path / "intact"


def broken_copy(folder: Path, name: str, drop: str | None = None, add: str | None = None, **config) -> Path:
    """A copy of `folder` without tensor `drop`, with an extra tensor `add`, or with config.json fields changed."""
    out = folder.parent / name
    shutil.copytree(folder, out)
    if drop or add:
        state = load_file(out / "model.safetensors")
        state.pop(drop, None)
        if add:
            state[add] = torch.zeros(3)
        save_file(state, out / "model.safetensors", metadata={"format": "pt"})
    if config:
        (out / "config.json").write_text(json.dumps({**json.loads((out / "config.json").read_text()), **config}))
    return out


def png(path: Path, size: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(path)
    return path


# --- 1. strict loading of folders ------------------------------------------------------------------------------


def test_folder_with_a_missing_or_unexpected_tensor_is_an_error_naming_it(folder, tmp_path, capsys):
    missing = broken_copy(folder, "missing", drop="conv_first.weight")
    extra = broken_copy(folder, "extra", add="stray.weight")
    with pytest.raises(CheckpointError, match=r"missing conv_first\.weight"):
        load_model(missing)
    with pytest.raises(CheckpointError, match=r"unexpected stray\.weight"):
        load_model(extra)
    # the Auto classes / pipeline / remote code go through the same class method
    with pytest.raises(ValueError, match=r"missing conv_first\.weight"):
        SwinIRForImageRestoration.from_pretrained(missing)
    # a caller who asks for the loading info gets transformers' lenient load and judges it
    _, info = SwinIRForImageRestoration.from_pretrained(missing, output_loading_info=True)
    assert info["missing_keys"] == {"conv_first.weight"}

    src = png(tmp_path / "in.png")
    assert cli(["restore", str(src), "-o", str(tmp_path / "out"), "--model", str(missing), "--no-progress"]) == 1
    assert "missing conv_first.weight" in capsys.readouterr().err
    assert not (tmp_path / "out" / "in.png").exists()
    assert cli(["eval", "--model", str(extra), "--dataset", str(tmp_path)]) == 1  # a folder that exists
    assert "unexpected stray.weight" in capsys.readouterr().err


def test_init_from_a_folder_missing_a_tensor_is_an_error(folder, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from swinir_hf.training.sections import ModelArgs, TrainArgs
    from swinir_hf.training.state import build_model

    missing = broken_copy(folder, "missing", drop="conv_first.weight")
    with pytest.raises(CheckpointError, match=r"^model\.init_from: .*missing conv_first\.weight"):
        build_model(ModelArgs(init_from=str(missing)), TrainArgs())
    with pytest.raises(CheckpointError, match=rf"^model\.init_from: {tmp_path / 'nowhere'} does not exist"):
        build_model(ModelArgs(init_from=str(tmp_path / "nowhere")), TrainArgs())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"^model\.init_from: .*org/not-cached"):  # a Hub model not in the cache
        build_model(ModelArgs(init_from="org/not-cached"), TrainArgs())


# --- 3. messages instead of tracebacks -------------------------------------------------------------------------


def test_broken_model_folders_get_one_line_each(folder, tmp_path, capsys):
    corrupt = broken_copy(folder, "corrupt")
    (corrupt / "config.json").write_text('{"upscale": 2,')
    no_weights = broken_copy(folder, "no_weights")
    (no_weights / "model.safetensors").unlink()
    x5 = broken_copy(folder, "x5", upscale=5)
    resnet = broken_copy(folder, "resnet", model_type="resnet")  # another model with SwinIR's fields and weights
    src = png(tmp_path / "in.png")
    expected = {
        resnet: f"error: {resnet} holds a 'resnet' model (config.json's model_type), not a SwinIR one",
        corrupt: "config.json is not valid JSON",
        no_weights: "has a config.json but no weights",
        x5: r"wrong shape upsample.0.bias (stored (12,), config needs (75,))",
    }
    for model, message in expected.items():
        assert cli(["restore", str(src), "-o", str(tmp_path / "out"), "--model", str(model), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


@pytest.mark.parametrize("device", ["gpu0", "cuda:7" if torch.cuda.is_available() else "cuda"])
def test_unusable_devices_are_refused_up_front(device, tmp_path, capsys):
    src = png(tmp_path / "in.png")
    assert cli(["restore", str(src), "-o", str(tmp_path / "out"), "--device", device, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"device {device!r}" in err and "available here: cpu" in err
    assert cli(["eval", "--model", "sr-x2", "--dataset", str(tmp_path), "--device", device]) == 1
    assert f"device {device!r}" in capsys.readouterr().err


def test_eval_json_into_a_missing_folder_is_refused_before_evaluating(tmp_path, capsys, monkeypatch):
    import swinir_hf.evaluation.benchmark

    monkeypatch.setattr(swinir_hf.evaluation.benchmark, "evaluate", lambda *a, **k: pytest.fail("evaluated first"))
    assert cli(["eval", "--model", "identity", "--dataset", str(tmp_path), "--json", "nowhere/x.json"]) == 1
    assert "folder nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "results").mkdir()
    args = [
        "eval",
        "--model",
        "identity",
        "--dataset",
        str(tmp_path),
        "--json",
        str(tmp_path / "results"),
        "--overwrite",
    ]
    assert cli(args) == 1
    assert f"error: --json {tmp_path / 'results'} is a folder; give a file name in it" in capsys.readouterr().err


# --- 3, 4, 7, 8. training: checked before the first step, interrupts keep the work -------------------------------


def summary(out: Path) -> dict:
    return json.loads((out / "training_summary.json").read_text())


def interrupt_at(monkeypatch, step: int, signum: int) -> None:
    """Send `signum` to this process when the loop starts step `step` (mid-run, as a user's Ctrl-C / kill)."""
    import swinir_hf.training.loop

    seed = swinir_hf.training.loop.step_seed

    def step_seed(s, st, rank):
        if st == step:
            os.kill(os.getpid(), signum)
        return seed(s, st, rank)

    monkeypatch.setattr(swinir_hf.training.loop, "step_seed", step_seed)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_a_checkpoint_and_resume_finishes_identically(
    tiny_run, train_cli, images, tmp_path, monkeypatch, capsys, signum
):
    full = tmp_path / "full"
    assert train_cli(tiny_run(images, full)) == 0
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # SIG_IGN in background jobs
    cut = tmp_path / "cut"
    with monkeypatch.context() as m:
        interrupt_at(m, 1, signum)
        assert train_cli(tiny_run(images, cut)) == 128 + signum
    err = capsys.readouterr().err
    assert f"{signal.Signals(signum).name}: stopped after step 2" in err and "--resume latest" in err
    assert "Traceback" not in err
    assert (cut / "checkpoints/step-00000002/progress.json").is_file()
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored
    assert train_cli(tiny_run(images, cut), "--resume", "latest") == 0
    a, b = load_file(full / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_before_the_first_step_stops_the_run_as_ctrl_c_does(
    tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    """A scheduler's SIGTERM while a run starts (the model built, the data read and checked, the step-0 validation:
    minutes on a large set) ends it as Ctrl-C does, with one line and exit status 143, as `restore` and `eval` stop:
    it killed the process without a word."""
    import time

    import swinir_hf.training.loop

    def stop(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the run")

    def killed(signum, frame):  # stands in for the default action, which would kill pytest too
        raise AssertionError("the run had no SIGTERM handler of its own: the signal would have killed it")

    monkeypatch.setattr(swinir_hf.training.loop, "build_dataset", stop)
    previous = signal.signal(signal.SIGTERM, killed)
    try:
        assert train_cli(tiny_run(images, tmp_path / "run")) == 143
        assert signal.getsignal(signal.SIGTERM) is killed  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    said = "terminated (SIGTERM): stopped at once; no checkpoint was saved yet\n"
    assert err.endswith(said)
    assert "Traceback" not in err and not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_a_stop_after_the_last_step_saves_the_final_model(tiny_run, train_cli, images, tmp_path, monkeypatch, capsys):
    """Ctrl-C after the last step (during its checkpoint, say) stopped with 130 and no final model, where the docs
    promise a stop then waits for the final model folder and exits 0."""
    import swinir_hf.training.loop

    after = swinir_hf.training.loop.after_step

    def last_step_interrupted(run):
        after(run)
        if run.progress.step == run.cfg.train.max_steps:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(swinir_hf.training.loop, "after_step", last_step_interrupted)
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out)) == 0
    err = capsys.readouterr().err
    assert "SIGINT: stopping once the final model is saved (Ctrl-C again: now)" in err and "Traceback" not in err
    assert load_model(str(out)).num_parameters() > 0 and (out / "training_summary.json").is_file()
    # The stop is handed on to the final save: a second Ctrl-C then is the second one, which stops at once.
    from swinir_hf.training.signals import StopSignals

    first = StopSignals(announce=False)
    first.signal = signal.SIGINT
    with StopSignals(announce=False, first=first), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


@pytest.mark.slow
def test_a_stop_during_the_final_save_waits_for_it(tiny_run, train_cli, images, tmp_path, monkeypatch, capsys):
    """Ctrl-C (or a scheduler's SIGTERM) while the final model folder is written completes it instead of leaving
    it half-written."""
    import swinir_hf.training.saving

    out, save = tmp_path / "run", swinir_hf.training.saving.save_model_folder

    def interrupted_save(folder, *args, **kwargs):
        if Path(folder) == out:  # the final model, not a checkpoint's copy
            os.kill(os.getpid(), signal.SIGINT)
        return save(folder, *args, **kwargs)

    monkeypatch.setattr(swinir_hf.training.saving, "save_model_folder", interrupted_save)
    assert train_cli(tiny_run(images, out)) == 0
    err = capsys.readouterr().err
    assert "SIGINT: stopping once the final model is saved" in err and "Traceback" not in err
    assert load_model(str(out)).num_parameters() > 0 and (out / "training_summary.json").is_file()


def test_resuming_a_finished_run_says_so_and_writes_nothing(tiny_run, train_cli, images, tmp_path, capsys):
    """`--resume latest` of a finished run trained no step, then saved the model and card again, the card's compute
    gaining a 0 s entry of "steps 4-4"."""
    out = tmp_path / "run"
    raw = tiny_run(images, out, train={"checkpoint_every": 2})
    assert train_cli(raw) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert train_cli(raw, "--resume", "latest") == 0
    assert capsys.readouterr().err.endswith(
        f"{out} is finished at train.max_steps 4: nothing to do (raise it to train on)\n"
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before
    raw["train"]["max_steps"] = 6  # raised: it trains on
    assert train_cli(raw, "--resume", "latest") == 0
    assert json.loads((out / "training_summary.json").read_text())["step"] == 6


@pytest.mark.slow
def test_failed_resume_keeps_the_config_and_a_failed_start_does_not_block_a_rerun(
    tiny_run, train_cli, images, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"checkpoint_every": 2})) == 0
    config_before = (out / "training_config.yaml").read_text()
    wider = tiny_run(images, out, model={"config": {**tiny_run(images, out)["model"]["config"], "embed_dim": 24}})
    assert train_cli(wider, "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert "cannot resume from" in err and "embed_dim: 16 → 24" in err and "Traceback" not in err
    assert (out / "training_config.yaml").read_text() == config_before
    uneven = tiny_run(images, out, train={"batch_size": 6, "gradient_accumulation_steps": 4})
    assert train_cli(uneven, "--resume", "latest") == 1
    assert "train.batch_size 6 must be divisible by train.gradient_accumulation_steps" in capsys.readouterr().err
    assert (out / "training_config.yaml").read_text() == config_before
    # Another stream of samples (seed, batch, data): it went on, and the card gave the new ones for the whole run.
    other = tiny_run(images, out, train={"seed": 3, "batch_size": 2, "max_steps": 6}, data={"patch_size": 12})
    assert train_cli(other, "--resume", "latest") == 1
    latest = out / "checkpoints" / "step-00000004"
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {latest}: this config draws other training samples (changed: train.seed: 0 → 3, "
        "train.batch_size: 4 → 2, data.patch_size: 8 → 12). Resume with the settings the run was started with (its "
        f"training_config.yaml), or start from its model with --init-from {latest / 'model'} and a new "
        "train.output_dir. (train.batch_size is the samples per optimizer step over all processes: to put fewer on "
        "each device, raise train.gradient_accumulation_steps instead, which a resume may change)\n"
    )
    assert (out / "training_config.yaml").read_text() == config_before
    # The same images by another path resume: compared as text, an absolute path for a relative one was refused.
    alias = tmp_path / "alias"
    alias.symlink_to(images)
    same = tiny_run(images, out, train={"checkpoint_every": 2, "max_steps": 6}, data={"train": [str(alias)]})
    assert train_cli(same, "--resume", "latest") == 0
    # Resumed from another working folder, the folder named from there: compared from the folder it was started in.
    monkeypatch.chdir(images.parent)
    relative = tiny_run(images, tmp_path / "moved", train={"checkpoint_every": 2}, data={"train": [images.name]})
    assert train_cli(relative) == 0
    monkeypatch.chdir(tmp_path)
    moved = {"train": [os.path.relpath(images)], "val": relative["data"]["val"]}
    assert (
        train_cli(tiny_run(images, tmp_path / "moved", train={"max_steps": 6}, data=moved), "--resume", "latest") == 0
    )
    # Other starting weights: it went on, and the card named them, though nothing was loaded from them.
    warm = tiny_run(images, tmp_path / "moved", train={"max_steps": 8}, data=moved, model={"init_from": str(out)})
    capsys.readouterr()
    assert train_cli(warm, "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {tmp_path / 'moved' / 'checkpoints' / 'step-00000006'}: the run started from "
        f"model.init_from null, this config from {out}. Resume with the settings"
    )
    # Other images under the path the run was started with (the command run from another folder): resumed at once.
    own = tmp_path / "own"
    shutil.copytree(images, own)
    assert train_cli(tiny_run(own, tmp_path / "own-run", train={"checkpoint_every": 2})) == 0
    (own / "7.png").unlink()
    capsys.readouterr()
    assert train_cli(tiny_run(own, tmp_path / "own-run", train={"max_steps": 6}), "--resume", "latest") == 1
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume from {tmp_path / 'own-run' / 'checkpoints' / 'step-00000004'}: data.train holds other "
        "images than the run was started with (8 then, 7 now; gone: 7.png). Each epoch draws a permutation of all of "
        "them"
    )

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    (broken / "b.png").write_bytes(b"")
    fresh = tmp_path / "fresh"
    assert train_cli(tiny_run(images, fresh, data={"train": [str(broken)]})) == 1
    err = capsys.readouterr().err
    assert "data.train: none of its 2 images can be decoded (e.g. a.png" in err
    assert not fresh.exists() or not any(fresh.iterdir())
    # as an older version left it after failing: only training_config.yaml and logs/
    fresh.mkdir(exist_ok=True)
    (fresh / "training_config.yaml").write_text("{}")
    (fresh / "logs").mkdir()
    assert train_cli(tiny_run(images, fresh, train={"max_steps": 1})) == 0


def test_a_fresh_start_neither_overwrites_a_model_nor_mixes_with_another_runs_checkpoints(
    tiny_run, train_cli, images, tmp_path, capsys
):
    # --resume latest finding no checkpoint in a folder holding a model must not train over that model
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"someone's model")
    assert train_cli(tiny_run(images, out, train={"max_steps": 1}), "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert f"error: {out} holds no checkpoint to resume (checkpoints/step-*) but is not empty: pass --overwrite" in err
    assert (out / "model.safetensors").read_bytes() == b"someone's model"

    # --overwrite over a longer run: its checkpoints go, so that pruning keeps this run's and `latest` is this run's
    out = tmp_path / "long"
    assert train_cli(tiny_run(images, out, train={"max_steps": 4, "checkpoint_every": 2})) == 0
    assert train_cli(tiny_run(images, out, train={"max_steps": 1, "keep_checkpoints": 2}), "--overwrite") == 0
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-00000001"]


@pytest.mark.parametrize(
    ("damaged", "reason"),
    [
        ("optimizer.bin", ""),
        ("model/model.safetensors", ""),
        # A progress.json cut short said only "error: Expecting property name enclosed in double quotes: line 2 ...";
        # a missing random-state file was skipped without a word.
        ("progress.json", "its progress.json is unreadable (Expecting property name enclosed in double quotes"),
        ("random_states_0.pkl", "it has no random_states_0.pkl. If"),
    ],
)
def test_resuming_a_damaged_checkpoint_is_one_line_naming_it(
    tiny_run, train_cli, images, tmp_path, capsys, damaged, reason
):
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 1})) == 0
    file = out / "checkpoints/step-00000002" / damaged
    if damaged.endswith(".pkl"):
        file.unlink()
    else:
        file.write_bytes(file.read_bytes()[:1] + b"\n")  # a copy that stopped short
    assert train_cli(tiny_run(images, out, train={"max_steps": 3}), "--resume", "latest") == 1
    err = capsys.readouterr().err
    assert f"error: cannot resume from {out / 'checkpoints/step-00000002'}: {reason}" in err and "Traceback" not in err
    assert "If its files are damaged, delete it and resume again (--resume latest takes the newest one left)" in err
    earlier = ("--resume", str(out / "checkpoints/step-00000001"))
    assert train_cli(tiny_run(images, out, train={"max_steps": 3}), *earlier) == 1  # the damaged one is after it
    assert train_cli(tiny_run(images, out, train={"max_steps": 3}), *earlier, "--overwrite") == 0
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-00000001", "step-00000003"]


def test_a_changed_architecture_names_only_the_fields_that_changed(tiny_config, tmp_path):
    from swinir_hf.training.resume_checks import check_resumable

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "step" / "model")
    with pytest.raises(ValueError, match="cannot resume") as err:
        check_resumable(tmp_path / "step", SwinIRForImageRestoration(tiny_config(embed_dim=24)))
    assert "(changed: embed_dim: 16 → 24; " in str(err.value)  # not id2label, return_dict, ... (None → default)


def test_offline_push_advice_is_a_command_to_paste(tmp_path, monkeypatch):
    """The command an offline --push-to-hub suggests runs as pasted, also for a run folder with a space in its path."""
    import shlex

    from huggingface_hub import constants

    from swinir_hf.training.checks import check_run_push_access

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "my runs" / "x4"
    with pytest.raises(ValueError) as err:
        check_run_push_access("org/x4", out)
    command = str(err.value).split("`")[1]
    expected = ["swinir-hf", "hub", str(out), "-o", "hub_out", "--org", "org", "--name", "x4", "--push"]
    assert shlex.split(command) == expected


def test_push_to_a_repo_id_the_hub_rejects_fails_before_training(tiny_run, train_cli, images, tmp_path, monkeypatch):
    """`--push-to-hub 'me/bad name'` trained the whole run, then died at the push with a HubExportError traceback;
    `team/sub/x4` passed the check as `team/x4`, where the model would have gone."""
    from huggingface_hub import HfApi, constants

    import swinir_hf.checkpoints.loading as loading
    import swinir_hf.training.loop
    from swinir_hf.training.checks import check_run_push_access

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self, *a, **k: {"name": "me", "orgs": [{"name": "team"}]})
    assert check_run_push_access("x4", tmp_path) == "me/x4"
    for repo_id in ("team/sub/x4", "me/bad name"):
        with pytest.raises(ValueError, match=f"--push-to-hub {repo_id!r} is not a Hub repo id"):
            check_run_push_access(repo_id, tmp_path)
    trained = lambda *a: pytest.fail("trained before checking the push")  # noqa: E731
    monkeypatch.setattr(swinir_hf.training.loop, "build_model", trained)
    assert train_cli(tiny_run(images, tmp_path / "run"), "--push-to-hub", "me/bad name") == 1


def test_push_that_fails_after_training_says_how_to_push_later(
    tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    """The Hub gone at the end of a run (its HTTP client's ConnectError, no OSError) was a traceback: now one line
    that the model is saved and the command that pushes it."""
    from huggingface_hub import HfApi, constants

    import swinir_hf.checkpoints.loading as loading
    import swinir_hf.training.saving as saving

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self, *a, **k: {"name": "me", "orgs": []})
    client_error = loading.network_errors()[-1]  # httpx's (or httpx2's) HTTPError

    def gone(*args, **kwargs):
        raise type("ConnectError", (client_error,), {})("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(saving, "push_folder", gone)
    out = tmp_path / "run"
    assert train_cli(tiny_run(images, out), "--push-to-hub", "x4") == 1
    err = capsys.readouterr().err
    assert f"error: pushing {out} to me/x4 failed (ConnectError: [Errno -3] Temporary failure" in err
    assert f"`swinir-hf hub {out} -o hub_out --org me --name x4 --push`" in err and "Traceback" not in err
    assert (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_push_and_vgg_weights_offline_fail_before_training(tiny_run, train_cli, images, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    import swinir_hf.training.loop

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    trained = lambda *a: pytest.fail("trained before checking the push")  # noqa: E731
    monkeypatch.setattr(swinir_hf.training.loop, "build_model", trained)
    out = tmp_path / "push"
    assert train_cli(tiny_run(images, out), "--push-to-hub", "org/x") == 1
    err = capsys.readouterr().err
    assert "--push-to-hub org/x: HF_HUB_OFFLINE is set" in err
    assert f"`swinir-hf hub {out} -o hub_out --org org --name x --push`" in err
    monkeypatch.undo()

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    gan = {"enabled": True, "vgg_weights": "timm/vgg19.tv_in1k"}
    out = tmp_path / "gan"
    assert train_cli({**tiny_run(images, out), "gan": gan}) == 1
    err = capsys.readouterr().err
    assert "gan.vgg_weights 'timm/vgg19.tv_in1k'" in err and "not in the local Hugging Face cache" in err
    assert not (out / "training_config.yaml").exists()  # so the same command runs once the weights are there


@pytest.mark.slow
def test_validate_every_0_validates_only_at_the_end_and_the_bar_shows_no_nan(
    tiny_run, train_cli, images, tmp_path, monkeypatch
):
    import swinir_hf.training.loop

    seen, bars = [], []
    validate = swinir_hf.training.loop.validation_psnrs
    monkeypatch.setattr(swinir_hf.training.loop, "validation_psnrs", lambda *a: seen.append(1) or validate(*a))
    import tqdm.auto

    original = tqdm.auto.tqdm.set_postfix_str
    monkeypatch.setattr(tqdm.auto.tqdm, "set_postfix_str", lambda self, s="", **k: bars.append(s) or original(self, s))
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the bar (a log file gets lines instead)
    out = tmp_path / "v0"
    assert train_cli(tiny_run(images, out, train={"validate_every": 0, "log_every": 3})) == 0
    assert [h["step"] for h in summary(out)["history"]] == [4] and len(seen) == 1
    assert bars and not any("nan" in b for b in bars)
    out = tmp_path / "v2"
    assert train_cli(tiny_run(images, out, train={"validate_every": 2, "log_every": 3})) == 0
    assert [h["step"] for h in summary(out)["history"]] == [0, 2, 4]


def test_missing_extras_name_the_extra(monkeypatch, tmp_path, capsys):
    import sys

    for name in ("tensorboard", "datasets"):  # None in sys.modules: `import name` raises ModuleNotFoundError
        monkeypatch.setitem(sys.modules, name, None)
    assert cli(["train", "--config", "tiny_sr_x2", "--output-dir", str(tmp_path / "t")]) == 1
    err = capsys.readouterr().err
    assert "needs the 'tensorboard' package, which the [train] extra provides: pip install -e '.[train]'" in err
    (tmp_path / "hr").mkdir()
    assert cli(["eval", "--model", "identity", "--noise", "5", "--dataset", f"imagefolder:{tmp_path / 'hr'}"]) == 1
    assert "needs the 'datasets' package, which the [train] extra provides" in capsys.readouterr().err


# --- 5. huge images: the output's memory is planned, tiles are halved only when they are the cause ---------------


def test_an_output_that_cannot_fit_is_refused_before_any_work(tiny_config, monkeypatch, tmp_path, capsys):
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration
    import swinir_hf.inference.size_batches as size_batches

    model = SwinIRForImageRestoration(tiny_config()).eval()
    monkeypatch.setattr(memory, "available_host_memory", lambda: 10 << 20)  # 10 MiB
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    # 2000·1600·3 float32 × 2 host copies: sizes under a GiB in MiB, not "0.0 GiB"
    message = "a 1000×800 image gives a 2000×1600 output that needs ≈ 73.2 MiB of host memory, but only 10.0 MiB are"
    with pytest.raises(memory.ImageTooLargeError, match=f"^{message} available: "):
        restoration.restore(model, np.zeros((800, 1000, 3), np.uint8), dtype="float32")
    assert memory.byte_size(3 << 30) == "3.0 GiB" and memory.byte_size(-5) == "0.0 MiB"

    # and in the CLI: reported for that file, the others go on
    small, big = png(tmp_path / "small.png", 8), png(tmp_path / "big.png", 1200)
    assert cli(["restore", str(small), str(big), "-o", str(tmp_path / "out"), "--model", "sr-x2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "big.png" in err and "2400×2400 output that needs" in err and "restored 1, failed 1" in err
    # Refused from the file's header, before its pixels are decoded (a small PNG of 13000² took 6 GB to decode).
    import swinir_hf.inference.image_io as image_io

    read = image_io.read_image
    monkeypatch.setattr(image_io, "read_image", lambda f: pytest.fail("decoded") if "big" in str(f) else read(f))
    assert cli(["restore", str(small), str(big), "-o", str(tmp_path / "o2"), "--model", "sr-x2", "--no-progress"]) == 1
    assert "2400×2400 output that needs" in capsys.readouterr().err
    # and in Python: a path from its header, an image or array before its conversion to floats (both were done
    # first: gigabytes and seconds for a huge image)
    monkeypatch.setattr(size_batches, "split_image", lambda image: pytest.fail("converted"))
    for given in (big, Image.open(big), np.zeros((1200, 1200), np.uint8)):
        with pytest.raises(memory.ImageTooLargeError, match="^a 1200×1200 image gives a 2400×2400 output"):
            restoration.SwinIRRestorer(model, dtype="float32").restore_images([given])


def test_an_outscale_that_cannot_fit_is_refused_before_the_model_runs(tiny_config, monkeypatch, tmp_path, capsys):
    """--outscale's resize is planned with the output: 64 MiB hold a 48×48 → ×2 output, not one resized ×60."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration

    monkeypatch.setattr(memory, "available_host_memory", lambda: 64 << 20)
    model = SwinIRForImageRestoration(tiny_config()).eval()
    restorer = restoration.SwinIRRestorer(model, dtype="float32")
    assert restorer(np.zeros((48, 48, 3), np.uint8), 2.5).shape == (120, 120, 3)
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    with pytest.raises(memory.ImageTooLargeError, match=r"a 48×48 image gives a 96×96 output, resized to 2880×2880,"):
        restorer(np.zeros((48, 48, 3), np.uint8), 60)
    # The model's output is held whole before it is resized: an outscale below 1 saves none of it (the advice to
    # lower the outscale, given whatever the sizes, could not help).
    too_large = "a 4000×4000 image gives a 8000×8000 output, resized to 400×400, that needs"
    with pytest.raises(memory.ImageTooLargeError, match=too_large) as refused:
        restorer(np.zeros((4000, 4000, 3), np.uint8), 0.1)
    assert "outscale" not in str(refused.value)
    with pytest.raises(memory.ImageTooLargeError, match="lower the outscale, restore it in parts"):
        restorer(np.zeros((48, 48, 3), np.uint8), 60)

    small, big = png(tmp_path / "small.png", 8), png(tmp_path / "big.png", 48)
    args = ["restore", str(small), str(big), "-o", str(tmp_path / "out"), "--model", "sr-x2", "--no-progress"]
    assert cli([*args, "--outscale", "60"]) == 1  # reported for that file, the others go on
    err = capsys.readouterr().err
    assert "big.png: a 48×48 image gives a 96×96 output, resized to 2880×2880, that needs" in err
    assert "restored 1, failed 1" in err
    assert not (tmp_path / "out" / "big.png").exists()


def test_an_alpha_the_model_would_upscale_is_planned_with_the_colour(tiny_config, monkeypatch, tmp_path, capsys):
    """Memory for the colour's output but not for the alpha's too: refused before the colour pass (it failed after
    it, the colour's work lost), in the engine and in the command line; `alpha="bicubic"` fits."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration

    model = SwinIRForImageRestoration(tiny_config()).eval()
    # A 48×48 ×2 output: 108 KiB as float32, 216 KiB with its host copies; 432 KiB with an alpha's.
    monkeypatch.setattr(memory, "available_host_memory", lambda: 400 << 10)
    rgba = np.random.default_rng(0).integers(0, 256, (48, 48, 4), dtype=np.uint8)
    restorer = restoration.SwinIRRestorer(model, tile=None, dtype="float32", alpha="bicubic")
    assert restorer(rgba).shape == (96, 96, 4)
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    restorer = restoration.SwinIRRestorer(model, tile=None, dtype="float32")
    with pytest.raises(memory.ImageTooLargeError, match=r"a 48×48 image gives a 96×96 output that needs"):
        restorer(rgba)
    monkeypatch.setattr(model, "forward", forward)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    Image.fromarray(rgba).save(tmp_path / "logo.png")
    for alpha, status in (("model", 1), ("bicubic", 0)):
        args = ["restore", str(tmp_path / "logo.png"), "-o", str(tmp_path / alpha), "--model", str(folder)]
        assert cli([*args, "--tile", "0", "--alpha", alpha, "--no-progress"]) == status
    assert "logo.png: a 48×48 image gives a 96×96 output that needs" in capsys.readouterr().err


def test_a_whole_image_pass_that_cannot_fit_is_refused_before_the_model_runs(tiny_config, monkeypatch):
    """`tile=None` (`swinir-hf eval`'s default) and the pipeline run whole images: a pass whose activations cannot fit
    is an ImageTooLargeError at once, not an allocation failure deep in the model (or the OS killing the process)."""
    import math

    from transformers import pipeline

    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration
    import swinir_hf.models.memory_swinir as modeling

    model = SwinIRForImageRestoration(tiny_config()).eval()
    image = np.zeros((64, 64, 3), np.uint8)
    # What the pass surely needs: the estimate runs up to ≈ 20 % over measured peaks.
    pass_bytes = 64 * 64 * model.activation_bytes_per_pixel("cpu") + model.fixed_activation_bytes("cpu")
    needed = math.ceil(modeling.SURELY_NEEDED * int(pass_bytes))
    restorer = restoration.SwinIRRestorer(model, tile=None, dtype="float32")
    upscaler = pipeline("image-restoration", model=model)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: needed)
    assert restorer(image).shape == upscaler(image).shape == (128, 128, 3)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: needed - 1)
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    message = r"^one pass over a whole 64×64 image needs ≈ [\d.]+ MiB of memory on cpu, but only [\d.]+ MiB are "
    # Each caller names what it takes: the engine its memory planner, the pipeline a tile size that fits.
    advice = {restorer: r"\(tile='auto', swinir_hf.restore's default", upscaler: r"\(tile=\d+ or smaller, in the call"}
    for run in (restorer, upscaler):
        with pytest.raises(memory.ImageTooLargeError, match=message + "available: run it in tiles " + advice[run]):
            run(image)
    monkeypatch.setattr(model, "forward", forward)  # tiles run in that memory
    assert restoration.restore(model, image, tile=32, dtype="float32").shape == (128, 128, 3)


def test_a_pipeline_pass_that_fits_works_out_no_tile_advice(tiny_config, monkeypatch):
    """The largest `tile=` that fits is said in a refusal only: worked out for every whole image that fits, it cost
    more than the memory check itself (a search of the estimate over tile sizes, and the free memory read again)."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.models.memory_swinir as modeling
    import swinir_hf.models.pipeline_swinir as pipeline_swinir

    config, cpu = tiny_config(), torch.device("cpu")
    asked = []
    advice = pipeline_swinir._tile_advice
    monkeypatch.setattr(pipeline_swinir, "_tile_advice", lambda *args: asked.append(args) or advice(*args))
    pipeline_swinir._check_pass_memory(config, (1, 3, 64, 64), (None, 8), cpu, "float32")
    assert asked == []
    # Room for a 64² pass, not for a 512² one.
    per_pixel, fixed = modeling.activation_bytes_per_pixel(config, cpu), modeling.fixed_activation_bytes(config, cpu)
    room = int(64 * 64 * per_pixel + fixed)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: room)
    with pytest.raises(memory.ImageTooLargeError, match=r"run it in tiles \(tile=64 or smaller, in the call"):
        pipeline_swinir._check_pass_memory(config, (1, 3, 512, 512), (None, 8), cpu, "float32")
    assert asked == [(config, 1, cpu, "float32")]


def test_a_pipeline_pass_of_tiles_that_cannot_fit_is_refused_naming_a_tile_that_fits(tiny_config, monkeypatch):
    """The pipeline's `tile=` was checked for the fixed part of a pass only: a tile too large for the memory free
    failed deep in the model (torch.OutOfMemoryError on a GPU). Now the pass it runs (min(tile, H) × min(tile, W),
    `tiles_per_pass` tiles of each image) is judged first, and the refusal names the largest tile that fits."""
    import math

    from transformers import pipeline

    import swinir_hf.inference.memory as memory
    import swinir_hf.models.memory_swinir as modeling
    import swinir_hf.models.pipeline_swinir as pipeline_swinir

    model = SwinIRForImageRestoration(tiny_config()).eval()
    per_pixel, fixed = model.activation_bytes_per_pixel("cpu"), model.fixed_activation_bytes("cpu")
    # What a 64×48 tile's pass surely needs; a byte less is refused.
    just_fits = math.ceil(modeling.SURELY_NEEDED * int(64 * 48 * per_pixel + fixed))
    fitting = max(side for side in range(4, 65, 4) if int(side * side * per_pixel + fixed) <= just_fits - 1)
    assert 4 < fitting < 64
    monkeypatch.setattr(modeling, "available_host_memory", lambda: just_fits - 1)
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    upscaler, image = pipeline("image-restoration", model=model), np.zeros((48, 100, 3), np.uint8)
    refused = r"^one pass over 1 tile of 64×48 pixels needs ≈ [\d.]+ MiB of memory on cpu, but only [\d.]+ MiB are "
    with pytest.raises(memory.ImageTooLargeError, match=refused + rf"available: use smaller tiles \(tile={fitting} or"):
        upscaler(image, tile=64)
    monkeypatch.setattr(model, "forward", forward)
    assert np.asarray(upscaler(image, tile=fitting)).shape == (96, 200, 3)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: just_fits)
    assert np.asarray(upscaler(image, tile=64)).shape == (96, 200, 3)
    # On a GPU four tiles of each image share a pass, and are judged so (faked free memory; nothing runs).
    gpu, config = torch.device("cuda"), model.config
    per_pixel, fixed = modeling.activation_bytes_per_pixel(config, gpu), modeling.fixed_activation_bytes(config, gpu)
    four_fit = math.ceil(modeling.SURELY_NEEDED * int(4 * 64 * 48 * per_pixel + fixed))
    monkeypatch.setattr(modeling, "cuda_free_memory", lambda device: four_fit - 1)
    with pytest.raises(memory.ImageTooLargeError, match="^one pass over 4 tiles of 64×48 pixels"):
        pipeline_swinir._check_pass_memory(config, (1, 3, 48, 200), (64, 8), gpu, "float32")
    monkeypatch.setattr(modeling, "cuda_free_memory", lambda device: four_fit)
    pipeline_swinir._check_pass_memory(config, (1, 3, 48, 200), (64, 8), gpu, "float32")


def test_a_whole_image_pass_in_half_precision_is_judged_by_its_smaller_activations(tiny_config, monkeypatch):
    """The activation estimate is float32's: on a GPU a bfloat16 / float16 pass (autocast) needs about half of it, so
    judged as float32 it was refused in memory that runs it. On the CPU a bfloat16 pass peaks no lower than float32
    (its residual maps stay float32): judged at half, one that cannot fit was let through to be killed by the OS."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration
    import swinir_hf.models.memory_swinir as modeling

    model, cuda = SwinIRForImageRestoration(tiny_config()).eval(), torch.device("cuda")
    needed = int(64 * 64 * model.activation_bytes_per_pixel(cuda) + model.fixed_activation_bytes(cuda))
    half_of_sure = int(modeling.SURELY_NEEDED * needed) // 2 + 64  # enough for the half-size pass, not for float32
    monkeypatch.setattr(modeling, "cuda_free_memory", lambda device: half_of_sure)
    with pytest.raises(memory.ImageTooLargeError, match="one pass over a whole 64×64 image"):
        modeling.check_forward_memory(model.config, (1, 3, 64, 64), cuda, "float32")
    for precision in ("bfloat16", "float16"):
        modeling.check_forward_memory(model.config, (1, 3, 64, 64), cuda, precision)
    cpu_needed = int(64 * 64 * model.activation_bytes_per_pixel("cpu") + model.fixed_activation_bytes("cpu"))
    monkeypatch.setattr(modeling, "available_host_memory", lambda: int(modeling.SURELY_NEEDED * cpu_needed) // 2 + 64)
    image = np.zeros((64, 64, 3), np.uint8)
    for dtype in ("bfloat16", "float32"):
        with pytest.raises(memory.ImageTooLargeError):
            restoration.restore(model, image, tile=None, dtype=dtype)


def test_a_whole_image_pass_on_a_gpu_counts_the_memory_torch_keeps_cached(tiny_config, monkeypatch):
    """After a whole-image pass, torch's caching allocator keeps its activations' memory for reuse, and the driver
    (`mem_get_info`) counts it as taken: judged by the driver alone, a second image of the same size was refused
    although the memory of the first one would run it. Faked CUDA: the figures a GPU gives after such a pass."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.models.memory_swinir as modeling

    config, gpu = tiny_config(), torch.device("cuda", 0)
    shape = (1, 3, 64, 64)
    needed = int(
        64 * 64 * modeling.activation_bytes_per_pixel(config, gpu) + modeling.fixed_activation_bytes(config, gpu)
    )
    # The driver has a quarter of the pass left free; torch holds a whole pass's worth cached, unused.
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (needed // 4, 8 * needed))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: needed + 1000)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1000)  # the weights
    modeling.check_forward_memory(config, shape, gpu)
    memory.check_output_memory((1, 3, 256, 256), 2, gpu)  # a 2 MiB canvas: more than the driver's free figure
    assert memory.memory_budget(gpu) == int(0.8 * (needed // 4 + needed))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: needed + 1000)  # none of it unused
    with pytest.raises(memory.ImageTooLargeError, match="^one pass over a whole 64×64 image needs"):
        modeling.check_forward_memory(config, shape, gpu)


def test_a_canvas_that_fails_to_allocate_is_not_retried_with_smaller_tiles(tiny_config, monkeypatch):
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration
    import swinir_hf.models.tiling_swinir as tiling

    model = SwinIRForImageRestoration(tiny_config()).eval()
    calls = []

    def no_canvas(x, shape):
        calls.append(shape)
        raise tiling.CanvasAllocationError(f"cannot allocate the output {shape}")

    monkeypatch.setattr(tiling, "_canvas", no_canvas)
    with pytest.raises(memory.ImageTooLargeError, match="smaller tiles would not help"):
        restoration.restore(model, np.zeros((64, 64, 3), np.uint8), tile=16, tile_overlap=4, dtype="float32")
    assert len(calls) == 1


# --- 6. nothing silently wrong ---------------------------------------------------------------------------------


def test_float_pixels_out_of_range_and_nan_are_refused(tiny_config, tmp_path, capsys):
    from swinir_hf.inference.restoration import restore

    model = SwinIRForImageRestoration(tiny_config()).eval()
    spans = r"values in \[0, 1\] \(noise may overshoot it, up to \[-4, 5\]\), this one spans \[0, 255\]: divide"
    with pytest.raises(ValueError, match=spans):
        restore(model, np.linspace(0, 255, 64 * 3).reshape(8, 8, 3), dtype="float32")
    nan = np.full((8, 8, 3), 0.5)
    nan[2, 3] = np.nan
    with pytest.raises(ValueError, match="has 3 NaN / infinite values"):
        restore(model, nan, dtype="float32")
    with pytest.raises(ValueError, match="NaN"):
        restore(model, Image.fromarray(nan[..., 0].astype(np.float32)), dtype="float32")
    # noisy [0, 1] images overshoot a little: still accepted
    noisy = np.clip(np.random.default_rng(0).normal(0.5, 0.4, (8, 8, 3)), -1.5, 2.5)
    assert restore(model, noisy, dtype="float32").shape == (16, 16, 3)


def test_animated_gif_says_only_the_first_frame_is_restored(tmp_path, caplog):
    frames = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    caplog.set_level("WARNING")
    assert cli(["restore", str(tmp_path / "anim.gif"), "-o", str(tmp_path / "out"), "--model", "sr-x2"]) == 0
    assert [r.getMessage() for r in caplog.records if "frames" in r.getMessage()] == [
        f"{tmp_path / 'anim.gif'} has 3 frames: only frame 1 is restored"
    ]


def test_a_closed_gif_or_tiff_is_restored(tmp_path, tiny_config, caplog):
    """`with Image.open(p) as im: im.load()` closes the file: counting its frames asked Pillow's stand-in for it
    whether it was closed, which raised "Operation on closed image" (a one-page TIFF was restored before that). Its
    frames are those Pillow has counted (1 where it has not): nothing is read from a file that is gone."""
    from swinir_hf.inference.restoration import restore

    model = SwinIRForImageRestoration(tiny_config()).eval()
    frames = [Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)) for i in range(3)]
    for name, more in (("one.tif", []), ("one.gif", []), ("anim.tif", frames[1:]), ("anim.gif", frames[1:])):
        frames[0].save(tmp_path / name, save_all=True, append_images=more)
        for counted in (False, True):
            caplog.clear()
            with Image.open(tmp_path / name) as image:
                known = image.n_frames if counted else 1  # Pillow walks them, back to the first
                image.load()
            caplog.set_level("WARNING")
            assert restore(model, image).size == (10, 12), name
            said = [r.getMessage() for r in caplog.records if "frames" in r.getMessage()]
            assert said == ([f"{tmp_path / name} has {known} frames: only frame 1 is restored"] if known > 1 else []), (
                name
            )


def test_reading_a_multi_frame_file_leaves_no_file_open(tmp_path, unclosed_files):
    """Pillow keeps a multi-frame file open after its first frame, to seek the others: `restore(model, path)` on a
    GIF or a multi-page TIFF left it open until the image was garbage ("ResourceWarning: unclosed file")."""
    from swinir_hf.inference.image_io import read_image

    frames = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    deep = [Image.fromarray(np.full((8, 8), 300 * i, np.uint16)) for i in range(1, 3)]
    deep[0].save(tmp_path / "pages.tif", save_all=True, append_images=deep[1:])
    frames[1].save(tmp_path / "one.gif")  # Pillow keeps even a one-frame GIF open
    cases = (("anim.gif", frames[0]), ("pages.tif", deep[0]), ("one.gif", frames[1]))
    for name, first in ((name, np.asarray(image)) for name, image in cases):
        with unclosed_files() as unclosed:
            data = read_image(tmp_path / name)
            pixels = np.asarray(data.pixels.convert("RGB") if name.endswith(".gif") else data.pixels)
            del data
        assert np.array_equal(pixels, first), name  # the first frame, whole
        assert unclosed == [], name


def test_16_bit_colour_pngs_are_read_and_written_without_leaving_a_file_open(tmp_path, unclosed_files):
    """pypng never closes a file it opens itself (`png.Reader(filename=)`): reading a 16-bit colour PNG, and writing
    one with an ICC profile (its chunks read back to insert iCCP), each left the file to the garbage collector
    ("ResourceWarning: unclosed file" on stderr, once per image, under -X dev or PYTHONWARNINGS)."""
    from PIL import ImageCms

    from swinir_hf.inference.image_io import read_image
    from swinir_hf.inference.image_writing import write_image

    levels = np.random.default_rng(0).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with unclosed_files() as unclosed:
        write_image(tmp_path / "deep.png", levels, icc)
        data = read_image(tmp_path / "deep.png")
    assert np.array_equal(data.pixels, levels) and data.icc_profile == icc
    assert unclosed == []


def test_float_tiff_is_restored_clamped_into_png_and_tiff(tmp_path, capsys):
    arr = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    Image.fromarray(arr).save(tmp_path / "f.tif")
    for ext in ("png", "tif"):
        out = tmp_path / ext
        assert cli(["restore", str(tmp_path / "f.tif"), "-o", str(out), "--model", "sr-x2", "--ext", ext]) == 0
        restored = Image.open(out / f"f.{ext}")
        assert restored.size == (16, 16)
        values = np.asarray(restored, dtype=np.float64)
        if ext == "png":
            assert restored.mode == "I;16" or restored.mode == "I"
            values /= 65535
        else:
            assert restored.mode == "F"
        assert 0.0 <= values.min() and values.max() <= 1.0


def test_float_image_written_as_8_or_16_bits_keeps_its_values(tmp_path):
    from swinir_hf.inference.image_writing import write_image

    arr = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    for ext, peak in (("jpg", 255), ("webp", 255), ("png", 65535)):
        write_image(tmp_path / f"f.{ext}", Image.fromarray(arr), quality=100)
        written = np.asarray(Image.open(tmp_path / f"f.{ext}").convert("F" if ext == "png" else "L"), np.float64)
        assert np.abs(written / peak - arr).max() < 0.02, ext


def test_jpeg_outputs_keep_full_resolution_colour(tmp_path):
    from PIL import JpegImagePlugin

    from swinir_hf.inference.image_writing import write_image

    # One-pixel red / blue stripes: 4:2:0 averages each pair of columns into purple.
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, 0::2, 0] = 255
    rgb[:, 1::2, 2] = 255
    write_image(tmp_path / "a.jpg", Image.fromarray(rgb), quality=95)
    with Image.open(tmp_path / "a.jpg") as written:
        assert JpegImagePlugin.get_sampling(written) == 0  # 4:4:4
        assert np.abs(np.asarray(written, np.int16) - rgb).max() < 40


def test_lossless_webp_keeps_every_pixel_even_under_full_transparency(tmp_path):
    from swinir_hf.inference.image_writing import write_image

    rgba = np.random.default_rng(0).integers(0, 256, (9, 7, 4), dtype=np.uint8)
    rgba[::2, :, 3] = 0  # libwebp's default would blank the colour under these
    write_image(tmp_path / "a.webp", Image.fromarray(rgba), lossless=True)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.webp")), rgba)


def test_an_animated_webp_is_lossless_or_lossy_as_its_first_frame(tmp_path):
    """`--ext auto` keeps a lossless WebP lossless: in an animation the first frame's chunk sits inside ANMF."""
    from swinir_hf.inference.image_io import is_lossless_webp

    frames = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (8, 8, 3), dtype=np.uint8)) for i in range(2)]
    for lossless in (True, False):
        path = tmp_path / f"{lossless}.webp"
        frames[0].save(path, save_all=True, append_images=frames[1:], lossless=lossless)
        assert b"ANMF" in path.read_bytes() and is_lossless_webp(path) is lossless


# --- 7. files are written as the user expects ------------------------------------------------------------------


def test_the_folders_cleaned_of_dead_temp_files_are_remembered_within_a_bound(tmp_path, monkeypatch):
    """The demo writes each result into a folder of its own: every folder written into was remembered for the
    process's life (≈ 0.5 KB each). The last ones are, and one forgotten is cleaned again at its next write."""
    from swinir_hf.inference.image_writing import write_image
    from swinir_hf.storage import atomic_writes

    monkeypatch.setattr(atomic_writes, "_cleaned", type(atomic_writes._cleaned)())
    kept = getattr(atomic_writes, "_CLEANED_KEPT", 1024)
    for i in range(kept + 50):
        (tmp_path / str(i)).mkdir()
        atomic_writes.remove_stale_temp_files(tmp_path / str(i))
    assert len(atomic_writes._cleaned) == kept
    first = tmp_path / "0"
    dead = first / f".swinir-{process_tag().rsplit('-', 1)[0]}-999999999-abcd1234-old.png"
    dead.write_bytes(b"")
    write_image(first / "a.png", Image.new("RGB", (4, 4)))  # forgotten: cleaned again
    assert not dead.exists()


def test_outputs_follow_the_umask_and_dead_temp_files_are_cleaned(tmp_path, capsys):
    from swinir_hf.inference.image_writing import write_image

    out = tmp_path / "out"
    out.mkdir()
    host = process_tag().rsplit("-", 1)[0]
    dead = out / f".swinir-{host}-999999999-abcd1234-old.png"  # no such pid: a writer killed with -9
    dead.write_bytes(b"")
    alive = out / f".swinir-{host}-{os.getpid()}-abcd1234-busy.png"  # a writer still running
    alive.write_bytes(b"")
    # A container's writer (same host name, another PID namespace: its pid says nothing here); a killed and a running
    # writer of a swinir-hf that named no namespace (taken as of this one, as those versions did)
    elsewhere = out / f".swinir-{host.split('.')[0]}.1234-999999999-abcd1234-theirs.png"
    unnamed_dead = out / f".swinir-{host.split('.')[0]}-999999999-abcd1234-old.png"
    unnamed_alive = out / f".swinir-{host.split('.')[0]}-{os.getpid()}-abcd1234-busy.png"
    for path in (elsewhere, unnamed_dead, unnamed_alive):
        path.write_bytes(b"")
    old = os.umask(0o022)
    try:
        write_image(out / "a.png", Image.new("RGB", (4, 4)))
        os.umask(0o077)
        write_image(out / "b.png", Image.new("RGB", (4, 4)))
    finally:
        os.umask(old)
    assert (out / "a.png").stat().st_mode & 0o777 == 0o644
    assert (out / "b.png").stat().st_mode & 0o777 == 0o600
    assert not dead.exists() and alive.exists() and elsewhere.exists()
    assert not unnamed_dead.exists() and unnamed_alive.exists()
    # The same for text files (swinir-hf eval --json): one temporary-file writer.
    from swinir_hf.storage.atomic_writes import write_text_file

    reports = tmp_path / "reports"
    reports.mkdir()
    dead = reports / f".swinir-{host}-999999999-abcd1234-old.json"
    dead.write_bytes(b"")
    write_text_file(reports / "scores.json", "{}\n")
    assert not dead.exists() and (reports / "scores.json").read_text() == "{}\n"


def test_error_messages_name_each_file_once_and_the_target_not_a_temp_file(tmp_path, capsys):
    from swinir_hf.inference.image_writing import write_image

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert cli(["restore", str(bad), "-o", str(tmp_path / "out"), "--no-progress"]) == 1
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("error:"))
    assert line.count("bad.png") == 1, line
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(OSError) as err:
        write_image(not_a_folder / "x.png", Image.new("RGB", (4, 4)))
    assert str(err.value) == f"cannot write {not_a_folder / 'x.png'}: Not a directory"


# --- 8. following the docs -------------------------------------------------------------------------------------


def test_missing_paths_and_wrong_scales_get_cli_wording(tmp_path, monkeypatch, capsys):
    from swinir_hf.checkpoints.catalog import load_catalog

    monkeypatch.chdir(tmp_path)
    png(tmp_path / "in.png")
    release = load_catalog().releases[0]
    assert cli(["restore", "in.png", "-o", "out", "--model", release.file, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{release.file} does not exist; its converted release loads by its catalogue name, {release.repo}" in err
    assert "load_model(" not in err
    (tmp_path / "models").mkdir()
    assert cli(["restore", "in.png", "-o", "out", "--model", "models/x4", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "models/x4 does not exist" in err and "Hugging Face cache" not in err

    (tmp_path / "hr").mkdir()
    png(tmp_path / "hr" / "a.png", 16)
    assert cli(["eval", "--model", "sr-x4", "--dataset", "hr", "--scale", "2"]) == 1
    err = capsys.readouterr().err
    assert "bicubic ×2 needs a ×2 model, but the model is ×4: leave out the scale" in err
    # a ×4 model on a ×1 setting: no scale was given, so the hint is not to leave one out
    assert cli(["eval", "--model", "sr-x4", "--dataset", "hr", "--noise", "25"]) == 1
    assert "error: noise σ=25 needs a ×1 model, but the model is ×4: give a ×1 model\n" in capsys.readouterr().err


def test_a_header_that_fails_oddly_is_an_oserror_for_the_size_planner(tmp_path, monkeypatch):
    """`image_size` (sorting a batched run by size) meets damaged EXIF as `struct.error` and the like: an OSError,
    which the planner puts last and the read then reports, never a traceback."""
    import struct

    from swinir_hf.inference.image_io import image_size
    from swinir_hf.inference.job_runner import sort_by_size
    from swinir_hf.inference.jobs import Job

    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "b.png")
    assert image_size(tmp_path / "a.png") == (9, 6)

    def broken(self):
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    with pytest.raises(OSError, match=r"^error: unpack requires a buffer of 4 bytes$"):
        image_size(tmp_path / "a.png")
    jobs = [Job(tmp_path / n, tmp_path / "out" / n) for n in ("b.png", "a.png")]
    assert [j.src.name for j in sort_by_size(jobs)] == ["a.png", "b.png"]  # both (0, 0): by path


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_interrupted_conversion_leaves_the_folder_as_it_was(shared, tmp_path, monkeypatch, capsys):
    """`swinir-hf convert --overwrite` stopped by SIGTERM (or Ctrl-C) while it writes: one line, exit 143 (130),
    and the earlier model folder byte for byte, never a new config beside old weights nor a file cut short."""
    from swinir_hf.checkpoints import folders

    zoo = shared / "fixtures" / "official_parity"
    out = tmp_path / "model"
    assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(out)]) == 0
    before = _folder_bytes(out)
    real_write = folders.write_model_files

    def write_then_stop(folder, *args, signum, **kwargs):
        real_write(folder, *args, **kwargs)
        os.kill(os.getpid(), signum)  # while the last files are being written aside

    for signum, status, how in ((signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")):
        monkeypatch.setattr(folders, "write_model_files", lambda *a, s=signum, **k: write_then_stop(*a, signum=s, **k))
        capsys.readouterr()
        assert cli(["convert", str(zoo / "classical_sr_x4.pth"), str(out), "--overwrite"]) == status
        assert (
            capsys.readouterr().err
            == f"{how}: {out} is as it was (the converted model is moved in whole, at the end)\n"
        )
        assert _folder_bytes(out) == before  # no staging folder left either
    assert load_model(out).config.upscale == 2

    # a signal while the new files are moved in comes after them, and says so
    monkeypatch.setattr(folders, "write_model_files", real_write)
    real_replace = os.replace

    def replace_and_stop(src, dst):
        real_replace(src, dst)
        if Path(dst).name == "config.json":
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr("swinir_hf.storage.atomic_writes.os.replace", replace_and_stop)
    capsys.readouterr()
    assert cli(["convert", str(zoo / "classical_sr_x4.pth"), str(out), "--overwrite"]) == 143
    assert capsys.readouterr().err == f"terminated (SIGTERM) once the converted model was in {out}\n"
    monkeypatch.setattr("swinir_hf.storage.atomic_writes.os.replace", real_replace)
    assert load_model(out).config.upscale == 4 and not [p for p in out.iterdir() if p.name.startswith(".")]

    # a killed save's hidden folder does not make the folder "not empty" for a new conversion
    fresh = tmp_path / "fresh"
    (fresh / f".swinir-{process_tag().rsplit('-', 1)[0]}-999999-x").mkdir(parents=True)
    assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(fresh)]) == 0
    assert sorted(p.name for p in fresh.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]


def test_a_signal_during_the_swap_waits_for_it(tiny_config, tmp_path, monkeypatch):
    """Ctrl-C while a save moves its files in is held back until they all are: the folder is the new model whole,
    then the KeyboardInterrupt comes."""
    from swinir_hf.checkpoints import folders

    out = tmp_path / "model"
    folders.save_model_folder(out, SwinIRForImageRestoration(tiny_config(upscale=2)))
    real_replace = os.replace
    calls = []

    def replace_once_interrupted(src, dst):
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)
        calls.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr("swinir_hf.storage.atomic_writes.os.replace", replace_once_interrupted)
    with pytest.raises(KeyboardInterrupt):
        folders.save_model_folder(out, SwinIRForImageRestoration(tiny_config(upscale=3)))
    assert len(calls) == 3 and load_model(out).config.upscale == 3
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]


def test_a_save_over_another_model_leaves_none_of_its_files(tiny_config, tmp_path):
    """A folder that held a Hub export (card, code, weights) saved over with a model alone keeps no file of the
    earlier model: its card would describe, and its code or other weights load, as the new one; other files stay."""
    from swinir_hf.checkpoints import folders
    from swinir_hf.checkpoints.remote_code import AUTO_MAP

    out = tmp_path / "model"
    folders.save_model_folder(
        out, SwinIRForImageRestoration(tiny_config()), "# the x2 card", processor_auto_map=AUTO_MAP
    )
    (out / "pytorch_model.bin").write_bytes(b"old weights")
    (out / "notes.txt").write_text("mine")
    assert {"README.md", "modeling_swinir.py", "configuration_swinir.py"} <= {p.name for p in out.iterdir()}
    folders.save_model_folder(out, SwinIRForImageRestoration(tiny_config(upscale=3)))
    names = ["config.json", "model.safetensors", "notes.txt", "preprocessor_config.json"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert load_model(out).config.upscale == 3


def test_a_fresh_run_removes_the_earlier_runs_model_but_not_its_logs(tmp_path):
    """`train --overwrite` starts by removing the earlier run's checkpoints, final model and summary (until its own
    end the folder would otherwise load, export and push as the earlier model); logs and other files stay."""
    from swinir_hf.training.checks import remove_superseded_work

    out = tmp_path / "run"
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md", "training_summary.json"):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("earlier")
    for name in ("checkpoints/step-00000004/progress.json", "checkpoints/step-00000006.tmp/x", "logs/events", "my.txt"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("x")
    remove_superseded_work(out, None)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["logs/events", "my.txt"]


def test_eval_and_hub_stop_on_sigterm_as_on_ctrl_c(monkeypatch, tmp_path, capsys):
    """A scheduler's SIGTERM stops `eval` and `hub` as Ctrl-C does (temporary files removed on the way out): one
    line saying what was kept and exit status 143, not a silent kill."""
    import time

    from swinir_hf.checkpoints import export_cli
    from swinir_hf.evaluation import cli as eval_cli

    def stop(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the command")

    monkeypatch.setattr(eval_cli, "_run", stop)
    images = tmp_path / "images"
    command = ["eval", "--model", "sr-x4", "--dataset", str(tmp_path), "--save-images", str(images)]
    assert cli(command) == 143
    assert capsys.readouterr().err == "terminated (SIGTERM): no table or --json written\n"  # no image saved yet
    (images / "sr-x4").mkdir(parents=True)
    (images / "sr-x4" / "baby.png").write_bytes(b"an image")
    assert cli(command) == 143
    kept = f"the images saved so far are in {images} (a rerun needs --overwrite)"
    assert capsys.readouterr().err == f"terminated (SIGTERM): no table or --json written; {kept}\n"
    monkeypatch.setattr(export_cli, "_run", stop)
    assert cli(["hub", str(tmp_path), "-o", str(tmp_path / "out")]) == 143
    assert capsys.readouterr().err.startswith(f"terminated (SIGTERM): each folder this run wrote to {tmp_path / 'out'}")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler of before, once the command is over


def test_a_canvas_allocation_that_raises_runtime_error_is_too_large_not_retried(tiny_config, monkeypatch):
    """torch reports a failed CPU allocation as a RuntimeError: for the full-size output it is the engine's
    ImageTooLargeError at once (smaller tiles need the same canvas), not tile halving."""
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration

    model = SwinIRForImageRestoration(tiny_config()).eval()
    new_zeros, canvases = torch.Tensor.new_zeros, []

    def failing_canvas(self, *size, **kwargs):
        shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        if shape == (1, 3, 128, 128):
            canvases.append(shape)
            raise RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried "
                "to allocate 196608 bytes. Error code 12 (Cannot allocate memory)"
            )
        return new_zeros(self, *size, **kwargs)

    monkeypatch.setattr(torch.Tensor, "new_zeros", failing_canvas)
    with pytest.raises(memory.ImageTooLargeError, match=r"output \(1, 3, 128, 128\).*smaller tiles would not help"):
        restoration.restore(model, np.zeros((64, 64, 3), np.uint8), tile=16, tile_overlap=4, dtype="float32")
    assert canvases == [(1, 3, 128, 128)]


# --- runs sharing a folder ---------------------------------------------------------------------------------------

_HOLD = """
import struct
import sys
from swinir_hf.storage.output_folders import folder_claimed
with folder_claimed(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_folder_another_run_writes_into_is_refused_by_convert_train_hub_and_eval(
    shared, tiny_run, train_cli, images, tmp_path, capsys
):
    """A second convert, training, Hub export or `eval --save-images` into a folder a running one writes is refused
    (before: the loser's model silently replaced, two trainings' checkpoints interleaved and --overwrite deleting a
    live run's); the claim is the kernel's, so a killed holder leaves none behind."""
    import subprocess
    import sys

    from swinir_hf.checkpoints import export_cli

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        busy = f"{out} is in use by another swinir-hf run writing into it: wait for it to end, or choose another"
        zoo = shared / "fixtures" / "official_parity"
        capsys.readouterr()
        assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(out)]) == 1
        assert capsys.readouterr().err == f"error: {busy} output folder\n"
        assert train_cli(tiny_run(images, out), "--overwrite") == 1
        assert capsys.readouterr().err == f"error: {busy} train.output_dir\n"
        # An export replacing the held folder (-o its parent, --name it): a training's run folder
        replacing = [str(zoo / "gray_dn.pth"), "-o", str(tmp_path), "--org", "me", "--name", "out", "--overwrite"]
        assert export_cli.main(replacing) == 1
        assert f"error: gray_dn.pth: {busy} -o\n" in capsys.readouterr().err
        model = tmp_path / "model"
        assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(model)]) == 0
        capsys.readouterr()
        scoring = ["eval", "--model", str(model), "--dataset", str(shared / "testsets/Set5"), "--scale", "2"]
        assert cli([*scoring, "--save-images", str(out)]) == 1
        assert capsys.readouterr().err == f"error: {busy} --save-images\n"
        assert list(out.iterdir()) == []
    finally:
        holder.kill()  # SIGKILL: no `finally` runs in it
        holder.wait(timeout=60)
    assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(out)]) == 0
    assert load_model(out).config.upscale == 2


def test_a_claim_holds_against_this_process_too_and_leaves_no_folder_it_made_empty(tmp_path):
    from swinir_hf.storage.output_folders import FolderInUseError, folder_claimed

    out = tmp_path / "a" / "b"
    with folder_claimed(out):
        assert out.is_dir()
        with pytest.raises(FolderInUseError, match=r"choose another -o$"), folder_claimed(out):
            pass
    assert not (tmp_path / "a").exists()  # made by the claim, left empty
    with folder_claimed(out, "--out"):
        (out / "result.txt").write_text("kept")
    assert (out / "result.txt").read_text() == "kept"
    with folder_claimed(out):  # a finished claim is free again
        pass
    assert out.is_dir()
    # Where nothing can be made though access() allows it (root in /proc): one line naming the option, not
    # "[Errno 2] No such file or directory: '/proc/foo'" (`--train.output_dir /proc/foo/run`).
    said = "cannot make output folder /proc/swinir/run (No such file or directory)" if os.geteuid() == 0 else "cannot"
    with pytest.raises(ValueError, match=re.escape(said) + r".*: choose another --train\.output_dir$"):
        with folder_claimed("/proc/swinir/run", "--train.output_dir"):
            pass


def test_without_directory_locks_or_hard_links_runs_go_on_unguarded(tmp_path, monkeypatch):
    """A file system without directory locks (NFS, SMB: flock fails) runs the block unguarded rather than failing;
    one without hard links (FAT) keeps an existing output by a check before the rename."""
    import errno
    import fcntl

    from swinir_hf.storage.atomic_writes import AppearedError, write_text_file
    from swinir_hf.storage.output_folders import folder_claimed

    def no_locks(fd, operation):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with folder_claimed(tmp_path / "a"), folder_claimed(tmp_path / "a"):
        (tmp_path / "a" / "x.txt").write_text("x")

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    write_text_file(tmp_path / "new.txt", "mine", replace=False)
    (tmp_path / "theirs.txt").write_text("theirs")
    with pytest.raises(AppearedError, match="theirs.txt was written by another run"):
        write_text_file(tmp_path / "theirs.txt", "mine", replace=False)
    assert (tmp_path / "new.txt").read_text() == "mine" and (tmp_path / "theirs.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "new.txt", "theirs.txt"]


def test_a_forked_child_does_not_keep_its_parents_claim(tmp_path):
    """A DataLoader worker is a forked child: it drops the claim's descriptor it inherits, so a killed training's
    folder is free at once, not while its orphaned workers live on."""
    import time

    from swinir_hf.storage.output_folders import folder_claimed

    started, ready = os.pipe()
    with folder_claimed(tmp_path):
        child = os.fork()
        if child == 0:  # the child outlives the parent's claim
            os.write(ready, b"1")  # after os.fork's at-fork hooks ran in it
            time.sleep(5)
            os._exit(0)
        assert os.read(started, 1) == b"1"
    try:
        with folder_claimed(tmp_path):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(started)
        os.close(ready)


def test_an_output_folder_that_is_a_symlink_to_nothing_is_one_error_line(shared, tmp_path, capsys):
    """`convert` / `hub` into a dangling symlink ended in mkdir's FileExistsError traceback; `eval --json` onto one
    evaluated, then lost its figures as "written by another run"."""
    from swinir_hf.checkpoints import export_cli

    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    zoo = shared / "fixtures" / "official_parity"
    assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(dangling)]) == 1
    expected = f"output folder {dangling} is not a folder (it is a symlink to nothing)"
    assert capsys.readouterr().err == f"error: {expected}: choose another output folder\n"
    assert export_cli.main([str(zoo / "gray_dn.pth"), "-o", str(dangling / "sub")]) == 1
    assert f"{dangling} is a symlink to nothing" in capsys.readouterr().err
    model = tmp_path / "model"
    assert cli(["convert", str(zoo / "classical_sr_x2.pth"), str(model)]) == 0
    args = ["eval", "--model", str(model), "--dataset", str(shared / "testsets/Set5"), "--scale", "2"]
    assert cli([*args, "--json", str(dangling)]) == 1
    assert capsys.readouterr().err.endswith(f"error: {dangling} exists; pass --overwrite to replace it\n")
    assert dangling.is_symlink() and not dangling.exists()


def test_a_replaced_file_another_run_removed_first_is_no_error(tmp_path, monkeypatch):
    """`written_aside` removes the earlier set's files it does not write again; one gone between its listing and its
    removal (another run's replacement) is fine, not a FileNotFoundError."""
    from swinir_hf.storage import atomic_writes

    listed = atomic_writes.files_matching

    def removed_once_listed(folder, patterns):
        found = listed(folder, patterns)
        for path in found:
            path.unlink()
        return found

    (tmp_path / "old.bin").write_bytes(b"old")
    monkeypatch.setattr(atomic_writes, "files_matching", removed_once_listed)
    with atomic_writes.written_aside(tmp_path, ["*.bin"]) as staging:
        (staging / "new.bin").write_bytes(b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["new.bin"]


@pytest.fixture
def full_disk(monkeypatch) -> None:
    """Every disk reports 4 KiB free (what `write_error` reads to explain a writer's own error)."""
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=4096))


def test_writers_own_errors_on_a_full_disk_say_so_naming_the_output(tmp_path, monkeypatch):
    """Pillow's TIFF encoder, torch's archive writer and safetensors fail on a full disk with errors of their own
    ('tiff codec initialization failed', 'unexpected pos ...'): the message named neither the output nor the cause."""
    from safetensors import SafetensorError

    from swinir_hf.storage.atomic_writes import WriteError, write_error, written_aside, written_atomically

    target = tmp_path / "out.tif"
    codec = RuntimeError("tiff codec initialization failed")
    assert write_error(codec, target) is None  # room on the disk: the codec's own problem, raised as it is
    assert write_error(ValueError("not a write's"), target) is None
    nested = write_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "staging" / "x")
    assert isinstance(nested, WriteError) and nested.errno == errno.ENOSPC
    assert str(write_error(nested, tmp_path / "model")) == f"cannot write {tmp_path / 'model'}: No space left on device"
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=4096))
    with pytest.raises(WriteError) as raised, written_atomically(target):
        raise codec
    assert str(raised.value) == (
        f"cannot write {target}: No space left on device (RuntimeError: tiff codec initialization failed)"
    )
    assert raised.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []  # no temporary file left
    # The disk filling during an encoder's write: Pillow's OSError without errno ("encoder error -9 ...").
    encoder = OSError("encoder error -9 when writing image file")
    assert str(write_error(encoder, target)).endswith(
        "No space left on device (OSError: encoder error -9 when writing image file)"
    )
    error = write_error(OSError(errno.ENOSPC, "No space left on device"), target)
    assert pickle.loads(pickle.dumps(error)).args == error.args  # sent between a launch's processes
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "old.safetensors").write_text("the earlier model")
    with pytest.raises(WriteError, match=r"^cannot write .*model: No space left on device \(SafetensorError: "):
        with written_aside(tmp_path / "model", ["*.safetensors"]) as staging:
            (staging / "new.safetensors").write_text("half")
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["old.safetensors"]
    with pytest.raises(ValueError, match="a check"), written_aside(tmp_path / "model", ["*.safetensors"]):
        raise ValueError("a check")  # not a write's: as it is, whatever the disk


def test_convert_and_hub_export_on_a_full_disk_are_one_line_keeping_the_earlier_model(
    folder, tmp_path, monkeypatch, capsys, full_disk
):
    """safetensors' SafetensorError (not an OSError) ended `convert` and `hub` in a traceback."""
    import transformers.modeling_utils
    from safetensors import SafetensorError

    pth = tmp_path / "authors.pth"
    torch.save({"params": {f"module.{k}": v for k, v in load_file(folder / "model.safetensors").items()}}, pth)
    out = tmp_path / "converted"
    assert cli(["convert", str(pth), str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full)
    capsys.readouterr()
    assert cli(["convert", str(pth), str(out), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: cannot write {out}: No space left on device (SafetensorError: ")
        and "\n" not in err[:-1]
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert cli(["hub", str(pth), "-o", str(tmp_path / "hub"), "--org", "me"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'hub' / 'swinir-authors'}: No space left on device (SafetensorError: " in err
    assert "Traceback" not in err and not (tmp_path / "hub").exists()  # no staging folder left, nor the folder made


def test_training_on_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(
    tiny_run, train_cli, images, tmp_path, monkeypatch, capsys
):
    """A checkpoint save on a full disk ended in torch's 'unexpected pos' RuntimeError traceback; TensorBoard
    failing to start was hidden behind accelerate's AttributeError from closing it."""
    from accelerate import Accelerator

    out = tmp_path / "run"
    raw = tiny_run(images, out, train={"max_steps": 4, "checkpoint_every": 2})
    save_state = Accelerator.save_state

    def fills_up(self, output_dir, **kwargs):
        if output_dir.endswith("step-00000004.tmp"):
            usage = shutil.disk_usage("/")
            monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=0))
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 144512 vs 144400")
        return save_state(self, output_dir, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", fills_up)
    assert train_cli(raw) == 1
    err = capsys.readouterr().err
    checkpoints = out / "checkpoints"
    assert err.endswith(
        f"error: cannot write {checkpoints / 'step-00000004'}: No space left on device (RuntimeError: [enforce fail "
        "at inline_container.cc:672] . unexpected pos 144512 vs 144400); the run can go on from step-00000002 "
        "(--resume latest)\n"
    )
    assert [p.name for p in checkpoints.iterdir()] == ["step-00000002"]
    monkeypatch.undo()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def not_started(self):
        raise AttributeError("'TensorBoardTracker' object has no attribute 'writer'")

    monkeypatch.setattr(Accelerator, "init_trackers", no_space)
    monkeypatch.setattr(Accelerator, "end_training", not_started)
    assert train_cli(raw, "--resume", "latest") == 1
    assert capsys.readouterr().err.endswith(f"error: cannot write {out / 'logs'}: No space left on device\n")


def test_checkpoint_suffixes_in_any_case_and_no_hidden_files(folder, tmp_path, capsys):
    """`hub FOLDER` exported its `*.pth` only in lower case and took macOS' `._x.pth` for a checkpoint (a failure,
    the real one never considered); `--model X.PTH` was taken for a Hub id."""
    from swinir_hf.checkpoints.loading import looks_like_path

    releases = tmp_path / "releases"
    releases.mkdir()
    state = {f"module.{k}": v for k, v in load_file(folder / "model.safetensors").items()}
    torch.save({"params": state}, releases / "LW.PTH")
    (releases / "._LW.PTH").write_bytes(b"\0" * 4096)
    assert cli(["hub", str(releases), "-o", str(tmp_path / "hub"), "--org", "me"]) == 0
    assert "1 of" not in capsys.readouterr().err and (tmp_path / "hub" / "swinir-lw").is_dir()
    assert looks_like_path("MISSING.PTH") and looks_like_path("x.SAFETENSORS") and not looks_like_path("org/name")


def test_a_run_folder_of_any_name_gets_a_card_whose_usage_runs(tiny_run, train_cli, images, tmp_path, capsys):
    """The card's snippets quoted the folder as it was: `model="my "best" run"` (a SyntaxError in Python) and
    `--model my "best" run` (split by the shell); a path that is not valid UTF-8 failed at the first checkpoint."""
    import ast
    import shlex

    from swinir_hf.checkpoints.cards import _usage

    config = SwinIRForImageRestoration(tiny_config_for_cards()).config
    folder = 'runs\\new/my "best" run'
    usage = _usage(folder, config, remote_code=False)
    python = re.search(r'pipeline\("image-restoration", model=(.*)\)\n', usage).group(1)
    assert ast.literal_eval(python) == folder
    command = re.search(r"swinir-hf restore input.png -o restored/ --model (.*?)   #", usage).group(1)
    assert shlex.split(command) == [folder]
    odd = tmp_path / os.fsdecode(b"o\xff")
    assert train_cli(tiny_run(images, tmp_path / "run", train={"max_steps": 1}), "--train.output_dir", str(odd)) == 1
    assert capsys.readouterr().err.endswith("its path is not valid UTF-8; choose another\n") and not odd.exists()


def tiny_config_for_cards():
    from swinir_hf import SwinIRConfig

    return SwinIRConfig(embed_dim=12, depths=[2], num_heads=[2], window_size=8, upscale=2, upsampler="pixelshuffle")


def test_an_image_folder_datasets_cannot_read_is_one_line(tmp_path, monkeypatch):
    """`restore --dataset imagefolder:DIR` with a file name that is not valid UTF-8 ended in datasets'
    DatasetGenerationError traceback."""
    from swinir_hf.image_datasets import load_image_dataset

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    png(folder / "a.png")
    png(folder / os.fsdecode(b"b\xff.png"))
    with pytest.raises(ValueError, match=r"datasets cannot read the folder: UnicodeEncodeError: 'utf-8' codec"):
        load_image_dataset(f"imagefolder:{folder}", cache_dir=str(tmp_path / "cache"))


def test_a_path_longer_than_the_system_takes_is_one_line(tmp_path, capsys):
    """Every name under 255 bytes but the whole path over PATH_MAX: restore, eval --save-images, convert and hub
    ended in an ENAMETOOLONG traceback from the first look at it."""
    from swinir_hf.storage.paths import PATH_MAX

    deep = tmp_path.joinpath(*["y" * 200] * (PATH_MAX // 201 + 1))
    for command in (["convert", "nowhere.pth", str(deep)], ["restore", str(png(tmp_path / "a.png")), "-o", str(deep)]):
        assert cli(command) == 1, command
        err = capsys.readouterr().err
        assert err.startswith(f"error: output folder {deep}: its path is ") and err.endswith(" a path may have\n")


def _traced_peak(fn, *args):
    """fn(*args) and the peak bytes that numpy arrays and Python objects took above the start while it ran."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_output_is_resized_and_rounded_without_whole_image_temporaries():
    """What the host holds above the output's float canvas: the resize stacked all its planes after holding them
    (2 resized canvases at once), the rounding clipped a whole float copy and, for the model output's transposed
    view, made a transposed result that Pillow copied again; the outscale 1000 run went past its planned memory."""
    from swinir_hf.inference.jobs import resize_float
    from swinir_hf.models.pixels_swinir import float_to_image

    rng = np.random.default_rng(0)
    small = rng.random((12, 16, 3), dtype=np.float32)
    resized, peak = _traced_peak(resize_float, small, (1024, 768))
    assert resized.shape == (768, 1024, 3) and peak < 1.75 * resized.nbytes  # the canvas, 2 planes in Pillow's copy
    plane = Image.fromarray(np.ascontiguousarray(small[..., 1])).resize((1024, 768), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(resized[..., 1], np.asarray(plane))

    colour = (rng.random((3, 1536, 2048), dtype=np.float32) * 1.2 - 0.1).transpose(1, 2, 0)  # from_reconstruction's
    for bits, dtype in ((8, np.uint8), (16, np.uint16)):
        out, peak = _traced_peak(float_to_image, colour, bits, "np")
        expected = np.rint(np.clip(colour, 0.0, 1.0) * (2.0**bits - 1)).astype(dtype)
        # the result and blocks of rows of a few MiB (a float copy of the whole 36 MiB image before)
        assert out.flags.c_contiguous and peak < out.nbytes + (12 << 20)
        np.testing.assert_array_equal(out, expected)


def test_a_pil_output_is_made_without_a_whole_uint8_copy():
    """A PIL result is pasted into block by block: a whole uint8 array first, which Pillow then copied, held one
    more copy of a huge output (the CLI's peak, at ×2, was 24 B an output pixel; 20 now)."""
    from swinir_hf.models.pixels_swinir import float_to_image

    rng = np.random.default_rng(1)
    for shape, bits, mode in (((3072, 4096, 3), 8, "RGB"), ((3072, 4096, 1), 16, "I;16"), ((3072, 4096, 4), 8, "RGBA")):
        colour = rng.random(shape, dtype=np.float32) * 1.2 - 0.1
        image, peak = _traced_peak(float_to_image, colour, bits)
        levels = np.rint(np.clip(colour, 0.0, 1.0) * (2.0**bits - 1)).astype(np.uint8 if bits == 8 else np.uint16)
        assert image.mode == mode and peak < 0.5 * levels.nbytes  # blocks of rows (the whole array before)
        np.testing.assert_array_equal(np.asarray(image), levels[..., 0] if shape[-1] == 1 else levels)


def test_an_image_s_float_copies_are_let_go_before_its_pass(tiny_config, monkeypatch):
    """While the model runs, `restore` holds one float copy of the input (its pixel values): it also held the
    float colour they were made from, and `torch.cat` copied a lone image's pixel values once more."""
    import tracemalloc

    import torch

    from swinir_hf import SwinIRForImageRestoration, restore
    from swinir_hf.inference.restoration import SwinIRRestorer
    from swinir_hf.models.pixels_swinir import batched

    lone = torch.zeros(1, 3, 2, 2)
    assert batched([lone]) is lone and batched([lone, lone]).shape == (2, 3, 2, 2)
    held = []

    def forward(self, model, x):
        held.append(tracemalloc.get_traced_memory()[0])
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    monkeypatch.setattr(SwinIRRestorer, "_forward", forward)
    model = SwinIRForImageRestoration(tiny_config())
    image = np.random.default_rng(0).integers(0, 256, (1024, 1536, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        out = restore(model, image, tile=None)
    finally:
        tracemalloc.stop()
    pixel_values = image.size * 4
    assert out.shape == (2048, 3072, 3) and held[0] < 1.25 * pixel_values  # 2 float copies held before


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_a_float_array_output_is_made_in_one_copy(dtype):
    """A float array's result: clipped into a C-order array of its dtype in one pass. Clipping the model output's
    transposed view copied it in that layout, and a second copy put it in C order (peak: two outputs)."""
    from swinir_hf.models.pixels_swinir import compose_image, split_image

    _, layout = split_image(np.zeros((4, 4, 3), dtype))
    colour = (np.random.default_rng(0).random((3, 768, 1024), dtype=np.float32) * 1.2 - 0.1).transpose(1, 2, 0)
    out, peak = _traced_peak(compose_image, colour, layout)
    assert out.dtype == dtype and out.flags.c_contiguous and peak < 1.1 * out.nbytes, (peak, out.nbytes)
    np.testing.assert_array_equal(out, np.clip(colour, 0.0, 1.0).astype(dtype))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_integer_array_output_holds_one_float_block_besides_itself(dtype):
    """A uint8 / uint16 array's result: each block of rows clamped and rounded as floats, then cast as it is stored.
    The block's levels were made as a block of their own first, then copied in (one more block at the peak)."""
    from swinir_hf.models.pixels_swinir import compose_image, split_image

    _, layout = split_image(np.zeros((4, 4, 3), dtype))
    colour = (np.random.default_rng(0).random((3, 768, 1024), dtype=np.float32) * 1.2 - 0.1).transpose(1, 2, 0)
    out, peak = _traced_peak(compose_image, colour, layout)
    block = 4 * 3 * 1024 * ((1 << 20) // (3 * 1024))  # float32 rows of ≈ 4 MiB (`_block_rows`)
    assert out.dtype == dtype and out.flags.c_contiguous and peak < out.nbytes + 1.1 * block, (peak, out.nbytes)
    expected = np.rint(np.clip(colour, 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)
    np.testing.assert_array_equal(out, expected)


def test_the_host_memory_planned_for_an_output_is_its_measured_peak_and_a_margin(monkeypatch):
    """2 × the float32 canvas (measured: 1.5-1.62 for RGB, RGBA and 16-bit outputs) and 2.5 × a resized output's
    (measured: up to 2.0): an output refused needs more than is available, one planned to fit is not refused."""
    import swinir_hf.inference.memory as memory

    canvas, resized = 2 * 3 * 40 * 40 * 4, 2 * 3 * 500 * 300 * 4  # an image and its alpha pass, 10×10 ×4 → 500×300
    cpu = torch.device("cpu")
    for resized_to, needed in ((None, 2 * canvas), ((500, 300), 2 * canvas + 5 * resized // 2)):
        monkeypatch.setattr(memory, "available_host_memory", lambda n=needed: n)
        memory.check_output_memory((2, 3, 10, 10), 4, cpu, resized_to)
        monkeypatch.setattr(memory, "available_host_memory", lambda n=needed: n - 1)
        with pytest.raises(memory.ImageTooLargeError, match="host memory"):
            memory.check_output_memory((2, 3, 10, 10), 4, cpu, resized_to)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="RLIMIT_FSIZE is POSIX")
def test_a_jpeg_cut_short_by_the_disk_is_an_error_not_an_output(tmp_path):
    """Pillow's C encoders, given a descriptor, ignore a short write: on a full disk, a JPEG missing its last bytes was
    saved without an error and renamed into place as a finished output, which every rerun then skipped. The file
    size limit makes the last write short, as a disk filling up does."""
    import resource

    from swinir_hf.inference.image_writing import write_image
    from swinir_hf.storage.atomic_writes import WriteError

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    write_image(tmp_path / "whole.jpg", image)
    size = (tmp_path / "whole.jpg").stat().st_size
    limits, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size - 100, limits[1]))  # the last 100 bytes do not fit
        with pytest.raises(WriteError, match=f"^cannot write {re.escape(str(tmp_path / 'cut.jpg'))}: File too large"):
            write_image(tmp_path / "cut.jpg", image)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.jpg"]  # nothing cut, no temporary file


# ---------------------------------------------------------------------------------------------------------------
# Windows and macOS, as far as their calls can be stood in for here (a portability audit found each of these).


def test_free_memory_without_os_sysconf_is_not_an_error(monkeypatch):
    """Windows has neither /proc nor os.sysconf: every restore died of an AttributeError in the memory check."""
    from swinir_hf.models import memory_swinir

    monkeypatch.delattr(os, "sysconf")
    monkeypatch.setattr(memory_swinir, "_meminfo", lambda *a, **k: None)
    assert memory_swinir.available_host_memory() > 0


def test_the_demos_private_folder_where_there_are_no_user_ids(tmp_path, monkeypatch):
    """os.geteuid does not exist on Windows: the demo did not start."""
    from swinir_hf.demo.server import _private_folder

    monkeypatch.delattr(os, "geteuid")
    assert _private_folder(tmp_path / "gradio") == tmp_path / "gradio" and (tmp_path / "gradio").is_dir()


def test_a_process_is_looked_up_by_a_handle_on_windows_never_by_os_kill(monkeypatch):
    """os.kill(pid, 0) sends Ctrl-C on Windows (CTRL_C_EVENT is 0), and a dead pid raised an OSError uncaught."""
    import sys
    import types

    from swinir_hf.storage import atomic_writes

    running, denied, waits = 101, 102, {}

    def open_process(access, inherit, pid):
        if pid == denied:
            raise PermissionError(13, "Access is denied")  # winerror 5
        if pid not in (running, 103):
            raise OSError(22, "The parameter is incorrect")  # winerror 87
        return pid

    fake = types.SimpleNamespace(
        OpenProcess=open_process,
        WaitForSingleObject=lambda handle, ms: waits.setdefault(handle, 0x102 if handle == running else 0),
        CloseHandle=lambda handle: None,
        WAIT_TIMEOUT=0x102,
    )
    monkeypatch.setitem(sys.modules, "_winapi", fake)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(os, "kill", lambda *a: pytest.fail("os.kill on Windows"))
    assert atomic_writes._alive(running) and atomic_writes._alive(denied)
    assert not atomic_writes._alive(99) and not atomic_writes._alive(103)  # none such; one that has exited


def test_a_file_system_without_hard_links_on_windows_still_keeps_what_appeared(tmp_path, monkeypatch):
    """Windows reports a FAT / exFAT / SMB volume's missing hard links as EINVAL: every write without --overwrite
    failed with "Incorrect function"."""
    from swinir_hf.storage.atomic_writes import AppearedError, write_text_file

    def no_links(src, dst):
        raise OSError(errno.EINVAL, "Incorrect function")

    monkeypatch.setattr(os, "link", no_links)
    write_text_file(tmp_path / "a.txt", "new", replace=False)
    assert (tmp_path / "a.txt").read_text() == "new"
    with pytest.raises(AppearedError):
        write_text_file(tmp_path / "a.txt", "newer", replace=False)
    assert (tmp_path / "a.txt").read_text() == "new"


def test_saved_output_names_hold_no_character_windows_refuses():
    """Two --model folders of one name are labelled as typed: `C:\\runs\\a\\step-6` joined to --save-images on
    Windows is a drive-relative path, outside it."""
    from swinir_hf.storage.paths import PORTABLE_NAME_MAX, portable_name

    assert portable_name("C:\\runs\\a\\step-6") == "C__runs_a_step-6"
    assert portable_name('a<b>c:"d|e?f*g') == "a_b_c__d_e_f_g" and portable_name("..") == "__"
    # A NUL or a name over 255 bytes failed at the write, after the image was restored (a security audit).
    assert portable_name("a\x00b\x1b[2J") == "a_b_[2J"
    long_a, long_b = "é" * 300 + "a", "é" * 300 + "b"
    assert len(portable_name(long_a).encode()) <= PORTABLE_NAME_MAX and portable_name(long_a) != portable_name(long_b)


def test_a_ctrl_c_is_waited_through_on_windows_not_passed_on(monkeypatch):
    """Windows' send_signal takes no SIGINT (ValueError: the launcher exited 2, its child running on), and the child
    has the console's Ctrl-C itself."""
    from swinir_hf.launch import _passing_on

    sent = []
    child = type("Child", (), {"send_signal": lambda self, s: sent.append(s)})()
    _passing_on(child, windows=True)(signal.SIGINT, None)
    _passing_on(child, windows=True)(signal.SIGTERM, None)
    _passing_on(child, windows=False)(signal.SIGINT, None)
    assert sent == [signal.SIGTERM, signal.SIGINT]


def test_configs_are_read_as_utf8_whatever_the_locale(tmp_path):
    """The bundled configs' comments hold σ and ²: under a non-UTF-8 locale (C here, cp932 on a Japanese Windows)
    reading them failed ("'ascii' codec can't decode byte 0xcf")."""
    import subprocess
    import sys

    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8")
    code = "from swinir_hf.training.config import read_config_file; print(sorted(read_config_file('color_dn')))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert run.returncode == 0 and "'data'" in run.stdout, run.stderr


# ---------------------------------------------------------------------------------------------------------------
# Hostile inputs (a security audit found each of these).


def test_a_plain_ppm_whose_text_outruns_its_header_is_not_split_whole(tmp_path):
    """A 1×1 16-bit plain PPM over megabytes of numbers passed the demo's pixel limit, then became a Python object
    for every number (1.46 GB for 48 MB)."""
    import tracemalloc

    from swinir_hf.inference.image_io import read_image

    path = tmp_path / "bomb.ppm"
    path.write_bytes(b"P3\n1 1\n65535\n1 2 3 " + b"10 " * 2_000_000)
    tracemalloc.start()
    pixels = read_image(path).pixels
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.asarray(pixels).tolist() == [[[1, 2, 3]]] and peak < 30 * 2**20  # the file is 6 MB; its split was 130


def test_a_hostile_record_in_an_existing_output_is_no_record(tmp_path):
    """A PNG whose Software text was `swinir-hf ` + 200,000 `[` ended the whole run in a RecursionError."""
    from PIL.PngImagePlugin import PngInfo

    from swinir_hf.inference.provenance import read_provenance

    info = PngInfo()
    info.add_text("Software", "swinir-hf " + "[" * 200_000)
    Image.new("RGB", (2, 2)).save(tmp_path / "a.png", pnginfo=info)
    assert read_provenance(tmp_path / "a.png") is None


def test_an_animated_files_frames_are_counted_no_further_than_needed(tmp_path):
    """Pillow's n_frames seeks every frame: a 23 MB GIF of a million frames took seconds per upload, twice."""
    from swinir_hf.demo.uploads import frames_note
    from swinir_hf.models.frames_swinir import frame_count

    frames = [Image.new("L", (4, 4), i % 256) for i in range(1200)]  # neighbours differ: none merged
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=10)
    with Image.open(tmp_path / "a.gif") as image:
        assert frame_count(image, cap=1000) == 1001 and image.tell() == 0
        assert frame_count(image, cap=5000) == 1200
    assert frames_note(tmp_path / "a.gif") == " · animated (over 1,000 frames): only the first is restored"
    frames[0].save(tmp_path / "b.gif", save_all=True, append_images=frames[1:3], duration=10)
    assert frames_note(tmp_path / "b.gif") == " · animated (3 frames): only the first is restored"
    # An APNG says its count in its header, where seeking would decode every frame (a reviewer: 2 s for 100 of 1024²).
    frames[0].save(tmp_path / "c.png", save_all=True, append_images=frames[1:40])
    with Image.open(tmp_path / "c.png") as image:
        image.seek = lambda *a: pytest.fail("seeked")
        assert frame_count(image) == 40 and frame_count(image, cap=10) == 11


def _tiff_chain(pages: int, last_points_to: int = 0) -> bytes:
    """A little-endian TIFF of `pages` 1 × 1 grey pages, its last IFD pointing to page `last_points_to` (1-based; 0:
    to none)."""
    ifd, page = 2 + 8 * 12 + 4, 2 + 8 * 12 + 4 + 2
    data = b"II*\0" + struct.pack("<L", 8)
    for i in range(pages):
        at = 8 + i * page
        following = at + page if i + 1 < pages else (8 + (last_points_to - 1) * page if last_points_to else 0)
        entries = [(256, 1), (257, 1), (258, 8), (259, 1), (262, 1), (273, at + ifd), (278, 1), (279, 1)]
        data += struct.pack("<H", len(entries))
        data += b"".join(struct.pack("<HHLL", tag, 4, 1, value) for tag, value in entries)
        data += struct.pack("<L", following) + bytes([i % 256, 0])
    return data


def test_frames_are_counted_from_the_files_structure_as_pillow_counts_them(tmp_path, monkeypatch):
    """A GIF's frames were found by Pillow's public seek, which decodes each one (2 ms a 512² frame), and a TIFF's
    pages by its n_frames, which reads every page's tags, whatever the cap (a million pages: tens of seconds). Now
    they are walked (image descriptors, the IFD chain) without Pillow's reading: the counts Pillow's n_frames gives,
    on GIFs with extensions and comments, TIFFs classic and big of both byte orders, an IFD chain that loops back,
    a file cut short in its last frame's pixels; one cut short in a later frame is counted up to there (where
    Pillow's own n_frames raises), never an error: only the first frame is read."""
    import io

    import tifffile
    from PIL import GifImagePlugin, TiffImagePlugin

    from swinir_hf.demo.uploads import frames_note
    from swinir_hf.models.frames_swinir import frame_count

    def counted(data: bytes, cap: int = 1000) -> tuple[int, int]:
        """(frame_count, Pillow's n_frames), frame_count without Pillow's seeking (nor its n_frames)."""
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pixels = np.asarray(image)
            with monkeypatch.context() as m:
                for kind in (GifImagePlugin.GifImageFile, TiffImagePlugin.TiffImageFile):
                    for name in ("seek", "_seek", "n_frames", "load"):
                        m.setattr(kind, name, property(lambda self: pytest.fail("Pillow read the frames")))
                count = frame_count(image, cap)
            assert image.tell() == 0 and np.array_equal(np.asarray(image), pixels)
            if count > 1:  # the next frame is read as without the count: the file was left where it was
                image.seek(1)
                second = np.asarray(image.convert("RGB"))
                with Image.open(io.BytesIO(data)) as fresh:
                    fresh.seek(1)
                    assert np.array_equal(second, np.asarray(fresh.convert("RGB")))
            return count, image.n_frames

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (20, 30 - i, 3), dtype=np.uint8)) for i in range(5)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], comment=b"made here", loop=0, duration=20)
    gif = gif.getvalue()
    second = gif.index(b"!\xf9\x04", gif.index(b"!\xf9\x04") + 1)  # the second frame's control extension
    commented = gif[:second] + b"!\xfe\x05hello\x03bye\x00!\x01\x02ab\x00" + gif[second:]  # a comment, a text
    assert counted(gif) == counted(commented) == counted(gif[:-1]) == (5, 5)  # without its trailer too
    assert counted(gif, cap=2) == (3, 5)
    pages = io.BytesIO()
    frames[0].save(pages, "TIFF", save_all=True, append_images=frames[1:])
    pages = pages.getvalue()
    assert counted(pages) == counted(pages[:-10]) == (5, 5) and counted(pages, cap=3) == (4, 5)
    assert counted(_tiff_chain(4, last_points_to=2)) == (4, 4)  # a loop: each page once
    assert counted(_tiff_chain(40), cap=10) == (11, 40)
    from swinir_hf.models.frames_swinir import _tiff_pages  # of files Pillow cannot open too

    for big, order in ((False, "<"), (False, ">"), (True, "<"), (True, ">")):
        written = io.BytesIO()
        with tifffile.TiffWriter(written, bigtiff=big, byteorder=order) as tif:
            for i in range(3):
                tif.write(np.full((4, 5), i, np.uint8), description=f"page {i}")
        assert _tiff_pages(io.BytesIO(written.getvalue()), 1000) == 3, (big, order)
        if not (big and order == ">"):  # which Pillow cannot open
            assert counted(written.getvalue()) == (3, 3), (big, order)
    # Cut short in a later frame's image data or descriptor (a GIF), or IFD (a TIFF): counted up to there, the frame
    # cut short too where its descriptor or IFD begins; the demo's note says so as of any other.
    last = gif.rindex(b"!\xf9\x04") + 8  # the last frame's image descriptor, after its control extension
    assert gif[last : last + 1] == b","
    within = {"GIF's data": (gif[: last + 30], 5), "GIF's descriptor": (gif[: last + 5], 4)}
    within["TIFF's IFD"] = (_tiff_chain(3)[: 8 + 2 * 104 + 50], 3)
    for where, (data, frames_found) in within.items():
        with Image.open(io.BytesIO(data)) as image:
            assert frame_count(image) == frames_found, where
        (tmp_path / "cut").write_bytes(data)
        assert frames_note(tmp_path / "cut") == f" · animated ({frames_found} frames): only the first is restored"


def test_a_file_damaged_past_its_first_frame_is_restored_from_it(tmp_path, tiny_config, caplog):
    """Frame counting refused files whose first frame Pillow reads, as "image file is truncated (frame 4 is cut
    short)": a GIF missing only its last block terminator and trailer (Pillow decodes all 4 frames), or whose last
    terminator is a stray length byte; a TIFF cut inside page 2's IFD; one whose page 2 has an entry's values past
    the file's end (a reviewer's fuzzing: 92 of 3,000 one-byte mutations). The count only feeds the warning that
    later frames are not restored: they are counted up to the damage, as Pillow's n_frames counts them."""
    import io

    import tifffile

    from swinir_hf.inference.image_io import read_image
    from swinir_hf.inference.restoration import restore

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)) for _ in range(4)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0, comment=b"hello" * 60)
    gif = gif.getvalue()
    assert gif.endswith(b"\0;")  # the last frame's block terminator, the trailer
    written = io.BytesIO()
    with tifffile.TiffWriter(written) as tif:
        for _ in range(3):
            tif.write(rng.integers(0, 255, (16, 16, 3), np.uint8), photometric="rgb", description="x" * 100)
    pages = written.getvalue()
    second = tifffile.TiffFile(io.BytesIO(pages)).pages[1].offset  # page 2's IFD
    chain = bytearray(_tiff_chain(4))
    chain[8 + 104 + 2 + 6 * 12 + 4 : 8 + 104 + 2 + 6 * 12 + 8] = struct.pack("<L", 0xD8000001)  # 278's count
    files = {"noterm.gif": (gif[:-2], 4), "stray.gif": (gif[:-2] + b" ;", 4)}
    files |= {"cut.tif": (pages[: second + 60], 2), "entry.tif": (bytes(chain), 2)}
    model = SwinIRForImageRestoration(tiny_config()).eval()
    caplog.set_level("WARNING")
    for name, (data, found) in files.items():
        (tmp_path / name).write_bytes(data)
        with Image.open(io.BytesIO(data)) as image:
            first = np.asarray(image.convert("RGB"))
        caplog.clear()
        assert np.array_equal(np.asarray(read_image(tmp_path / name).pixels.convert("RGB")), first), name
        assert restore(model, tmp_path / name).size == (2 * first.shape[1], 2 * first.shape[0]), name
        said = [r.getMessage() for r in caplog.records if "frames" in r.getMessage()]
        assert said == [f"{tmp_path / name} has {found} frames: only frame 1 is restored"] * 2, name


def test_a_restored_datasets_names_are_base_names_any_system_takes(tmp_path):
    """Only "/" was split on: `..\\..\\Windows\\evil.png` and names with control characters were stored as they were."""
    from swinir_hf.inference.dataset_values import dataset_image

    image = Image.new("RGB", (2, 2))
    for path, name in [
        ("..\\..\\Windows\\evil.png", "evil.png"),
        ("C:\\x\\..\\..\\autoexec.bat", "autoexec.png"),
        ("a\x00b\x1b[2J.png", "a_b_[2J.png"),
        ("zip://inner/c.jpg::https://host/d.zip", "c.png"),
    ]:
        assert dataset_image(image, {"bytes": None, "path": path})["path"] == name


def _rgba_input(rng, size, channels, dtype):
    """An (H, W, channels) image, alpha last, whose left quarter is fully transparent over black (a placeholder
    `fill_hidden_colour` fills and `compose_image` puts back), as an array of `dtype` or, for uint8, a PIL image."""
    h, w = size
    peak = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1.0)
    pixels = rng.random((h, w, channels)) * peak
    pixels[..., -1] = np.maximum(pixels[..., -1], peak / 255)  # visible but the left quarter
    pixels[:, : w // 4] = 0
    pixels = pixels.round().astype(dtype) if peak > 1 else pixels.astype(dtype)
    return Image.fromarray(pixels, "LA" if channels == 2 else "RGBA") if dtype == np.uint8 else pixels


@pytest.mark.parametrize(("channels", "dtype"), [(4, np.uint8), (2, np.uint8), (4, np.uint16), (2, np.float32)])
def test_an_alpha_output_is_the_same_composed_by_blocks_of_rows(channels, dtype):
    """`compose_image` puts the hidden colour back and appends the alpha by blocks of rows (a whole float copy of
    the output each before): the bytes are those of the whole-image composition, over several blocks."""
    from swinir_hf.models.pixels_swinir import compose_image, split_image

    rng = np.random.default_rng(2)
    _, layout = split_image(_rgba_input(rng, (300, 512), channels, dtype))
    assert layout.hidden_colour is not None and layout.alpha.shape == (300, 512)
    colour = (rng.random((channels - 1, 600, 1024), dtype=np.float32) * 1.2 - 0.1).transpose(1, 2, 0)
    out = np.asarray(compose_image(colour, layout))
    # The whole-image composition compose_image made before: the alpha resized, then two float copies.
    resized = Image.fromarray(layout.alpha).resize((1024, 600), Image.Resampling.BICUBIC)
    alpha = np.clip(np.asarray(resized), 0.0, 1.0)
    zero = alpha <= 0 if dtype == np.float32 else alpha < 0.5 / (255 if dtype == np.uint8 else 65535)
    whole = np.concatenate([np.where(zero[..., None], layout.hidden_colour, colour), alpha[..., None]], axis=-1)
    if dtype == np.float32:
        expected = np.clip(whole, 0.0, 1.0)
    else:
        expected = np.rint(np.clip(whole, 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)
    assert zero.any() and out.dtype == dtype and out.shape == (600, 1024, channels)
    np.testing.assert_array_equal(out, expected)


def test_an_alpha_output_is_composed_without_whole_float_copies():
    """An RGBA output's hidden colour and alpha channel were each a whole float copy of the restored image: 2.0-2.7
    colour canvases above the result at the peak here; 0.61-0.67 now, the resized alpha's third and blocks of rows."""
    from swinir_hf.models.pixels_swinir import compose_image, split_image

    rng = np.random.default_rng(3)
    colour = (rng.random((3, 1536, 2048), dtype=np.float32) * 1.2 - 0.1).transpose(1, 2, 0)
    for image in (_rgba_input(rng, (768, 1024), 4, np.uint8), _rgba_input(rng, (768, 1024), 4, np.uint16)):
        _, layout = split_image(image)
        out, peak = _traced_peak(compose_image, colour, layout)
        assert np.asarray(out).shape == (1536, 2048, 4)
        result = out.nbytes if isinstance(out, np.ndarray) else 0  # Pillow's memory is not traced
        assert peak < result + 0.8 * colour.nbytes, (peak - result) / colour.nbytes
