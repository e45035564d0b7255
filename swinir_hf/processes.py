"""The processes of a launch (`accelerate launch`, torchrun, `swinir-hf restore` / `train` with launcher options):
how many there are and which is the main one (from the launcher's environment, before any process group exists),
accelerate's state for several of them on a CPU, and work whose failure on one process is raised on every one, so
that none is left waiting for it at the next collective. Restoring collections and training both run on these."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .option_guesses import is_option, nearest_choice, option_guesses

if TYPE_CHECKING:
    from accelerate import PartialState

T = TypeVar("T")
# Set on an exception raised once training runs: the index of the process that raised it (the checks before the
# first step fail alike on every process; a failure during the run is one process's own).
RUN_ERROR = "swinir_process_index"


def launched_processes() -> int:
    """How many processes this one's launch (`accelerate launch`, torchrun) started: its WORLD_SIZE; 1 when not
    launched."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def several_processes_on_cpu(device: str | None = None) -> bool:
    """Whether this is one of several launched processes (`accelerate launch --multi_gpu` / torchrun) that run on
    the CPU: no GPU here, or `device` a CPU. accelerate only picks its multi-CPU (gloo) mode when told to use the
    CPU (`cpu=True`); else each process would think it is alone and do all the work."""
    import torch

    several = launched_processes() > 1
    on_cpu = not torch.cuda.is_available() or (device is not None and torch.device(device).type == "cpu")
    return several and on_cpu


def process_state(device: str | None = None) -> PartialState:
    """This process's `accelerate.PartialState` (multi-CPU where `several_processes_on_cpu(device)`)."""
    from accelerate import PartialState

    return PartialState(cpu=several_processes_on_cpu(device))


# Set by `swinir-hf`'s launcher (`launch.launch`) for the processes it starts: its own PID, their parent's.
LAUNCHER_PID = "SWINIR_LAUNCHER_PID"
# Set by it too: the command line as the user typed it (`swinir-hf eval --num_processes 2 ...`, a JSON list), which
# each process's own arguments lack the launcher's options of.
TYPED_COMMAND = "SWINIR_TYPED_COMMAND"


def typed_command(argv: list[str], prog: str) -> list[str]:
    """The command line this process runs for, as typed: its `swinir-hf` launcher's (`TYPED_COMMAND`), else the
    words of `prog` (`python -m swinir_hf.evaluate`) and this process's `argv`."""
    import json

    launched = os.environ.get(TYPED_COMMAND)
    return json.loads(launched) if launched else [*prog.split(), *argv]


def stop_with_the_launcher() -> None:
    """In a launched process on Linux: be sent SIGTERM (stopping as a scheduler's does) when the launcher that
    started it dies. torchrun and `swinir-hf`'s launcher start each process in a session of its own, so that a
    Ctrl-C reaches it once; a `kill -9` of the launcher therefore reached none, and they went on restoring or
    training, orphaned. A launcher that died before this ran (`LAUNCHER_PID` no longer the parent) stops it now."""
    if not sys.platform.startswith("linux") or not (os.environ.get("LOCAL_RANK") or os.environ.get(LAUNCHER_PID)):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM) != 0:
        return  # a sandbox that refuses prctl: as before
    launcher = os.environ.get(LAUNCHER_PID, "")
    if launcher.isdigit() and os.getppid() != int(launcher):
        os.kill(os.getpid(), signal.SIGTERM)


# Where launchers put a process's rank: torchrun / `accelerate launch`, then MPI (the variables accelerate reads).
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


def is_main_process() -> bool:
    """Whether this is its launch's main process (rank 0; also when not launched), from the launcher's environment:
    known before accelerate's process group exists, and without one. Every process of a launch parses the same
    command line and checks the same inputs, so a user error found there is printed by this process only."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value) == 0
    return True


# How long a process that leaves an error to the main process to say waits before it exits: the launcher stops the
# other processes as soon as one has failed, which could otherwise stop the main process before it has spoken.
MAIN_SPEAKS_S = 5.0


def leave_it_to_the_main_process() -> None:
    """For an error every process of a launch meets alike (a bad command line, a missing folder): the main process
    says it; another one waits (`MAIN_SPEAKS_S`, or until the launcher stops it) before failing silently."""
    if launched_processes() > 1 and not is_main_process():
        time.sleep(MAIN_SPEAKS_S)


def user_error(message: str, status: int = 1) -> int:
    """Print `error: message` (on the main process only: every process of a launch meets the same user error) and
    return the exit `status`."""
    return _said(f"error: {message}", status)


def usage_error(prog: str, message: str) -> int:
    """Print `PROG: error: message`, as argparse says a usage error (on the main process only), and return its exit
    status 2: options that cannot go together, a value out of its range, found once the command line is parsed."""
    return _said(f"{prog}: error: {message}", 2)


def _said(line: str, status: int) -> int:
    """`line` on stderr from the main process of a launch (the others wait for it: `leave_it_to_the_main_process`);
    → `status`."""
    if is_main_process():
        print(line, file=sys.stderr)
    leave_it_to_the_main_process()
    return status


class LaunchParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors (usage and message, exit status 2) only the main process of a launch prints:
    every process parses the same command line. A subcommand's own parser (of this class too) says its errors with
    its own usage: an empty value (an unset shell variable: `restore "$IN"` would read the current folder), and an
    option it does not know. Each error adds, for every option of `other_names` (another tool's) on the command
    line, what it is here."""

    # Options of other tools → what to pass here instead ("--fp32": "--dtype float32"); set per parser.
    other_names: dict[str, str] = {}
    # Options for which an empty value means something (restore's `--suffix ""`: none); set per parser.
    may_be_empty: tuple[str, ...] = ()
    # What to do about words left over once the positional arguments are read (`convert x.pth -o a b`), said in
    # place of "unrecognized arguments"; set per parser, "" for argparse's message.
    extra_words: str = ""
    _intermixing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # argparse took `--over` for `--overwrite`: a slip must not destroy
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 (argparse's signature)
        if self._intermixing:  # one pass of `_parse`'s intermixed reading: argparse's own
            return super().parse_known_args(args, namespace)
        self._given = list(sys.argv[1:] if args is None else args)  # for `error`'s hints
        parsed, extras = self._parse(self._given, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            if action.dest not in self.may_be_empty and (value == "" or (isinstance(value, list) and "" in value)):
                name = "/".join(action.option_strings) or action.metavar or action.dest
                self.error(f"argument {name}: an empty value (an unset shell variable?)")
        if extras and self.extra_words and not any(x.startswith("-") for x in extras):
            self.error(f"too many arguments: {' '.join(extras)}; {self.extra_words}")
        if extras:  # a subcommand's own parser says it, with its usage (not the top level's)
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._slips_hint(extras)}")
        return parsed, extras

    def _parse(self, args: list[str], namespace: argparse.Namespace | None) -> tuple[argparse.Namespace, list[str]]:
        """`args` parsed; for a parser whose positional takes a list (restore's INPUT...), its words may also follow
        options, as cp's and convert's (`restore a.png -o out b.png`), where argparse left them over ("unrecognized
        arguments: b.png"). Read as before wherever that read them all (`--` included); where the intermixed reading
        too leaves words over, those said are argparse's less the inputs: unknown options, each with the words that
        followed it (`--scale 2`: its value)."""
        parsed, extras = super().parse_known_args(args, _copied(namespace))
        if not extras or not any(a.nargs == argparse.ZERO_OR_MORE for a in self._get_positional_actions()):
            return parsed, extras
        self._intermixing = True  # parse_known_intermixed_args's passes call `parse_known_args` (Python < 3.13)
        try:
            intermixed, left = self.parse_known_intermixed_args(args, _copied(namespace))
        finally:
            self._intermixing = False
        if not left:
            return intermixed, left
        return intermixed, [x for i, x in enumerate(extras) if is_option(x) or (i and is_option(extras[i - 1]))]

    def error(self, message: str):
        if is_main_process():
            # Any error, the missing required options too: another tool's options are what was typed instead.
            hints = "".join(f"; {x} is {self.other_names[x]} here" for x in self._other_tools_options())
            message = self._unknown_before_missing(message) + self._dash_value_hint(message)
            super().error(message + self._choice_hint(message) + hints)
        leave_it_to_the_main_process()
        self.exit(2)

    def _other_tools_options(self) -> list[str]:
        """The options of `other_names` on the command line, once each: `--fp32`, `--tile_pad=10`, `-g0` (as -g), but
        not a value (`--suffix -n`)."""
        given = [str(x) for x in getattr(self, "_given", ())]
        found = []
        for i, token in enumerate(given):
            if i and self._takes_one_value(given[i - 1]):
                continue
            name = token.split("=")[0]
            if name not in self.other_names and not token.startswith("--") and token not in self._option_string_actions:
                name = token[:2]  # a short option with its value attached
            if name in self.other_names:
                found.append(name)
        return list(dict.fromkeys(found))

    def _unknown_before_missing(self, message: str) -> str:
        """argparse's "the following arguments are required" `message`, after the unknown options given, which it
        left unsaid (a slip of a required one: `--modle`), with the options they are slips of; another tool's options
        get their own hint (`error`)."""
        if not message.startswith("the following arguments are required"):
            return message
        given = [str(x) for x in getattr(self, "_given", ())]
        given = given[: given.index("--")] if "--" in given else given  # after it, inputs
        known = {*self._option_string_actions, *self.other_names}
        unknown = [x for x in given if x.startswith("--") and x.split("=")[0] not in known]
        if not unknown:
            return message
        return f"unrecognized arguments: {' '.join(unknown)}{self._slips_hint(unknown)}; {message}"

    def _slips_hint(self, extras: list[str]) -> str:
        """For unknown options that are slips of this parser's (`--tiles`, `--batch_size`, `--over`): which."""
        own = [o for o in self._option_string_actions if o.split("=")[0] not in self.other_names]
        guesses = option_guesses((x for x in extras if x.split("=")[0] not in self.other_names), own)
        return f" (did you mean {' / '.join(guesses)}?)" if guesses else ""

    def _choice_hint(self, message: str) -> str:
        """For argparse's "invalid choice" (a subcommand `restre`, `--ext jepg`): the choice it is a slip of."""
        found = re.search(r"invalid choice: (['\"])(.*)\1 \(choose from (.*)\)$", message)
        if not found:
            return ""
        choices = [c.strip().strip("'\"") for c in found[3].split(",")]
        near = nearest_choice(found[2], choices)
        return f"; did you mean {near!r}?" if near else ""

    def _dash_value_hint(self, message: str) -> str:
        """For argparse's "expected one argument" where the value begins with '-' (`--suffix -n`): how to give it."""
        if not message.endswith(": expected one argument"):
            return ""
        named = message.split(":")[0].removeprefix("argument ").split("/")  # "argument -o/--output-dir"
        given = [str(x) for x in getattr(self, "_given", ())]
        for option, value in zip(given, given[1:], strict=False):
            # Not one of this parser's options: then the value itself was left out.
            if option in named and value.startswith("-") and value.split("=")[0] not in self._option_string_actions:
                return f"; a value that begins with '-' is given as {option}={value}"
        return ""

    def _takes_one_value(self, token: str) -> bool:
        action = self._option_string_actions.get(token)
        return action is not None and action.nargs in (None, 1)


def _copied(namespace: argparse.Namespace | None) -> argparse.Namespace | None:
    """A copy of a namespace given to parse into: `LaunchParser._parse` may parse twice."""
    return None if namespace is None else argparse.Namespace(**vars(namespace))


def leave_process_group() -> None:
    """Tear down this process's `torch.distributed` process group, if it has one. A process that exits with it
    standing can abort there ("terminate called without an active exception", from gloo's threads), and the
    launcher then fails the whole launch; so every way out of a launched command calls this."""
    if "torch" not in sys.modules:  # no group without torch; a usage error found before it loads stays quick
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def on_main_process(work: Callable[[], T], main: bool, num_processes: int) -> T | None:
    """`work()` on the main process of a launch (`main`) only; its exception is raised on every process, which all
    call this. Returns `work`'s result on the main process, None on the others.

    Work done by the main process alone (loading a model first, creating the run folder) that fails would leave the
    other processes waiting for it at their next collective, to die there with a communication traceback. Raised
    alike everywhere, it is one user error that the main process reports.
    """
    result, error = _attempt(work) if main else (None, None)
    return _raise_everywhere(result, error, num_processes)


def on_every_process(work: Callable[[], T], num_processes: int) -> T:
    """`work()` on every process of a launch, which all call this. An exception on any of them is raised on every
    one, so that none waits for a failed one at its next collective: a process that failed raises its own, the
    others the lowest failed rank's."""
    return _raise_everywhere(*_attempt(work), num_processes)


def main_first(work: Callable[[], T], state: PartialState) -> T:
    """`work()` on every process of `state` (an `accelerate.PartialState`), the main process first: what it fetches
    (a Hub download) is then in the cache for the others. A failure on any process is raised on every one, and every
    process has returned from `work` before any returns from this."""
    first = on_main_process(work, state.is_main_process, state.num_processes)
    return on_every_process(lambda: first if state.is_main_process else work(), state.num_processes)


def _attempt(work: Callable[[], T]) -> tuple[T | None, Exception | None]:
    try:
        return work(), None
    except Exception as err:  # raised by `_raise_everywhere`, on every process
        return None, err


def _raise_everywhere(result: T, error: Exception | None, num_processes: int) -> T:
    """`result`, unless this process's work raised (then its own error) or, with several processes, another's did
    (then the lowest failed rank's). Every process calls this, failed or not: it is a collective."""
    if num_processes > 1:
        import pickle

        from accelerate.utils import gather_object

        try:
            pickle.loads(pickle.dumps(error))
            shared = error
        except Exception:  # one that does not survive pickling travels as its message
            shared = RuntimeError(f"{type(error).__name__}: {error}")
        gathered = gather_object([shared])  # by every process, the failed ones too
        error = error or next((e for e in gathered if e is not None), None)
    if error is not None:
        raise error
    return result
