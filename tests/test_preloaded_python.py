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


def _alive(pid: int) -> bool:
    """`pid` runs (neither gone nor a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
