"""The trainer's short options that set a config field (`--init-from`, `--init-discriminator-from`, `-o` /
`--output-dir`, `--license`, `--license-name`, `--license-link`): each typed as its field, set into it as its dotted
option sets it, and refused given with that dotted option at another value."""

from __future__ import annotations

import argparse
import typing

from jsonargparse import ArgumentParser, Namespace

from .command_values import shown_value
from .config import TrainingConfig

# The short options that set a config field: (option, its args attribute, section, field).
ALIASES = (
    ("--init-from", "init_from", "model", "init_from"),
    ("--init-discriminator-from", "init_discriminator_from", "gan", "init_discriminator_from"),
    ("--output-dir", "output_dir", "train", "output_dir"),
    ("--license", "license", "train", "license"),
    ("--license-name", "license_name", "train", "license_name"),
    ("--license-link", "license_link", "train", "license_link"),
)


def add_alias(parser: ArgumentParser, *option_strings: str, **options: str) -> None:
    """A short option of `ALIASES`, typed as its field is: `--init-from null` is null (from scratch), as
    `--model.init_from null` is, not a folder named null. Absent from the parsed namespace unless given (null is a
    value)."""
    section, field = next((s, f) for option, _, s, f in ALIASES if option in option_strings)
    hint = typing.get_type_hints(typing.get_type_hints(TrainingConfig)[section])[field]
    parser.add_argument(*option_strings, type=hint, default=argparse.SUPPRESS, **options)


def set_aliased_fields(args: Namespace, written: set[str]) -> None:
    """Set into `args` each field whose short option is given (empty or null too: `--init-from ""` was dropped), as
    its dotted option would. Raise `ValueError` where the dotted option is also among the `written` ones, at another
    value: one of them would be ignored (a field set by the config file is the short option's to change)."""
    for option, attribute, section, field in ALIASES:
        if attribute not in args:
            continue
        alias, value, long = args[attribute], args[section][field], f"--{section}.{field}"
        if alias != value and long in written:
            raise ValueError(
                f"{option} {shown_value(alias)} and {long} {shown_value(value)} disagree: give one of them"
            )
    for _, attribute, section, field in ALIASES:
        if attribute in args:
            setattr(args[section], field, args[attribute])
