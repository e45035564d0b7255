"""The benchmark scripts' command lines (not their figures): `--help`, and one line for a bad argument or a missing
GPU, before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(BENCHMARKS.parent), "CUDA_VISIBLE_DEVICES": "", **env}
    command = [sys.executable, str(BENCHMARKS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120)


@pytest.mark.parametrize(
    "script", ["cuda_checks.py", "training_data.py", "evaluation.py", "alpha.py", "parity.py", "jpeg_output.py"]
)
def test_help_does_not_run_the_benchmark(script):
    done = _run(script, "--help")
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
    ],
)
def test_bad_arguments_and_a_missing_gpu_are_one_line(script, args, message):
    done = _run(script, *args)
    assert done.returncode in (1, 2) and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_collection_without_the_test_sets_says_where_it_looked(tmp_path):
    done = _run("collection.py", "--workdir", str(tmp_path), "--modes", "loop", SWINIR_SHARED=str(tmp_path / "no"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: no testsets/ in {tmp_path / 'no'} (the photos are cut from them)" in done.stderr
