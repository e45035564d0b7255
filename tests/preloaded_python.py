"""A Python that imported the heavy libraries once and runs each test's code in a forked child of itself: as fresh
as a new interpreter would be after those imports, without paying for them again (torch alone is 3 s of CPU on CI's
cores, transformers' Auto classes 6 s more). For tests whose point is a process of its own (what a fresh
interpreter imports, in which order; a Python that cannot import swinir_hf), or `start`ed beside the test (a
launcher it signals) without importing them again."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVER = """
import json, os, signal, sys, threading, traceback
PRELOAD
print("ready", flush=True)
SERVER, sessions = os.getpid(), set()  # the jobs not reaped yet: each leads a session of its own


def reap(pid, status):  # a started job's exit status as it exits, by a signal too (`Started.poll`: no child of ours)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    sessions.discard(pid)
    with open(status + ".partial", "w") as status_file:
        status_file.write(str(code))
    os.replace(status + ".partial", status)


def serve():
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run(job)
        sessions.add(pid)
        print(pid, flush=True)
        if job["status"]:  # started: reaped beside the jobs that follow, so that its CPU time is ours (`time`)
            threading.Thread(target=reap, args=(pid, job["status"])).start()
        else:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            sessions.discard(pid)
            print(code, flush=True)


def run(job):
    os.setsid()  # a process group of its own: signalled, or killed with its children (`run`'s timeout)
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    sys.argv = ["-c", *job["argv"]]
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    code = compile(job["code"], "<string>", "exec")
    if job["exit"]:  # its SystemExit or error leaves `serve`: atexit, the error's traceback, the teardown
        exec(code, {"__name__": "__main__"})
        sys.exit(0)
    status = 1
    try:
        exec(code, {"__name__": "__main__"})
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


# Its own session keeps a job from a Ctrl-C in pytest's terminal; so this server, which gets it (or its stdin's end as
# pytest ends, killed too), ends the jobs still running with their processes (DataLoader workers), reaped as it exits.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
try:
    serve()
finally:
    for pid in list(sessions) if os.getpid() == SERVER else ():  # not in a job (`exit`'s SystemExit comes here)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
"""


class PreloadedPython:
    """`python [options] -c PRELOAD`, then each `run` in a fork of it; `close` ends it."""

    def __init__(self, folder: Path, preload: str, options: tuple[str, ...] = (), env: dict | None = None) -> None:
        self.folder, self.env, self.started = folder, dict(env or os.environ), []
        self.log = open(folder / "server.log", "w")  # noqa: SIM115 (the server's own output, read on failure)
        self.server = subprocess.Popen(
            [sys.executable, *options, "-c", SERVER.replace("PRELOAD", preload)],
            cwd=folder,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self._answer() == "ready", (folder / "server.log").read_text()[-3000:]

    def _answer(self, timeout: float = 300) -> str:
        """The server's next line, within `timeout` s."""
        if not select.select([self.server.stdout], [], [], timeout)[0]:
            self.server.kill()
            raise TimeoutError(f"the preloaded Python gave no answer in {timeout} s")
        return self.server.stdout.readline().strip()

    def run(
        self, code: str, argv: list[str] = (), cwd: Path | None = None, env: dict | None = None, exit: bool = False,
        timeout: float = 300,
    ):  # fmt: skip
        """`python -c code *argv` in `cwd` with `env` (default: this process's), as `subprocess.run` would, in a
        session of its own. `exit`: the child ends as an interpreter does (atexit handlers, an uncaught error's
        traceback, the teardown), for tests of that end; else its status is taken before it and the child leaves at
        once. Still running after `timeout` s, it is killed with its session (its DataLoader workers): TimeoutError."""
        out, err = self.folder / "stdout", self.folder / "stderr"
        pid = int(self._send(code, argv, cwd, env, {"stdout": str(out), "stderr": str(err), "exit": exit}))
        if not select.select([self.server.stdout], [], [], timeout)[0]:
            os.killpg(pid, signal.SIGKILL)
            self._answer(60)  # its status: the server goes on serving
            raise TimeoutError(f"python -c ... {shlex.join(argv)} was still running after {timeout} s")
        status = int(self._answer())
        return subprocess.CompletedProcess(code, status, out.read_text(), err.read_text())

    def start(
        self, code: str, argv: list[str], status: Path, stdout: Path, stderr: Path, cwd: Path | None = None,
        env: dict | None = None, exit: bool = False,
    ) -> Started:  # fmt: skip
        """`python -c code *argv`, started in a session of its own and left running (`run` waits for its job); its
        exit status is written to `status` as it exits (a signal's as `-signum`, as `subprocess` reports it). `exit`:
        as `run`'s."""
        files = {"stdout": str(stdout), "stderr": str(stderr), "status": str(status), "exit": exit}
        self.started.append(Started(int(self._send(code, argv, cwd, env, files)), status))
        return self.started[-1]

    def end_started(self) -> None:
        """Kill the started jobs still running, each with its session (a test's finaliser: none outlives its test,
        which may have failed before it waited for them)."""
        running = [run for run in self.started if run.poll() is None]
        for run in running:
            try:
                os.killpg(run.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended meanwhile
                pass
        for run in running:
            run.wait(60)
        self.started.clear()

    def _send(self, code: str, argv: list[str], cwd: Path | None, env: dict | None, files: dict) -> str:
        job = {"code": code, "argv": list(argv), "cwd": str(cwd or self.folder), "env": dict(env or os.environ)}
        self.server.stdin.write(json.dumps({"status": None, "exit": False} | job | files) + "\n")
        self.server.stdin.flush()
        return self._answer()

    def close(self) -> None:
        """End the server; it kills the started jobs still running."""
        self.server.stdin.close()
        self.server.wait(60)
        self.log.close()


class Started:
    """A job `PreloadedPython.start` started: `poll`, `wait`, `send_signal`, `pid` and `returncode` as a Popen's."""

    def __init__(self, pid: int, status: Path) -> None:
        self.pid, self.status, self.returncode = pid, status, None

    def poll(self) -> int | None:
        if self.returncode is None and self.status.is_file():
            self.returncode = int(self.status.read_text())
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"process {self.pid}", timeout)
            time.sleep(0.1)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)
