"""`swinir-hf` command line: one subcommand per job."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .checkpoints.convert import CheckpointError
from .checkpoints.loading import DEFAULT_MODELS
from .extras import MissingExtraError
from .inference.collection_cli import (
    LaunchParser,
    add_restore_arguments,
    engine_options,
    overlap_argument,
    tile_argument,
)
from .inference.files import check_fresh_output_folder
from .inference.restoration import DTYPES
from .launch import LAUNCHER_HELP, launch, split_arguments


def _convert(args: argparse.Namespace) -> int:
    from .checkpoints.convert import convert_original_checkpoint
    from .checkpoints.folders import save_model_folder

    out = Path(args.output_dir)
    try:
        check_fresh_output_folder(out, args.overwrite, "output folder", replaces="its files")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    model = convert_original_checkpoint(args.checkpoint, weights_key=args.weights_key)
    save_model_folder(out, model)
    cfg = model.config
    print(
        f"converted {args.checkpoint} → {out}: task {cfg.task}, upsampler {cfg.upsampler}, x{cfg.upscale}, "
        f"{cfg.num_channels} channels, embed_dim {cfg.embed_dim}, depths {cfg.depths}, window {cfg.window_size}, "
        f"{model.num_parameters():,} parameters"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    import json

    import torch

    from .checkpoints.loading import ModelNotAvailableError, load_model
    from .evaluation.benchmark import evaluate_models

    if args.json and Path(args.json).is_dir():  # --overwrite replaces a file, never a folder
        print(f"error: --json {args.json} is a folder; give a file name in it", file=sys.stderr)
        return 1
    if args.json and Path(args.json).exists() and not args.overwrite:
        print(f"error: {args.json} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    if args.json and not Path(args.json).resolve().parent.is_dir():  # checked now, not after the evaluation
        print(f"error: --json {args.json}: folder {Path(args.json).parent} does not exist; create it", file=sys.stderr)
        return 1
    try:
        if args.device:
            from .inference.restoration import check_device

            check_device(args.device)
        # Every model loaded first (a bad one is reported before any scoring): the set is read, and each image
        # degraded and scored as the baseline, once for all of them.
        models = [(spec, None) if spec == "identity" else (Path(spec).name, load_model(spec)) for spec in args.model]
        result = evaluate_models(
            models,
            args.dataset,
            scale=args.scale,
            noise=args.noise,
            jpeg=args.jpeg,
            real=args.real,
            lr_dir=args.lr_dir,
            grey_convention=args.grey_convention,
            split=args.split,
            engine=engine_options(args, device=args.device or ("cuda" if torch.cuda.is_available() else "cpu")),
        )
    except (ValueError, FileNotFoundError, ModelNotAvailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(result.to_markdown(verbose=args.verbose))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .checkpoints.catalog import load_catalog
    from .checkpoints.loading import hub_cached

    width = max(map(len, DEFAULT_MODELS))
    print("Bundled models (in the package, offline):")
    for name, what in DEFAULT_MODELS.items():
        print(f"  {name:<{width}}  {what}")
    catalog = load_catalog()
    releases = catalog.releases
    cached = {r.repo for r in releases if hub_cached(r.repo_id())}
    width = max(len(r.repo) for r in releases)
    print(
        f"\nThe authors' {len(releases)} releases (--model NAME loads {catalog.organization}/NAME from the Hub; "
        "--model FILE.pth converts the authors' file)"
    )
    for release in releases:
        mark = "*" if release.repo in cached else " "
        print(f"  {release.repo:<{width}} {mark} {release.title()}")
    print(f"\n* in the local Hugging Face cache: loads offline ({len(cached)} of {len(releases)})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from .inference.collection_cli import run

    return run(args)


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The `eval` options."""
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        action="extend",
        help=f"bundled model ({', '.join(DEFAULT_MODELS)}), model folder, authors' .pth, catalogue name, Hub id, "
        "or 'identity' (no-op); several (or --model repeated) are scored side by side in one table",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="folder of HR images (or holding HR/), imagefolder:DIR, save_to_disk folder, Hub id",
    )
    task = p.add_mutually_exclusive_group()
    task.add_argument("--scale", type=int, help="super-resolution factor (default: the model's)")
    task.add_argument("--noise", type=float, help="Gaussian noise σ in 0..255 grey levels (denoising)")
    task.add_argument("--jpeg", type=int, help="JPEG quality (artifact reduction)")
    task.add_argument(
        "--real",
        action="store_true",
        help="BSRGAN-style real-world degradation at the model's scale, seeded per image (real-world super-resolution)",
    )
    p.add_argument(
        "--lr-dir", help="folder of given LR / degraded inputs (NAME.* or NAMEx<scale>.*) instead of making them"
    )
    p.add_argument(
        "--grey-convention",
        choices=("native", "rgb"),
        default="native",
        help="score greyscale images on their grey channel (native, published tables) or as RGB → Y (rgb)",
    )
    p.add_argument("--split", help="split of a datasets dataset (default: test; train for imagefolder)")
    p.add_argument(
        "--tile",
        type=tile_argument,
        default=None,
        help="tile size in input pixels or 'auto' (default, or 0: whole image)",
    )
    p.add_argument(
        "--tile-overlap",
        type=overlap_argument,
        default=32,
        help="overlap of neighbouring tiles, blended (default 32; 0 leaves seams)",
    )
    p.add_argument("--ensemble", action="store_true", help="average 8 flips / rotations (SwinIR+)")
    # A benchmark states the precision its figures were measured in: no machine-dependent "auto".
    exact = [d for d in DTYPES if d != "auto"]
    p.add_argument("--dtype", choices=exact, default="float32", help="inference precision (default: float32)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    p.add_argument("--verbose", action="store_true", help="one row per image as well as the mean")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def build_parser() -> argparse.ArgumentParser:
    # `swinir-hf restore` also runs under `accelerate launch`: a bad command line is reported by its main process.
    parser = LaunchParser(prog="swinir-hf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert an authors' .pth checkpoint into a from_pretrained folder")
    p.add_argument("checkpoint", help="authors' .pth or .safetensors file")
    p.add_argument("output_dir", help="folder to write config.json, model.safetensors, preprocessor_config.json")
    p.add_argument("--weights-key", default=None, help="entry holding the weights (default: params_ema, params)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    p.set_defaults(func=_convert)

    p = sub.add_parser("models", help="list the bundled models and the authors' releases (and which are cached)")
    p.set_defaults(func=_models)

    p = sub.add_parser("eval", help="score a model on a benchmark with the paper's protocol (PSNR / SSIM table)")
    add_eval_arguments(p)
    p.set_defaults(func=_eval)

    p = sub.add_parser(
        "restore",
        help="restore image files, folders or globs (or a datasets dataset) into an output folder",
        description="Existing outputs are skipped (resume) unless --overwrite; inputs are never overwritten. "
        "Runs on every process of an `accelerate launch`.",
        epilog=LAUNCHER_HELP.format(module="swinir_hf.restore"),
    )
    add_restore_arguments(p)
    p.set_defaults(func=_restore)

    from .checkpoints.export_cli import add_parser as add_hub_parser

    add_hub_parser(sub)
    # Listed for --help only: `main` hands `swinir-hf train ...` to swinir_hf.train (free-form overrides) and
    # `swinir-hf demo ...` to swinir_hf.demo.server (which needs the demo extra).
    sub.add_parser(
        "train",
        add_help=False,
        help="train / fine-tune (python -m swinir_hf.train; with accelerate launch's options, under its launcher)",
    )
    sub.add_parser("demo", add_help=False, help="serve the Gradio demo (as python app.py; see --help)")
    return parser


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def main(argv: list[str] | None = None) -> int:
    program = argv is None  # the `swinir-hf` command itself, not a call from Python
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        from .training.checks import check_parallelism
        from .training.cli import exit_status
        from .training.cli import main as train_main

        launcher, rest = split_arguments(argv[1:])
        if launcher:
            status = launch("swinir_hf.train", launcher, rest, check=check_parallelism)
        else:
            status = train_main(rest, prog="swinir-hf train")
        return exit_status(status) if program else status
    if argv[:1] == ["demo"]:  # the demo's command line checks its options, then for gradio
        from .demo.server import main as demo_main

        return demo_main(argv[1:])
    parser = build_parser()
    if argv[:1] == ["restore"]:  # with accelerate launch's options: under its launcher
        own = {name for action in _subcommand(parser, "restore")._actions for name in action.option_strings}
        launcher, rest = split_arguments(argv[1:], own)
        if launcher:
            parser.parse_args(["restore", *rest])  # a bad command line is said here, once, not by every process
            return launch("swinir_hf.restore", launcher, rest)
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that has gone shows here, not as an error at exit
        return status
    except (CheckpointError, MissingExtraError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `swinir-hf models | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0


if __name__ == "__main__":
    sys.exit(main())
