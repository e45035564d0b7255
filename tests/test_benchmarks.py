"""The benchmark scripts' command lines (not their figures): `--help`, and one line for a bad argument or a missing
GPU, before any work. Run in this process, as `python benchmarks/SCRIPT.py` runs them (a process each cost ~6 s of
imports, and a traceback here fails the test as it would show in the script's output)."""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_script(monkeypatch, capsys):
    """Runs `benchmarks/SCRIPT ARGS` as `__main__` on a machine without CUDA; → its exit status and output."""

    def run(script: str, *args: str, **env: str) -> Done:
        for name, value in {**env, "SWINIR_CPU_ATTENTION": os.environ.get("SWINIR_CPU_ATTENTION", "")}.items():
            monkeypatch.setenv(name, value)  # restored afterwards, whatever the script sets
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import each other, as from their folder
        monkeypatch.setattr(sys, "argv", [str(BENCHMARKS / script), *args])
        before = set(sys.modules)
        capsys.readouterr()
        status, message = 0, ""
        try:
            runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
        except SystemExit as stop:
            if isinstance(stop.code, str):  # what the interpreter prints for it, with status 1
                status, message = 1, stop.code + "\n"
            else:
                status = stop.code or 0
        finally:
            for name in set(sys.modules) - before:  # the next script reads its module-level settings afresh
                if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(BENCHMARKS)):
                    del sys.modules[name]
        out = capsys.readouterr()
        return Done(status, out.out, out.err + message)

    return run


@pytest.mark.parametrize(
    "script",
    [
        "cuda_checks.py",
        "training_data.py",
        "evaluation.py",
        "alpha.py",
        "parity.py",
        "jpeg_output.py",
        "pipeline_batches.py",
        "reference_speed.py",
        "load_time.py",
        "activation_memory.py",
        "rerun_plan.py",
        "frame_count.py",
        "soak.py",
        "processor_memory.py",
    ],
)
def test_help_does_not_run_the_benchmark(script, run_script):
    done = run_script(script, "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"usage: {script} [-h]"), done.stderr[-2000:]


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("cuda_checks.py", [], "error: cuda: torch sees no CUDA device here"),
        ("inference.py", ["--device", "cuda"], "error: cuda: torch sees no CUDA device here"),
        ("train_step.py", ["--device", "cuda"], "error: cuda: torch sees no CUDA device here"),
        ("inference.py", ["--dtypes", "float17"], "argument --dtypes: invalid choice: 'float17'"),
        ("train_step.py", ["--device", "cpu", "--configs", "tiny_sr_x9"], "config tiny_sr_x9 not found"),
        ("collection.py", ["--modes", "lop"], "argument --modes: invalid choice: 'lop'"),
        ("evaluation.py", ["--dataset", "Set5", "--modes", "2 proceses"], "'2 proceses': give '1 process', '1 pro"),
        ("training_data.py", ["--cpu-time", "--configs", "gpu_x"], "argument --configs: invalid choice: 'gpu_x'"),
        ("alpha.py", ["--dataset", "nowhere"], "error: no HR/*.png in nowhere"),
        ("jpeg_output.py", ["--dataset", "nowhere"], "error: no HR/*.png in nowhere"),
        ("parity.py", ["--fixtures", "nowhere"], "error: nowhere holds no INDEX.json"),
        ("onnx_export.py", ["--sizes", "40by52"], "argument --sizes: '40by52' is not BxHxW (e.g. 1x40x52)"),
        ("pipeline_batches.py", ["--device", "cuda"], "error: cuda: torch sees no CUDA device here"),
        ("pipeline_batches.py", ["--model", "sr-x3"], "error: sr-x3 is not a bundled model (sr-x4, "),
        ("reference_speed.py", ["--reference", "nowhere.py"], "nowhere.py not found: get the authors' code with `git"),
        ("reference_speed.py", ["--size", "30", "--reference", "x"], "'30': must be an integer ≥ 8, a multiple of 8"),
        ("shifted_attention.py", ["--device", "cuda"], "error: cuda: torch sees no CUDA device here"),
        ("shifted_attention.py", ["--repeats", "1"], "argument --repeats: '1': must be an integer ≥ 2"),
        ("dataset_parts.py", ["--device", "cuda"], "error: cuda: torch sees no CUDA device here"),
        ("dataset_parts.py", ["--images", "0"], "argument --images: '0': must be an integer ≥ 1"),
        ("collection.py", ["--images", "0"], "argument --images: '0': must be an integer ≥ 1"),
        ("inference.py", ["--repeats", "0"], "argument --repeats: '0': must be an integer ≥ 1"),
        ("inference.py", ["--set5", "sr-x3"], "error: no model 'sr-x3' here"),
        ("alpha.py", ["--model", "sr-x3"], "error: no model 'sr-x3' here"),
        ("output_memory.py", ["--outscales", "8"], "argument --outscales: '8': must be at least 50"),
        ("activation_memory.py", ["--sides", "4"], "argument --sides: '4': must be an integer ≥ 8"),
        ("soak.py", ["--min-side", "40", "--max-side", "30"], "error: --min-side must be at most --max-side"),
        ("soak.py", ["--ways", "notebook"], "argument --ways: invalid choice: 'notebook'"),
        ("processor_memory.py", ["--count", "0"], "argument --count: '0': must be an integer ≥ 1"),
    ],
)
def test_bad_arguments_and_a_missing_gpu_are_one_line(script, args, message, run_script):
    done = run_script(script, *args)
    assert done.returncode in (1, 2) and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_soak_reports_what_the_process_holds_every_few_calls(run_script):
    """soak.py's `restore` way (in this process, as a single way runs): a row per `--every` calls with the RSS, the
    descriptors and the sizes of what grows with image sizes, and the growth from the first row to the last."""
    from swinir_hf.models import windows_swinir

    # The process-wide cache holds the sizes this worker's earlier tests ran: from empty, it holds this run's alone.
    windows_swinir.shift_border_windows.cache_clear()
    done = run_script("soak.py", "--ways", "restore", "--calls", "4", "--every", "2", "--max-side", "16")
    assert done.returncode == 0, done.stderr[-2000:]
    names = re.search(r"^restore: (handlers .*)$", done.stdout, re.M).group(1).split()
    rows = re.findall(r"^\| (\d+) \| [\d.]+ \| [\d.]+ \| \d+ \| \d+ \| \d+ \(\d+\) \| ([\d ]+) \|$", done.stdout, re.M)
    assert [calls for calls, _ in rows] == ["2", "4"], done.stdout
    sizes = dict(zip(names, map(int, rows[-1][1].split()), strict=True))
    # 4 images with sides of 8..16 px: at most 4 padded sizes (8 or 16 a side), each a shift mask of its own
    assert 1 <= sizes["masks"] <= 4 and sizes["windows_swinir.shift_border_windows"] == sizes["masks"]
    assert re.search(r"^restore: calls 2→4 in \d+ s; growth: ", done.stdout, re.M), done.stdout


def test_collection_without_the_test_sets_says_where_it_looked(tmp_path, run_script):
    done = run_script(
        "collection.py", "--workdir", str(tmp_path), "--modes", "loop", SWINIR_SHARED=str(tmp_path / "no")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: no testsets/ in {tmp_path / 'no'} (the photos are cut from them)" in done.stderr


def test_collection_loop_mode_restores_every_photo(tmp_path, run_script, shared, tiny_config):
    """The `loop` way (every documented run has one) broke when `collect_inputs` came to return `CollectedInputs`.
    With a tiny model (`--model FOLDER`): the way is checked, not a model's restoring (sr-x4's took seconds)."""
    from swinir_hf import SwinIRForImageRestoration

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "tiny")
    args = ["--workdir", str(tmp_path / "work"), "--modes", "loop", "--images", "2", "--model", str(tmp_path / "tiny")]
    done = run_script("collection.py", *args)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\| loop \| [\d.]+ \| 1\.00× \| [\d.]+ \| 2 \|$", done.stdout, re.M), done.stdout


def test_a_variant_that_fails_is_a_row_and_the_probe_goes_on(tmp_path, monkeypatch, capsys):
    """train_step.py, as the GPU lease's probe runs it: a compile this torch cannot do must not cost the variants
    after it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    try:
        import train_step

        timed = train_step.time_variant

        def first_fails(config: str, variant: str, *args, **kwargs) -> dict:
            if variant == "fp32":
                raise RuntimeError("no kernel for this\nand a second line")
            return timed(config, variant, *args, **kwargs)

        monkeypatch.setattr(train_step, "time_variant", first_fails)
        rows = tmp_path / "rows.json"
        args = ["--device", "cpu", "--configs", "tiny_sr_x2", "--steps", "1", "--variants", "fp32", "bf16"]
        train_step.main([*args, "--json", str(rows)])
    finally:
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(BENCHMARKS)):
                del sys.modules[name]
    out = capsys.readouterr()
    assert "| `tiny_sr_x2` | fp32 | failed: RuntimeError: no kernel for this |||||\n| `tiny_sr_x2` | bf16 | " in out.out
    assert "RuntimeError: no kernel for this" in out.err  # the traceback, for the lease's log
    # kept with the rows, so that a lease's next probe does not try it first again
    assert [(row["variant"], row.get("failed")) for row in json.loads(rows.read_text())] == [
        ("fp32", "RuntimeError: no kernel for this"),
        ("bf16", None),
    ]


def test_processes_side_by_side_are_timed_over_one_window(tmp_path, monkeypatch, capsys):
    """train_step.py's "bf16 two processes": this process and a second one (the script again) each train their own
    model and meet after their warm-up; the row's steps/s is the two processes' sum. Batches of two 16² patches
    (`--set`, which the peer gets too): each of its six bf16 steps at tiny_sr_x2's 8 × 32² took a CPU second."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    try:
        import subprocess

        import train_step

        rows = tmp_path / "rows.json"
        args = ["--device", "cpu", "--configs", "tiny_sr_x2", "--steps", "2", "--variants", "bf16 two processes"]
        train_step.main([*args, "--json", str(rows), "--set", "train.batch_size=2", "data.patch_size=16"])
        # a peer that ends before it is ready: the meeting is called off at once, not after its timeout
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait(timeout=60)
        with pytest.raises(RuntimeError, match="the other processes of a side-by-side timing did not get ready"):
            train_step.meet(tmp_path, 2, [gone])
    finally:
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(BENCHMARKS)):
                del sys.modules[name]
    [row] = json.loads(rows.read_text())
    assert len(row["each"]) == 2 and all(rate > 0 for rate in row["each"])
    assert row["steps_per_s"] == pytest.approx(sum(row["each"]))
    assert "| `tiny_sr_x2` | bf16 two processes | 2 | " in capsys.readouterr().out


def test_training_data_times_the_paired_config_resized_per_patch_too(tmp_path, monkeypatch, capsys):
    """The `paired` config's second row (the same patches resized per sample) was refused by the config's check
    that LR folders go with `paired` only, and the table stopped there."""
    rng = np.random.default_rng(0)
    folders = {"Set5_HR": 64}  # validation: an image kept out of training
    for name in ("DIV2K_train_HR_crops128", "BSDS500_train", "BSDS500_test"):
        folders |= {name: 128, f"../gpu_lr/{name}_x4": 32}
    for name, side in folders.items():
        (tmp_path / "gpu_data" / name).mkdir(parents=True)
        image = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
        image.save(tmp_path / "gpu_data" / name / "a.png")
    monkeypatch.chdir(tmp_path)  # the config's folders are relative
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import training_data

    training_data.sample_table(["gpu_sr_x4"], cpu_time=True, samples=2)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `gpu_sr_x4`")]
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| `gpu_sr_x4`", "paired", "256²"],
        ["| `gpu_sr_x4`, resized per patch", "bicubic", "256²"],
    ]


def test_inference_set5_without_the_test_sets_says_where_it_looked(tmp_path, run_script):
    done = run_script("inference.py", "--set5", "sr-x4", SWINIR_SHARED=str(tmp_path / "no"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.endswith(f"error: no HR/*.png in {tmp_path / 'no' / 'testsets' / 'Set5'}\n")


def test_rerun_plan_times_every_format_with_every_output_found_done(run_script):
    done = run_script("rerun_plan.py", "--files", "3", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ")[0].strip("| ") for line in done.stdout.splitlines()[2:]]
    assert rows == ["png", "jpg", "webp", "tif"]


def test_frame_count_times_each_count_and_they_agree_below_the_cap(run_script):
    done = run_script("frame_count.py", "--gif-frames", "3", "--side", "8", "--tiff-pages", "5", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines()[2:]]
    assert [(row[0], row[-1]) for row in rows] == [
        ("| GIF, 3 frames of 8²", "3, 3, 3 |"),
        ("| TIFF, 5 pages of 1²", "5, 5, 5 |"),
    ]


def test_the_load_time_folder_is_in_the_checkout_not_the_shared_tmp(run_script):
    """load_time.py made and loaded its model folder at /tmp/swinir_m_x4: a folder another user made there was
    loaded, and a link planted at that name had the model saved into wherever it pointed (a security audit)."""
    done = run_script("load_time.py", "--help")
    said = " ".join(done.stdout.split())
    # The old fixed name, not any "/tmp": the checkout itself may be under /tmp (`git worktree add /tmp/x`).
    assert f"(default: {BENCHMARKS.parent / 'outputs' / 'swinir_m_x4'})" in said and "/tmp/swinir_m_x4" not in said
