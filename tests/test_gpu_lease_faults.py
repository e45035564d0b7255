"""The GPU lease script's faults (hub/gpu_lease.py and its parts): a trainer that cannot be reaped, a SIGTERM before
the trainers start or while they train, a checkpoint saved while the one before is packed, a collect that leaves an
earlier final model, an interrupted LR image. In-process, with stand-ins for the trainers: each takes seconds."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_gpu_recipe import TINY_BODY, _checkpoint, _fake_tar, _hub_module, _lease_module

from swinir_hf.models.configuration_swinir import SwinIRConfig


def test_stopping_a_trainer_that_outlives_its_sigkill_is_bounded_in_time(tmp_path: Path, monkeypatch) -> None:
    """A trainer that ignores SIGTERM and whose SIGKILL does not take (a process stuck in the GPU driver): `stop`
    waited for it without a bound, past the run tool's limit, and nothing was packed. It gives up after KILL_WAIT_S."""
    lease_log, lease_run = _hub_module("lease_log"), _hub_module("lease_run")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    monkeypatch.setattr(lease_run, "KILL_WAIT_S", 1, raising=False)  # (a lease_run without the bound has none)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    code += "time.sleep(300)"
    trainer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert trainer.stdout.readline() == "ready\n"  # SIGTERM ignored from here
        monkeypatch.setattr(trainer, "kill", lambda: None)  # the SIGKILL that does not take
        stopped = threading.Event()
        start = time.monotonic()
        thread = threading.Thread(target=lambda: (lease_run.stop({"sr-x4": trainer}, 0.5), stopped.set()), daemon=True)
        thread.start()
        thread.join(timeout=20)
        assert stopped.is_set(), "stop() still waits for a trainer it cannot reap"
        assert time.monotonic() - start < 0.5 + 1 + 3
        assert trainer.returncode is None  # left running: its exit status in the summary is None, a failure
        log = (tmp_path / "lease.log").read_text()
        assert "sr-x4: still running 0 s after SIGTERM: killed" in log
        assert "sr-x4: still running 1 s after SIGKILL: left running, packing without it" in log
    finally:
        os.kill(trainer.pid, signal.SIGKILL)
        trainer.wait(timeout=30)
        trainer.stdout.close()


def _sigterm_to_self(seconds: float = 5) -> None:
    """The run tool's SIGTERM to the lease, here, and time for its handler to run (which may end the wait)."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(seconds)


def _terminated_lease(tmp_path: Path, monkeypatch, probe: float = 30) -> tuple:
    """lease_run with the set-up faked (no wheels, gpu_lr/ made, no kept probe rows), its log in OUT/lease.log, and
    the arguments of a one-model lease (`--probe`: `probe`)."""
    lease_log, lease_run = _hub_module("lease_log"), _hub_module("lease_run")
    log_files: list[Path] = []  # the lease adds OUT/lease.log
    monkeypatch.setattr(lease_log, "LOG_FILES", log_files)
    monkeypatch.setattr(lease_run, "LOG_FILES", log_files)
    monkeypatch.setattr(lease_run, "prepare_env", lambda args: {})
    monkeypatch.setattr(lease_run, "earlier_rows", lambda *a, **k: [])
    return lease_run, _lease_args(tmp_path, probe)


def _lease_args(tmp_path: Path, probe: float) -> argparse.Namespace:
    """`run_lease`'s arguments for a one-model lease (sr-x4) in folders of `tmp_path`, `--probe` `probe`."""
    folders = {n: tmp_path / n for n in ("out", "ckpt", "state", "wheels", "runs", "workdir")}
    args = argparse.Namespace(**folders, models="sr-x4", then=None, probe=probe, budget=600, stop_margin=60)
    args.__dict__.update(workers=0, pack_every=60, stop_grace=40, device="cpu", set=[])
    return args


def _run_terminated(lease_run, args: argparse.Namespace) -> dict:
    """Run the lease, which gets SIGTERM (`_ends_with_143`); returns its summary.json."""
    _ends_with_143(lease_run, args)
    return json.loads((args.out / "summary.json").read_text())


def _ends_with_143(lease_run, args: argparse.Namespace) -> None:
    """Run the lease, which gets SIGTERM: it ends with 143 and its own handler gone."""

    class Killed(Exception):
        pass

    def killed(signum, frame):
        raise Killed  # the test process's own, for a lease that does not handle SIGTERM

    previous = signal.signal(signal.SIGTERM, killed)
    try:
        assert lease_run.run_lease(args) == 143
        assert signal.getsignal(signal.SIGTERM) is killed
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("during", ["prepare_env", "gpu_lr", "probe"])
def test_a_sigterm_before_the_trainers_start_ends_the_lease_with_its_summary(
    tmp_path: Path, monkeypatch, during: str
) -> None:
    """The run tool's SIGTERM during the set-up (installing the wheels, making gpu_lr/, the probe) killed the script
    at once, without summary.json; it now ends as a later SIGTERM does: nothing to stop or pack, the summary written
    (no models), exit 143."""
    lease_run, args = _terminated_lease(tmp_path, monkeypatch)

    def step(name: str, result: object):
        def run(*args, **kwargs):
            if name == during:
                _sigterm_to_self()
            return result

        return run

    monkeypatch.setattr(lease_run, "prepare_env", step("prepare_env", {}))
    monkeypatch.setattr(lease_run.subprocess, "run", step("gpu_lr", None))
    monkeypatch.setattr(lease_run, "probe", step("probe", None))
    monkeypatch.setattr(lease_run, "launch", lambda *a: pytest.fail("a trainer started after the SIGTERM"))
    summary = _run_terminated(lease_run, args)
    assert summary["models"] == {} and summary["device"] == "cpu" and summary["probe_rows"] == []
    log = (tmp_path / "out" / "lease.log").read_text()
    assert "SIGTERM before any trainer started: nothing to stop or pack; writing the summary" in log
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lease.log", "summary.json"]


def test_a_sigterm_during_the_probe_keeps_the_rows_it_timed(tmp_path: Path, monkeypatch) -> None:
    """A SIGTERM while train_step.py timed the second variant: summary.json came back without the first one's row
    (which `collect` keeps for later leases), and OUT/train_step.json stayed, one of OUT's 8 files. The row is in
    the summary, the file gone."""
    lease_run, args = _terminated_lease(tmp_path, monkeypatch)
    lease_probe = _hub_module("lease_probe")
    monkeypatch.setattr(lease_probe, "time_device_figures", lambda *a: None)
    row = {"config": "gpu_sr_x4", "variant": "bf16", "batch": 32, "first": 2.5, "steps_per_s": 11.25, "gib": 1.5}

    def run(command: list[str], **kwargs) -> None:
        if any(part.endswith("train_step.py") for part in command):  # the first row written, then the signal
            Path(command[command.index("--json") + 1]).write_text(json.dumps([row]))
            _sigterm_to_self()

    monkeypatch.setattr(lease_run.subprocess, "run", run)
    monkeypatch.setattr(lease_run, "launch", lambda *a: pytest.fail("a trainer started after the SIGTERM"))
    summary = _run_terminated(lease_run, args)
    assert summary["probe_rows"] == [{"config": "gpu_sr_x4", "variant": "bf16", "steps_per_s": 11.25, "first": 2.5}]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lease.log", "summary.json", "train_step.md"]


def test_probe_rows_cut_short_by_the_probes_sigkill_do_not_end_the_lease(tmp_path: Path, monkeypatch) -> None:
    """The probe's time limit SIGKILLs train_step.py, which rewrote OUT/train_step.json in place after each row: a
    file cut short there raised JSONDecodeError out of the probe and ended the lease before any trainer started. Its
    rows are in train_step.md; the file, and a `.partial` a kill mid-write leaves now, are removed from OUT."""
    lease_log, lease_probe = _hub_module("lease_log"), _hub_module("lease_probe")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    rows = tmp_path / "train_step.json"
    rows.write_text('[{"config": "gpu_sr_x4", "vari')
    rows.with_name("train_step.json.partial").write_text("[")
    assert lease_probe.taken_rows(rows) == []
    assert list(tmp_path.iterdir()) == [tmp_path / "lease.log"]
    assert "probe: train_step.json is cut short (" in (tmp_path / "lease.log").read_text()


@pytest.mark.parametrize("restart", [False, True])
def test_a_sigterm_while_a_trainer_starts_stops_that_trainer(tmp_path: Path, monkeypatch, restart: bool) -> None:
    """A SIGTERM right after a trainer's process started, before the lease recorded it (at the start, or when a failed
    variant starts again in eager bf16): `stop` did not know it, and it ran on after the lease ended. It is recorded,
    then stopped."""
    lease_run, args = _terminated_lease(tmp_path, monkeypatch, probe=0)
    monkeypatch.setattr(lease_run.subprocess, "run", lambda *a, **k: None)
    monkeypatch.setattr(lease_run, "restore", lambda name, args: None)
    monkeypatch.setattr(lease_run, "warm_start", lambda name, args: [])
    monkeypatch.setattr(lease_run, "warm_started", lambda name, args: None)
    monkeypatch.setattr(lease_run, "pick_variant", lambda *a: ("bf16 inductor", ["train.compile=inductor"]))
    started: list[subprocess.Popen] = []

    def launch(name, args, env, workers, overrides):
        fails = restart and not started  # the variant's trainer, which fails at once; the eager one gets the signal
        code = "raise SystemExit(1)" if fails else "import time; time.sleep(300)"
        started.append(subprocess.Popen([sys.executable, "-c", code]))
        if not fails:
            _sigterm_to_self(0.5)  # with SIGTERM held till it is recorded, this is not cut short
        return started[-1], args.runs / f"{name}.log"

    monkeypatch.setattr(lease_run, "launch", launch)
    try:
        summary = _run_terminated(lease_run, args)
        assert [p.poll() for p in started] == ([1, -signal.SIGTERM] if restart else [-signal.SIGTERM])
        assert summary["models"]["sr-x4"]["exit_code"] == -signal.SIGTERM
        assert "SIGTERM: stopping the trainers (10 s to save) and packing now" in (args.out / "lease.log").read_text()
    finally:
        for proc in started:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.parametrize("saves", [1, 2])
def test_a_run_that_keeps_two_checkpoints_is_packed_though_the_next_one_comes_meanwhile(
    tmp_path: Path, monkeypatch, saves: int
) -> None:
    """`train.keep_checkpoints: 2`: the trainer saves step 3 (and removes step 1) while a pack reads step 2, which
    stays whole; the pack was dropped all the same (`was replaced`), and one taken over so every time never came.
    It is packed; only once a second save has come (step 2's removal under way) is it dropped."""
    lease_checkpoints, lease_log, lease_run = (_hub_module(m) for m in ("lease_checkpoints", "lease_log", "lease_run"))
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    monkeypatch.setattr(lease_run, "warm_started", lambda name, args: None)
    config, run = SwinIRConfig.from_preset("lightweight_sr", 4, **TINY_BODY), tmp_path / "runs" / "sr-x4"
    run.mkdir(parents=True)
    (run / "training_config.yaml").write_text("train:\n  max_steps: 100\n  keep_checkpoints: 2\n")
    for step in (1, 2):
        _checkpoint(run, config, step)
    read = lease_checkpoints.load_file

    def trainer_saves_meanwhile(path: Path) -> dict:
        weights = read(path)
        if path.parent.name == "step-00000002":
            for step in range(3, 3 + saves):
                _checkpoint(run, config, step)
                for old in lease_checkpoints.step_folders(run)[:-2]:  # the trainer's rotation, under way
                    (old / "custom_checkpoint_1.pkl").unlink(missing_ok=True)
        return weights

    monkeypatch.setattr(lease_checkpoints, "load_file", trainer_saves_meanwhile)
    args, packed = argparse.Namespace(runs=tmp_path / "runs", out=tmp_path / "out"), {}
    lease_run.pack_all(["sr-x4"], args, packed)
    if saves == 1:
        assert packed == {"sr-x4": "step-00000002"}
        assert lease_checkpoints.verified_step(tmp_path / "out" / "sr-x4.tar") == 2
        assert lease_checkpoints._metadata(tmp_path / "out" / "sr-x4.tar")["ema_file"] == "custom_checkpoint_1.pkl"
    else:
        assert packed == {} and not (tmp_path / "out" / "sr-x4.tar").exists()
        assert (
            "packing step-00000002 failed (step-00000002 was replaced while it was packed)"
            in (tmp_path / "lease.log").read_text()
        )
    lease_run.pack_all(["sr-x4"], args, packed)  # the next look takes the newest
    assert packed == {"sr-x4": f"step-{2 + saves:08d}"}
    assert lease_checkpoints.verified_step(tmp_path / "out" / "sr-x4.tar") == 2 + saves


def test_collecting_a_later_unfinished_run_sets_the_earlier_final_model_aside(tmp_path: Path, capsys) -> None:
    """A run collected finished (its final model in runs/gpu/NAME/), then trained on past its max_steps and collected
    unfinished: the step-300 final model stayed in runs/gpu/NAME/ beside the step-400 checkpoint, where a bundle or
    eval of the run folder took it for the newest. It is moved into final-step-00000300/."""
    lease, lease_checkpoints = _lease_module(), _hub_module("lease_checkpoints")
    ckpt, state, runs = tmp_path / "ckpt", tmp_path / "state", tmp_path / "runs"
    finished = _fake_tar(tmp_path / "out1" / "sr-x4.tar", 300, 0.01)
    tensors, meta, _ = lease_checkpoints._read(finished)
    files = {f"final/{name}": f"{name} of step 300".encode() for name in lease_checkpoints.FINAL_FILES}
    files["final/training_summary.json"] = json.dumps({"step": 300}).encode()
    lease_checkpoints._write_tar(finished, tensors, meta, files)
    collect = ["collect", "--ckpt", str(ckpt), "--state", str(state), "--runs", str(runs)]
    assert lease.main([*collect, str(tmp_path / "out1")]) == 0
    assert (runs / "sr-x4" / "model.safetensors").read_bytes() == b"model.safetensors of step 300"
    _fake_tar(tmp_path / "out2" / "sr-x4.tar", 400, 0.01)
    capsys.readouterr()
    assert lease.main([*collect, str(tmp_path / "out2")]) == 0
    aside = runs / "sr-x4" / "final-step-00000300"
    assert sorted(p.name for p in (runs / "sr-x4").iterdir()) == ["checkpoints", "final-step-00000300"]
    assert sorted(p.name for p in aside.iterdir()) == sorted([*lease_checkpoints.FINAL_FILES, "sr-x4.tar"])
    assert (aside / "model.safetensors").read_bytes() == b"model.safetensors of step 300"
    assert [p.name for p in (runs / "sr-x4" / "checkpoints").iterdir()] == ["step-00000400"]
    out = capsys.readouterr().out
    assert f"note: {runs / 'sr-x4'} held the final model of step 300; step 400 is current: moved to {aside}\n" in out
    assert tarfile.is_tarfile(aside / "sr-x4.tar") and (ckpt / "sr-x4.tar").is_file()


def _training_images(data: Path, sets: tuple[str, ...]) -> None:
    """Two small random PNG images in each of data/SET: what `make_lr_sets` reads."""
    rng = np.random.default_rng(0)
    for name in sets:
        (data / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(data / name / f"{i}.png")


def test_an_lr_image_cut_short_is_made_again_and_an_interrupted_write_leaves_none(tmp_path: Path, monkeypatch) -> None:
    """`pack_gpu_data.py --lr-only` wrote each LR image in place: one interrupted mid-write stayed cut short, and a
    later run kept it (its folder had every file), for the trainer to fail on. It writes a temporary file and
    renames it, and makes an image again that does not decode whole."""
    pack_gpu_data = _hub_module("pack_gpu_data")
    data, lr = tmp_path / "gpu_data", tmp_path / "gpu_lr"
    _training_images(data, pack_gpu_data.LR_SETS)
    pack_gpu_data.make_lr_sets(data, lr)
    image = lr / "DIV2K_train_HR_crops128_x4" / "1.webp"
    whole = image.read_bytes()
    image.write_bytes(whole[: len(whole) // 2])  # a run killed mid-write, before the fix
    pack_gpu_data.make_lr_sets(data, lr)
    assert image.read_bytes() == whole
    assert sorted(p.name for p in image.parent.iterdir()) == ["0.webp", "1.webp"]

    save = Image.Image.save

    def killed_mid_write(self, path, *args, **kwargs):
        save(self, path, *args, **kwargs)
        Path(path).write_bytes(Path(path).read_bytes()[:20])
        raise KeyboardInterrupt  # the lease's SIGTERM, mid-write

    image.unlink()
    monkeypatch.setattr(Image.Image, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        pack_gpu_data._write_lr((data / "DIV2K_train_HR_crops128" / "1.png", image, 4))
    assert not image.exists()  # nor its temporary file: removed as the write failed
    monkeypatch.setattr(Image.Image, "save", save)
    pack_gpu_data.make_lr_sets(data, lr)
    assert image.read_bytes() == whole
    assert sorted(p.name for p in image.parent.iterdir()) == ["0.webp", "1.webp"]


def test_a_lease_that_gets_sigterm_stops_its_trainers_packs_and_summarizes(tmp_path: Path, monkeypatch) -> None:
    """The run tool's time limit sends SIGTERM to the lease and its trainers: the lease died at once, and what the
    trainers saved then (a final model, the last minute's steps) and summary.json (a probe's figures) never came
    back. It now stops them with a short grace, packs, writes its summary and exits 143; a second SIGTERM is ignored."""
    lease_log, lease_run = _hub_module("lease_log"), _hub_module("lease_run")
    monkeypatch.setattr(lease_log, "LOG_FILES", [tmp_path / "lease.log"])
    events, looks = [], []
    trainer = argparse.Namespace(poll=lambda: trainer.returncode, returncode=None)

    def sleep(seconds: float) -> None:  # the watch loop's: the run tool's SIGTERM comes at its second look
        looks.append(seconds)
        if len(looks) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    def stop(procs, grace):
        os.kill(os.getpid(), signal.SIGTERM)  # the tool's second one: ignored
        events.append(("stop", grace))
        trainer.returncode = 143

    monkeypatch.setattr(lease_run, "prepare_env", lambda args: {})
    monkeypatch.setattr(lease_run.subprocess, "run", lambda *a, **k: None)  # the LR images
    monkeypatch.setattr(lease_run, "earlier_rows", lambda *a, **k: [])
    monkeypatch.setattr(lease_run, "launch", lambda *a: (trainer, None))
    monkeypatch.setattr(lease_run, "restore", lambda name, args: None)
    monkeypatch.setattr(lease_run, "warm_start", lambda name, args: [])
    monkeypatch.setattr(lease_run, "pack_all", lambda models, *a: events.append(("pack", models)))
    monkeypatch.setattr(lease_run, "stop", stop)
    monkeypatch.setattr(lease_run.time, "sleep", sleep)
    monkeypatch.setattr(lease_run, "write_summary", lambda models, args, info, *rest: events.append(("summary", info)))
    _ends_with_143(lease_run, _lease_args(tmp_path, probe=0))
    assert len(looks) == 2 and [e[0] for e in events] == ["stop", "pack", "summary"]
    assert events[0] == ("stop", 10) and events[1] == ("pack", ["sr-x4"]) and events[2][1]["exit"] == {"sr-x4": 143}
    assert "SIGTERM: stopping the trainers (10 s to save) and packing now" in (tmp_path / "lease.log").read_text()
