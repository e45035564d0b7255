"""The demo as a Hugging Face Space: docs/demo.md's `hf upload` commands, run through the pinned huggingface_hub CLI
against a stand-in Hub (the Hub is not reachable from the tests), and app.py started as a Space starts it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _documented_uploads() -> list[list[str]]:
    """The `hf upload ...` lines of docs/demo.md, split as a shell splits them, without `hf` and the comment."""
    lines = re.findall(r"(?m)^hf upload .*$", (ROOT / "docs" / "demo.md").read_text())
    return [shlex.split(line, comments=True)[1:] for line in lines]


def test_documented_space_upload_deletes_what_the_build_no_longer_has(tmp_path, monkeypatch):
    """A rebuilt Space's upload removes a module an earlier build had (it stayed on the Space: `hf upload` only adds),
    replaces the files the build writes, and keeps the Space's .gitattributes."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_api
    from huggingface_hub.cli.hf import app

    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from build_space import build_space
    finally:
        sys.path.remove(str(ROOT / "hub"))
    remote = [".gitattributes", "README.md", "app.py", "requirements.txt", "swinir_hf/__init__.py"]
    remote.append("swinir_hf/demo/old_name.py")  # a module since renamed
    commits = []
    monkeypatch.setattr(hf_api, "is_xet_available", lambda: False)  # one commit, through create_commit
    monkeypatch.setattr(
        HfApi, "create_repo", lambda self, repo_id, **kw: hf_api.RepoUrl(f"https://huggingface.co/spaces/{repo_id}")
    )
    monkeypatch.setattr(HfApi, "_validate_yaml", lambda self, content, **kw: None)  # the Hub's README check
    monkeypatch.setattr(HfApi, "list_repo_files", lambda self, repo_id, **kw: remote)
    monkeypatch.setattr(HfApi, "create_commit", lambda self, operations, **kw: commits.append(operations) or "url")
    uploads = _documented_uploads()
    assert [args[:3] for args in uploads] == [["upload", "--repo-type", "space"]] * 2
    for args in uploads:
        out = tmp_path / args[4]
        build_space(out, hardware="zero-a10g" if "zero" in args[4] else "cpu-basic")
        commits.clear()
        app.main([*args[:4], str(out), *args[5:]], standalone_mode=False)  # raises on an error
        [operations] = commits
        deleted = [op.path_in_repo for op in operations if isinstance(op, CommitOperationDelete)]
        added = {op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd)}
        assert deleted == ["swinir_hf/demo/old_name.py"], args
        assert added == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


# Stands in for the `spaces` package as a CPU Space has it, and for its Dev-mode reload server (`start_reload_server`,
# which gradio starts on a Space, in the server's process): one reload at once, no code changed, saying what gradio's
# `postrun` (refresh the page's demo) did; then what else the Space must run with only what it installs (scipy, which
# the demo's level bounds pulled in, was missing: the Space died at its first request with "No module named
# 'scipy.fft'"): every demo module and a restore, and which copy of the package and its examples it found.
STAND_IN_SPACES = """
def GPU(task=None, duration=60):  # as off ZeroGPU: the call itself (the demo wraps its restoration at start)
    return lambda run: run


def gradio_auto_wrap(fn):  # what gradio asks of it for each event on a Space: off ZeroGPU, nothing
    return fn
"""
STAND_IN_RELOADING = """
import importlib, pkgutil, sys, traceback


def start_reload_server(prerun, postrun, stop_event):
    prerun()
    try:
        print("reload: demo swapped:", postrun(), flush=True)
    except Exception as err:
        print("reload failed:", repr(err), flush=True)
    try:
        import app, swinir_hf.demo
        print("package:", sys.modules["swinir_hf"].__file__, "examples:", app.EXAMPLES_DIR, flush=True)
        for found in pkgutil.walk_packages(swinir_hf.demo.__path__, "swinir_hf.demo."):
            importlib.import_module(found.name)
        from PIL import Image
        from swinir_hf import restore
        from swinir_hf.loading import load_model
        restore(load_model("sr-x2"), Image.new("RGB", (24, 16)))
        print("space run: done", flush=True)
    except BaseException:
        traceback.print_exc()
        print("space run: failed", flush=True)
    stop_event.wait()
"""


def test_app_py_on_a_space_offers_the_launched_demo_to_gradios_reloader(tmp_path, free_port, wait_until):
    """A Space that build_space assembled, started as a Space starts it (SYSTEM=spaces, `python app.py` in its folder)
    with only what a Space installs (its requirements, gradio and the `spaces` package: Python runs without its
    site-packages, on links to those alone): gradio's Dev-mode reloader takes the launched demo from `__main__` as
    `demo` (app.py had none: gradio logged "Launching demo not found in __main__", and each reload failed on the
    missing name); every demo module imports and a restore runs there; the Space imports its own copy of the package
    and finds its examples."""
    from space_site import installed_with, link_distributions, requirement_pins

    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from build_space import build_space
    finally:
        sys.path.remove(str(ROOT / "hub"))
    out = tmp_path / "space"
    build_space(out)
    site = tmp_path / "site"
    link_distributions(installed_with([*(p.split("==")[0] for p in requirement_pins(out)), "gradio"]), site)
    (site / "spaces").mkdir()  # the `spaces` package, as a Space has it (gradio asks for ≥ 0.43 by its metadata)
    (site / "spaces" / "__init__.py").write_text(STAND_IN_SPACES)
    (site / "spaces" / "reloading.py").write_text(STAND_IN_RELOADING)
    (site / "spaces-0.51.3.dist-info").mkdir()
    (site / "spaces-0.51.3.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: spaces\nVersion: 0.51.3\n")
    env = {**os.environ, "SYSTEM": "spaces", "SPACE_ID": "me/swinir", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(site)}
    env.update(GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    log = tmp_path / "app.log"
    with log.open("w") as written:
        server = subprocess.Popen(
            [sys.executable, "-S", "app.py", "--port", str(free_port())],
            env=env,
            stdout=written,
            stderr=written,
            cwd=out,
        )
    try:
        wait_until(
            lambda: "space run: " in log.read_text() or server.poll() is not None, 180, "the stand-in reload", poll=0.2
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    said = log.read_text()
    assert "reload: demo swapped: False" in said and "GRADIO_HOT_RELOAD" not in said, said
    assert f"package: {out / 'swinir_hf' / '__init__.py'} examples: {out / 'swinir_hf' / 'demo' / 'examples'}\n" in said
    assert "space run: done" in said, said[-3000:]
