"""The package's layers: the model files stand alone (they are the Hub folders' remote code), and the public entry
points users already write keep working."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import swinir_hf
from swinir_hf.checkpoints.export import REMOTE_MODULES

MODELS = Path(swinir_hf.__file__).parent / "models"


def test_models_holds_exactly_the_remote_code():
    assert sorted(p.stem for p in MODELS.glob("*.py") if p.stem != "__init__") == sorted(REMOTE_MODULES)


@pytest.mark.parametrize("module", REMOTE_MODULES)
def test_model_files_import_nothing_else_of_the_package(module):
    tree = ast.parse((MODELS / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            where = f"{module}.py: from {'.' * node.level}{node.module}"
            assert node.level == 1 and node.module in REMOTE_MODULES, where
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        assert not any(n.split(".")[0] == "swinir_hf" for n in names), f"{module}.py imports swinir_hf"


def test_public_imports():
    from swinir_hf import (  # noqa: F401
        PRESETS,
        TASKS,
        EngineOptions,
        SwinIRConfig,
        SwinIRForImageRestoration,
        SwinIRRestorer,
        restore,
    )
    from swinir_hf.evaluation import evaluate  # noqa: F401
    from swinir_hf.loading import DEFAULTS_DIR, load_default, load_model  # noqa: F401

    assert callable(restore) and DEFAULTS_DIR.is_dir()


@pytest.mark.slow
@pytest.mark.parametrize("module", ["swinir_hf.train", "swinir_hf.restore"])
def test_module_entry_points_run(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
