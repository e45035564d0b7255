"""`swinir-hf` command line: one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .convert import CheckpointError


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_original_checkpoint
    from .image_processing_swinir import SwinIRImageProcessor

    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        print(f"error: {out} exists and is not empty; pass --overwrite to replace its files", file=sys.stderr)
        return 1
    model = convert_original_checkpoint(args.checkpoint, weights_key=args.weights_key)
    model.save_pretrained(out)
    SwinIRImageProcessor(num_channels=model.config.num_channels).save_pretrained(out)
    cfg = model.config
    print(
        f"converted {args.checkpoint} → {out}: task {cfg.task}, upsampler {cfg.upsampler}, x{cfg.upscale}, "
        f"{cfg.num_channels} channels, embed_dim {cfg.embed_dim}, depths {cfg.depths}, window {cfg.window_size}, "
        f"{model.num_parameters():,} parameters"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swinir-hf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert an authors' .pth checkpoint into a from_pretrained folder")
    p.add_argument("checkpoint", help="authors' .pth or .safetensors file")
    p.add_argument("output_dir", help="folder to write config.json, model.safetensors, preprocessor_config.json")
    p.add_argument("--weights-key", default=None, help="entry holding the weights (default: params_ema, params)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    p.set_defaults(func=_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
