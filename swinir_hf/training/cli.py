"""Train or fine-tune SwinIR: `accelerate launch -m swinir_hf.train --config CONFIG.yaml [overrides]`.

Also runs as `python -m swinir_hf.train ...`. CONFIG is a YAML file or the name of a bundled config
(`swinir_hf/configs/*.yaml`, e.g. `tiny_sr_x2`). Overrides take the form `--train.max_steps 100`,
`--train.max_steps=100` or `train.max_steps=100`; values are parsed as YAML (`[1, 2]`, `null`, `1e-4`).
`--help` lists every field with its default and meaning.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, DefaultHelpFormatter, Namespace

from ..checkpoints.run_folder import is_run_config, list_checkpoints
from ..common_options import OUTPUT_METAVAR
from ..console import add_progress_arguments, package_log, shown_name, shows_progress
from ..extras import MissingExtraError
from ..help_examples import ExamplesFormatter, with_examples
from ..interrupts import stopped_by, terminate_as_interrupt
from ..launch import LAUNCHER_HELP
from ..option_guesses import nearest_option
from ..processes import RUN_ERROR, is_main_process, launched_processes, user_error
from .checks import check_resume_given
from .command_values import check_sections_given, value_hints, written_options
from .config import (
    FIELD_TYPES,
    SECTIONS,
    TrainingConfig,
    add_config_arguments,
    bundled_configs,
    check_sections,
    config_path,
    error_message,
    read_config_file,
)
from .short_options import ALIASES, add_alias, set_aliased_fields
from .signals import TrainingInterrupted, ignore_stop_signals
from .sources import check_sources_there
from .unread import as_earlier_meant, as_read

TRAIN_USAGE = "Train or fine-tune SwinIR: `accelerate launch -m swinir_hf.train --config CONFIG.yaml [overrides]`."
# `train.max_steps=100` without dashes, an override form argparse alone does not take.
_BARE_OVERRIDE = re.compile(rf"(?:{'|'.join(SECTIONS)})\.\w[\w.]*=")


class _ConfigFile(ActionConfigFile):
    """`--config`: a YAML file or a bundled config's name; its sections are checked (and empty ones made `{}`)
    before jsonargparse merges them."""

    # train.license as the config files read so far leave it, for `_drop_terms_of_other`.
    license_read: str | None = None

    def __call__(self, parser: ArgumentParser, cfg: Namespace, values: str, option_string: str | None = None) -> None:
        try:
            raw = check_sections(read_config_file(values), values)
        except (FileNotFoundError, ValueError, yaml.YAMLError) as err:
            raise argparse.ArgumentError(self, " ".join(str(err).split())) from None
        if is_run_config(config_path(values)):
            raw = _as_its_run_read(raw, values)
        super().__call__(parser, cfg, yaml.safe_dump(raw), option_string)
        self.license_read = cfg.get("train.license")


def _as_its_run_read(raw: dict, origin: str) -> dict:
    """`raw`, the sections of a run folder's own training_config.yaml (`origin`: an earlier swinir-hf may have written
    it), without what this swinir-hf would refuse there (`as_read`): a setting it no longer has, and one that the
    file's other settings leave unread (an earlier swinir-hf took and ignored it). A note names them, once (from the
    main process); a config of one's own that sets them is refused as ever. An empty model.init_from is null
    (`as_earlier_meant`: an earlier swinir-hf trained it from scratch)."""
    raw = as_earlier_meant(raw)
    _, ignored = as_read(raw, TrainingConfig())
    ignored = [name for name in ignored if name.partition(".")[2] in raw.get(name.partition(".")[0], {})]
    if not ignored:
        return raw
    if is_main_process():
        unread, gone = "unread with its other settings, by the run too", "not a setting of this swinir-hf"
        named = ", ".join(f"{name} ({unread if name in FIELD_TYPES else gone})" for name in ignored)
        print(f"note: {shown_name(origin)} is a run's own config: ignoring {named}", file=sys.stderr)
    return {name: {k: v for k, v in fields.items() if f"{name}.{k}" not in ignored} for name, fields in raw.items()}


class _HelpWithExamples(ExamplesFormatter, DefaultHelpFormatter):
    """jsonargparse's formatter (which its parser requires), with the examples printed as written."""


def build_parser(prog: str = "python -m swinir_hf.train") -> ArgumentParser:
    """`python -m swinir_hf.train`'s options (`prog`: the command's name in --help), and every config field as
    `--section.field VALUE`."""
    parser = ArgumentParser(
        prog=prog,
        usage="%(prog)s --config CONFIG [options] [--section.field VALUE ...]",  # not all ~60 options
        description=TRAIN_USAGE,
        epilog=with_examples(
            "train",
            f"bundled configs: {', '.join(bundled_configs())}"
            + (f". {LAUNCHER_HELP.format(module='swinir_hf.train')}" if prog == "swinir-hf train" else ""),
        ),
        formatter_class=_HelpWithExamples,
        exit_on_error=False,  # `main` reports errors on one line, without argparse's long usage text
        print_config=None,  # --print-config below prints the validated config instead
        allow_abbrev=False,  # `--over` was taken for `--overwrite`, which deletes a run
    )
    parser.add_argument(
        "--config", action=_ConfigFile, required=True, help="YAML file or bundled config name (read first)"
    )
    # Typed as an optional field is: `--resume null` is none (as a config's null), not a checkpoint folder named null.
    parser.add_argument(
        "--resume", type=str | None, help="'latest' (newest checkpoint in the output folder) or a checkpoint folder"
    )
    add_alias(parser, "--init-from", help="starting weights (same as model.init_from)")
    add_alias(
        parser,
        "--init-discriminator-from",
        metavar="RUN",
        help="a GAN run's discriminator weights: its folder or a checkpoint (same as gan.init_discriminator_from)",
    )
    add_alias(parser, "-o", "--output-dir", metavar=OUTPUT_METAVAR, help="same as train.output_dir")  # as restore's
    parser.add_argument(
        "--push-to-hub", type=str | None, metavar="REPO", help="upload the final model to this Hub repo (null: none)"
    )
    add_alias(parser, "--license", metavar="ID", help="the model card's Hub license id (same as train.license)")
    add_alias(parser, "--license-name", metavar="ID", help="with --license other (same as train.license_name)")
    add_alias(parser, "--license-link", metavar="URL", help="with --license other (same as train.license_link)")
    parser.add_argument("--overwrite", action="store_true", help="reuse a non-empty output folder")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    add_progress_arguments(parser, "no progress bars: a line per log window and validation (without a terminal too)")
    add_config_arguments(parser)
    return parser


def _normalise(argv: list[str]) -> list[str]:
    """`section.field=value` → `--section.field=value`, and `--config FILE` first: jsonargparse merges a config
    file where it stands, and an override must win wherever it is written."""
    args = [f"--{a}" if _BARE_OVERRIDE.match(a) else a for a in argv]
    for i, arg in enumerate(args):
        if arg.startswith("--config="):
            return [arg, *args[:i], *args[i + 1 :]]
        if arg == "--config":
            return [*args[i : i + 2], *args[:i], *args[i + 2 :]]
    return args


def parse_command_line(
    argv: list[str] | None = None, prog: str = "python -m swinir_hf.train"
) -> tuple[TrainingConfig, Namespace]:
    """The validated config and the run's options; any problem is a `ValueError` with a one-line message."""
    argv = _normalise(sys.argv[1:] if argv is None else list(argv))
    check_sections_given(argv)
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        written = written_options(argv)
        set_aliased_fields(args, written)
        _null_names(args, written)
        (config_file,) = [action for action in parser._actions if isinstance(action, _ConfigFile)]
        _drop_terms_of_other(args, written, config_file.license_read)
        cfg = TrainingConfig.from_namespace(parser, args, written)
        cfg.check_options_given(written)
        check_resume_given(args.resume)
        return cfg, args
    except argparse.ArgumentError as err:
        raise ValueError(_with_hint(parser, error_message(err, value_hints(argv)))) from None


# YAML's spellings of null, which jsonargparse reads as None for an optional field (`None` is a name).
YAML_NULLS = frozenset({"null", "Null", "NULL", "~"})


def _null_names(args: Namespace, written: set[str]) -> None:
    """A field typed str (train.output_dir, data.split, ...) that the command line (its `written` options, a short
    one) sets to null: null, as a config file's null there is (`check_no_null_name` refuses both), not a name 'null'
    as jsonargparse keeps it."""
    for name, kind in FIELD_TYPES.items():
        section, field = name.split(".")
        given = f"--{name}" in written or any(a in args for _, a, s, f in ALIASES if (s, f) == (section, field))
        if kind == "str" and given and args[section][field] in YAML_NULLS:
            args[section][field] = None


def _drop_terms_of_other(args: Namespace, written: set[str], license_read: str | None) -> None:
    """A command line that changes train.license from `other` (the config file's, `license_read`: a resumed run's
    training_config.yaml's, say) to another, and gives no license_name / license_link itself, drops the config's: they
    named the terms of that `other` (as `swinir-hf hub --license` drops a card's). A config file giving them with
    another license is refused as ever."""
    now, was = (str(x).lower() if x is not None else None for x in (args.train.license, license_read))
    if was != "other" or now == "other" or not written & {"--license", "--train.license"}:
        return
    for field in ("license_name", "license_link"):
        if not written & {f"--{field.replace('_', '-')}", f"--train.{field}"}:
            setattr(args.train, field, None)


def _with_hint(parser: ArgumentParser, message: str) -> str:
    """An "unrecognized arguments" message with the option each misspelt one was meant as, and a pointer to
    --help."""
    if not message.startswith("unrecognized arguments:"):
        return message
    options = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    guesses = []
    for word in message.removeprefix("unrecognized arguments:").split():
        if word.startswith("--") or "." in word:  # an option, not its value; an override may lack its dashes
            name = "--" + word.split("=")[0].lstrip("-")  # (`train.max_steps=3`: that option is the guess)
            guesses.append(name if name in options else nearest_option(name, options))
    guesses = list(dict.fromkeys(g for g in guesses if g))
    hint = f"did you mean {' / '.join(guesses)}? " if guesses else ""
    return f"{message} ({hint}see --help)"


def run_training(cfg: TrainingConfig, **options: Any) -> Path:
    """`training.loop.run_training`, imported once a run starts: it imports torch, which `--help`, `--print-config`
    and a config's errors do without (they answer in a fraction of the time)."""
    from .loop import run_training as run

    return run(cfg, **options)


def main(argv: list[str] | None = None, prog: str = "python -m swinir_hf.train") -> int:
    """Exit status: 0 done, 1 the run failed, 2 a bad command line or config, 128 + N stopped by signal N."""
    try:
        cfg, args = parse_command_line(argv, prog)
    except ValueError as err:
        return _user_error(err, 2)
    if args.print_config:  # a config to copy and edit: its folders need not be here
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        return 0
    try:
        check_sources_there(cfg.data)  # before run_training imports torch and sets up accelerate and the model
    except FileNotFoundError as err:
        return _user_error(err, 2)
    try:
        options = {"resume": args.resume, "push_to_hub_repo": args.push_to_hub, "overwrite": args.overwrite}
        # The steps take SIGTERM after a step (StopSignals); before the first one (the model built, the data read and
        # checked, the step-0 validation: minutes on a large set) it stops the run as Ctrl-C does, not silently.
        # The run's log on stderr: the main process's progress (not `--quiet`), every process's warnings.
        level = logging.INFO if is_main_process() and not args.quiet else logging.WARNING
        with terminate_as_interrupt(), package_log(level):
            run_training(cfg, **options, progress=shows_progress(args))
    except TrainingInterrupted as err:  # every process of a launch stops at this step, with this signal
        if is_main_process():
            print(f"interrupted: {err}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt as stop:
        how, status = stopped_by(stop)
        if is_main_process():
            print(f"{how}: stopped at once; {_checkpoints_left(cfg.train.output_dir)}", file=sys.stderr)
        return status
    except (FileExistsError, FileNotFoundError, ValueError, OSError, MissingExtraError) as err:
        # A checkpoint's collective that lost its peers on a full disk (another process could not write) was taken
        # for this process's own failed write.
        cause = err.__cause__
        lost = isinstance(cause, RuntimeError) and _lost_peer(cause)
        return _user_error(err, 1, _lost_contact(cause) if lost else None)
    except RuntimeError as err:  # another process gone (killed, out of memory): the launcher says which
        if not _lost_peer(err):
            raise
        return _user_error(err, 1, _lost_contact(err))
    return 0


def _lost_contact(err: RuntimeError) -> str:
    """What a process says when the others are gone: the first line of torch's error, without gloo's source path
    and advice."""
    first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
    first = re.sub(r"^\[[^\]]*\]\s*", "", first.split(". This is typically caused")[0].strip())
    return f"lost contact with the other processes ({first})"


def _checkpoints_left(output_dir: str) -> str:
    """What a run stopped at once leaves: its checkpoints, or none (a stop before the first save)."""
    if list_checkpoints(Path(output_dir)):
        return "the checkpoints saved so far are kept (--resume latest)"
    return "no checkpoint was saved yet"


def _lost_peer(err: RuntimeError) -> bool:
    """Whether `err` is a collective failing because another process of the launch is gone: torch's distributed
    errors, and the plain RuntimeError gloo raises through DDP's backward hook (not any error naming gloo / NCCL:
    a CUDA error inside NCCL is this process's own)."""
    from torch.distributed import DistError  # only several processes get here, all of them training

    return launched_processes() > 1 and (
        isinstance(err, DistError) or re.search(r"Connection (reset|closed) by peer|Broken pipe", str(err)) is not None
    )


def exit_status(status: int) -> int:
    """`status`, for the program's own exit (`python -m swinir_hf.train`, `swinir-hf train`). Once a run is complete
    (0: its final model saved), Ctrl-C / SIGTERM during the seconds the interpreter takes to exit are ignored: they
    would report the finished run to a scheduler (or the GPU lease script) as killed by the signal."""
    if status == 0:
        ignore_stop_signals()
    return status


def _user_error(err: Exception, status: int, message: str | None = None) -> int:
    """Print `error: ...` (`message`, else the error's own) and return `status`. Every process of a launch parses the
    same command line and checks the same inputs before the first step, so those errors are printed by the main
    process only; one a process meets once training runs (`RUN_ERROR`) is its own, and printed by it, naming it when
    there are several."""
    process = getattr(err, RUN_ERROR, None)
    if process is None:
        return user_error(message or str(err), status)
    where = f"process {process}: " if launched_processes() > 1 else ""
    print(f"error: {where}{message or err}", file=sys.stderr)
    return status
