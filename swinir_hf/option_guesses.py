"""What a mistyped option or value was probably meant to be: the "did you mean" of every `swinir-hf` command's
usage errors (`--tiles` → `--tile`, `--batch_size` → `--batch-size`, `--over` → `--overwrite`, `restre` →
`restore`). No torch here: a usage error answers at once."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

# How alike a word and a name must be (difflib's ratio). Also what keeps a slip of a command's own option from being
# taken for one of accelerate launch's (`launch.split_arguments`): none of those is this near one of `restore`,
# `eval` or `train`'s options (tests/test_cli.py checks it against the installed accelerate).
CUTOFF = 0.85


def is_option(arg: str) -> bool:
    """Whether `arg` is written as an option: `-` alone is a value (standard input's name, as argparse reads it)."""
    return arg.startswith("-") and arg != "-"


def nearest_option(word: str, options: Collection[str]) -> str | None:
    """The one of `options` that the unknown long option `word` (`--tiles`, `--batch_size=2`) was meant as: the same
    with `-` for `_`, the one option it abbreviates, else the closest spelling in its section; None for a word that
    is no option's slip (a short option, a value, a name unlike any)."""
    name = word.split("=", 1)[0]
    if not name.startswith("--") or name in options:
        return None
    longs = sorted(o for o in options if o.startswith("--"))
    dashed = "--" + name[2:].replace("_", "-")
    if dashed in longs:
        return dashed
    begun = [o for o in longs if o.startswith(name)]
    if len(begun) == 1:
        return begun[0]
    # Within its section (`--train.max_step`): a section's name is no slip (`--mixed_precision`, the launcher's, is
    # not `--train.mixed_precision`, the trainer's).
    alike = [o for o in longs if o.count(".") == name.count(".")]
    return next(iter(difflib.get_close_matches(name, alike, n=1, cutoff=CUTOFF)), None)


def option_guesses(words: Iterable[str], options: Collection[str]) -> list[str]:
    """`nearest_option` of each of `words` that has one, once each, in their order."""
    return list(dict.fromkeys(g for g in (nearest_option(w, options) for w in words) if g))


def nearest_choice(value: str, choices: Iterable[object], *, cutoff: float = 0.6) -> str | None:
    """The one of `choices` (a subcommand's name, `--ext`'s formats, a model's name) that `value` is a slip of: the
    closest whose likeness (difflib's ratio) is at least `cutoff`; else None."""
    return next(iter(difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=cutoff)), None)


def unspaced_field(word: object, fields: Collection[str]) -> str | None:
    """What to write for `word` if it is a field of `fields` and its value without the space YAML wants after the
    colon (`scale:2`, read as one word, not a field set to 2): "YAML needs a space after the colon: scale: 2", with
    the field it is a slip of (`upscale:2`: did you mean scale: 2?); else None."""
    name, colon, value = str(word).partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name or not value:
        return None
    if name in fields:
        return f"YAML needs a space after the colon: {name}: {value}"
    near = nearest_choice(name, fields)
    return f"did you mean {near}: {value}? YAML needs a space after the colon" if near else None
