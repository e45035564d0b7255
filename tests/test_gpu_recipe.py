"""The GPU lease recipe (hub/pack_gpu_data.py, hub/gpu_lease.py, configs gpu_*), dry-run on the CPU: all five
configs train a couple of steps with a tiny body, the returned files fit the lease's limits, a second lease on a
fresh machine resumes from them and returns the checkpoint its trainer saved when stopped by SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from swinir_hf.checkpoints.folders import save_model_folder
from swinir_hf.checkpoints.loading import load_model
from swinir_hf.degradations.synthetic import bicubic_downscale
from swinir_hf.models.configuration_swinir import SwinIRConfig
from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
from swinir_hf.training.cli import parse_command_line
from swinir_hf.training.config import TrainingConfig, read_config_file
from swinir_hf.training.images import decode_image
from swinir_hf.training.state import build_model

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
# A tiny body and head keep the dry run to seconds per step on a 2-core CPU; the rest is the GPU configs'. Its one
# window size (the JPEG model's is 7) lets one small patch be whole windows for every model.
TINY = [
    "train.batch_size=2",
    "data.patch_size=16",
    "model.config={embed_dim: 12, depths: [2], num_heads: [2], window_size: 8, image_size: 16, mlp_ratio: 2.0, "
    "drop_path_rate: 0.0, num_feat: 8}",
    "train.validate_every=0",
    "data.val_max_images=1",
]


def _hub_module(name: str):
    """A module of hub/, imported by name, as the scripts there import each other (from beside them)."""
    if str(REPO / "hub") not in sys.path:
        sys.path.insert(0, str(REPO / "hub"))
    return importlib.import_module(name)


def _lease_module():
    _hub_module("lease_models")  # puts hub/ on the path: gpu_lease imports its parts from beside it, as a script does
    spec = importlib.util.spec_from_file_location("gpu_lease", REPO / "hub" / "gpu_lease.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start_lease(tmp: Path, out: str, runs: str, *extra: str) -> subprocess.Popen:
    """`gpu_lease.py run ... EXTRA` started in a process of its own, its output in `tmp`/OUT.output."""
    command = [sys.executable, str(REPO / "hub" / "gpu_lease.py"), "run", "--device", "cpu", "--workers", "0"]
    command += ["--workdir", str(tmp), "--runs", str(tmp / runs), "--out", str(tmp / out), "--ckpt", str(tmp / "ckpt")]
    command += ["--state", str(tmp / "state")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(tmp / f"{out}.output", "wb") as output:
        return subprocess.Popen([*command, *extra], stdout=output, stderr=subprocess.STDOUT, env=env)


def test_gpu_configs_are_paper_sized_and_use_only_packed_data() -> None:
    lease_models = _hub_module("lease_models")
    for name, config in lease_models.MODELS.items():
        cfg = TrainingConfig.from_dict(read_config_file(config), origin=config)
        assert cfg.train.output_dir == f"runs/gpu/{name}"
        assert cfg.train.mixed_precision == "bf16" and cfg.train.keep_checkpoints == 1
        assert all(str(s).startswith("gpu_data/") for s in [*cfg.data.train, cfg.data.val])
        assert all(str(s).startswith("gpu_lr/") for s in cfg.data.train_lr)  # made from gpu_data/ by the lease
        assert not any("Set5" in str(s) for s in cfg.data.train)  # the validation set is never trained on
        overrides = {k: v for k, v in cfg.model.config.items() if k in ("embed_dim", "depths", "num_heads")}
        assert overrides in ({}, {"embed_dim": 60, "depths": [6] * 4, "num_heads": [6] * 4})


PACK = [sys.executable, str(REPO / "hub" / "pack_gpu_data.py"), "--no-wheel", "--limit", "3"]


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """A folder with the gpu_data/ and gpu_lr/ that `pack_gpu_data.py --limit 3 --no-wheel` makes, packed once for
    the tests here: each copies what it uses (`_packed_data`)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is missing") if os.environ.get("CI") != "true" else pytest.fail("../shared is missing")
    folder = tmp_path_factory.mktemp("packed")
    subprocess.run([*PACK, "--out", str(folder / "gpu_data")], check=True, capture_output=True, timeout=300)
    return folder


def _packed_data(packed: Path, tmp_path: Path) -> Path:
    """A copy of the packed gpu_data/ in `tmp_path` (gpu_lr/ is not carried: a lease makes it)."""
    return Path(shutil.copytree(packed / "gpu_data", tmp_path / "gpu_data"))


def test_packing_refuses_a_cap_that_leaves_a_training_set_empty(packed: Path, tmp_path: Path) -> None:
    data = _packed_data(packed, tmp_path)
    pack = [*PACK, "--out", str(data)]
    # room for everything but BSDS500_test, which BSDS500_train fills before it
    cap = sum(f.stat().st_size for f in data.rglob("*") if f.is_file() and f.parent.name != "BSDS500_test") + 1
    done = subprocess.run([*pack, "--max-mb", str(cap / 1e6)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    message = f"error: --max-mb {cap / 1e6:g} leaves no room for BSDS500_test (the configs train on it)"
    assert done.stderr.strip() == message
    assert len(list((data / "BSDS500_train").iterdir())) == 3


def _wheel(folder: Path, module: str) -> Path:
    """A minimal pure-Python wheel holding an empty `module` (a stand-in for a carried one, without the network)."""
    wheel = folder / f"{module}-1.0-py3-none-any.whl"
    files = {
        f"{module}/__init__.py": "",
        f"{module}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n",
        f"{module}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{module}-1.0.dist-info/RECORD"] = "".join(
        f"{name},,\n" for name in [*files, f"{module}-1.0.dist-info/RECORD"]
    )
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return wheel


@pytest.mark.slow  # a handful of subprocesses importing torch / transformers
def test_lease_installs_only_the_carried_wheels_the_machine_lacks(tmp_path: Path) -> None:
    """As the lease machine lacks jsonargparse: a carried wheel of a module that does not import is installed, one
    of a module that does (here jsonargparse itself) is not."""
    lease_env = _hub_module("lease_env")
    _wheel(tmp_path, "swinir_lease_probe")
    _wheel(tmp_path, "jsonargparse")  # importable here: must not shadow the real one
    env = lease_env.prepare_env(argparse.Namespace(device="cpu", wheels=tmp_path, runs=tmp_path / "runs"))
    assert env["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "runs" / "inductor-cache")  # kept between calls
    code = "import swinir_lease_probe, jsonargparse; print(swinir_lease_probe.__file__, jsonargparse.__version__)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    probe, version = done.stdout.split()
    assert Path(probe).parent.parent == Path(env["PYTHONPATH"].split(os.pathsep)[0])  # the temporary site
    assert version != "1.0"
    shutil.rmtree(Path(probe).parent.parent)


def test_lease_refuses_cuda_without_a_gpu_and_collect_an_empty_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    """Without the check, a lease whose torch sees no GPU trains on the CPU for its whole budget, and `collect` of a
    mistyped folder does nothing, silently."""
    lease = _lease_module()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        lease.main(["run", "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2 and not (tmp_path / "out").exists()
    assert "--device cuda, but torch sees no CUDA device here; --device cpu for a dry run" in capsys.readouterr().err
    assert lease.main(["collect", str(tmp_path / "typo"), "--ckpt", str(tmp_path / "ckpt")]) == 1
    assert f"error: no NAME.tar in {tmp_path / 'typo'}" in capsys.readouterr().err
    assert not (tmp_path / "ckpt").exists()


def test_lease_summary_gives_the_runs_own_max_steps(tmp_path: Path) -> None:
    """`--set train.max_steps=...` reaches the trainers; the summary must report it, not the config's."""
    lease_run = _hub_module("lease_run")
    run = tmp_path / "runs" / "sr-x4"
    (run / "checkpoints" / "step-00000003").mkdir(parents=True)
    (run / "checkpoints" / "step-00000003" / "progress.json").write_text('{"step": 3}')
    (run / "training_config.yaml").write_text("train:\n  max_steps: 40000\n")
    args = argparse.Namespace(runs=tmp_path / "runs", out=tmp_path)
    info = {"start_step": {"sr-x4": 0, "real-sr-x4": 0}, "exit": {"sr-x4": 143, "real-sr-x4": 1}}
    info["seconds"] = {"sr-x4": 10.0, "real-sr-x4": 1.0}
    info["picked"] = {"sr-x4": ["train.compile=inductor"], "real-sr-x4": []}
    summary = lease_run.summarize(["sr-x4", "real-sr-x4"], args, info)
    assert summary["sr-x4"]["max_steps"] == 40000 and summary["sr-x4"]["end_step"] == 3
    assert summary["sr-x4"]["overrides_picked"] == ["train.compile=inductor"]
    assert summary["real-sr-x4"]["max_steps"] == lease_run._config("real-sr-x4")["train"]["max_steps"]  # never started


def test_a_run_that_finishes_after_its_last_step_was_packed_is_packed_again_with_its_final_model(
    tmp_path: Path, monkeypatch
) -> None:
    """A pack between the trainer's last checkpoint and its final model (a periodic pack, or the one made when a
    --then model starts) held no final model; the pack after the stop skipped the run, its step folder unchanged,
    and `collect` took the finished run for an unfinished one."""
    lease_run = _hub_module("lease_run")
    packs = []
    monkeypatch.setattr(lease_run, "pack", lambda run, target, *_: packs.append(target.name) or 3)
    monkeypatch.setattr(lease_run, "warm_started", lambda name, args: None)
    run = tmp_path / "runs" / "sr-x4"
    (run / "checkpoints" / "step-00000003").mkdir(parents=True)
    args, packed = argparse.Namespace(runs=tmp_path / "runs", out=tmp_path / "out"), {}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sr-x4.tar").write_bytes(b"tar")  # what `pack` writes, for the size in the log line
    lease_run.pack_all(["sr-x4"], args, packed)
    lease_run.pack_all(["sr-x4"], args, packed)  # nothing new: not packed again
    assert packs == ["sr-x4.tar"] and packed == {"sr-x4": "step-00000003"}
    (run / "training_summary.json").write_text('{"step": 3}')  # the final model saved, then its summary
    lease_run.pack_all(["sr-x4"], args, packed)
    lease_run.pack_all(["sr-x4"], args, packed)
    assert packs == ["sr-x4.tar", "sr-x4.tar"] and packed == {"sr-x4": "step-00000003+final"}


def _fake_tar(path: Path, step: int, mib: float) -> Path:
    """A lease tar of `step` whose one weight, float16, has `mib` MiB (the right size for the carry checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"step_dir": f"step-{step:08d}", "ema_file": None, "param_groups": [], "steps": {}}
    meta["files"] = {"progress.json": json.dumps({"step": step}).encode().hex()}
    weights = {"raw.pad": torch.zeros(int(mib * 2**19), dtype=torch.half)}
    _hub_module("lease_checkpoints")._write_tar(path, weights, meta, {})
    return path


def test_a_damaged_lease_tar_costs_no_lease_time(tmp_path: Path, capsys) -> None:
    """A truncated tar (a copy cut short, a bad merge): `plan` names it before the lease, the lease restores the
    other tar instead, or starts afresh, and `collect` replaces it; a damaged returned tar is not collected."""
    lease = _lease_module()
    lease_checkpoints = _hub_module("lease_checkpoints")
    lease_restore = _hub_module("lease_restore")
    ckpt, state = tmp_path / "repo" / "gpu_ckpt", tmp_path / "repo" / "hub" / "lease_state"
    carried, kept = _fake_tar(ckpt / "sr-x4.tar", 300, 0.1), _fake_tar(state / "sr-x4.tar", 500, 0.1)
    kept.write_bytes(kept.read_bytes()[:30000])
    (damaged_tar, damaged), good = lease_restore.restore_sources("sr-x4", ckpt, state)[::-1]
    assert good == (carried, 300) and damaged_tar == kept
    assert damaged.startswith(f"{kept} is no readable lease checkpoint (ReadError")

    args = argparse.Namespace(ckpt=tmp_path / "none", state=state, runs=tmp_path / "runs")
    lease_restore.restore("sr-x4", args)
    out = capsys.readouterr().out
    assert f"sr-x4: {damaged}: passed over" in out and "starts from step 0" in out
    assert not (tmp_path / "runs").exists()

    for folder in ("gpu_data", "gpu_wheels"):
        (tmp_path / "repo" / folder).mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True, timeout=60)
    folders = ["--repo", str(tmp_path / "repo"), "--ckpt", str(ckpt), "--state", str(state)]
    folders += ["--data", str(tmp_path / "repo" / "gpu_data"), "--wheels", str(tmp_path / "repo" / "gpu_wheels")]
    assert lease.main(["plan", *folders, "--models", "sr-x4"]) == 1
    assert capsys.readouterr().err.strip() == f"error: {damaged}: replace or delete it"

    returned = _fake_tar(tmp_path / "out" / "sr-x4.tar", 600, 0.1)
    collect = ["collect", str(tmp_path / "out"), "--ckpt", str(ckpt), "--state", str(state)]
    assert lease.main([*collect, "--runs", str(tmp_path / "runs")]) == 0
    assert f"note: {damaged}: replaced" in capsys.readouterr().out
    assert lease_checkpoints.verified_step(kept) == 600 and lease_checkpoints.verified_step(carried) == 600
    returned.write_bytes(returned.read_bytes()[:30000])
    assert lease.main([*collect, "--runs", str(tmp_path / "runs")]) == 1
    assert capsys.readouterr().err.strip().startswith(f"error: {returned} is no readable lease checkpoint")
    assert lease_checkpoints.verified_step(kept) == 600


TINY_BODY = {"embed_dim": 12, "depths": [2], "num_heads": [2], "window_size": 8, "image_size": 16, "mlp_ratio": 2.0}


def _body(fields: dict) -> str:
    """The trainer's `model.config=` override of these config fields."""
    return "model.config={" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def _checkpoint(run: Path, config: SwinIRConfig, step: int) -> dict[str, torch.Tensor]:
    """A trainer's checkpoint folder as the lease packs it (raw weights, EMA, Adam, progress, the EMA model/ the
    trainer saves beside them); returns its EMA weights."""
    torch.manual_seed(step)
    model = SwinIRForImageRestoration(config).eval()
    raw = {key: value.clone() for key, value in model.state_dict().items()}
    ema = {key: value + 0.01 for key, value in raw.items()}
    folder = run / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    save_file(raw, folder / "model.safetensors")
    torch.save(ema, folder / "custom_checkpoint_1.pkl")
    adam = {"state": {}, "param_groups": [{"lr": 4e-4, "betas": (0.9, 0.99), "params": [0]}]}
    torch.save(adam, folder / "optimizer.bin")
    (folder / "progress.json").write_text(json.dumps({"step": step}))
    model.load_state_dict(ema)
    save_model_folder(folder / "model", model)
    return ema


def test_a_model_without_a_checkpoint_starts_from_its_warm_start_source(tmp_path: Path, capsys) -> None:
    """sr-x2, with no tar of its own, starts from the EMA weights of sr-x4's lease state (all but the upsampler's
    conv), jpeg-color from the first of denoise-color and sr-x4 that has some; the tars a model returns record that
    origin, through the lean state and the next lease's restore."""
    lease = _lease_module()
    lease_checkpoints = _hub_module("lease_checkpoints")
    lease_restore = _hub_module("lease_restore")
    lease_run = _hub_module("lease_run")
    repo = tmp_path / "repo"
    state = repo / "hub" / "lease_state"
    x4 = SwinIRConfig.from_preset("lightweight_sr", 4, **TINY_BODY)
    ema = _checkpoint(tmp_path / "x4run", x4, 7)
    assert lease_checkpoints.pack(tmp_path / "x4run", tmp_path / "sr-x4.tar") == 7
    assert lease_checkpoints.lean(tmp_path / "sr-x4.tar", state / "sr-x4.tar") == 7
    args = argparse.Namespace(ckpt=repo / "gpu_ckpt", state=state, runs=tmp_path / "runs", out=tmp_path / "out")
    assert lease_restore.warm_start("sr-x4", args) == []  # no source: as before
    overrides = lease_restore.warm_start("sr-x2", args)
    init = tmp_path / "runs" / "sr-x2.init"
    model_folder = init / "checkpoints" / "step-00000007" / "model"
    assert overrides == [f"model.init_from={model_folder}"]
    assert f"sr-x2: starts from sr-x4's EMA weights at step 7 ({state / 'sr-x4.tar'})" in capsys.readouterr().out

    # the trainer builds the x2 model from it: every tensor but the x2 upsampler's, the EMA's to float16 precision
    cfg, _ = parse_command_line(["--config", "gpu_sr_x2", _body(TINY_BODY), *overrides])
    model, report = build_model(cfg.model, cfg.train)
    assert report.reinitialised == ["upsample.0.bias", "upsample.0.weight"] == report.dropped
    assert len(report.loaded) == len(ema) - 2
    weights = model.state_dict()
    assert all(torch.allclose(weights[k], ema[k], rtol=1e-3, atol=1e-4) for k in report.loaded)
    # jpeg-color's window 7 beside the source's 8: its relative-position bias tables are fitted, not re-initialised
    jpeg = lease_restore.warm_start("jpeg-color", args)
    assert jpeg == [f"model.init_from={tmp_path / 'runs' / 'jpeg-color.init' / model_folder.relative_to(init)}"]
    window7 = {**TINY_BODY, "window_size": 7, "image_size": 14}
    cfg, _ = parse_command_line(["--config", "gpu_color_jpeg", _body(window7), *jpeg])
    model, report = build_model(cfg.model, cfg.train)
    assert model.config.window_size == 7 and report.reinitialised == ["conv_last.bias", "conv_last.weight"]
    assert report.fitted == [f"layers.0.residual_group.blocks.{i}.attn.relative_position_bias_table" for i in (0, 1)]
    assert len(report.loaded) == len(ema) - 2
    # ... and from the colour denoiser, its first source, once that has a checkpoint: then nothing is re-initialised
    _checkpoint(tmp_path / "dnrun", SwinIRConfig.from_preset("color_dn", **TINY_BODY), 9)
    assert lease_checkpoints.pack(tmp_path / "dnrun", tmp_path / "denoise-color.tar") == 9
    assert lease_checkpoints.lean(tmp_path / "denoise-color.tar", state / "denoise-color.tar") == 9
    capsys.readouterr()
    cfg, _ = parse_command_line(
        ["--config", "gpu_color_jpeg", _body(window7), *lease_restore.warm_start("jpeg-color", args)]
    )
    assert "jpeg-color: starts from denoise-color's EMA weights at step 9" in capsys.readouterr().out
    model, report = build_model(cfg.model, cfg.train)
    assert report.reinitialised == [] == report.dropped and len(report.fitted) == 2

    # its tars record the warm start; the lean state keeps it, and the next lease's restore takes it up again
    x2_ema = _checkpoint(tmp_path / "runs" / "sr-x2", model.config, 40)
    lease_run.pack_all(["sr-x2"], args, {})
    returned = tmp_path / "out" / "sr-x2.tar"
    assert lease_checkpoints.origin(returned) == {"model": "sr-x4", "step": 7}
    collect = ["collect", str(tmp_path / "out"), "--ckpt", str(args.ckpt), "--state", str(state)]
    assert lease.main([*collect, "--runs", str(tmp_path / "here")]) == 0
    assert f"sr-x2: step 40 (warm-started from sr-x4 at step 7) → {state / 'sr-x2.tar'}" in capsys.readouterr().out
    later = argparse.Namespace(ckpt=tmp_path / "none", state=state, runs=tmp_path / "later")
    later.runs.mkdir()
    lease_restore.restore("sr-x2", later)
    assert lease_restore.warm_started("sr-x2", later) == {"model": "sr-x4", "step": 7}
    step_dir = later.runs / "sr-x2" / "checkpoints" / "step-00000040"
    restored = torch.load(step_dir / "custom_checkpoint_1.pkl", weights_only=True)
    assert all(torch.allclose(restored[k], x2_ema[k], rtol=1e-3, atol=1e-4) for k in x2_ema)

    # plan says where a model that starts afresh takes its weights from
    for folder in ("gpu_data", "gpu_wheels"):
        (repo / folder).mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    folders = ["--repo", str(repo), "--ckpt", str(args.ckpt), "--state", str(state)]
    folders += ["--data", str(repo / "gpu_data"), "--wheels", str(repo / "gpu_wheels")]
    (state / "sr-x2.tar").unlink()
    (args.ckpt / "sr-x2.tar").unlink()
    assert lease.main(["plan", *folders, "--models", "sr-x2,real-sr-x4,jpeg-color"]) == 0
    out = capsys.readouterr().out
    assert f"sr-x2.tar): from sr-x4's EMA weights at step 7 ({state / 'sr-x4.tar'})" in out
    assert f"jpeg-color.tar): from denoise-color's EMA weights at step 9 ({state / 'denoise-color.tar'})" in out
    assert f"note: real-sr-x4 starts from step 0 (no {args.ckpt / 'real-sr-x4.tar'}, no " in out
    assert "real-sr-x4.tar): from scratch\n" in out
    (state / "denoise-color.tar").unlink()
    assert lease.main(["plan", *folders, "--models", "jpeg-color"]) == 0
    assert f"jpeg-color.tar): from sr-x4's EMA weights at step 7 ({state / 'sr-x4.tar'})" in capsys.readouterr().out
    (state / "sr-x4.tar").unlink()
    assert lease.main(["plan", *folders, "--models", "sr-x2,jpeg-color"]) == 0
    out = capsys.readouterr().out
    assert "sr-x2.tar): from scratch (no sr-x4 checkpoint with a model/ folder to start from)" in out
    assert "jpeg-color.tar): from scratch (no denoise-color or sr-x4 checkpoint with a model/ folder to start" in out


def test_a_warm_started_model_resumes_in_the_next_lease_without_its_warm_start(
    tmp_path: Path, images: Path, monkeypatch, capsys
) -> None:
    """Found in a lease: sr-x2, warm-started from sr-x4 (`model.init_from` a folder unpacked on that machine, step 0
    only), was restored from its tar on the next machine and its trainer, started without it, refused to resume
    (`the run started from model.init_from ..., this config from null`). `start_trainer` as a lease runs it, its
    trainer's command run in this process, on the tiny images."""
    lease_checkpoints, lease_run = _hub_module("lease_checkpoints"), _hub_module("lease_run")
    from swinir_hf.training.cli import main

    class InProcess:  # `launch`'s trainer, run to its end when started
        def __init__(self, command: list[str], **_: object) -> None:
            self.returncode, self.pid = main(command[3:]), os.getpid()  # after `python -m swinir_hf.train`

        def poll(self) -> int:
            return self.returncode

    monkeypatch.setattr(lease_run, "subprocess", argparse.Namespace(Popen=InProcess, STDOUT=subprocess.STDOUT))
    _checkpoint(tmp_path / "x4run", SwinIRConfig.from_preset("lightweight_sr", 4, **TINY_BODY), 7)
    lease_checkpoints.pack(tmp_path / "x4run", tmp_path / "state" / "sr-x4.tar")
    data = [f"data.train=[{images}]", "data.val=null", "train.mixed_precision=no", "train.ema_decay=0.9", *TINY]

    def lease(runs: str, ckpt: Path, steps: int) -> Path:
        args = argparse.Namespace(ckpt=ckpt, state=tmp_path / "state", runs=tmp_path / runs, workdir=tmp_path)
        args.out, args.set = tmp_path / f"{runs}-out", [*data, f"train.max_steps={steps}"]
        args.runs.mkdir()
        t = lease_run.Trainers({"sr-x2": 0}, [], frozenset())
        lease_run.start_trainer("sr-x2", args, {}, [], time.monotonic() + 600, t)
        assert t.procs["sr-x2"].returncode == 0, capsys.readouterr().err[-2000:]
        lease_run.pack_all(["sr-x2"], args, {})
        return args.out

    first = lease("runs1", tmp_path / "ckpt", 2)
    warm = tmp_path / "runs1" / "sr-x2.init" / "checkpoints" / "step-00000007" / "model"
    shutil.rmtree(tmp_path / "runs1")  # the next lease's machine is a fresh one
    lease("runs2", first, 4)
    assert "sr-x2: restored step 2 from " in capsys.readouterr().out
    step_dir = tmp_path / "runs2" / "sr-x2" / "checkpoints" / "step-00000004"
    assert json.loads((step_dir / "progress.json").read_text())["start"]["init_from"] == str(warm)
    trained = yaml.safe_load((tmp_path / "runs2" / "sr-x2" / "training_config.yaml").read_text())
    assert trained["model"]["init_from"] == str(warm)
    assert "- initialised from `…/step-00000007/model` (36 tensors loaded, 2 re-initialised, 2 dropped)" in (
        (step_dir / "model" / "README.md").read_text()
    )


def test_a_warm_start_passes_over_a_source_tar_without_a_model_folder(tmp_path: Path, capsys) -> None:
    """The first lease's tars hold no model/ (and the lease machine cannot build one): jpeg-color then starts from
    its next source, sr-x4, and plan says so; with neither, from scratch."""
    lease_checkpoints = _hub_module("lease_checkpoints")
    lease_restore = _hub_module("lease_restore")
    state = tmp_path / "state"
    for name, config, step in (
        ("denoise-color", SwinIRConfig.from_preset("color_dn", **TINY_BODY), 9),
        ("sr-x4", SwinIRConfig.from_preset("lightweight_sr", 4, **TINY_BODY), 7),
    ):
        _checkpoint(tmp_path / name, config, step)
        if name == "denoise-color":
            shutil.rmtree(tmp_path / name / "checkpoints" / f"step-{step:08d}" / "model")
        assert lease_checkpoints.pack(tmp_path / name, tmp_path / f"{name}.tar") == step
        assert lease_checkpoints.lean(tmp_path / f"{name}.tar", state / f"{name}.tar") == step
    assert not lease_checkpoints.holds_model(state / "denoise-color.tar") and lease_checkpoints.holds_model(
        state / "sr-x4.tar"
    )
    args = argparse.Namespace(ckpt=tmp_path / "ckpt", state=state, runs=tmp_path / "runs", out=tmp_path / "out")
    capsys.readouterr()
    overrides = lease_restore.warm_start("jpeg-color", args)
    assert overrides == [f"model.init_from={tmp_path / 'runs/jpeg-color.init/checkpoints/step-00000007/model'}"]
    assert f"jpeg-color: starts from sr-x4's EMA weights at step 7 ({state / 'sr-x4.tar'})" in capsys.readouterr().out
    (state / "sr-x4.tar").unlink()
    assert lease_restore.warm_start("jpeg-color", args) == []
    assert "no denoise-color or sr-x4 checkpoint with a model/ folder to start from: starts from scratch" in (
        capsys.readouterr().out
    )


def test_plan_gives_the_carry_list_and_refuses_more_than_a_call_sends(tmp_path: Path, capsys) -> None:
    """`gpu_lease.py plan`: the paths to carry for the models a lease trains, and their size with the working
    tree's (tracked and untracked files, not ignored ones, the lease state among them) against the 64 MiB a `run`
    call sends."""
    lease = _lease_module()
    lease_probe = _hub_module("lease_probe")
    repo = tmp_path / "repo"
    for folder in ("gpu_data/set", "gpu_wheels", "gpu_ckpt"):
        (repo / folder).mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    (repo / ".gitignore").write_text("gpu_*/\nbig.bin\n")
    (repo / "code.py").write_bytes(b"x" * 2**20)  # untracked, not ignored: sent
    with open(repo / "big.bin", "wb") as f:  # ignored: stays
        f.truncate(100 * 2**20)
    with open(repo / "gpu_data" / "set" / "a.png", "wb") as f:
        f.truncate(52 * 2**20)
    for name in ("sr-x4", "sr-x2"):
        _fake_tar(repo / "gpu_ckpt" / f"{name}.tar", 700, 6)
    _fake_tar(repo / "hub" / "lease_state" / "denoise-color.tar", 90, 0.5)  # a lean state: in the working tree
    sr_x4_probed = {"config": "gpu_sr_x4", "variant": "bf16", "steps_per_s": 7.0, "first": 0.5}
    sr_x4_failed = {"config": "gpu_sr_x4", "variant": "bf16 inductor reduce-overhead", "failed": "RuntimeError: boom"}
    probed = {"device": "NVIDIA H200", "probe_rows": [sr_x4_probed, sr_x4_failed]}
    assert lease_probe.record_probe(probed, repo / "hub" / "lease_state") == ["gpu_sr_x4"]
    folders = ["--repo", str(repo), "--ckpt", str(repo / "gpu_ckpt"), "--data", str(repo / "gpu_data")]
    folders += ["--state", str(repo / "hub" / "lease_state"), "--wheels", str(repo / "gpu_wheels")]
    assert lease.main(["plan", *folders, "--models", "sr-x4,real-sr-x4,denoise-color"]) == 0
    out = capsys.readouterr().out
    assert f"note: sr-x4 resumes from {repo / 'gpu_ckpt' / 'sr-x4.tar'} (step 700), carried" in out
    state = repo / "hub" / "lease_state"
    assert f"note: real-sr-x4 starts from step 0 (no {repo / 'gpu_ckpt' / 'real-sr-x4.tar'}, no {state}" in out
    assert f"note: denoise-color resumes from {state / 'denoise-color.tar'} (step 90; its float16 EMA" in out
    kept = f"note: sr-x4: probe rows kept in {state / 'probe.json'} (timed on NVIDIA H200): a run without --probe on"
    assert kept in out
    never = "; never timed: bf16 inductor regions, bf16 inductor reduce-overhead regions, bf16 two processes, bf16 "
    never += "trainer step, bf16 x2 batch, bf16 unpadded heads, fp32, bf16 inductor (a run with --probe 150 times them "
    never += "first)"
    assert f"{never}; failed, tried again last: bf16 inductor reduce-overhead (RuntimeError: boom)\n" in out
    assert "note: real-sr-x4: no probe rows kept: pass --probe 150 to the first run" in out
    assert "in all: 59.5 MiB of 64" in out  # 1 + 0.5 + 52 + 6, and the .gitignore's bytes
    assert 'carry: ["gpu_data", "gpu_wheels", "gpu_ckpt/sr-x4.tar"]' in out
    assert lease.main(["plan", *folders, "--models", "sr-x4,sr-x2"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: over the limit: train fewer models per lease, or pack less (--max-mb)"
    )
    # ... unless the tar that does not fit has a lean state to resume from instead (the working tree holds it)
    _fake_tar(state / "sr-x2.tar", 650, 0.5)
    assert lease.main(["plan", *folders, "--models", "sr-x4,sr-x2"]) == 0
    out = capsys.readouterr().out
    assert f"note: {repo / 'gpu_ckpt' / 'sr-x2.tar'} (step 700) does not fit: sr-x2 resumes from {state}" in out
    assert "in all: 60.0 MiB of 64" in out and 'carry: ["gpu_data", "gpu_wheels", "gpu_ckpt/sr-x4.tar"]' in out
    # ... nor is one older than the lease state (the lease would restore the state)
    _fake_tar(state / "sr-x4.tar", 800, 0.5)
    assert lease.main(["plan", *folders, "--models", "sr-x4"]) == 0
    out = capsys.readouterr().out
    assert f"note: {repo / 'gpu_ckpt' / 'sr-x4.tar'} (step 700) is older: sr-x4 resumes from {state}" in out
    assert 'carry: ["gpu_data", "gpu_wheels"]' in out
    # --then: a queued model resumes its own state, else starts from the final weights of the model it follows
    assert lease.main(["plan", *folders, "--models", "sr-x4", "--then", "sr-x2,jpeg-color"]) == 0
    out = capsys.readouterr().out
    assert f"note: sr-x2 (--then) resumes from {repo / 'gpu_ckpt' / 'sr-x2.tar'} (step 700), carried" in out
    assert 'carry: ["gpu_data", "gpu_wheels", "gpu_ckpt/sr-x2.tar"]' in out  # sr-x4's older tar left room for it
    assert "note: jpeg-color (--then) starts from step 0 once a model finishes: from sr-x4's final weights" in out
    assert lease.main(["plan", *folders, "--models", "denoise-color", "--then", "real-sr-x4"]) == 0
    assert "note: real-sr-x4 (--then) starts from step 0 (no " in capsys.readouterr().out  # no warm start for it
    assert lease.main(["plan", *folders[:-2], "--wheels", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path} is outside {repo}: a lease carries only paths in it"


def test_a_kept_probe_is_merged_per_variant_and_read_for_the_models_and_device_a_lease_trains(
    tmp_path: Path, monkeypatch
):
    lease_log = _hub_module("lease_log")
    lease_probe = _hub_module("lease_probe")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    h200, other = "NVIDIA H200", "NVIDIA H100 80GB HBM3"

    def row(variant: str, rate: float, config: str = "gpu_sr_x4") -> dict:
        return {"config": config, "variant": variant, "steps_per_s": rate, "first": 0.5}

    def on(device: str, rows: list[dict]) -> list[dict]:
        return [r | {"device": device} for r in rows]

    assert lease_probe.recorded_probe(tmp_path, ["sr-x4"], h200) == [] and not (tmp_path / "lease.log").exists()
    first = [row("bf16", 7.0), row("bf16 inductor", 9.0), row("bf16", 3.0, "gpu_color_dn")]
    assert lease_probe.record_probe({"device": h200, "probe_rows": first}, tmp_path) == ["gpu_color_dn", "gpu_sr_x4"]
    # A later, shorter probe of sr-x4 alone: its variants replace the kept ones, the one it did not reach stays.
    later = [row("bf16", 8.0), row("fp32", 9.5)]
    assert lease_probe.record_probe({"device": h200, "probe_rows": later}, tmp_path) == ["gpu_sr_x4"]
    assert lease_probe.record_probe({"device": h200, "probe_rows": []}, tmp_path) == []
    assert lease_probe.record_probe({}, tmp_path) == []
    assert lease_probe.recorded_probe(tmp_path, ["sr-x4", "denoise-color"], h200) == on(
        h200, [first[1], *later, first[2]]
    )
    assert lease_probe.recorded_probe(tmp_path, ["sr-x2"], h200) == []  # never probed
    assert "no --probe: picking from the probe rows" in (tmp_path / "lease.log").read_text()
    # Another kind of GPU: the rows timed on the H200 are not its figures; probed there, its rows replace them.
    assert lease_probe.recorded_probe(tmp_path, ["sr-x4"], other) == []
    assert f"timed on {h200}, not on this {other}: eager bf16 (pass --probe)" in (tmp_path / "lease.log").read_text()
    assert lease_probe.record_probe({"device": other, "probe_rows": [row("bf16", 5.0)]}, tmp_path) == ["gpu_sr_x4"]
    assert lease_probe.recorded_probe(tmp_path, ["sr-x4"], other) == on(other, [row("bf16", 5.0)])
    assert lease_probe.recorded_probe(tmp_path, ["sr-x4"], h200) == []


def test_a_sessions_second_call_picks_from_the_probe_its_first_call_made_on_the_machine(tmp_path: Path, monkeypatch):
    """The second call starts before `collect` has kept the first one's probe in the lease state: the warm machine's
    runs folder has it."""
    lease_log = _hub_module("lease_log")
    lease_probe = _hub_module("lease_probe")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    runs, state, h200 = tmp_path / "runs", tmp_path / "state", "NVIDIA H200"
    runs.mkdir(), state.mkdir()

    def row(variant: str, rate: float) -> dict:
        return {"config": "gpu_sr_x4", "variant": variant, "steps_per_s": rate, "first": 30.0}

    lease_probe.record_probe({"device": h200, "probe_rows": [row("bf16", 11.0), row("fp32", 8.0)]}, state)
    # a fresh machine: the kept rows only
    assert lease_probe.earlier_rows(runs, state, ["sr-x4"], h200, probing=False) == [
        row("bf16", 11.0) | {"device": h200},
        row("fp32", 8.0) | {"device": h200},
    ]
    assert "picking from the probe rows in" in (tmp_path / "lease.log").read_text()
    # the first call probed the compile per layer and bf16 again: its rows first, the kept ones for the rest
    lease_probe.keep_on_machine([row("bf16 inductor regions", 25.0), row("bf16", 12.0)], h200, runs)
    rows = lease_probe.earlier_rows(runs, state, ["sr-x4"], h200, probing=False)
    assert [(r["variant"], r["steps_per_s"]) for r in rows] == [
        ("bf16 inductor regions", 25.0),
        ("bf16", 12.0),
        ("fp32", 8.0),
    ]
    assert "this machine's probe rows of an earlier call" in (tmp_path / "lease.log").read_text()
    assert lease_probe.pick_variant(rows, "gpu_sr_x4", 250)[0] == "bf16 inductor regions"
    assert lease_probe.earlier_rows(runs, state, ["sr-x4"], "NVIDIA B200", probing=True) == []


def test_a_probe_times_first_what_no_kept_row_has_and_the_kept_rows_stand_in_for_the_rest() -> None:
    lease_probe = _hub_module("lease_probe")

    def row(variant: str, rate: float, first: float = 0.5, config: str = "gpu_sr_x4") -> dict:
        return {"config": config, "variant": variant, "steps_per_s": rate, "first": first}

    kept = [
        row("bf16", 11.0),
        row("bf16 unpadded heads", 8.0),
        row("fp32", 8.2),
        row("bf16", 3.0, config="gpu_color_dn"),
    ]
    order = lease_probe.probe_order(kept, ["sr-x4"])
    assert sorted(order) == sorted(lease_probe.PROBE_VARIANTS)
    # each group in the probe's own order: the untimed ones, then the kept ones (re-timed if the seconds allow)
    regions = ["bf16 inductor regions", "bf16 inductor reduce-overhead regions", "bf16 two processes"]
    untimed = [*regions, "bf16 trainer step", "bf16 x2 batch", "bf16 inductor", "bf16 inductor reduce-overhead"]
    assert order == [*untimed, "bf16", "bf16 unpadded heads", "fp32"]
    # a variant untimed for any of the lease's models is untimed for the lease (one probe times all its configs)
    assert lease_probe.probe_order(kept, ["sr-x4", "denoise-color"])[:7] == [
        *regions,
        "bf16 trainer step",
        "bf16 x2 batch",
        "bf16 unpadded heads",
        "fp32",
    ]
    assert lease_probe.probe_order([], ["sr-x4"]) == list(lease_probe.PROBE_VARIANTS)
    # the fresh rows win; kept rows fill in the configs and variants the probe did not reach
    fresh = [row("bf16 trainer step", 11.5), row("bf16", 11.25)]
    assert lease_probe.merged(fresh, kept) == [*fresh, *kept[1:]]
    # so a probe that reached only a compiled variant is weighed against the kept eager step
    compiled = row("bf16 inductor", 20.0, 90.0)
    assert lease_probe.pick_variant([compiled], "gpu_sr_x4", 400) == ("bf16", [])
    assert lease_probe.pick_variant(lease_probe.merged([compiled], kept), "gpu_sr_x4", 400) == (
        "bf16 inductor",
        ["train.compile=inductor"],
    )


def test_lease_trains_compiled_or_in_float32_only_where_that_makes_more_steps_before_its_budget() -> None:
    lease_probe = _hub_module("lease_probe")
    lease_run = _hub_module("lease_run")

    def row(variant: str, rate: float, first: float, config: str = "gpu_sr_x4") -> dict:
        return {"config": config, "variant": variant, "steps_per_s": rate, "first": first}

    eager = row("bf16", 7.0, 0.5)
    compiled = row("bf16 inductor", 14.0, 100.0)
    graphs = row("bf16 inductor reduce-overhead", 16.0, 150.0)
    rows = [eager, compiled, graphs, row("bf16 x2 batch", 20.0, 0.5), row("bf16", 1.0, 0.5, "gpu_sr_x2")]
    # 400 s: 2,797 eager steps, 4,200 compiled, 4,000 with CUDA graphs (whose longer compile costs more than it gains)
    assert lease_probe.pick_variant(rows, "gpu_sr_x4", 400) == ("bf16 inductor", ["train.compile=inductor"])
    # 900 s: CUDA graphs' 12,000 steps beat inductor's 11,200
    assert lease_probe.pick_variant(rows, "gpu_sr_x4", 900) == (
        "bf16 inductor reduce-overhead",
        ["train.compile=inductor", "train.compile_mode=reduce-overhead"],
    )
    # 200 s: compiling would cost more than it gains (1,400 and 800 compiled steps against 1,397 eager)
    assert lease_probe.pick_variant(rows, "gpu_sr_x4", 200) == ("bf16", [])
    # no time left (a probe that took the budget): eager, not a compile that makes no step either
    assert lease_probe.pick_variant(rows, "gpu_sr_x4", 0) == ("bf16", [])
    # the batch is the recipe's: a doubled batch is never picked; nor is a compiled variant with no eager row beside it
    assert lease_probe.pick_variant([compiled], "gpu_sr_x4", 900) == ("bf16", [])
    assert lease_probe.pick_variant(rows, "gpu_sr_x2", 900) == ("bf16", [])
    assert lease_probe.pick_variant([], "gpu_sr_x4", 900) == ("bf16", [])
    # float32 (no compile to pay for) where it steps ≥ 5 % faster than bf16 and no compiled variant beats it
    fp32 = ("fp32", ["train.mixed_precision=no"])
    assert lease_probe.pick_variant([eager, row("fp32", 7.5, 0.5)], "gpu_sr_x4", 400) == fp32
    assert lease_probe.pick_variant([eager, row("fp32", 7.3, 0.5)], "gpu_sr_x4", 400) == ("bf16", [])
    assert lease_probe.pick_variant([*rows, row("fp32", 7.5, 0.5)], "gpu_sr_x4", 400)[0] == "bf16 inductor"
    # a variant that failed in the probe is never picked
    failed = {"config": "gpu_sr_x4", "variant": "bf16 inductor regions", "failed": "RuntimeError: no kernel"}
    assert lease_probe.pick_variant([*rows, failed], "gpu_sr_x4", 400)[0] == "bf16 inductor"

    class Ended:  # a trainer process that has ended with `code` (None: still running)
        def __init__(self, code):
            self.returncode = code

        def poll(self):
            return self.returncode

    codes = {"a": 1, "b": 1, "c": 143, "d": None, "e": 0, "f": 130}
    picked = {"a": ["train.compile=inductor"], "b": []} | dict.fromkeys("cdef", ["train.compile=inductor"])
    ended = {n: Ended(c) for n, c in codes.items()}
    assert lease_run.failed_alternatives(ended, picked) == ["a"]  # b failed in eager bf16: as it is


def test_the_lease_loop_restarts_a_failed_variant_in_eager_bf16_and_then_starts_the_queued_model(
    tmp_path: Path, monkeypatch
) -> None:
    """run_lease's loop with stand-in trainers: the one picked variant fails at once (the only trainer, so all have
    ended when the loop looks), is restarted in eager bf16, finishes, and the queued model starts in its place."""
    lease_run = _hub_module("lease_run")
    lease_log = _hub_module("lease_log")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    launched, summaries = [], []

    class Trainer:  # ends at its second look: 1 in float32 (the picked variant), else 0
        def __init__(self, overrides: list[str]) -> None:
            self.looks, self.code = 0, 1 if "train.mixed_precision=no" in overrides else 0
            self.returncode = None

        def poll(self):
            self.looks += 1
            self.returncode = self.code if self.looks >= 2 else None
            return self.returncode

    def launch(name, args, env, workers, overrides):
        launched.append((name, workers, overrides))
        return Trainer(overrides), None

    rows = [
        {"config": "gpu_sr_x4", "variant": "bf16", "steps_per_s": 1.0, "first": 0.0},
        {"config": "gpu_sr_x4", "variant": "fp32", "steps_per_s": 2.0, "first": 0.0},
    ]
    monkeypatch.setattr(lease_run, "prepare_env", lambda args: {})
    monkeypatch.setattr(lease_run.subprocess, "run", lambda *a, **k: None)  # the LR images
    monkeypatch.setattr(lease_run, "earlier_rows", lambda *a, **k: rows)
    monkeypatch.setattr(lease_run, "launch", launch)
    monkeypatch.setattr(lease_run, "pack_all", lambda *a: None)
    monkeypatch.setattr(lease_run, "stop", lambda procs, grace: None)
    monkeypatch.setattr(lease_run.time, "sleep", lambda s: None)
    monkeypatch.setattr(lease_run, "write_summary", lambda models, args, info, *rest: summaries.append((models, info)))
    folders = {n: tmp_path / n for n in ("out", "ckpt", "state", "wheels", "runs", "workdir")}
    args = argparse.Namespace(**folders, models="sr-x4", then="sr-x2", probe=0, budget=600, stop_margin=60)
    args.__dict__.update(workers=6, pack_every=60, stop_grace=40, device="cpu", set=[])
    assert lease_run.run_lease(args) == 0
    assert launched == [("sr-x4", 6, ["train.mixed_precision=no"]), ("sr-x4", 6, []), ("sr-x2", 6, [])]
    log = (tmp_path / "lease.log").read_text()
    assert "sr-x4: failed (exit 1) with train.mixed_precision=no; again in eager bf16" in log
    assert "sr-x4: finished; sr-x2 starts in its place" in log
    [(models, info)] = summaries
    assert models == ["sr-x4", "sr-x2"] and info["exit"] == {"sr-x4": 0, "sr-x2": 0}
    assert info["picked"] == {"sr-x4": [], "sr-x2": []}


class _ScriptsInProcess:
    """`lease_probe`'s `subprocess`: each `run` of `python benchmarks/SCRIPT ARGS` runs the script as `__main__` in
    this process (as `python` would, its output to the files the probe passes), without the 3-10 s of imports a
    fresh interpreter pays; `calls` records each script's name and the time limit the probe gave it."""

    TimeoutExpired = subprocess.TimeoutExpired

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch, self.calls = monkeypatch, []

    def run(self, command: list[str], stdout, stderr, timeout: float, **_: object) -> None:
        from swinir_hf.models import modeling_swinir

        script = Path(command[1])
        self.calls.append((script.name, timeout))
        # shifted_attention.py forces each way by replacing this; the tests after this one get it back
        self.monkeypatch.setattr(modeling_swinir, "shifted_in_one_pass", modeling_swinir.shifted_in_one_pass)
        self.monkeypatch.syspath_prepend(str(script.parent))  # the scripts import each other, as from their folder
        self.monkeypatch.setattr(sys, "argv", [str(script), *command[2:]])
        before = set(sys.modules)
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                runpy.run_path(str(script), run_name="__main__")
        finally:
            for name in set(sys.modules) - before:  # the next script reads its module-level settings afresh
                if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(script.parent)):
                    del sys.modules[name]


def test_the_budget_stops_the_trainers_with_their_grace_and_the_lease_ends_well(tmp_path: Path, monkeypatch) -> None:
    """run_lease's loop with a stand-in trainer that never ends, on a clock its one-second sleeps advance: at
    `--budget` less `--stop-margin` it stops the trainer, which gets `--stop-grace` seconds to save, and a trainer
    stopped so (143) is a lease that ended well."""
    lease_run, lease_log = _hub_module("lease_run"), _hub_module("lease_log")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    clock, stopped, summaries = [1000.0], [], []
    trainer = argparse.Namespace(returncode=None, poll=lambda: trainer.returncode)

    def stop(procs: dict, grace: float) -> None:
        stopped.append((clock[0], grace))
        trainer.returncode = 143  # saved its step and ended

    clocked = argparse.Namespace(monotonic=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    monkeypatch.setattr(lease_run, "time", clocked)
    monkeypatch.setattr(lease_run, "prepare_env", lambda args: {})
    monkeypatch.setattr(lease_run.subprocess, "run", lambda *a, **k: None)  # the LR images
    monkeypatch.setattr(lease_run, "earlier_rows", lambda *a, **k: [])
    monkeypatch.setattr(lease_run, "launch", lambda *a: (trainer, None))
    monkeypatch.setattr(lease_run, "pack_all", lambda *a: None)
    monkeypatch.setattr(lease_run, "stop", stop)
    monkeypatch.setattr(lease_run, "write_summary", lambda models, args, info, *rest: summaries.append(info))
    folders = {n: tmp_path / n for n in ("out", "ckpt", "state", "wheels", "runs", "workdir")}
    args = argparse.Namespace(**folders, models="sr-x4", then=None, probe=0, budget=300, stop_margin=60)
    args.__dict__.update(workers=0, pack_every=60, stop_grace=40, device="cpu", set=[])
    assert lease_run.run_lease(args) == 0
    assert stopped == [(1240.0, 40)]  # 300 - 60 s after the start, each second looked at
    assert "budget reached: stopping" in (tmp_path / "lease.log").read_text()
    assert [info["exit"] for info in summaries] == [{"sr-x4": 143}]


@pytest.mark.slow
def test_probe_times_the_steps_within_its_seconds(tmp_path: Path, monkeypatch) -> None:
    """The probe's figures and step timings, each within its share of `--probe`: run in this process with seconds to
    spare (each script's time limit checked), then as the lease runs them, in processes stopped when those run out."""
    lease_log = _hub_module("lease_log")
    lease_probe = _hub_module("lease_probe")
    monkeypatch.setattr(lease_probe, "PROBE_VARIANTS", ("fp32",))
    monkeypatch.setattr(lease_probe, "VARIANT_SECONDS", 0.25)  # steps/s of a few steps: what is checked is their rows
    figures = {
        "Shifted windows' attention": ["shifted_attention.py", "--batch", "2", "--patch", "16", "--repeats", "4"],
        "Pipeline batches": ["pipeline_batches.py", "--images", "4", "--size", "16", "--batch-sizes", "2"],
    }
    monkeypatch.setattr(lease_probe, "DEVICE_FIGURES", figures)
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    in_process = _ScriptsInProcess(monkeypatch)
    monkeypatch.setattr(lease_probe, "subprocess", in_process)
    args = argparse.Namespace(device="cpu", out=tmp_path, probe=80.0, set=TINY)
    timed: list[dict] = []
    lease_probe.probe(["sr-x4", "denoise-color"], args, env, [], timed)
    # each figure gets an eighth of the probe's seconds (at most FIGURE_SECONDS), the steps what the figures left
    [(attention_script, attention_s), (batches_script, batches_s), (steps_script, steps_s)] = in_process.calls
    assert (attention_script, batches_script, steps_script) == (
        "shifted_attention.py",
        "pipeline_batches.py",
        "train_step.py",
    )
    assert attention_s == batches_s == 10.0 and 0 < steps_s < 80.0
    # first the shifted windows' attention, both ways, and the pipeline's batches
    text = (tmp_path / "train_step.md").read_text()
    attention = text[: text.index("Pipeline batches: ")]
    assert attention.startswith("Shifted windows' attention: benchmarks/shifted_attention.py --device cpu --batch 2")
    assert "one pass: median" in attention and "border redo: median" in attention and attention.endswith("```\n\n")
    batches = text[len(attention) : text.index("## Training steps")]
    assert batches.startswith("Pipeline batches: benchmarks/pipeline_batches.py --device cpu --images 4 --size 16")
    assert re.search(r"\n {9}2 +[\d.]+ +[\d.]+ +[\d.]+×\n```\n\n$", batches), batches
    rows = [line for line in (tmp_path / "train_step.md").read_text().splitlines() if line.startswith("| `gpu_")]
    assert [row.split(" | ")[:3] for row in rows] == [["| `gpu_sr_x4`", "fp32", "2"], ["| `gpu_color_dn`", "fp32", "2"]]
    assert all(float(row.split(" | ")[4]) > 0 for row in rows)  # steps/s
    # the rows, as numbers, for pick_variant; the JSON they came in does not take one of OUT's 8 files
    assert [(r["config"], r["variant"], r["batch"]) for r in timed] == [
        ("gpu_sr_x4", "fp32", 2),
        ("gpu_color_dn", "fp32", 2),
    ]
    assert [f"{r['steps_per_s']:.2f}" for r in timed] == [row.split(" | ")[4] for row in rows]
    assert not (tmp_path / "train_step.json").exists()
    text = (tmp_path / "train_step.md").read_text()
    assert text.count("host-device synchronisations per step") == 2
    # each profile right after its row, before the next config's: a probe cut short keeps the ones it made
    assert text.index("### `gpu_sr_x4`, fp32: operators") < text.index("| `gpu_color_dn` | fp32")
    # less than a Python's imports take: each process is stopped at its time limit, and the probe with what it had
    monkeypatch.setattr(lease_probe, "subprocess", subprocess)
    args.probe = 0.5
    lease_probe.probe(["sr-x4"], args, env, [], [])
    log = (tmp_path / "lease.log").read_text()
    assert (
        "probe: shifted windows' attention ran out of time" in log and "probe: pipeline batches ran out of time" in log
    )
    assert "probe: time is up" in log


class _InProcessTrainer:
    """`launch`'s trainer (`python -m swinir_hf.train ARGS` in `cwd`), run in this process at its first look: each
    trainer then ends in its own look, one after the other, as if the lease had watched it finish."""

    def __init__(self, command: list[str], cwd: Path, **_: object) -> None:
        self.args, self.cwd, self.returncode, self.pid = command[3:], cwd, None, os.getpid()

    def poll(self) -> int:
        if self.returncode is None:
            from swinir_hf.training.cli import main

            here = Path.cwd()
            os.chdir(self.cwd)  # the configs' data paths are the workdir's
            try:
                self.returncode = main(self.args)
            finally:
                os.chdir(here)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.poll()


def _lease_in_process(tmp: Path, out: str, runs: str, *extra: str, monkeypatch) -> int:
    """`gpu_lease.py run` (as `_lease` runs it) in this process, its trainers `_InProcessTrainer`s and gpu_lr/ made by
    pack_gpu_data's `main`: the real processes, the trainers' environment and its checks are the second lease's."""
    lease_log, lease_run = _hub_module("lease_log"), _hub_module("lease_run")
    make_lr = _hub_module("pack_gpu_data").main
    log_files: list[Path] = []  # run_lease adds OUT/lease.log to lease_run's name for log's list
    monkeypatch.setattr(lease_log, "LOG_FILES", log_files)
    monkeypatch.setattr(lease_run, "LOG_FILES", log_files)
    monkeypatch.setattr(lease_run, "prepare_env", lambda args: {**os.environ, "PYTHONPATH": str(REPO)})
    processes = argparse.Namespace(
        Popen=_InProcessTrainer, STDOUT=subprocess.STDOUT, TimeoutExpired=subprocess.TimeoutExpired,
        run=lambda command, **_: make_lr(command[2:]),  # `pack_gpu_data.py --lr-only --out gpu_data`
    )  # fmt: skip
    monkeypatch.setattr(lease_run, "subprocess", processes)
    command = ["run", "--device", "cpu", "--workers", "0", "--workdir", str(tmp), "--runs", str(tmp / runs)]
    command += ["--out", str(tmp / out), "--ckpt", str(tmp / "ckpt"), "--state", str(tmp / "state")]
    return _lease_module().main([*command, *extra])


@pytest.mark.slow
def test_lease_dry_run_returns_resumable_checkpoints(
    packed: Path, tmp_path: Path, capsys, monkeypatch, wait_until
) -> None:
    assert len(list((packed / "gpu_lr" / "BSDS500_train_x4").iterdir())) == 3
    _packed_data(packed, tmp_path)

    # Every config trains 2 steps (in this process, one after the other); sr-x2, queued, starts in the place of
    # sr-x4 once that finishes, from the weights sr-x4 finished with in this lease (its tar in OUT). The lease ends
    # with its runs, so its budget is only a bound, THEN_MIN_S (90 s) left at sr-x4's end included.
    models = ["--models", "sr-x4,real-sr-x4,denoise-color,jpeg-color", "--then", "sr-x2"]
    steps = ["--set", "train.max_steps=2", *TINY]
    assert (
        _lease_in_process(tmp_path, "out1", "runs1", "--budget", "600", *models, *steps, monkeypatch=monkeypatch) == 0
    )
    monkeypatch.undo()
    out = tmp_path / "out1"
    log = (out / "lease.log").read_text()
    assert "sr-x4: finished; sr-x2 starts in its place" in log
    assert f"sr-x2: starts from sr-x4's EMA weights at step 2 ({out / 'sr-x4.tar'})" in log
    lease_summary = json.loads((out / "summary.json").read_text())
    summary = lease_summary["models"]
    assert [(n, m["start_step"], m["exit_code"]) for n, m in summary.items()][-2:] == [
        ("jpeg-color", 0, 0),
        ("sr-x2", 0, 0),
    ]
    assert summary["sr-x2"]["warm_start"] == {"model": "sr-x4", "step": 2}
    assert summary["denoise-color"]["warm_start"] is None  # sr-x4 had no checkpoint when it started
    # one after the other, each timed to its own end: sr-x4's seconds stop when it finished, not at the lease's end
    assert summary["sr-x4"]["seconds"] + summary["sr-x2"]["seconds"] <= lease_summary["wall_s"]
    lease = _lease_module()
    lease_checkpoints = _hub_module("lease_checkpoints")
    lease_models = _hub_module("lease_models")
    lease_restore = _hub_module("lease_restore")
    returned = sorted(p.name for p in out.iterdir())
    assert returned == sorted([*(f"{m}.tar" for m in lease_models.MODELS), "summary.json", "lease.log"])  # ≤ 8 files
    assert all(p.stat().st_size < 16 * 2**20 for p in out.iterdir())
    assert {m: s["end_step"] for m, s in summary.items()} == dict.fromkeys(lease_models.MODELS, 2)
    for name in ("DIV2K_train_HR_crops128", "BSDS500_train", "BSDS500_test"):  # LR: each HR image's bicubic x4
        hr_files = sorted((tmp_path / "gpu_data" / name).iterdir())
        lr_files = sorted((tmp_path / "gpu_lr" / f"{name}_x4").iterdir())
        assert [p.stem for p in lr_files] == [p.stem for p in hr_files]
        hr, lr = decode_image(str(hr_files[0]), 3), decode_image(str(lr_files[0]), 3)
        assert np.array_equal(lr, bicubic_downscale(hr, 4))

    # The compact tar restores the trainer's checkpoint: raw weights to bfloat16 precision of their distance
    # from the float16 EMA, the EMA to float16 precision, the small files as they were.
    original = tmp_path / "runs1" / "sr-x4" / "checkpoints" / "step-00000002"
    assert lease_checkpoints.unpack(out / "sr-x4.tar", tmp_path / "restored") == 2
    restored = tmp_path / "restored" / "checkpoints" / "step-00000002"
    raw, back = load_file(original / "model.safetensors"), load_file(restored / "model.safetensors")
    assert raw.keys() == back.keys()
    assert all(torch.allclose(raw[k], back[k], rtol=1e-3, atol=1e-6) for k in raw)
    ema = torch.load(restored / "custom_checkpoint_1.pkl", weights_only=True)
    ema0 = torch.load(original / "custom_checkpoint_1.pkl", weights_only=True)
    assert all(torch.allclose(ema0[k], ema[k], rtol=1e-3, atol=1e-4) for k in ema0)
    for name in ("progress.json", "custom_checkpoint_0.pkl", "random_states_0.pkl"):
        assert (original / name).read_bytes() == (restored / name).read_bytes()
    # ... and its model/ folder, the EMA model, loads as the checkpoint (swinir-hf eval --model CHECKPOINT)
    assert (original / "model" / "config.json").read_bytes() == (restored / "model" / "config.json").read_bytes()
    model = load_model(str(restored))
    assert all(torch.allclose(ema0[k], v, rtol=1e-3, atol=1e-4) for k, v in model.state_dict().items())

    # Back here, collect files a lean copy of each returned tar, its float16 EMA only, in the committed lease state
    # (state/), and an unfinished run's tar for this session's next call (ckpt/); a lease prefers the carried tar,
    # which has more, on a tie.
    state = ["--state", str(tmp_path / "state")]
    first_collect = ["collect", str(out), "--ckpt", str(tmp_path / "ckpt"), *state, "--runs", str(tmp_path / "c")]
    assert json.loads((out / "summary.json").read_text())["probe_rows"] == []  # no --probe: nothing to keep
    # As if it had probed (--probe): collect keeps the rows in the lease state, for leases without --probe.
    probed = [("bf16", 7.0), ("fp32", 7.5), ("bf16 inductor", 7.2)]
    rows = [{"config": "gpu_sr_x4", "variant": v, "steps_per_s": r, "first": 0.5} for v, r in probed]
    summary_json = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps(summary_json | {"probe_rows": rows}))
    assert lease.main(first_collect) == 0
    assert "gpu_sr_x4: probe rows → " in capsys.readouterr().out
    kept = [row | {"device": "cpu"} for row in rows]  # timed on the lease's device
    assert json.loads((tmp_path / "state" / "probe.json").read_text()) == {"gpu_sr_x4": kept}
    assert not (tmp_path / "ckpt" / "sr-x4.tar").exists()  # finished (max_steps=2): not carried
    shutil.copy(out / "sr-x4.tar", tmp_path / "ckpt")
    sources = lease_restore.restore_sources("sr-x4", tmp_path / "ckpt", tmp_path / "state")
    assert sources == [(tmp_path / "ckpt" / "sr-x4.tar", 2), (tmp_path / "state" / "sr-x4.tar", 2)]
    assert lease_checkpoints.unpack(tmp_path / "state" / "sr-x4.tar", tmp_path / "lean") == 2
    lean = tmp_path / "lean" / "checkpoints" / "step-00000002"
    ema_lean = torch.load(lean / "custom_checkpoint_1.pkl", weights_only=True)
    assert all(torch.equal(ema[k], ema_lean[k]) for k in ema)  # the same float16 EMA as the full tar's
    assert all(torch.equal(ema[k], v) for k, v in load_file(lean / "model.safetensors").items())  # raw := EMA
    assert torch.load(lean / "optimizer.bin", weights_only=True)["state"] == {}  # Adam starts afresh
    assert (original / "progress.json").read_bytes() == (lean / "progress.json").read_bytes()

    # ... and `unpack` brings a model's newest tar back in any later session, its EMA model ready to score
    unpack = ["unpack", "sr-x4", "--ckpt", str(tmp_path / "none"), *state, "--runs", str(tmp_path / "later")]
    assert lease.main(unpack) == 0
    scored = tmp_path / "later" / "sr-x4" / "checkpoints" / "step-00000002"
    assert f"sr-x4: step 2 from {tmp_path / 'state' / 'sr-x4.tar'} → {scored}" in capsys.readouterr().out
    assert all(torch.equal(ema[k], v) for k, v in load_model(str(scored)).state_dict().items())
    capsys.readouterr()
    assert lease.main([*unpack[:2], "jpeg-color", *unpack[2:4], "--state", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: no readable {tmp_path / 'none' / 'sr-x4'}.tar or {tmp_path / 'none' / 'sr-x4'}.tar\n"
        f"error: no readable {tmp_path / 'none' / 'jpeg-color'}.tar or {tmp_path / 'none' / 'jpeg-color'}.tar"
    )

    # The next lease, in a later session on a fresh machine: ignored folders (ckpt/) are gone, the lease state is
    # committed; it resumes from that, and its trainer, once it has made a step, gets the SIGTERM that the lease's
    # stop sends at the budget: it saves a checkpoint after its step, and the lease, its one trainer ended, packs that
    # and ends well. Signalled when the trainer logged its step 3, not by a budget sized to the machine's load (its
    # set-up, torch and transformers imported in three processes, took 20 s to over 90 s), nor by a SIGTERM to the
    # lease, whose stop gives a trainer 10 s to save (5-7 s here at load 4). The stop at the budget is
    # test_the_budget_stops_the_trainers_with_their_grace_and_the_lease_ends_well's.
    shutil.rmtree(tmp_path / "ckpt")
    assert lease_restore.restore_sources("sr-x4", tmp_path / "ckpt", tmp_path / "state") == [
        (tmp_path / "state" / "sr-x4.tar", 2)
    ]
    second = _start_lease(
        tmp_path, "out2", "runs2", "--models", "sr-x4", "--budget", "600", "--set", "train.max_steps=100000",
        "train.log_every=1", *TINY,
    )  # fmt: skip
    lease_log, trainer_log = tmp_path / "out2" / "lease.log", tmp_path / "runs2" / "sr-x4.log"

    def stepped() -> bool:  # the trainer logs each step (log_every=1) after making it
        return second.poll() is not None or trainer_log.is_file() and "step 3/100000: loss " in trainer_log.read_text()

    try:
        wait_until(stepped, 400, "the second lease's trainer's step 3", poll=0.25)
        os.kill(int(re.search(r"sr-x4: pid (\d+),", lease_log.read_text())[1]), signal.SIGTERM)
        second.wait(timeout=300)
    finally:
        second.send_signal(signal.SIGTERM)  # only after a failure above: the lease stops its trainer
        second.wait(timeout=60)
    output = (tmp_path / "out2.output").read_text()[-3000:] + trainer_log.read_text()[-3000:]
    assert second.returncode == 0, output
    run = json.loads((tmp_path / "out2" / "summary.json").read_text())["models"]["sr-x4"]
    assert run["start_step"] == 2 and 2 < run["end_step"] < 100000 and run["exit_code"] == 143, output
    log = lease_log.read_text()
    assert "all runs ended" in log and f"sr-x4: packed step {run['end_step']} (" in log
    # no --probe: it picked from the kept rows (float32, ≥ 5 % ahead of bf16) and trained in float32
    assert "no --probe: picking from the probe rows in" in log and "sr-x4: trains as the probe's 'fp32'" in log
    assert run["overrides_picked"] == ["train.mixed_precision=no"]
    trained = yaml.safe_load((tmp_path / "runs2" / "sr-x4" / "training_config.yaml").read_text())
    assert trained["train"]["mixed_precision"] == "no"
    assert f"sr-x4: restored step 2 from {tmp_path / 'state' / 'sr-x4.tar'}" in log
    assert lease_checkpoints.unpack(tmp_path / "out2" / "sr-x4.tar", tmp_path / "again") == run["end_step"]

    # Back here: collect files the unfinished run for the next lease and unpacks it, its EMA model ready to score
    collect = ["collect", str(tmp_path / "out2"), "--ckpt", str(tmp_path / "ckpt3"), *state]
    assert lease.main([*collect, "--runs", str(tmp_path / "runs3")]) == 0
    assert (tmp_path / "ckpt3" / "sr-x4.tar").read_bytes() == (tmp_path / "out2" / "sr-x4.tar").read_bytes()
    assert lease_checkpoints.verified_step(tmp_path / "state" / "sr-x4.tar") == run["end_step"]
    # ... and never replaces a carried tar by an earlier step's (a lease that started afresh), unless forced
    only_sr = tmp_path / "out1-sr"
    only_sr.mkdir()
    assert lease_checkpoints.pack(tmp_path / "restored", only_sr / "sr-x4.tar") == 2  # step 2, not finished
    collect = ["collect", str(only_sr), "--ckpt", str(tmp_path / "ckpt3"), *state, "--runs", str(tmp_path / "runs4")]
    capsys.readouterr()
    assert lease.main(collect) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: sr-x4.tar holds step 2, {tmp_path / 'ckpt3' / 'sr-x4.tar'} step {run['end_step']}: kept "
        "(--force replaces it)"
    )
    assert (tmp_path / "ckpt3" / "sr-x4.tar").read_bytes() == (tmp_path / "out2" / "sr-x4.tar").read_bytes()
    assert lease_checkpoints.verified_step(tmp_path / "state" / "sr-x4.tar") == run["end_step"]
    assert lease.main([*collect, "--force"]) == 0
    assert (tmp_path / "ckpt3" / "sr-x4.tar").read_bytes() == (only_sr / "sr-x4.tar").read_bytes()
    assert lease_checkpoints.verified_step(tmp_path / "state" / "sr-x4.tar") == 2
    step_dir = tmp_path / "runs3" / "sr-x4" / "checkpoints" / f"step-{run['end_step']:08d}"
    ema = torch.load(step_dir / "custom_checkpoint_1.pkl", weights_only=True)
    assert all(torch.equal(ema[k], v) for k, v in load_model(str(step_dir)).state_dict().items())
    # a tar packed without model/ (the first lease's) gets it rebuilt from the run's config
    shutil.rmtree(step_dir / "model")
    lease_checkpoints.rebuild_model_folder(
        step_dir, tmp_path / "runs3" / "sr-x4" / "training_config.yaml", "custom_checkpoint_1.pkl"
    )
    assert all(torch.equal(ema[k], v) for k, v in load_model(str(step_dir)).state_dict().items())


def test_a_queued_model_is_not_started_with_too_few_seconds_left(tmp_path: Path, monkeypatch) -> None:
    """A trainer finishes less than THEN_MIN_S before the stop: the `--then` model is not started in its place, the
    log says why, and the lease's summary (its started trainers) holds the finished one alone. In-process: a real
    lease timed to end there took a minute, its budget sized to how long sr-x4 had taken in the one before."""
    lease_log, lease_run = _hub_module("lease_log"), _hub_module("lease_run")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    monkeypatch.setattr(lease_run, "start_trainer", lambda *args: pytest.fail("sr-x2 started"))
    finished = argparse.Namespace(poll=lambda: 0)  # sr-x4's trainer, exited 0 (its max_steps made)
    t = lease_run.Trainers({"sr-x4": 0}, ["sr-x2"], frozenset({"sr-x2"}), procs={"sr-x4": finished})
    lease_run.start_next(argparse.Namespace(), {}, [], time.monotonic() + lease_run.THEN_MIN_S - 5, t)
    log = (tmp_path / "lease.log").read_text()
    assert re.fullmatch(r"\[gpu_lease [\d:]+\] sr-x4: finished; 8\d s left, too few to start sr-x2\n", log), log
    assert list(t.procs) == ["sr-x4"] and t.queue == ["sr-x2"] and t.handed_on == {"sr-x4"}
    lease_run.start_next(argparse.Namespace(), {}, [], time.monotonic(), t)  # handed on once: said once
    assert (tmp_path / "lease.log").read_text() == log


@pytest.mark.parametrize("removed", [("custom_checkpoint_1.pkl",), ("custom_checkpoint_1.pkl", "progress.json")])
def test_a_checkpoint_replaced_while_it_is_packed_is_packed_again_not_half(
    tmp_path: Path, monkeypatch, removed: tuple[str, ...]
) -> None:
    """The trainer saves step 2 and removes step 1 while a periodic pack reads step 1: that pack wrote a tar without
    the EMA (the lease's weights lost), or took the whole lease down (KeyError: progress.json); it is dropped, and
    the next pack takes step 2."""
    lease_checkpoints, lease_log, lease_run = (_hub_module(m) for m in ("lease_checkpoints", "lease_log", "lease_run"))
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    monkeypatch.setattr(lease_run, "warm_started", lambda name, args: None)
    config, run = SwinIRConfig.from_preset("lightweight_sr", 4, **TINY_BODY), tmp_path / "runs" / "sr-x4"
    _checkpoint(run, config, 1)
    read = lease_checkpoints.load_file

    def trainer_saves_meanwhile(path: Path) -> dict:
        weights = read(path)
        if path.parent.name == "step-00000001":
            _checkpoint(run, config, 2)
            for name in removed:  # the older one's removal under way
                (path.parent / name).unlink()
        return weights

    monkeypatch.setattr(lease_checkpoints, "load_file", trainer_saves_meanwhile)
    args, packed = argparse.Namespace(runs=tmp_path / "runs", out=tmp_path / "out"), {}
    lease_run.pack_all(["sr-x4"], args, packed)
    assert packed == {} and not (tmp_path / "out" / "sr-x4.tar").exists()
    log = (tmp_path / "lease.log").read_text()
    assert "sr-x4: packing step-00000001 failed (step-00000001 was replaced while it was packed); next time" in log
    lease_run.pack_all(["sr-x4"], args, packed)
    assert packed == {"sr-x4": "step-00000002"}
    assert lease_checkpoints.verified_step(tmp_path / "out" / "sr-x4.tar") == 2
    assert lease_checkpoints._metadata(tmp_path / "out" / "sr-x4.tar")["ema_file"] == "custom_checkpoint_1.pkl"


def test_collect_names_the_step_it_unpacked_not_a_newer_one_beside_it(tmp_path: Path, capsys) -> None:
    """`collect --force` of an earlier step than runs/gpu/NAME/ holds: it named the newer folder as the one to score."""
    lease = _lease_module()
    ckpt, state, runs = tmp_path / "ckpt", tmp_path / "state", tmp_path / "runs"
    _fake_tar(state / "sr-x4.tar", 600, 0.01)
    (runs / "sr-x4" / "checkpoints" / "step-00000600").mkdir(parents=True)  # the later lease's, unpacked before
    _fake_tar(tmp_path / "out" / "sr-x4.tar", 300, 0.01)
    collect = ["collect", str(tmp_path / "out"), "--ckpt", str(ckpt), "--state", str(state), "--runs", str(runs)]
    assert lease.main([*collect, "--force"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"; {runs / 'sr-x4' / 'checkpoints' / 'step-00000300'}")
