"""The test helper `PreloadedPython`: what it leaves behind and what it reports when its children do not end."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from preloaded_python import PreloadedPython


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A PreloadedPython that preloads nothing (its forks cost milliseconds)."""
    python = PreloadedPython(tmp_path_factory.mktemp("bare"), "")
    yield python
    python.close()


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process's state from /proc")
def test_a_run_that_hangs_is_killed_with_its_children_and_the_server_goes_on(bare_python, tmp_path, wait_until):
    """A hung child (a trainer waiting for its DataLoader workers) is killed at the timeout with the processes it
    started, not left behind; the server still runs the next job."""
    grandchild = tmp_path / "grandchild"
    code = "import subprocess, time\n"
    code += f"p = subprocess.Popen(['sleep', '60']); open({str(grandchild)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    with pytest.raises(TimeoutError, match="still running after 3 s"):  # its start takes milliseconds of those
        bare_python.run(code, timeout=3)
    pid = int(grandchild.read_text())
    wait_until(lambda: not _alive(pid), 10, "the hung child's own child killed")
    assert bare_python.run("print('next')").stdout == "next\n"


def test_a_started_child_killed_by_a_signal_reports_it(bare_python, tmp_path):
    """A started child killed by a signal has its status, as `subprocess` reports it, not a wait for its timeout."""
    status = tmp_path / "status"
    run = bare_python.start("import time; time.sleep(60)", [], status, tmp_path / "out", tmp_path / "err")
    run.send_signal(signal.SIGKILL)
    assert run.wait(timeout=10) == -signal.SIGKILL
    done = bare_python.start("raise SystemExit(3)", [], tmp_path / "status3", tmp_path / "out", tmp_path / "err")
    assert done.wait(timeout=10) == 3


# A started job that started a process of its own (a DataLoader worker) and runs on: its pid and its child's, written.
PARENT_OF_SLEEP = "import os, subprocess, sys, time\np = subprocess.Popen(['sleep', '60'])\n"
PARENT_OF_SLEEP += "open(sys.argv[1] + '.partial', 'w').write(f'{os.getpid()} {p.pid}')\n"
PARENT_OF_SLEEP += "os.replace(sys.argv[1] + '.partial', sys.argv[1]); time.sleep(60)"


def _start_parent_of_sleep(python: PreloadedPython, tmp_path: Path, wait_until) -> list[int]:
    """`PARENT_OF_SLEEP` started in `python`; the pids of the job and its child once both run."""
    pids = tmp_path / "pids"
    python.start(PARENT_OF_SLEEP, [str(pids)], tmp_path / "status", tmp_path / "out", tmp_path / "err")
    wait_until(pids.is_file, 30, "the started job's child started")
    return [int(pid) for pid in pids.read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process's state from /proc")
def test_a_tests_started_jobs_are_killed_with_their_children_at_its_end(bare_python, tmp_path, wait_until):
    """A test that fails before it waits for what it started (`end_started` in its fixture's finaliser, as
    test_launch.py's `preloaded`): the job and its child are killed, the server still serves."""
    pids = _start_parent_of_sleep(bare_python, tmp_path, wait_until)
    bare_python.end_started()
    wait_until(lambda: not any(map(_alive, pids)), 10, "the job and its child killed")
    assert bare_python.run("print('next')").stdout == "next\n"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process's state from /proc")
@pytest.mark.parametrize("end", ["Ctrl-C", "pytest ends"])
def test_the_servers_end_kills_the_jobs_it_started(end, tmp_path, wait_until):
    """Its own session keeps a job from the Ctrl-C in pytest's terminal, which reaches the server; the server ends the
    jobs still running with their children, on that Ctrl-C or its stdin's end (pytest ended, or killed)."""
    python = PreloadedPython(tmp_path, "")
    pids = _start_parent_of_sleep(python, tmp_path, wait_until)
    if end == "Ctrl-C":
        python.server.send_signal(signal.SIGINT)
    else:
        python.server.stdin.close()
    assert python.server.wait(30) == (-signal.SIGINT if end == "Ctrl-C" else 0)
    python.log.close()
    wait_until(lambda: not any(map(_alive, pids)), 10, "the job and its child killed")
    assert int((tmp_path / "status").read_text()) == -signal.SIGKILL  # reaped before the server left


def _alive(pid: int) -> bool:
    """`pid` runs (neither gone nor a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
