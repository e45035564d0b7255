"""Optional dependencies (`pyproject.toml`'s extras): import one, or say which extra to install."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

# The folder holding the package: a checkout's root (with pyproject.toml), or site-packages for a wheel.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent

# swinir-hf is not on a package index yet: a checkout (editable install) installs an extra from the repository.
INSTALL_HINT = "pip install -e '.[{extra}]' in a checkout of the swinir-hf repository"
# An installed wheel: pip keeps the swinir-hf that is there (it satisfies the requirement) and adds the extra's
# packages from the index, so no checkout (and no index entry for swinir-hf) is needed.
WHEEL_INSTALL_HINT = "pip install 'swinir-hf[{extra}]' (keeps the installed swinir-hf, adds the extra's packages)"


def install_hint(extra: str) -> str:
    """How to install `extra` for this copy of the package: from the repository when it runs from a checkout (an
    editable install, or the checkout on sys.path), by name when it is an installed wheel."""
    in_checkout = (PACKAGE_PARENT / "pyproject.toml").is_file()
    return (INSTALL_HINT if in_checkout else WHEEL_INSTALL_HINT).format(extra=extra)


class MissingExtraError(ImportError):
    """An optional dependency that cannot be imported: not installed (the message names the extra that provides it),
    or installed but failing to import (the message gives its error)."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or raise `MissingExtraError` saying that `purpose` needs the `extra` extra and how to
    install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            # Installed, but its import fails (a dependency missing or of the wrong version): the extra would not help.
            raise MissingExtraError(
                f"{purpose} needs the {module!r} package, which is installed but fails to import: {err}"
            ) from err
        raise MissingExtraError(
            f"{purpose} needs the {module!r} package, which the [{extra}] extra provides: {install_hint(extra)}"
        ) from err
