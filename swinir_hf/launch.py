"""`swinir-hf train` / `restore` / `eval` with `accelerate launch`'s options (`--multi_gpu --num_processes 8`,
`--mixed_precision bf16`, `--config_file FILE`, ...): accelerate's launcher starts the command's module
(`python -m swinir_hf.train` / `swinir_hf.restore` / `swinir_hf.evaluate`) and the command ends as that module does
in one process, with its one-line messages and exit status. `accelerate launch -m MODULE` starts the same processes,
but adds accelerate's and torchrun's tracebacks to every failed or interrupted run, and returns the prompt on a
Ctrl-C while its single process is still saving."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from .inference.launcher_precision import launcher_precision_problem
from .option_guesses import is_option, nearest_option
from .processes import LAUNCHER_PID, TYPED_COMMAND

LAUNCHER_HELP = (
    "accelerate launch's options (--multi_gpu, --num_processes N, --num_machines N, --config_file FILE, ...: "
    "accelerate launch --help) run this under accelerate's launcher, as `accelerate launch -m {module}`; errors and "
    "Ctrl-C end as in one process, without the launcher's tracebacks."
)
# What the command sets for the launcher itself, answers with its own --help, or is its own: `-q` / `--quiet`
# (`console.add_progress_arguments`; the launcher's own `-q` silences tracebacks, and set alone it started a launch).
_NOT_LAUNCHER_OPTIONS = {"-h", "--help", "-m", "--module", "--no_python", "--no-python", "-q", "--quiet"}
# What the single-process launcher passes on (Windows has no SIGHUP).
_PASSED_ON = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _launcher_parser() -> argparse.ArgumentParser:
    """accelerate's `launch` parser, with its errors raised as `ValueError` instead of printed with its usage."""
    from accelerate.commands.launch import launch_command_parser

    parser = launch_command_parser()

    def error(message: str) -> None:
        raise ValueError(f"accelerate launch: {message}")

    parser.error = error  # type: ignore[method-assign]
    return parser


def engine_precision_only(args: argparse.Namespace, dtype_given: bool = False) -> None:
    """Refuse `--mixed_precision` for `restore` / `eval` (`launcher_precision_problem`) before any process starts,
    unless the command's `--dtype` was given (`dtype_given`): then its processes run at it, and say so."""
    if not dtype_given and (problem := launcher_precision_problem(args.mixed_precision)):
        raise ValueError(problem)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of `parser` (`-o`, `--output-dir`, ...): a command's `own` options for `split_arguments`."""
    return {name for action in parser._actions for name in action.option_strings}


def split_arguments(argv: list[str], own: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """A command's arguments → (accelerate launch's options, the command's), each in the order given. An option of
    `accelerate launch --help` (`--num_processes 2`, `--num-processes=2`, `--multi_gpu`) that is not one of the
    command's `own` option strings goes to the launcher, with its value; every other argument to the command."""
    # No launcher option: its parser (accelerate, which imports torch) is not needed. Nor for a slip of an own option
    # (`--tiles`): none of the launcher's is that near one, and the command's usage error says which was meant.
    if all(arg.split("=", 1)[0] in own or nearest_option(arg, own) for arg in argv if is_option(arg)):
        return [], list(argv)
    actions = {
        name: action
        for action in _launcher_parser()._actions
        for name in action.option_strings
        if name not in _NOT_LAUNCHER_OPTIONS and name not in own
    }
    launcher: list[str] = []
    command: list[str] = []
    args = iter(argv)
    for arg in args:
        action = actions.get(arg.split("=", 1)[0]) if is_option(arg) else None
        if action is None:
            command.append(arg)
            continue
        launcher.append(arg)
        if "=" not in arg and action.nargs != 0:  # every launcher option but a flag takes one value
            launcher.extend(_next(args))
    return launcher, command


def _next(args: Iterator[str]) -> list[str]:
    value = next(args, None)
    return [] if value is None else [value]


def launch(
    module: str,
    launcher_argv: list[str],
    argv: list[str],
    check: Callable[[argparse.Namespace], None] | None = None,
    typed: list[str] | None = None,
) -> int:
    """Run `accelerate launch LAUNCHER_ARGV -m MODULE ARGV`; the exit status of MODULE's processes. They print their
    own messages; this prints one only for what they could not say (a process killed by a signal, a launcher that
    could not start them), or for launcher options that `check` refuses (a `ValueError`, before any starts).
    `typed`: the command line as the user typed it, told to the processes (`TYPED_COMMAND`: eval's report)."""
    from accelerate.commands.launch import launch_command
    from torch.distributed import DistError
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError

    try:
        args = _settled(_launcher_parser().parse_args([*launcher_argv, "-m", module, *argv]))
        if check is not None:
            check(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        with _quiet_torchrun(), _single_process_launcher(), _known_to_its_processes(typed):
            launch_command(args)
    except subprocess.CalledProcessError as err:  # the single process's status
        return _status(err.returncode, "the process")
    except ChildFailedError as err:  # torchrun's processes: the first to fail says why
        rank, failure = err.get_first_failure()
        return _status(failure.exitcode, f"process {rank}")
    except SignalException as err:  # torchrun got Ctrl-C / SIGTERM, passed it on and waited for its processes
        return 128 + int(err.sigval)
    except (ValueError, ImportError, RendezvousError, DistError) as err:  # bad options, no DeepSpeed, no peers
        print(f"error: accelerate launch: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    return 0


def _settled(args: argparse.Namespace) -> argparse.Namespace:
    """Without a config file, accelerate's launcher fills in `--num_machines 1`, `--mixed_precision no` and
    `--dynamo_backend no` and warns that it did: for these commands those are the defaults they would choose anyway
    (one machine; the precision and compile of the training config, else none), so they are set here, quietly, and the
    warning is kept for what it says of use (a `--num_processes` taken from the GPU count; `--cpu` alone is one
    process, as accelerate takes it, also set here). On one machine the rendezvous port is any free one
    (`--main_process_port 0`), not accelerate's fixed 29500, which a second run started at the same moment on the
    same machine could not listen on (torchrun's `EADDRINUSE`). With a config file (given, or accelerate's default
    one, which `--cpu` ignores) the unset options come from it, untouched."""
    if config_file_in_effect(args) is not None:
        return args
    cpu = (("num_processes", 1),) if args.cpu else ()
    for name, default in (("num_machines", 1), ("mixed_precision", "no"), ("dynamo_backend", "no"), *cpu):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.num_machines == 1 and args.main_process_port is None:
        args.main_process_port = 0
    return args


def config_file_in_effect(args: argparse.Namespace) -> str | None:
    """The accelerate config file whose values fill in what the launcher options `args` leave unset: the one given
    (`--config_file`), else accelerate's default one where it exists, which `--cpu` ignores; None if neither."""
    from accelerate.commands.config import default_config_file

    if args.config_file is not None:
        return args.config_file
    return default_config_file if os.path.isfile(default_config_file) and not args.cpu else None


def _status(returncode: int, who: str) -> int:
    """A process's exit status as the shell gives it (128 + N when signal N killed it, which it could not report)."""
    if returncode >= 0:
        return returncode
    try:
        name = signal.Signals(-returncode).name
    except ValueError:  # a real-time signal, which has no name
        name = f"signal {-returncode}"
    hint = " (out of memory?)" if name == "SIGKILL" else ""
    print(f"error: {who} was killed by {name}{hint}", file=sys.stderr)
    return 128 - returncode


@contextmanager
def _quiet_torchrun() -> Iterator[None]:
    """torchrun's agent logs every process's failure and each step of a shutdown, with the same facts the processes'
    messages and the exit status give; its loggers set their own level, so each is raised here."""
    import torch.distributed.run  # noqa: F401  (creates the agent's loggers)

    names = [n for n in logging.Logger.manager.loggerDict if n.startswith("torch.distributed")]
    loggers = [logging.getLogger(n) for n in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _known_to_its_processes(typed: list[str] | None) -> Iterator[None]:
    """This launcher's PID in the environment its processes inherit (`LAUNCHER_PID`), so that one started after it
    died stops at once (`stop_with_the_launcher`), and the command line `typed` (`TYPED_COMMAND`; None: none); the
    environment as it was after."""
    import json

    told = {LAUNCHER_PID: str(os.getpid()), TYPED_COMMAND: None if typed is None else json.dumps(typed)}
    before = {name: os.environ.get(name) for name in told}
    try:
        for name, value in told.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in before.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    """Set the environment variable `name` to `value`, or remove it (None)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def _single_process_launcher() -> Iterator[None]:
    """accelerate's launcher for one process, waiting for it through Ctrl-C and SIGTERM (which it passes on)."""
    import accelerate.commands.launch as accelerate_launch

    original = accelerate_launch.simple_launcher  # which `launch_command` calls for one process
    accelerate_launch.simple_launcher = _run_one_process
    try:
        yield
    finally:
        accelerate_launch.simple_launcher = original


def _passing_on(child: subprocess.Popen, windows: bool = os.name == "nt") -> Callable[[int, object], None]:
    """The signal handler that passes a signal on to `child`. On Windows, Ctrl-C is not passed on but waited through:
    there a child shares its console's Ctrl-C (`start_new_session` does nothing), and `send_signal` takes no SIGINT."""

    def pass_on(signum: int, _: object) -> None:
        if not (windows and signum == signal.SIGINT):
            child.send_signal(signum)

    return pass_on


def _run_one_process(args: argparse.Namespace) -> None:
    """What accelerate's `simple_launcher` starts, with what it does not do: SIGINT / SIGTERM / SIGHUP sent to this
    process are passed on, and this process waits until that one has exited. The process runs in a session of its
    own, so that a Ctrl-C reaches it once (from here), not twice (the terminal's, then this one's): a second Ctrl-C
    means "stop now" to the trainer. A failure raises `CalledProcessError`, as accelerate's does."""
    from accelerate.utils import prepare_simple_launcher_cmd_env

    if (args.num_processes or 1) > 1 and args.mpirun_hostfile is None:
        # accelerate's single-process launcher, which `--cpu` (or one GPU) leads to, starts one process whatever
        # `--num_processes` says: the run went on in one, saying "on 1 process".
        raise ValueError(
            f"--num_processes {args.num_processes} without --multi_gpu starts one process: add --multi_gpu (on a "
            "machine without a GPU it starts CPU processes; drop --cpu), or give --num_processes 1"
        )
    cmd, env = prepare_simple_launcher_cmd_env(args)
    child = subprocess.Popen(cmd, env=env, start_new_session=True)
    previous = {signum: signal.signal(signum, _passing_on(child)) for signum in _PASSED_ON}
    try:
        returncode = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, cmd)
