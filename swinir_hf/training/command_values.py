"""What the trainer's command line writes, read before jsonargparse parses it: a config section given whole
(`--model '{preset: classical_sr}'`) checked, the options written, and how each list of folders or mapping
is written."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..console import shown_name
from .config import FIELD_TYPES, SECTIONS

# `field:value` with no space after the colon: to YAML one word (a string, or a key without a value), not a field.
_UNSPACED = re.compile(r"([A-Za-z_]\w*):(\S.*)")


def yaml_or_none(text: str) -> Any:
    """`text` read as YAML (JSON is YAML), or None where it is not."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def shown_value(value: str | None) -> str:
    """An option's value as a shell would take it back: `''` for an empty one, `null` for None (YAML's); on its line
    (`shown_name`: `shlex.quote` leaves a newline in the value as it is)."""
    return "null" if value is None else shown_name(shlex.quote(value))


def check_sections_given(argv: list[str]) -> None:
    """Refuse a section given as a name (`--model sr-x4`), not a mapping or YAML file: weights are --init-from; and
    one whose fields YAML cannot read (`--model '{preset:classical_sr}'`, no space after the colon)."""
    for arg, following in zip(argv, [*argv[1:], "-"], strict=False):  # "-": no value follows the last
        option, equals, value = arg.partition("=")
        section, value = option[2:], value if equals else following
        if not option.startswith("--") or section not in SECTIONS or value.startswith("-") or Path(value).is_file():
            continue
        read = yaml_or_none(value)
        _check_colons_spaced(section, value, read)
        if isinstance(read, dict):
            continue
        if section == "model":
            raise ValueError(
                f"--model {shown_value(value)}: in train, --model is the config's model section; give the starting "
                f"weights as --init-from {shown_value(value)} (or the architecture as --model.preset NAME, "
                "--model.FIELD VALUE)"
            )
        raise ValueError(f"--{section} {shown_value(value)}: give a field as --{section}.FIELD VALUE (or a mapping)")


def _check_colons_spaced(section: str, value: str, read: Any) -> None:
    """Refuse `--SECTION VALUE` where `read`, VALUE as YAML read it, holds one of the section's fields as a
    `field:value` word: jsonargparse said only "Unable to load config" of it."""
    found, spaced = _unspaced_words(value, read, lambda name: f"{section}.{name}" in FIELD_TYPES)
    if not found:
        return
    first = found[0]
    raise ValueError(
        f"--{section} {shown_value(value)}: YAML reads {first[0]} as one word, not a field and its value; put a space "
        f"after the colon, --{section} {shown_value(spaced)}, or give it as --{section}.{first[1]} "
        f"{shown_value(first[2])}"
    )


def _unspaced_words(value: str, read: Any, is_key: Callable[[str], bool]) -> tuple[list[re.Match], str]:
    """The `key:value` words (no space after the colon) of a mapping `value` (`read`, as YAML read it: keys without
    values, or the one word of a mapping given without its braces) whose key `is_key`, and `value` with each spaced,
    as a mapping."""
    words = [k for k, v in read.items() if v is None] if isinstance(read, dict) else [read]
    found = [m for w in words if isinstance(w, str) and (m := _UNSPACED.fullmatch(w)) and is_key(m[1])]
    spaced = value if isinstance(read, dict) else f"{{{value}}}"
    for m in found:
        spaced = spaced.replace(m[0], f"{m[1]}: {m[2]}", 1)
    return found, spaced


def written_options(argv: list[str]) -> set[str]:
    """The options a (normalised) command line writes: `--train.max_steps` of `--train.max_steps 4` or `=4`, and
    `--gan.enabled` of a whole section given at once, `--gan '{enabled: true}'`."""
    written = set()
    for i, arg in enumerate(argv):
        if not arg.startswith("--"):
            continue
        option, _, value = arg.partition("=")
        written.add(option)
        if option[2:] in SECTIONS:
            fields = yaml_or_none(value if "=" in arg else " ".join(argv[i + 1 : i + 2]))
            written.update(f"{option}.{name}" for name in (fields if isinstance(fields, dict) else ()))
    return written


def value_hints(argv: list[str]) -> dict[str, str]:
    """How to write each list of folders or mapping a (normalised) command line gives (`--data.train '[a, b]'`,
    `--model.config '{embed_dim: 60}'`), by field, for its error: a folder whose name YAML reads otherwise
    (`[/data/Trip, 2024]` as two entries, `[Holiday: beach]` as a mapping) quoted inside the list; a mapping's
    `key:value` word (`{embed_dim:60}`) spaced, as a section's is (`check_sections_given`)."""
    hints = {}
    for i, arg in enumerate(argv):
        option, equals, value = arg.partition("=")
        kind = FIELD_TYPES.get(option[2:], "")
        if not (equals or i + 1 < len(argv)):
            continue
        given = value if equals else argv[i + 1]
        if kind == "list[str]":
            hints[option[2:]] = _list_hint(given)
        elif kind.startswith("dict["):
            found, spaced = _unspaced_words(given, yaml_or_none(given), lambda _: True)
            if found:
                hints[option[2:]] = (
                    f"YAML reads {found[0][0]} as one word, not a key and its value; put a space after the colon, "
                    f"{option} {shown_value(spaced)}"
                )
    return hints


def _list_hint(given: str) -> str:
    """How to write the list of folders `given` (`value_hints`)."""
    inner = given.strip()
    listed = inner.startswith("[") and inner.endswith("]")
    inner = inner[1:-1].strip() if listed else inner
    # A bracketed value is one folder where one has the whole name, else one folder per comma.
    one = not listed or "," not in inner or Path(inner).exists()
    entries = [inner] if one else [entry.strip() for entry in inner.split(",")]
    flow = ", ".join(e if yaml_or_none(f"[{e}]") == [e] else json.dumps(e, ensure_ascii=False) for e in entries)
    what = "quote a folder name holding ', ' or ': ' inside the list" if listed else "a list"
    return f"{what}: {shlex.quote(f'[{flow}]')}"
