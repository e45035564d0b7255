"""`swinir-hf train` with `accelerate launch`'s options: the trainer under accelerate's launcher, ending as in one
process (its one-line message and exit status), without the launcher's tracebacks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from swinir_hf.cli import main as cli
from swinir_hf.training.checks import list_checkpoints
from swinir_hf.training.cli import build_parser
from swinir_hf.training.launch import _launcher_parser, _status, split_arguments

SWINIR_HF = shutil.which("swinir-hf", path=str(Path(sys.executable).parent))
needs_command = pytest.mark.skipif(SWINIR_HF is None, reason="the swinir-hf command is not installed")
# Two CPU processes (gloo) where torchrun would start one per GPU.
TWO_PROCESSES = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--dynamo_backend", "no"]
ONE_PROCESS = ["--cpu", "--num_processes", "1", "--num_cpu_threads_per_process", "1", "--num_machines", "1"]
ONE_PROCESS += ["--dynamo_backend", "no"]


def test_launcher_options_are_told_from_the_trainers_wherever_they_stand():
    argv = ["--multi_gpu", "--config", "tiny_sr_x2", "--num_processes", "2", "--train.max_steps", "7"]
    argv += ["--mixed-precision=bf16", "train.batch_size=4", "--cpu", "--output-dir", "out", "-q", "--help"]
    assert split_arguments(argv) == (
        ["--multi_gpu", "--num_processes", "2", "--mixed-precision=bf16", "--cpu", "-q"],
        ["--config", "tiny_sr_x2", "--train.max_steps", "7", "train.batch_size=4", "--output-dir", "out", "--help"],
    )
    assert split_arguments(["--config", "tiny_sr_x2"]) == ([], ["--config", "tiny_sr_x2"])


def test_no_trainer_option_has_a_launcher_options_name():
    """Else `split_arguments` would hand it to accelerate."""
    trainer = {name for action in build_parser()._actions for name in action.option_strings} - {"-h", "--help"}
    launcher = {name for action in _launcher_parser()._actions for name in action.option_strings}
    assert len(trainer) > 50 and len(launcher) > 50
    assert not trainer & launcher


def test_a_bad_launcher_option_is_one_line(capsys):
    assert cli(["train", "--mixed_precision", "fp7", "--config", "tiny_sr_x2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: accelerate launch: argument --mixed_precision/--mixed-precision: invalid choice:")
    assert err.count("\n") == 1


def test_a_process_killed_by_a_signal_is_named(capsys):
    """A process the kernel killed (out of memory) could not say so itself."""
    assert _status(-signal.SIGKILL, "process 1") == 137
    assert capsys.readouterr().err == "error: process 1 was killed by SIGKILL (out of memory?)\n"
    assert _status(2, "process 0") == 2 and not capsys.readouterr().err  # it printed its own error


def _swinir_hf_train(launcher: list[str], raw: dict, tmp_path: Path, **popen) -> subprocess.Popen:
    """`swinir-hf train LAUNCHER --config (raw)`, started; its output goes to tmp_path / "log" (a pipe that nobody
    reads while it runs would fill with progress bars and stall it); `_finished` waits and returns its stderr."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [SWINIR_HF, "train", *launcher, "--mixed_precision", "no", "--config", str(config)]
    with open(tmp_path / "log", "w") as log:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log, **popen)


def _finished(run: subprocess.Popen, tmp_path: Path) -> str:
    run.wait(timeout=120)
    return (tmp_path / "log").read_text()


@pytest.mark.slow
@needs_command
@pytest.mark.parametrize("launcher", [ONE_PROCESS, TWO_PROCESSES], ids=["one process", "two processes"])
def test_a_bad_trainer_option_under_the_launcher_is_one_line(launcher, tiny_run, images, tmp_path):
    raw = tiny_run(images, tmp_path / "out")
    raw["train"]["max_stepz"] = 3
    run = _swinir_hf_train(launcher, raw, tmp_path)
    err = _finished(run, tmp_path)
    assert run.returncode == 2, err[-3000:]
    assert err.count("error:") == 1 and "error: unknown field train.max_stepz (see --help)\n" in err, err
    assert "Traceback" not in err and "ChildFailedError" not in err, err[-3000:]


@pytest.mark.slow
@needs_command
@pytest.mark.parametrize(
    ("launcher", "signum", "to_group"),
    [(ONE_PROCESS, signal.SIGINT, True), (ONE_PROCESS, signal.SIGTERM, False), (TWO_PROCESSES, signal.SIGINT, True)],
    ids=["Ctrl-C, one process", "SIGTERM to the launcher only", "Ctrl-C, two processes"],
)
def test_a_stopped_launch_saves_a_checkpoint_and_ends_as_one_process_would(
    launcher, signum, to_group, tiny_run, images, tmp_path
):
    """Ctrl-C (the terminal signals the launcher and its processes), or SIGTERM to the launcher alone (`docker stop`):
    the processes stop after a step with a checkpoint; the command waits for them and exits 128 + N, without a
    traceback."""
    out = tmp_path / "out"
    raw = tiny_run(images, out, train={"max_steps": 100_000, "checkpoint_every": 1})
    run = _swinir_hf_train(launcher, raw, tmp_path, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while not list_checkpoints(out) and run.poll() is None:  # steps under way, not the model's loading
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.2)
    finally:
        os.killpg(run.pid, signum) if to_group else run.send_signal(signum)
    err = _finished(run, tmp_path)
    name = signal.Signals(signum).name
    assert run.returncode == 128 + signum, err[-3000:]
    assert err.count(f"interrupted: {name}: stopped after step") == 1, err[-3000:]
    saved = Path(err.split(", saved in ")[1].split(";")[0])
    assert (saved / "progress.json").is_file()
    assert "Traceback" not in err and "SignalException" not in err, err[-3000:]
    with pytest.raises(ProcessLookupError):  # no process of the launch left behind
        os.killpg(run.pid, 0)
