"""Optional dependencies (`pyproject.toml`'s extras): import one, or say which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

# swinir-hf is not on a package index yet: the extras install from a checkout of the repository.
INSTALL_HINT = "pip install -e '.[{extra}]' in a checkout of the swinir-hf repository"


class MissingExtraError(ImportError):
    """An optional dependency that is not installed; the message names the extra that provides it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or raise `MissingExtraError` saying that `purpose` needs the `extra` extra and how to
    install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is not None and err.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but broken: its own error says more
        raise MissingExtraError(
            f"{purpose} needs the {module!r} package, which the [{extra}] extra provides: "
            f"{INSTALL_HINT.format(extra=extra)}"
        ) from err
