"""The command lines' standard streams: what they print never fails for want of an encoding."""

from __future__ import annotations

import sys

# Error handlers that never raise on a character the stream's encoding lacks.
_TOLERANT = ("backslashreplace", "replace", "ignore", "namereplace", "xmlcharrefreplace")


def tolerant_output() -> None:
    """Print what stdout / stderr cannot encode as backslash escapes instead of raising `UnicodeEncodeError` after
    the work is done: the commands print →, ×, σ, and file names, which may not be valid UTF-8 (strict in a UTF-8
    locale), or anything beyond ASCII (`LANG=C`, `PYTHONIOENCODING=ascii`, Windows' code page when redirected).
    For the programs only (`swinir-hf`, `python -m swinir_hf.*`), not a caller's streams."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) not in _TOLERANT:
            stream.reconfigure(errors="backslashreplace")
