"""A launch's processes: which one is main, accelerate's multi-CPU mode, and work whose failure on any process is
raised on every one (run here under `accelerate launch`, two CPU processes over gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from swinir_hf.processes import main_first, on_every_process, on_main_process, several_processes_on_cpu

ACCELERATE = Path(sys.executable).parent / "accelerate"

# Each process, for each scenario of FAILS (`;` between them): work that fails where the scenario says (ranks,
# comma-separated), through on_every_process, then through on_main_process, then through main_first; it writes what
# each call gave into RANK-SCENARIO.txt and exits 0 (no hang: the launch has a timeout). One launch for them all: a
# launch's start-up is most of its time, and each scenario ends with every process past the same collectives.
SCRIPT = """
import os, sys, time
from accelerate import PartialState
from swinir_hf.processes import leave_process_group, main_first, on_every_process, on_main_process

state = PartialState(cpu=True)
rank, n = state.process_index, state.num_processes


def calls(scenario, fails):
    def work():
        if rank in fails:
            raise ValueError(f"bad share on process {rank}")
        return rank

    main_done = os.path.join(sys.argv[1], f"main-{scenario}.done")

    def work_in_turn():  # the main process's work is done when the others' starts: they return True
        if rank in fails:
            raise ValueError(f"bad share on process {rank}")
        if rank == 0:
            time.sleep(0.5)
            open(main_done, "w").close()
            return rank
        return os.path.exists(main_done)

    return (
        ("every", lambda: on_every_process(work, n)),
        ("main", lambda: on_main_process(work, rank == 0, n)),
        ("first", lambda: main_first(work_in_turn, state)),
    )


for scenario, spec in enumerate(os.environ["FAILS"].split(";")):
    lines = []
    for name, call in calls(scenario, {int(r) for r in spec.split(",") if r}):
        try:
            lines.append(f"{rank} {name} ok {call()}")
        except ValueError as err:
            lines.append(f"{rank} {name} raised {err}")
    with open(os.path.join(sys.argv[1], f"{rank}-{scenario}.txt"), "w") as out:
        out.write("\\n".join(lines))
leave_process_group()  # as the commands do on their way out: left standing, gloo's threads may abort the exit
"""


def test_several_processes_on_cpu_asks_accelerate_for_its_multi_cpu_mode(monkeypatch):
    # One rule for restore's and the trainer's processes: launched several, with no GPU or told to use the CPU.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert several_processes_on_cpu() and several_processes_on_cpu("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not several_processes_on_cpu() and not several_processes_on_cpu("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert several_processes_on_cpu("cpu") and not several_processes_on_cpu() and not several_processes_on_cpu("cuda")


def test_one_process_returns_or_raises_its_own():
    assert on_every_process(lambda: 7, 1) == 7 and on_main_process(lambda: 7, True, 1) == 7
    assert on_main_process(lambda: 7, False, 1) is None
    calls = []
    alone = SimpleNamespace(is_main_process=True, num_processes=1)
    assert main_first(lambda: calls.append(1) or 7, alone) == 7 and calls == [1]  # the work runs once
    with pytest.raises(KeyError, match="mine"):
        on_every_process(lambda: {}["mine"], 1)


# FAILS's scenarios, each with what the processes' calls gave.
SCENARIOS = {
    "none fails": (
        "",
        {"0 every ok 0", "1 every ok 1", "0 main ok 0", "1 main ok None", "0 first ok 0", "1 first ok True"},
    ),
    # Process 1's failure reaches process 0; on_main_process runs the work on process 0 alone, which succeeds;
    # main_first's process 0 succeeds, then process 1 fails, on both.
    "process 1 fails": (
        "1",
        {
            "0 every raised bad share on process 1",
            "1 every raised bad share on process 1",
            "0 main ok 0",
            "1 main ok None",
            "0 first raised bad share on process 1",
            "1 first raised bad share on process 1",
        },
    ),
    # Each failed process raises its own; on_main_process and main_first share process 0's failure (main_first's
    # process 1 never runs its work).
    "both fail": (
        "0,1",
        {
            "0 every raised bad share on process 0",
            "1 every raised bad share on process 1",
            "0 main raised bad share on process 0",
            "1 main raised bad share on process 0",
            "0 first raised bad share on process 0",
            "1 first raised bad share on process 0",
        },
    ),
}


@pytest.mark.slow
def test_a_failure_on_any_process_is_raised_on_every_one(tmp_path):
    script = tmp_path / "work.py"
    script.write_text(SCRIPT)
    fails = ";".join(spec for spec, _ in SCENARIOS.values())
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "FAILS": fails}
    env["HF_HOME"] = str(tmp_path / "hf_home")  # no accelerate config file of this machine's user
    command = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", "0"]
    command += [str(script), str(tmp_path)]  # any free port: another test may be launching beside this one
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    for scenario, (name, (_, expected)) in enumerate(SCENARIOS.items()):
        files = [tmp_path / f"{rank}-{scenario}.txt" for rank in (0, 1)]
        assert {line for file in files for line in file.read_text().splitlines()} == expected, name
