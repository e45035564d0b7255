"""The engine's options on a command line, which `swinir-hf restore` and `swinir-hf eval` share with their own
defaults: `--tile`, `--tile-overlap`, `--ensemble`, `--dtype`, `--padding`, `--device`, read back as one
`EngineOptions`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .launcher_precision import GivenOption
from .options import DTYPE_ALIASES, DTYPES, PADDINGS, EngineOptions, dtype_option, tile_option


def tile_argument(value: str) -> int | str | None:
    """`--tile`: a positive number of pixels, "auto", or 0 / "none" for None (the whole image in one pass, as
    Real-ESRGAN's `--tile 0` and the demo's API's "none")."""
    try:
        return tile_option(value)
    except ValueError:  # the engine's own message would offer None, not an option here
        raise argparse.ArgumentTypeError(
            f"tile must be a number of pixels (0 or none: the whole image) or 'auto', got {value!r}"
        ) from None


def overlap_argument(value: str) -> int:
    """`--tile-overlap`: a number of pixels, 0 or more."""
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"tile overlap must be a number of pixels (0 or more), got {value!r}")
    return int(value)


DEVICE_HELP = "cpu, cuda, cuda:1, mps (default: the process's accelerate device: its own GPU, else mps, else cpu)"


def add_engine_arguments(p: argparse.ArgumentParser, defaults: EngineOptions, dtypes: Sequence[str] = DTYPES) -> None:
    """Add the engine's options with `defaults`' values (`dtypes`: the precisions offered)."""
    tile = {"auto": "auto", None: "0, as the paper"}.get(defaults.tile, defaults.tile)
    p.add_argument(
        "-t",
        "--tile",
        type=tile_argument,
        metavar="N|auto",
        default=defaults.tile,
        help=f"tile size in input pixels, 'auto', or 0 / none for the whole image in one pass (default: {tile})",
    )
    p.add_argument(
        "--tile-overlap",
        type=overlap_argument,
        metavar="N",
        default=defaults.tile_overlap,
        help=f"overlap of neighbouring tiles, blended (default {defaults.tile_overlap}; 0 leaves seams)",
    )
    p.add_argument("--ensemble", action="store_true", help="average 8 flips / rotations (SwinIR+, 8x slower)")
    auto = " = float16 on CUDA, bfloat16 on CPUs with native bfloat16, else float32" if defaults.dtype == "auto" else ""
    short = ", ".join(f"{alias} = {name}" for alias, name in DTYPE_ALIASES.items() if name in dtypes)
    p.add_argument(
        "--dtype",
        type=dtype_option,  # before `choices`: "bf16", as train.mixed_precision spells it, is bfloat16
        choices=dtypes,
        default=defaults.dtype,
        action=GivenOption,  # given, it decides over accelerate's mixed precision (`launched_precision`)
        help=f"inference precision ({short}; default: {defaults.dtype}{auto})",
    )
    p.set_defaults(dtype_given=False)
    padding = {"model": "model", "authors": "authors, as the paper"}[defaults.padding]
    p.add_argument(
        "--padding",
        choices=PADDINGS,
        default=defaults.padding,
        help="how an image is padded to the model's window: model = reflected by the model, authors = mirrored first "
        f"as the authors' main_test_swinir.py pads it (their pixels at the right and bottom edges; default: {padding})",
    )
    # Without --device, `restore` and `eval` both run on their process's accelerate device (`process_state`).
    p.add_argument("--device", metavar="D", help=DEVICE_HELP)


def engine_options(args: argparse.Namespace, **fields: Any) -> EngineOptions:
    """The `EngineOptions` of the command line's `add_engine_arguments` options (`fields` override them)."""
    names = ("tile", "tile_overlap", "ensemble", "dtype", "padding")
    given = {name: getattr(args, name) for name in names}
    return EngineOptions(**{**given, "device": args.device, **fields})
