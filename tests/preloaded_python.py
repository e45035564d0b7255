"""A Python that imported the heavy libraries once and runs each test's code in a forked child of itself: as fresh
as a new interpreter would be after those imports, without paying for them again (torch alone is 3 s of CPU on CI's
cores, transformers' Auto classes 6 s more). For tests whose point is a process of its own (what a fresh
interpreter imports, in which order; a Python that cannot import swinir_hf)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

SERVER = """
import json, os, sys, traceback
PRELOAD
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            sys.argv = ["-c", *job["argv"]]
            for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            exec(compile(job["code"], "<string>", "exec"), {"__name__": "__main__"})
            status = 0
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class PreloadedPython:
    """`python [options] -c PRELOAD`, then each `run` in a fork of it; `close` ends it."""

    def __init__(self, folder: Path, preload: str, options: tuple[str, ...] = (), env: dict | None = None) -> None:
        self.folder, self.env = folder, dict(env or os.environ)
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

    def _answer(self) -> str:
        """The server's next line, within 300 s (a child's whole run)."""
        if not select.select([self.server.stdout], [], [], 300)[0]:
            self.server.kill()
            raise TimeoutError("the preloaded Python gave no answer in 300 s")
        return self.server.stdout.readline().strip()

    def run(self, code: str, argv: list[str] = (), cwd: Path | None = None, env: dict | None = None):
        """`python -c code *argv` in `cwd` with `env` (default: this process's), as `subprocess.run` would."""
        out, err = self.folder / "stdout", self.folder / "stderr"
        job = {"code": code, "argv": list(argv), "cwd": str(cwd or self.folder), "env": dict(env or os.environ)}
        self.server.stdin.write(json.dumps(job | {"stdout": str(out), "stderr": str(err)}) + "\n")
        self.server.stdin.flush()
        status = int(self._answer())
        return subprocess.CompletedProcess(code, status, out.read_text(), err.read_text())

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(60)
        self.log.close()
