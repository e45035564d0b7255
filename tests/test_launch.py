"""`swinir-hf train` / `swinir-hf restore` with `accelerate launch`'s options: the command under accelerate's
launcher, ending as in one process (its one-line messages and exit status), without the launcher's tracebacks."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from preloaded_python import PreloadedPython, Started

from swinir_hf.checkpoints.run_folder import list_checkpoints
from swinir_hf.cli import _subcommand
from swinir_hf.cli import build_parser as cli_parser
from swinir_hf.cli import main as cli
from swinir_hf.launch import _launcher_parser, _settled, _status, option_strings, split_arguments
from swinir_hf.training.checks import check_parallelism
from swinir_hf.training.cli import build_parser

# Two CPU processes (gloo) where torchrun would start one per GPU. Nothing else: the launcher's defaults for what
# is not given (one machine, no mixed precision, no dynamo) are taken without its note about them.
TWO_PROCESSES = ["--multi_gpu", "--num_processes", "2"]
ONE_PROCESS = ["--cpu", "--num_processes", "1", "--num_cpu_threads_per_process", "1"]
DEFAULTS_NOTE = "values were not passed to `accelerate launch`"


def test_launcher_options_are_told_from_the_trainers_wherever_they_stand():
    argv = ["--multi_gpu", "--config", "tiny_sr_x2", "--num_processes", "2", "--train.max_steps", "7"]
    argv += ["--mixed-precision=bf16", "train.batch_size=4", "--cpu", "--output-dir", "out", "-q", "--help"]
    assert split_arguments(argv) == (
        ["--multi_gpu", "--num_processes", "2", "--mixed-precision=bf16", "--cpu"],
        ["--config", "tiny_sr_x2", "--train.max_steps", "7", "train.batch_size=4", "--output-dir", "out", "-q"]
        + ["--help"],
    )
    assert split_arguments(["--config", "tiny_sr_x2"]) == ([], ["--config", "tiny_sr_x2"])
    # a command's own option keeps its name: restore's -t (--tile) is not accelerate's -t (--tee)
    restore = ["in/", "-o", "out/", "-t", "256", "--num_processes", "2", "--multi_gpu"]
    assert split_arguments(restore, own={"-t", "-o"}) == (["--num_processes", "2", "--multi_gpu"], restore[:5])


def test_no_trainer_option_has_a_launcher_options_name():
    """Else `split_arguments` would hand it to accelerate; `-q` / `--quiet` alone, which it never hands over."""
    trainer = {name for action in build_parser()._actions for name in action.option_strings} - {"-h", "--help"}
    launcher = {name for action in _launcher_parser()._actions for name in action.option_strings}
    assert len(trainer) > 50 and len(launcher) > 50
    assert trainer & launcher == {"-q", "--quiet"}


@pytest.mark.parametrize("quiet", ["-q", "--quiet"])
def test_quiet_is_the_commands_own_never_the_launchers(quiet):
    """accelerate's launcher has a `-q` / `--quiet` of its own (tracebacks): `restore -q in -o out` went to it, and
    started a launch that printed its defaults note and every bar, with exit status 0."""
    restore = option_strings(_subcommand(cli_parser(only="restore"), "restore"))
    assert split_arguments(["in", quiet, "-o", "out"], own=restore) == ([], ["in", quiet, "-o", "out"])
    # a command without a quiet option of its own gets it all the same (and says it does not know it)
    assert split_arguments(["--num_processes", "2", quiet, "in"]) == (["--num_processes", "2"], [quiet, "in"])


@pytest.mark.parametrize("hardware", [["--cpu"], []])
def test_several_processes_that_the_launcher_would_start_as_one_are_refused(hardware, monkeypatch, capsys):
    """accelerate's single-process launcher (`--cpu`, or without --multi_gpu on one GPU or none) started one process
    for `--num_processes 2`, and the run said "on 1 process(es)": refused before any starts, naming what to use."""
    import subprocess as started

    monkeypatch.setattr(started, "Popen", lambda *args, **kwargs: pytest.fail("a process was started"))
    monkeypatch.setattr("torch.cuda.device_count", lambda: 0)
    argv = ["train", *hardware, "--num_processes", "2", "--config", "tiny_sr_x2"]
    assert cli(argv) == 2
    assert capsys.readouterr().err == (
        "error: accelerate launch: --num_processes 2 without --multi_gpu starts one process: add --multi_gpu (on a "
        "machine without a GPU it starts CPU processes; drop --cpu), or give --num_processes 1\n"
    )


def test_a_bad_launcher_option_is_one_line(capsys):
    assert cli(["train", "--mixed_precision", "fp7", "--config", "tiny_sr_x2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: accelerate launch: argument --mixed_precision/--mixed-precision: invalid choice:")
    assert err.count("\n") == 1


def test_a_sharding_engine_is_refused_before_any_process_starts(capsys):
    """The trainer's refusal (`check_parallelism`), said by the command, not left to the launcher (which would first
    ask for DeepSpeed to be installed) or to every process."""
    for option, engine in (("--use_fsdp", "FSDP"), ("--use-deepspeed", "DeepSpeed")):
        assert cli(["train", option, "--num_processes", "2", "--config", "tiny_sr_x2"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {engine} is not supported: ") and err.count("\n") == 1, err


def test_a_sharding_engine_chosen_in_an_accelerate_config_file_is_refused_too(tmp_path, capsys):
    """The launcher's options choose no mode: the config file's `distributed_type` does (as in accelerate), and a
    sharding one is the same one-line refusal, not the launcher's "DeepSpeed is not installed"; `--multi_gpu` given
    overrides the file's choice."""
    for kind, engine in (("DEEPSPEED", "DeepSpeed"), ("FSDP", "FSDP")):
        config = tmp_path / f"{kind}.yaml"
        config.write_text(
            yaml.safe_dump({"compute_environment": "LOCAL_MACHINE", "distributed_type": kind, "num_processes": 2})
        )
        assert cli(["train", "--config_file", str(config), "--config", "tiny_sr_x2"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {engine} is not supported: ") and err.count("\n") == 1, err
    options = _launcher_parser().parse_args(["--config_file", str(config), "--multi_gpu", "-m", "swinir_hf.train"])
    check_parallelism(options)  # no error: --multi_gpu chose DDP
    broken = tmp_path / "broken.yaml"
    broken.write_text("distributed_type: [")
    check_parallelism(_launcher_parser().parse_args(["--config_file", str(broken), "-m", "swinir_hf.train"]))


def test_the_launchers_quiet_defaults_never_override_a_config_file(tmp_path, monkeypatch):
    """Without a config file the launcher's defaults are set (so it has nothing to warn about); with one, given or
    accelerate's default one, what the command line leaves unset stays unset, for the file to fill."""
    import accelerate.commands.config as accelerate_config

    fields = ("num_machines", "mixed_precision", "dynamo_backend", "main_process_port")
    default_file = tmp_path / "default_config.yaml"
    monkeypatch.setattr(accelerate_config, "default_config_file", str(default_file))

    def settled(*options: str) -> tuple:
        args = _settled(_launcher_parser().parse_args([*options, "-m", "swinir_hf.train"]))
        return tuple(getattr(args, name) for name in fields)

    assert settled("--multi_gpu") == (1, "no", "no", 0)  # port 0: any free one, not 29500 that a twin run holds
    assert settled("--mixed_precision", "bf16", "--num_machines", "2") == (2, "bf16", "no", None)
    assert settled("--multi_gpu", "--main_process_port", "29600") == (1, "no", "no", 29600)
    assert settled("--config_file", str(tmp_path / "mine.yaml")) == (None, None, None, None)
    default_file.write_text("mixed_precision: bf16\n")
    assert settled("--multi_gpu") == (None, None, None, None)
    assert settled("--cpu") == (1, "no", "no", 0)  # accelerate reads no default config file for --cpu
    # --cpu alone is one process, as accelerate takes it: not a note that it took one (`restore --cpu -q` printed it)
    assert _settled(_launcher_parser().parse_args(["--cpu", "-m", "swinir_hf.train"])).num_processes == 1


def test_a_process_killed_by_a_signal_is_named(capsys):
    """A process the kernel killed (out of memory) could not say so itself."""
    assert _status(-signal.SIGKILL, "process 1") == 137
    assert capsys.readouterr().err == "error: process 1 was killed by SIGKILL (out of memory?)\n"
    assert _status(2, "process 0") == 2 and not capsys.readouterr().err  # it printed its own error
    assert _status(-60, "the process") == 188  # a signal without a name (Linux: real-time)
    assert capsys.readouterr().err == "error: the process was killed by signal 60\n"


# The launcher's imports (accelerate's and torchrun's, 4 s of CPU a launch here), made once for the launches here:
# each is a fork of a Python that made them, in a session of its own, as the `swinir-hf` command (its `main`).
LAUNCHER_IMPORTS = "import swinir_hf.cli, swinir_hf.launch, swinir_hf.training.checks, accelerate.commands.launch\n"
LAUNCHER_IMPORTS += "import torch.distributed.run, torch.distributed.elastic.multiprocessing.errors"
SWINIR_HF_MAIN = "import sys\nfrom swinir_hf.cli import main\nsys.argv[0] = 'swinir-hf'\nsys.exit(main())"


def _launch_env(tmp_path: Path) -> dict:
    # HF_HOME: no accelerate config file of this machine's user (the options would default to its values).
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "HF_HOME": str(tmp_path / "hf_home")}


@pytest.fixture(scope="module")
def launcher_python(tmp_path_factory):
    """A Python with the launcher's imports made (in an HF_HOME of its own: accelerate reads it as it imports)."""
    folder = tmp_path_factory.mktemp("launcher")
    python = PreloadedPython(folder, LAUNCHER_IMPORTS, env=_launch_env(folder))
    yield python
    python.close()


@pytest.fixture
def preloaded(launcher_python):
    """`launcher_python` for one test: the launches it started and left running (it failed) are killed at its end."""
    yield launcher_python
    launcher_python.end_started()


def _swinir_hf(preloaded: PreloadedPython, command: list[str], tmp_path: Path, stdout: Path | None = None) -> Started:
    """`swinir-hf COMMAND`, started on the CPU in a session of its own; its output goes to tmp_path / "log" (a pipe
    that nobody reads while it runs would fill with progress bars and stall it); `_finished` waits and returns its
    stderr."""
    out = stdout or Path(os.devnull)
    return preloaded.start(
        SWINIR_HF_MAIN, command, tmp_path / "status", out, tmp_path / "log", env=_launch_env(tmp_path)
    )


def _swinir_hf_train(preloaded: PreloadedPython, options: list[str], raw: dict, tmp_path: Path) -> Started:
    """`swinir-hf train OPTIONS --config (raw)`, started (`_swinir_hf`)."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    return _swinir_hf(preloaded, ["train", *options, "--config", str(config)], tmp_path)


def _running(marker: str) -> list[str]:
    """The command lines of this machine's processes that hold `marker`."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it has just exited
            continue
        if marker in line:
            lines.append(line)
    return lines


def _finished(run: Started, tmp_path: Path) -> str:
    run.wait(timeout=120)
    return (tmp_path / "log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [ONE_PROCESS, TWO_PROCESSES], ids=["one process", "two processes"])
def test_a_bad_trainer_option_under_the_launcher_is_one_line(launcher, preloaded, tiny_run, images, tmp_path):
    raw = tiny_run(images, tmp_path / "out")
    raw["train"]["max_stepz"] = 3
    run = _swinir_hf_train(preloaded, launcher, raw, tmp_path)
    err = _finished(run, tmp_path)
    assert run.returncode == 2, err[-3000:]
    assert err.count("error:") == 1 and "error: unknown field train.max_stepz (see --help)\n" in err, err
    assert "Traceback" not in err and "ChildFailedError" not in err and DEFAULTS_NOTE not in err, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("launcher", "signum", "to_group"),
    [(ONE_PROCESS, signal.SIGINT, True), (ONE_PROCESS, signal.SIGTERM, False), (TWO_PROCESSES, signal.SIGINT, True)],
    ids=["Ctrl-C, one process", "SIGTERM to the launcher only", "Ctrl-C, two processes"],
)
def test_a_stopped_launch_saves_a_checkpoint_and_ends_as_one_process_would(
    launcher, signum, to_group, preloaded, tiny_run, images, tmp_path
):
    """Ctrl-C (the terminal signals the launcher's process group), or SIGTERM to the launcher alone (`docker stop`):
    the processes stop after a step with a checkpoint (one Ctrl-C, not the two that would stop them at once); the
    command waits for them and exits 128 + N, without a traceback."""
    out = tmp_path / "out"
    raw = tiny_run(images, out, train={"max_steps": 100_000, "checkpoint_every": 1})
    run = _swinir_hf_train(preloaded, launcher, raw, tmp_path)
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
    assert not _running(str(tmp_path / "run.yaml"))  # no process of the launch left behind


def _photos(folder: Path, count: int, broken: int = 0) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    for i in range(broken):
        (folder / f"broken{i}.png").write_text("not an image")
    return folder


def test_a_bad_restore_command_line_is_said_once_before_any_process_starts(capsys):
    with pytest.raises(SystemExit) as stop:
        cli(["restore", "--num_processes", "2", "in/", "--tile", "seven"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "argument -t/--tile: tile must be a number of pixels" in err


def test_a_launched_evals_output_problem_is_said_once_with_exit_status_1(tmp_path, capsys):
    """`eval --json F` over several processes, F already there: one line and exit status 1, as without the
    launcher, before any process starts."""
    (tmp_path / "scores.json").write_text("mine")
    argv = ["eval", *TWO_PROCESSES, "--model", "sr-x2", "--dataset", str(tmp_path), "--json"]
    assert cli([*argv, str(tmp_path / "scores.json")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'scores.json'} exists; pass --overwrite to replace it\n"
    assert (tmp_path / "scores.json").read_text() == "mine"


# A launch with a file that cannot be decoded (reported and skipped, the rest restored, exit status 1 with one summary
# and no launcher traceback): the rerun of test_collection.py's test_two_processes_match_one_and_a_rerun_does_no_work.


@pytest.mark.slow
def test_a_restore_launch_stopped_by_ctrl_c_keeps_what_it_finished(preloaded, tmp_path):
    """One process under the launcher, Ctrl-C: it stops, keeps its finished outputs, says so once, exit 130."""
    photos = _photos(tmp_path / "photos", 400)
    out = tmp_path / "out"
    run = _swinir_hf(preloaded, ["restore", *ONE_PROCESS, str(photos), "-o", str(out), "--no-progress"], tmp_path)
    deadline = time.monotonic() + 120
    try:
        while not (out.is_dir() and any(out.iterdir())) and run.poll() is None:
            assert time.monotonic() < deadline, "no output after 120 s"
            time.sleep(0.1)
    finally:
        os.killpg(run.pid, signal.SIGINT)
    err = _finished(run, tmp_path)
    assert run.returncode == 130, err[-3000:]
    assert err.count("interrupted: finished outputs are kept; run the same command again to do the rest") == 1, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert 0 < len(list(out.iterdir())) < 400
    assert not _running(str(photos))


@pytest.mark.slow
def test_a_restore_over_two_machines_shares_the_files(preloaded, tmp_path, free_port):
    """`--num_machines 2`, one process on each (two launches here, on this machine, as on two with a shared file
    system): every file restored once, one summary for all, from the first machine's main process."""
    port = free_port()  # for the main process's rendezvous, which binds it once started (seconds later)
    photos = _photos(tmp_path / "photos", 6)
    launches = []
    for rank in (1, 0):
        (tmp_path / str(rank)).mkdir()
        machines = ["--multi_gpu", "--num_machines", "2", "--machine_rank", str(rank), "--num_processes", "2"]
        machines += ["--main_process_ip", "127.0.0.1", "--main_process_port", str(port), "--dynamo_backend", "no"]
        command = ["restore", *machines, str(photos), "-o", str(tmp_path / "out"), "--no-progress"]
        launches.append(_swinir_hf(preloaded, command, tmp_path / str(rank)))
    errs = [_finished(run, tmp_path / str(rank)) for run, rank in zip(launches, (1, 0), strict=True)]
    assert [run.returncode for run in launches] == [0, 0], errs
    assert "restored" not in errs[0] and errs[1].count("restored 6, failed 0, skipped 0 existing") == 1, errs
    assert "images/s, 2 processes)" in errs[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in photos.iterdir())


@pytest.mark.slow
def test_an_eval_launch_shares_the_images_and_reports_as_one_process(preloaded, tmp_path, capsys):
    """`swinir-hf eval` over two processes: the main process prints the whole set's table once and writes its JSON,
    and each process its images' outputs, as one process does; an image that cannot be scored on process 1's share
    is one error line, exit status 1."""
    (tmp_path / "Tiny5").mkdir()
    hr = _photos(tmp_path / "Tiny5" / "HR", 5)
    command = ["eval", "--model", "sr-x2", "--dataset", str(hr), "--verbose", "--json"]
    assert cli([*command, str(tmp_path / "one.json"), "--save-images", str(tmp_path / "one")]) == 0
    one = capsys.readouterr().out
    two_processes = [*command, str(tmp_path / "two.json"), "--save-images", str(tmp_path / "two"), *TWO_PROCESSES]
    run = _swinir_hf(preloaded, two_processes, tmp_path, stdout=tmp_path / "stdout")
    err = _finished(run, tmp_path)
    assert run.returncode == 0, err[-3000:]
    two = (tmp_path / "stdout").read_text()
    assert two.count("| mean |") == one.count("| mean |") == 2
    assert [line.split("|")[1:3] for line in two.splitlines()] == [line.split("|")[1:3] for line in one.splitlines()]
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert [image["name"] for image in second["images"]] == ["000", "001", "002", "003", "004"]
    assert second["command"] == ["swinir-hf", *two_processes]  # as typed: the launcher's options too
    for image, alone in zip(second["images"], first["images"], strict=True):
        for method, figures in image["scores"].items():
            assert figures == pytest.approx(alone["scores"][method], abs=0.01)
    assert "Traceback" not in err and DEFAULTS_NOTE not in err, err[-3000:]
    saved = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    assert saved == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.png")) and saved
    for path in saved:  # each written by the process that scored it
        one_image = np.asarray(Image.open(tmp_path / "one" / path), dtype=np.int16)
        assert np.abs(one_image - np.asarray(Image.open(tmp_path / "two" / path), dtype=np.int16)).max() <= 1

    Image.new("RGB", (1, 1)).save(hr / "000a.png")  # the set's second image: process 1's share
    (tmp_path / "status").unlink()
    run = _swinir_hf(preloaded, [*command, str(tmp_path / "three.json"), *TWO_PROCESSES], tmp_path)
    err = _finished(run, tmp_path)
    assert run.returncode == 1, err[-3000:]
    assert err.count("error:") == 1 and "error: Tiny5/000a: image of 1×1 is smaller than the scale factor 2" in err
    assert "Traceback" not in err and not (tmp_path / "three.json").exists()


# What restore and eval say of accelerate's mixed precision, however it reached them (`launcher_precision`).
REFUSED_BF16 = (
    "error: accelerate launch's --mixed_precision bf16 (or accelerate config's) is for training, which this command "
    "does not read: give it --dtype bf16 instead\n"
)


def test_restore_and_eval_launched_by_accelerate_refuse_its_mixed_precision(tmp_path, monkeypatch, capsys):
    """`accelerate launch --mixed_precision bf16 -m swinir_hf.restore` (or `mixed_precision: bf16` in an accelerate
    config file: both reach the process as ACCELERATE_MIXED_PRECISION) ran in float32 while the user believed bf16;
    refused as `swinir-hf restore --mixed_precision bf16` is, with its message, before any model loads."""
    from swinir_hf.evaluation.cli import main as evaluate
    from swinir_hf.inference.collection_cli import main as restore

    photos, out = _photos(tmp_path / "photos", 1), tmp_path / "out"
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    assert restore([str(photos), "-o", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err == REFUSED_BF16 and not out.exists()
    assert cli(["restore", str(photos), "-o", str(out), "--no-progress"]) == 2  # a shell that set it: the same
    assert capsys.readouterr().err == REFUSED_BF16 and not out.exists()
    scores = ["--json", str(tmp_path / "scores.json")]
    assert evaluate(["--model", "identity", "--noise", "25", "--dataset", str(photos), *scores]) == 2
    assert capsys.readouterr().err == REFUSED_BF16 and not (tmp_path / "scores.json").exists()
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    assert restore([str(photos), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "error: accelerate launch's --mixed_precision fp16 (or accelerate config's) is for training, which this "
        "command does not read: give it --dtype fp16 instead (float16 runs on CUDA only; elsewhere --dtype bf16)\n"
    )
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")  # what the launcher hands on without one
    assert restore([str(photos), "-o", str(out), "--model", "nowhere/none"]) == 1  # goes on: to the model's loading
    assert "error: accelerate" not in capsys.readouterr().err


def test_an_empty_accelerate_mixed_precision_asks_for_none(tmp_path, monkeypatch, capsys):
    """ACCELERATE_MIXED_PRECISION set empty (a script's `ACCELERATE_MIXED_PRECISION=$MP` with MP unset) asks for no
    mixed precision, as "no" does: restore and eval went on before, and were refused with "--mixed_precision  (or
    accelerate config's)", naming no precision."""
    from swinir_hf.evaluation.cli import main as evaluate
    from swinir_hf.inference.collection_cli import main as restore

    photos, out = _photos(tmp_path / "photos", 1), tmp_path / "out"
    for empty in ("", " "):
        monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", empty)
        assert restore([str(photos), "-o", str(out), "--model", "nowhere/none"]) == 1  # on to the model's loading
        assert "accelerate" not in capsys.readouterr().err
        assert evaluate(["--model", "identity", "--noise", "25", "--dataset", str(photos), "--dtype", "float32"]) == 0
        assert "accelerate" not in capsys.readouterr().err


def test_an_explicit_dtype_decides_over_accelerates_mixed_precision(tiny_config, tmp_path, monkeypatch, capsys):
    """`--dtype` given, even at its default value, is what the engine runs at: the launch goes on, with a note that
    the launcher's mixed precision is not read."""
    from swinir_hf.evaluation.cli import main as evaluate
    from swinir_hf.inference.collection_cli import main as restore
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration

    photos, out, model = _photos(tmp_path / "photos", 1), tmp_path / "out", tmp_path / "model"
    SwinIRForImageRestoration(tiny_config()).save_pretrained(model)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    note = (
        "note: accelerate launch's --mixed_precision bf16 (or accelerate config's) is for training, which this "
        "command does not read: it runs at the --dtype given, "
    )
    assert evaluate(["--model", "identity", "--noise", "25", "--dataset", str(photos), "--dtype", "float32"]) == 0
    assert f"{note}float32\n" in capsys.readouterr().err
    assert restore([str(photos), "-o", str(out), "--model", str(model), "--dtype", "auto", "--no-progress"]) == 0
    assert f"{note}auto\n" in capsys.readouterr().err and len(list(out.iterdir())) == 1


def test_swinir_hf_launches_restore_with_mixed_precision_and_an_explicit_dtype(monkeypatch, capsys):
    """`swinir-hf restore --mixed_precision bf16 --dtype bf16`: refused before any process started, although the
    process would run at the --dtype given; the launcher now starts it (which then says the note)."""
    import accelerate.commands.launch as accelerate_launch

    launched = []
    monkeypatch.setattr(accelerate_launch, "launch_command", launched.append)
    argv = ["restore", "a.png", "-o", "out", "--num_processes", "1", "--mixed_precision", "bf16"]
    assert cli([*argv, "--dtype", "bf16"]) == 0
    assert [args.mixed_precision for args in launched] == ["bf16"] and not capsys.readouterr().err
    assert cli(argv) == 2 and len(launched) == 1
    assert capsys.readouterr().err == REFUSED_BF16


# The real `accelerate launch --mixed_precision bf16 -m swinir_hf.restore`, its variable the one read: a launch of
# test_collection.py's test_two_processes_a_user_error_is_one_line_from_the_main_process.
