"""Names that moved from one model file to another: importing them from their old module goes on working, with a
FutureWarning naming their place (`moved_names`, each such module's `__getattr__`)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` of `module` (its `__name__`) whose names `moved` maps to the sibling module that now
    holds each: such a name is that module's, with a FutureWarning; any other is an AttributeError."""
    package = module.rpartition(".")[0]

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        where = f"{package}.{moved[name]}"
        warnings.warn(f"{name} is now {where}.{name}", FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(where), name)

    return __getattr__
