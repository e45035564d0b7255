"""SwinIR registered with transformers' Auto classes without loading transformers (and torch) on `import swinir_hf`:
at once where transformers is loaded already, else right after its import (a one-shot import hook), so that
`import swinir_hf` then `AutoModel.from_pretrained(folder)` works as before while `swinir-hf --help` loads neither."""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

MODEL_LAYER = "swinir_hf.models"  # registers on import (its __init__)


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Finds transformers with the other finders and imports the model layer once its module has run.

    It leaves sys.meta_path when transformers' module runs, not when asked for it: `importlib.util.find_spec(
    "transformers")`, how libraries (accelerate's `is_transformers_available`) ask whether it is installed, asks it
    too, and the spec it gets is never run."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "transformers":
            return None
        spec = self._find_with_the_others(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def run_then_register(module: ModuleType) -> None:
            if self in sys.meta_path:  # one shot (unless something replaced sys.meta_path)
                sys.meta_path.remove(self)
            run(module)
            # Mid-import of the model layer (its modules load transformers), this returns it unfinished: its
            # __init__ registers when it ends.
            importlib.import_module(MODEL_LAYER)

        spec.loader.exec_module = run_then_register  # type: ignore[method-assign]  # this spec's own loader
        return spec

    def _find_with_the_others(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        """The spec the finders after this one give (not importlib.util.find_spec: it would ask this one again)."""
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None and (spec := find(name, path, target)) is not None:
                return spec
        return None


def register_with_transformers() -> None:
    """Register SwinIR now if transformers is loaded, else as soon as it is."""
    if "transformers" in sys.modules:
        importlib.import_module(MODEL_LAYER)
    elif not any(isinstance(finder, _AfterTransformers) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTransformers())
