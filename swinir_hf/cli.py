"""`swinir-hf` command line: one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from functools import partial
from pathlib import Path
from typing import Any

# Only modules without torch / transformers here (tests/test_cli.py checks it): --help, --version and usage
# errors answer at once; each subcommand imports what it needs.
from . import __version__
from .checkpoints.bundled import DEFAULT_MODELS
from .checkpoints.weight_keys import add_weights_key_argument
from .common_options import OUTPUT_METAVAR, add_output_dir_argument
from .console import prefixed_warnings, shown_name, stdout_gone, tolerant_output
from .extras import MissingExtraError
from .help_examples import ExamplesFormatter, with_examples
from .interrupts import finished_before, not_started, stopped_by, terminate_as_interrupt
from .launch import LAUNCHER_HELP, engine_precision_only, launch, option_strings, split_arguments
from .processes import LaunchParser


def _convert(args: argparse.Namespace) -> int:
    from .checkpoints.convert import convert_original_checkpoint
    from .checkpoints.folders import model_folder_files, save_model_folder
    from .storage.output_folders import check_fresh_output_folder, folder_claimed, would_replace

    out = Path(args.output_dir)
    shown = shown_name(out)
    try:
        # Even with --overwrite: a save replaces its model files (model.safetensors, pytorch_model.bin); any other
        # file, a .pth, stays beside the model, where an upload of the folder would carry it too.
        if would_replace(out, args.checkpoint):
            source = Path(args.checkpoint).resolve()
            replaced = source == out.resolve() or source in {path.resolve() for path in model_folder_files(out)}
            fate = "which the converted model would replace" if replaced else "beside which the model would be saved"
            raise ValueError(
                f"{shown} holds the checkpoint {shown_name(args.checkpoint)}, {fate}: choose another output folder"
            )
        # Held from the check to the end: a second convert into it is refused, not silently replacing this one.
        with terminate_as_interrupt(), folder_claimed(out, "output folder"):
            check_fresh_output_folder(out, args.overwrite, "output folder", replaces="its files")
            overrides = {} if args.img_range is None else {"img_range": args.img_range}
            # Stored as in the file (a float16 copy stays float16, value for value); config.json says float32.
            model = convert_original_checkpoint(args.checkpoint, args.weights_key, dtype="auto", **overrides)
            save_model_folder(out, model)  # written aside, moved in whole
    except (ValueError, OSError) as err:  # OSError: "cannot write OUT: No space left on device"
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        how, status = stopped_by(stop)
        if finished_before(stop):
            print(f"{how} once the converted model was in {shown}", file=sys.stderr)
        else:
            print(f"{how}: {shown} is as it was (the converted model is moved in whole, at the end)", file=sys.stderr)
        return status
    cfg = model.config
    print(
        f"converted {shown_name(args.checkpoint)} → {shown}: task {cfg.task}, upsampler {cfg.upsampler}, "
        f"x{cfg.upscale}, {cfg.num_channels} channel{'s' if cfg.num_channels > 1 else ''}, embed_dim {cfg.embed_dim}, "
        f"depths {cfg.depths}, window {cfg.window_size}, "
        f"{model.num_parameters():,} parameters"
    )
    return 0


def _models(args: argparse.Namespace) -> int:
    from .checkpoints.catalog import load_catalog
    from .checkpoints.hub_lookup import hub_cached

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


def _eval(args: argparse.Namespace) -> int:
    from .evaluation.cli import run

    return run(args)


def _restore(args: argparse.Namespace) -> int:
    from .inference.collection_cli import run

    return run(args)


def _hub(args: argparse.Namespace) -> int:
    from .checkpoints.export_cli import run

    return run(args)


# The commands that run on every process of an `accelerate launch` (given its options), and their modules.
LAUNCHED = {"restore": "swinir_hf.restore", "eval": "swinir_hf.evaluate"}


def _add_convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="authors' .pth or .safetensors file")
    what = "folder to write config.json, model.safetensors, preprocessor_config.json"
    p.add_argument("output_dir", nargs="?", metavar=OUTPUT_METAVAR, help=f"{what} (or -o {OUTPUT_METAVAR})")
    # -o as `restore`, `hub` and `train` spell it; read into `output_dir` by `_convert_output`.
    add_output_dir_argument(p, f"same as {OUTPUT_METAVAR}", required=False, dest="output_option")
    add_weights_key_argument(p)
    p.add_argument(
        "--img-range",
        type=float,
        choices=(1.0, 255.0),
        help="the model's pixel range, which checkpoints do not store (default: as the authors' releases, 255 for "
        "window-7 x1 models, else 1)",
    )
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    # read by `LaunchParser`: argparse said only "unrecognized arguments: b" of `convert x.pth -o a b`
    p.extra_words = (
        f"convert takes one checkpoint and one {OUTPUT_METAVAR} (or -o {OUTPUT_METAVAR}): quote a path with spaces, "
        "and convert each checkpoint with its own command"
    )


def _convert_output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """`args`, a `convert`'s with its output folder in `output_dir`, given as OUT or -o OUT (the same folder if both);
    a usage error (exit status 2) without one or with two. Another command's as they are."""
    if args.command != "convert":
        return args
    given = list(dict.fromkeys(d for d in (args.output_dir, args.output_option) if d is not None))
    if len(given) != 1:
        usage = _subcommand(parser, "convert")
        if not given:
            usage.error(f"the following arguments are required: {OUTPUT_METAVAR} (or -o {OUTPUT_METAVAR})")
        usage.error(f"two output folders, {shown_name(given[0])} and -o {shown_name(given[1])}: give one of them")
    args.output_dir = given[0]
    return args


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `swinir-hf` parser, every subcommand listed; `only`: the one whose options are added (importing its
    modules), None for all of them."""
    # `swinir-hf restore` also runs under `accelerate launch`: a bad command line is reported by its main process.
    parser = LaunchParser(
        prog="swinir-hf", description=__doc__, epilog=with_examples("swinir-hf"), formatter_class=ExamplesFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def wanted(name: str) -> bool:
        return only is None or only == name

    p = _add_command(sub, "convert", "convert an authors' .pth checkpoint into a from_pretrained folder")
    if wanted("convert"):
        _add_convert_arguments(p)
    p.set_defaults(func=_convert)

    p = _add_command(sub, "models", "list the bundled models and the authors' releases (and which are cached)")
    p.set_defaults(func=_models)

    p = _add_command(
        sub,
        "eval",
        "score a model on a benchmark with the paper's protocol (PSNR / SSIM table)",
        launched="swinir_hf.evaluate",
        description="Runs on every process of an `accelerate launch`, each scoring its share of the images.",
    )
    if wanted("eval"):
        from .evaluation.eval_arguments import add_eval_arguments

        add_eval_arguments(p)
    p.set_defaults(func=_eval, prog=p.prog)  # the name usage errors found after parsing go by

    p = _add_command(
        sub,
        "restore",
        "restore image files, folders or globs (or a datasets dataset) into an output folder",
        launched="swinir_hf.restore",
        description="Existing outputs are skipped (resume) unless --overwrite; inputs are never overwritten. "
        "Runs on every process of an `accelerate launch`.",
    )
    if wanted("restore"):
        from .inference.restore_arguments import add_restore_arguments

        add_restore_arguments(p)
    p.set_defaults(func=_restore, prog=p.prog)

    p = _add_command(
        sub, "hub", "build (and push) verified Hub repos from the authors' .pth files or a trained model folder"
    )
    if wanted("hub"):
        from .checkpoints.export_arguments import DESCRIPTION, add_hub_arguments

        p.description = DESCRIPTION
        add_hub_arguments(p)
    p.set_defaults(func=_hub, prog=p.prog)
    _list_own_parsers(sub)
    return parser


def _list_own_parsers(sub: Any) -> None:
    """The commands with a parser of their own, listed for --help only: `main` hands `swinir-hf train ...` to
    swinir_hf.train (free-form overrides) and `swinir-hf demo ...` to swinir_hf.demo.server (which needs the demo
    extra)."""
    sub.add_parser(
        "train",
        add_help=False,
        help="train / fine-tune (python -m swinir_hf.train; with accelerate launch's options, under its launcher)",
    )
    sub.add_parser("demo", add_help=False, help="serve the Gradio demo (as python app.py; see --help)")


def _add_command(sub: Any, name: str, help: str, launched: str = "", **more: str) -> argparse.ArgumentParser:
    """Command `name`'s parser among `sub`'s, its `--help` ending with its examples, then, for one that runs under
    accelerate's launcher (the module it `launched`), how to give its options."""
    epilog = with_examples(name, LAUNCHER_HELP.format(module=launched) if launched else "")
    return sub.add_parser(name, help=help, epilog=epilog, formatter_class=ExamplesFormatter, **more)


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def _one_line_errors() -> tuple[type[Exception], ...]:
    """The errors `main` reports in one line. Evaluated as one is caught: a `CheckpointError` can only have been
    raised once its module has loaded, which imports torch (a usage error found before that stays quick)."""
    convert = sys.modules.get("swinir_hf.checkpoints.convert")
    return (MissingExtraError, convert.CheckpointError) if convert else (MissingExtraError,)


def _train(argv: list[str], program: bool) -> int:
    """`swinir-hf train ARGS`: in this process, or under accelerate's launcher given its options. A Ctrl-C or SIGTERM
    while the trainer's modules load (torch, transformers, accelerate: seconds) or its command line is read is one
    line and exit status 130 / 143, as in `restore` and `eval`, not a traceback or a silent kill; from there on the
    trainer's own handling takes over."""
    try:
        with terminate_as_interrupt():
            from .training.cli import build_parser, exit_status
            from .training.cli import main as train_main

            # The trainer's own options (every config field's included) are not looked up among the launcher's,
            # whose parser imports torch: `--help` and a config's errors answer at once.
            launcher, rest = split_arguments(argv, option_strings(build_parser()))
            if launcher:  # (its checks import the model; the trainer's command line alone needs no torch)
                from .training.checks import check_parallelism
            else:
                status = train_main(rest, prog="swinir-hf train")
    except KeyboardInterrupt as stop:
        return not_started(stop, "run")
    if launcher:  # the launcher passes the signals on to its processes
        status = launch("swinir_hf.train", launcher, rest, check=check_parallelism)
    return exit_status(status) if program else status


# The modules of the commands that import torch and transformers (seconds) before their own handling of a stop
# begins, loaded by `_load_modules`; `eval` and `restore` import them inside theirs.
_COMMAND_MODULES = {"convert": (".checkpoints.convert",), "hub": (".checkpoints.export_cli",)}


def _load_modules(command: str) -> int | None:
    """Import `command`'s modules: a Ctrl-C or SIGTERM meanwhile, the likeliest moment for one, is one line and exit
    status 130 / 143, as later in the command, not a traceback. None once they are loaded, else the exit status."""
    try:
        with terminate_as_interrupt():
            for module in _COMMAND_MODULES.get(command, ()):
                importlib.import_module(module, __package__)
    except KeyboardInterrupt as stop:
        return not_started(stop)
    return None


def _launch_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a launched command's own parsed arguments `args`, said here, once, not by every process (a
    bad option exits as argparse does when they are parsed); None when nothing is."""
    from .evaluation.cli import output_problem

    return output_problem(args) if args.command == "eval" else None


def main(argv: list[str] | None = None) -> int:
    program = argv is None  # the `swinir-hf` command itself, not a call from Python
    if program:
        tolerant_output()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        return _train(argv[1:], program)
    if argv[:1] == ["demo"]:  # the demo's command line checks its options, then for gradio
        try:
            from .demo.server import main as demo_main
        except KeyboardInterrupt as stop:  # Ctrl-C while gradio imports: one line, as later
            return not_started(stop)
        return demo_main(argv[1:])
    if program:
        prefixed_warnings()
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        # argparse blamed the command's own arguments ("unrecognized arguments: in/ -o out"), not the option
        print(
            f"swinir-hf: error: {argv[0]} comes before the command: options follow it (swinir-hf COMMAND "
            f"{argv[0]} ...; swinir-hf --help lists the commands)",
            file=sys.stderr,
        )
        return 2
    try:  # a subcommand's options, none for --help or a typo (they import their modules: Ctrl-C is one line)
        parser = build_parser(only=argv[0] if argv else "")
    except KeyboardInterrupt as stop:
        return not_started(stop)
    if argv[:1] and argv[0] in LAUNCHED:  # with accelerate launch's options: under its launcher
        command = argv[0]
        try:
            with terminate_as_interrupt():  # the launcher's options are read by accelerate's parser: torch loads
                launcher, rest = split_arguments(argv[1:], option_strings(_subcommand(parser, command)))
                own = parser.parse_args([command, *rest]) if launcher else None
                problem = _launch_problem(own) if own else None
        except KeyboardInterrupt as stop:
            return not_started(stop)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
        if launcher:
            check = partial(engine_precision_only, dtype_given=own.dtype_given)
            return launch(LAUNCHED[command], launcher, rest, check=check, typed=["swinir-hf", *argv])
    args = _convert_output(parser, parser.parse_args(argv))
    args.typed_command = ["swinir-hf", *argv]  # as typed: eval's report records it
    if (stopped := _load_modules(args.command)) is not None:
        return stopped
    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that has gone shows here, not as an error at exit
        return status
    except _one_line_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `swinir-hf models | head`: the reader has all it wanted
        stdout_gone()
        return 0
    except KeyboardInterrupt as stop:  # a command without a stop of its own (`models`): one line, as the others
        how, status = stopped_by(stop)
        print(how, file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
