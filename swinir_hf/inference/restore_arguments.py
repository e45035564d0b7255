"""The `restore` command line's options (`add_restore_arguments`), their checks (`usage_problem`) and the values
the parser leaves open (`complete_options`), without torch: `swinir-hf restore --help`, a usage error and a missing
input answer before any model loads (tests/test_cli.py checks it); `collection_cli` runs them."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from ..checkpoints.bundled import DEFAULT_MODEL, DEFAULT_MODELS
from ..checkpoints.weight_keys import add_weights_key_argument, weights_key_problem
from ..common_options import add_output_dir_argument
from ..console import add_progress_arguments
from ..image_datasets import local_dataset_folder, split_problem
from ..other_tools import RESTORE_OTHER_OPTIONS
from ..storage.output_folders import would_replace
from .engine_cli import add_engine_arguments
from .files import collect_inputs
from .jobs import DEFAULT_QUALITY, OUTPUT_FORMATS, OutputOptions
from .options import ALPHA_MODES, EngineOptions

# The options of image files (with their defaults), which a `--dataset` run has no use for: its images are stored
# in the dataset, one at a time. The parser leaves them None, so that one given, even at its default, is refused.
FILE_ONLY_DEFAULTS = {"ext": "png", "suffix": "", "quality": None, "recursive": False, "workers": 2}
# The options of a `--dataset` run, which files have no use for (a --push-to-hub of files would push nothing).
DATASET_ONLY = ("split", "column", "output_column", "streaming", "push_to_hub")


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    """The `restore` options."""
    p.other_names = RESTORE_OTHER_OPTIONS  # read by `LaunchParser` (the parser of `swinir-hf restore` and of a launch)
    p.may_be_empty = ("suffix",)  # `--suffix ""`: none
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders, or glob patterns")
    # Real-ESRGAN's spellings (-i IN -o OUT -s 3.5 -t 0), which its users type from habit.
    p.add_argument("-i", "--input", action="append", default=[], metavar="INPUT", help="an INPUT (may be repeated)")
    add_output_dir_argument(
        p,
        "folder for the restored images (created if needed); each output file's path is printed on stdout, under -o "
        "as given, as it is written (those skipped as existing too; none with --dataset)",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="M",
        help=f"bundled model ({', '.join(DEFAULT_MODELS)}; default {DEFAULT_MODEL}), model folder, authors' .pth "
        "(converted on the fly), catalogue name or Hub id",
    )
    p.add_argument("--revision", metavar="REV", help="a Hub model's branch, tag or commit (default: its main branch)")
    add_weights_key_argument(p)
    add_engine_arguments(p, EngineOptions())
    p.add_argument(
        "--alpha",
        choices=ALPHA_MODES,
        default=EngineOptions.alpha,
        help="how an upscaling model enlarges an alpha channel: model = through the model as a grey image (sharp "
        "edges, one more pass; default), bicubic = resized",
    )
    _add_output_arguments(p)
    p.add_argument(
        "--recursive",
        action="store_true",
        default=None,
        help="descend into the sub-folders of folder inputs (** in a glob always does)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        default=1,
        help="up to N same-size images per forward pass (faster for small images / on GPUs; default 1)",
    )
    p.add_argument(
        "--max-image-pixels",
        type=int,
        metavar="N",
        help="Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS, default 89,478,485): inputs over twice "
        "N pixels are refused, over N named in a warning; 0: no limit, for files you trust",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"threads decoding / encoding files (default {FILE_ONLY_DEFAULTS['workers']})",
    )
    add_progress_arguments(p, "no progress bars")
    _add_dataset_arguments(p)


def _add_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """`--dataset` and the options of a dataset run (`DATASET_ONLY`)."""
    p.add_argument(
        "--dataset",
        help="restore a datasets dataset instead of files: imagefolder:DIR, a save_to_disk folder or a Hub id; "
        "the result is saved with save_to_disk into -o",
    )
    p.add_argument("--split", help="dataset split (default: train)")
    p.add_argument("--column", metavar="NAME", help="dataset image column (default: the first image column)")
    p.add_argument(
        "--output-column",
        metavar="NAME",
        help="a new column for the restored images, the originals kept (default: --column, replaced)",
    )
    p.add_argument(
        "--streaming",
        action="store_true",
        default=None,  # None unless given: refused without --dataset (`DATASET_ONLY`)
        help="read the dataset as a stream, restoring its rows as they arrive (a Hub dataset is not downloaded first)",
    )
    p.add_argument("--push-to-hub", metavar="REPO", help="also push the restored dataset to this Hub repo")


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the restored files: size, name, format, quality, and whether existing ones are replaced."""
    p.add_argument(
        "-s",
        "--outscale",
        type=float,
        metavar="F",
        help="resize the model output to F x the input: floor(F*W+0.5) x floor(F*H+0.5), at least 1, Lanczos "
        "(default: the model's scale)",
    )
    p.add_argument(
        "--suffix",
        default=None,
        metavar="S",
        help="appended to each output file's stem (default: none)",
    )
    p.add_argument(
        "--ext",
        type=_format_name,
        choices=OUTPUT_FORMATS,
        default=None,
        help="output format: auto = the input's (PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, "
        "others PNG); default png",
    )
    p.add_argument(
        "--quality",
        type=int,
        default=None,
        metavar="Q",
        help=f"JPEG / lossy WebP quality 1-100 (default {DEFAULT_QUALITY}; with --ext webp, lossless WebP inputs "
        "are written lossy too)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: skip them)")


def _format_name(name: str) -> str:
    """`--ext`'s value in `OUTPUT_FORMATS`' spelling: any case, and jpeg / tiff for jpg / tif."""
    name = name.lower().lstrip(".")
    return {"jpeg": "jpg", "tiff": "tif"}.get(name, name)


def usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with parsed `add_restore_arguments` options as given (no inputs, options of files with --dataset,
    ...), said before torch or a model loads; else None. Changes nothing: `complete_options` fills them in."""
    inputs = [*args.inputs, *args.input]
    if not inputs and not args.dataset:
        return "nothing to restore: give image files, folders or globs (or --dataset)"
    if inputs and args.dataset:
        return "give image files / folders / globs, or --dataset, not both"
    if not args.dataset and (options := _given(args, DATASET_ONLY)):
        return (
            f"{options} (for --dataset) would be ignored: image files are restored into -o only; drop "
            f"{_it_or_them(options)}, or give --dataset (imagefolder:DIR for a folder)"
        )
    if args.dataset and (options := _given(args, FILE_ONLY_DEFAULTS)):
        return (
            f"--dataset stores the restored images in the dataset: {options} (for files) would be ignored; "
            f"drop {_it_or_them(options)}"
        )
    if args.quality is not None and args.ext in ("png", "tif", None):  # None: the default, png
        return f"--quality is for JPEG / lossy WebP outputs: --ext {args.ext or 'png'} would ignore it; drop it"
    if args.output_dir == "-":  # `eval --json -` is standard output: here it made a folder named `-`
        return "-o -: the restored images are files written into a folder, not to standard output; give a folder (./-)"
    if problem := _output_problem(args):
        return problem
    for name in ("batch_size", "workers"):  # the one given wrong named alone
        if (value := getattr(args, name)) is not None and value < 1:
            return f"--{name.replace('_', '-')} must be at least 1, got {value}"
    if args.max_image_pixels is not None and args.max_image_pixels < 0:
        return "--max-image-pixels must be a number of pixels, or 0 for no limit"
    if problem := weights_key_problem(args.weights_key, [args.model], f"--model {args.model} is not one"):
        return problem
    return _dataset_problem(args) if args.dataset else None


def _output_problem(args: argparse.Namespace) -> str | None:
    """What `OutputOptions` refuses of --outscale, --quality and --suffix (0, NaN, 101, a '/'), as a usage error:
    found after torch and the model had loaded, it was exit status 1. Its messages begin with the field's name."""
    try:
        OutputOptions(suffix=args.suffix or "", outscale=args.outscale, quality=args.quality)
    except ValueError as err:
        return f"--{err}"
    return None


def _dataset_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with --dataset's folder for these options: -o is that folder or inside it (the restored dataset
    would replace its input, or be read as part of it next time); --split for a dataset without splits."""
    folder = local_dataset_folder(args.dataset)
    if folder is None:
        return None
    if would_replace(folder, args.output_dir):
        where = "" if Path(args.output_dir).resolve() == folder.resolve() else "inside "
        return (
            f"-o {args.output_dir} is {where}the dataset's folder {folder}: the restored "
            "dataset would be written into its input, which is never overwritten (not even with --overwrite); choose "
            "an -o outside it"
        )
    return split_problem(args.dataset, args.split)


def complete_options(args: argparse.Namespace) -> str | None:
    """Fill in options that `usage_problem` found nothing wrong with: the file options' defaults (left None by the
    parser, so that one given at its default value counts as given), `-i` inputs joined to the positional ones, and
    their listing in `args.files` (`collect_inputs`' `CollectedInputs`, for `restore_files`; None with --dataset).
    Returns what an input names nothing of (said before torch and the model load), else None."""
    args.inputs, args.files = [*args.inputs, *args.input], None
    for name, default in FILE_ONLY_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.inputs:  # listed once, here (100k files take seconds)
        try:
            args.files = collect_inputs(args.inputs, recursive=args.recursive)
        except (OSError, ValueError) as err:
            return str(err)
    return None


def _given(args: argparse.Namespace, names: Iterable[str]) -> str:
    """Those of the options `names` (as attributes: "batch_size") given on the command line, as "--batch-size, ...";
    "" for none. Their parser defaults are None, so that one given at its default value counts too."""
    return ", ".join("--" + name.replace("_", "-") for name in names if getattr(args, name) is not None)


def _it_or_them(options: str) -> str:
    return "them" if "," in options else "it"
