"""The trainers' environment on a GPU lease's machine: the carried wheels it lacks (a new enough transformers,
jsonargparse, docstring_parser), installed into a temporary folder put first on PYTHONPATH, and inductor's cache.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lease_log import log  # beside this script
from lease_models import REPO

MIN_TRANSFORMERS = (5, 18)


def _version_ok(python: str, env: dict) -> bool:
    code = "import transformers; print(transformers.__version__)"
    done = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        return False
    version = tuple(int(p) for p in done.stdout.strip().split(".")[:2])
    log(f"transformers {done.stdout.strip()}")
    return version >= MIN_TRANSFORMERS


def _import_error(python: str, module: str, env: dict) -> str | None:
    """The last line of the error importing `module` in `python`, or None when it imports."""
    done = subprocess.run([python, "-c", f"import {module}"], env=env, capture_output=True, text=True)
    return (done.stderr.strip().splitlines() or ["failed"])[-1] if done.returncode else None


def _lacks(wheel: Path, env: dict) -> bool:
    """Whether this machine lacks what `wheel` carries: transformers ≥ 5.18, or the wheel's module at all."""
    module = wheel.name.split("-")[0]  # transformers, jsonargparse, docstring_parser
    if module == "transformers":
        return not _version_ok(sys.executable, env)
    return _import_error(sys.executable, module, env) is not None


def prepare_env(args: argparse.Namespace) -> dict:
    """The trainers' (and the probe's) environment: the carried wheels this machine lacks (a new enough transformers,
    jsonargparse, docstring_parser), installed into a temporary folder put first on PYTHONPATH; inductor's cache in
    `args.runs`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "10"}
    paths = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    # inductor's compiled kernels beside the runs, which a still-warm machine keeps between calls: a trainer compiles
    # from the probe's cache, a session's second call from the first's (CPU: 35 s cold, 5 s so; benchmarks/README.md)
    env["TORCHINDUCTOR_CACHE_DIR"] = str(args.runs / "inductor-cache")
    needed = [wheel for wheel in sorted(args.wheels.glob("*.whl")) if _lacks(wheel, env)]
    if needed:
        site = Path(tempfile.mkdtemp(prefix="gpu-lease-site-"))
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        subprocess.run([*pip, "--target", str(site), *map(str, needed)], check=True)
        env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
        log(f"installed {', '.join(wheel.name for wheel in needed)}")
    if not _version_ok(sys.executable, env):
        raise SystemExit(f"transformers < {MIN_TRANSFORMERS} and no newer transformers wheel in {args.wheels}")
    error = _import_error(sys.executable, "swinir_hf.train", env)
    if error:
        raise SystemExit(f"swinir_hf.train does not import ({error}; carried wheels: {args.wheels})")
    return env
