"""The demo's command line: `swinir-hf demo`, `python app.py` (the same options), and the Space's entry.

gradio is imported only by `launch`, after the options are checked: it parses GRADIO_SERVER_PORT when imported, so a
bad value would stop the start with its traceback instead of the usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..extras import MissingExtraError, require
from ..help_examples import ExamplesFormatter, with_examples
from ..interrupts import stopped_by, terminate_as_interrupt
from ..models.constants_swinir import env_setting
from ..processes import LaunchParser
from ..storage.atomic_writes import process_tag, remove_dead
from .audience import custom_models_allowed, shares, time_limit_for
from .limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, SPACE_TIME_LIMIT_S
from .local_check import exempt_local_addresses, patient_local_check, proxy_problem

if TYPE_CHECKING:
    import gradio as gr

CUSTOM_MODELS = ("auto", "on", "off")  # --custom-models
# Shipped with the package, so an installed swinir-hf and an assembled Space have them too.
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def _whole_number(low: int, high: int | None = None, variable: str | None = None):
    """An argparse type: a whole number from `low` (to `high`), else argparse's one-line usage error, which names
    the environment `variable` when the value is its."""

    def parse(text: str) -> int:
        source = f" (from {variable})" if variable is not None and os.environ.get(variable) == text else ""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}{source}") from None
        if value < low or (high is not None and value > high):
            bounds = f"≥ {low}" if high is None else f"{low} to {high}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}, not {value}{source}")
        return value

    return parse


def _add_env_number(
    parser: argparse.ArgumentParser,
    flag: str,
    variable: str,
    default: int,
    help: str,
    high: int | None = None,
    low: int = 1,
    metavar: str = "N",
) -> None:
    """Add the option `flag`: a whole number from `low` (to `high`), by default the environment `variable`'s, else
    `default`; its help names the variable."""
    parser.add_argument(
        flag,
        # A string default goes through `type` too, so a bad value of `variable` gets the same message.
        type=_whole_number(low, high, variable),
        default=env_setting(variable, str(default)),
        metavar=metavar,
        help=f"{help} (env {variable}; default: %(default)s)",
    )


def _one_of(values: tuple[str, ...], variable: str):
    """An argparse type: one of `values`, else the one-line usage error, which names the environment `variable` when
    the value is its."""

    def parse(text: str) -> str:
        if text not in values:
            source = f" (from {variable})" if os.environ.get(variable) == text else ""
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(values)}, not {text!r}{source}")
        return text

    return parse


def parse_args(argv: list[str] | None = None, prog: str = "app.py") -> argparse.Namespace:
    parser = LaunchParser(  # as every swinir-hf command's: `--por 7001` is a slip of `--port`, said so
        prog=prog,
        description="SwinIR image restoration demo (Gradio): super-resolution, denoising and JPEG artifact removal.",
        epilog=with_examples("demo"),
        formatter_class=ExamplesFormatter,
    )
    env = env_setting  # a variable set but empty is unset: the option's default
    parser.add_argument(
        "--host",
        metavar="ADDRESS",
        default=env("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on, 0.0.0.0 to serve the network (env GRADIO_SERVER_NAME; default: %(default)s)",
    )
    _add_env_number(parser, "--port", "GRADIO_SERVER_PORT", 7860, "port to listen on", high=65535)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATH",
        help="save_pretrained folder or authors' .pth file to list under its task (repeatable)",
    )
    parser.add_argument(
        "--custom-models",
        # A type, not choices: argparse checks a default (here from the environment) against choices never.
        type=_one_of(CUSTOM_MODELS, "SWINIR_DEMO_CUSTOM_MODELS"),
        metavar="{" + ",".join(CUSTOM_MODELS) + "}",
        default=env("SWINIR_DEMO_CUSTOM_MODELS", "auto"),
        help="let users restore with a model given by path or Hub id, which reads this machine's files: auto = only "
        "when the server listens on this machine alone, not on a Space or a share link (env "
        "SWINIR_DEMO_CUSTOM_MODELS; default: %(default)s)",
    )
    _add_limit_arguments(parser)
    parser.set_defaults(prog=prog)
    args = parser.parse_args(argv)
    if os.environ.get("GRADIO_SERVER_PORT") == "":  # unset, as for --port: gradio's import would fail on int("")
        del os.environ["GRADIO_SERVER_PORT"]
    return args


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that bound the server's load: input size, upload size, a job's time, concurrent jobs and the
    queue."""
    _add_env_number(
        parser, "--max-pixels", "SWINIR_DEMO_MAX_PIXELS", DEFAULT_MAX_PIXELS, "largest accepted input, width × height"
    )
    _add_env_number(
        parser, "--max-upload-mb", "SWINIR_DEMO_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, "largest accepted file, in MiB"
    )
    parser.add_argument(  # its default is the launch's (`time_limit_for`): whether others can reach the server
        "--time-limit",
        type=_whole_number(0, variable="SWINIR_DEMO_TIME_LIMIT"),
        default=env_setting("SWINIR_DEMO_TIME_LIMIT", None),
        metavar="SECONDS",
        help="seconds a restoration may run before it stops with a message, 0: none (env SWINIR_DEMO_TIME_LIMIT; "
        f"default: {SPACE_TIME_LIMIT_S} where others can reach the server, as for --custom-models auto, else none)",
    )
    parser.add_argument(
        "--concurrency",
        type=_whole_number(1),
        default=1,
        metavar="N",
        help="restorations running at once, each on its share of the CPU cores (default: %(default)s)",
    )
    parser.add_argument(
        "--queue-size",
        type=_whole_number(1),
        default=20,
        metavar="N",
        help="jobs waiting at most before new ones are refused (default: %(default)s)",
    )


def own_gradio_cache() -> Path:
    """Point gradio's file cache (GRADIO_TEMP_DIR) at a folder of this process's own, unless one was chosen (not
    one inherited from a demo that started this process), the folders of demos that died removed first → the cache
    folder. gradio names the files it caches by their content, in one folder for all processes, and deletes its own
    at shutdown: stopping one demo deleted another's examples."""
    from .callbacks import OUTPUT_PREFIX

    root, own = Path(tempfile.gettempdir()) / "gradio", f"{OUTPUT_PREFIX}{process_tag()}"
    chosen = os.environ.get("GRADIO_TEMP_DIR")
    name = Path(chosen or "").name
    if chosen and (not name.startswith(OUTPUT_PREFIX) or _is_own(name)):
        return Path(chosen)  # chosen, or this process's own (a private one made beside: `_private_folder`)
    remove_dead(root, OUTPUT_PREFIX)
    folder = _private_folder(root / own)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def _is_own(name: str) -> bool:
    """Whether a folder's `name` is this process's gradio cache (`own_gradio_cache`), or the private one beside it."""
    from .callbacks import OUTPUT_PREFIX

    own = f"{OUTPUT_PREFIX}{process_tag()}"
    return name == own or name.startswith(f"{own}-")


def remove_own_gradio_cache() -> None:
    """Remove this process's gradio cache folder once its server has closed (not one the user chose): gradio deletes
    the files it cached, but left the folder, an empty temporary file per upload and a folder per cached file."""
    chosen = os.environ.get("GRADIO_TEMP_DIR")
    if chosen and _is_own(Path(chosen).name):
        shutil.rmtree(chosen, ignore_errors=True)


def _private_folder(folder: Path) -> Path:
    """`folder`, made this user's alone (mode 0700: it holds every upload and result), or, where it cannot be (a
    link planted at its name, a /tmp/gradio another user made), a new private folder among the temporary files."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not hasattr(os, "geteuid"):  # Windows: no owners to compare, and the temporary folder is the user's own
            return folder
        mine, parent = folder.lstat(), folder.parent.lstat()
        if stat.S_ISDIR(mine.st_mode) and mine.st_uid == os.geteuid():
            # a parent of another user's could swap the folder, unless sticky (as /tmp is)
            if parent.st_uid == os.geteuid() or parent.st_mode & stat.S_ISVTX:
                folder.chmod(0o700)
                return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=f"{folder.name}-"))


def launch(args: argparse.Namespace, on_built: Callable[[gr.Blocks], None] | None = None, **launch_kwargs) -> gr.Blocks:
    """Build, queue and start the app; `on_built(demo)` is called before the start (app.py keeps the demo as its
    `demo` then); extra keyword arguments go to `gr.Blocks.launch`.

    Raises:
        SystemExit: a `--model` that cannot be used, or a host and port the server cannot listen on, with one line
            saying why.
    """
    import gradio as gr

    from .callbacks import RestorationDemo
    from .errors import ModelError
    from .layout import CSS

    own_gradio_cache()
    _usable_proxy(args)  # (again, for a caller of `launch`: the exemption is added once)
    # gradio turns a share link on by itself too (GRADIO_SHARE, Colab, hosted notebooks): decided here, once, so that
    # the custom-models switch sees what gradio then does.
    launch_kwargs["share"] = shares(launch_kwargs.get("share"))
    try:
        app = RestorationDemo(
            max_pixels=args.max_pixels,
            max_upload_mb=args.max_upload_mb,
            concurrency=args.concurrency,
            time_limit_s=time_limit_for(args.time_limit, args.host, launch_kwargs["share"]),
            extra_models=args.model,
            custom_models=custom_models_allowed(args.custom_models, args.host, launch_kwargs["share"]),
            examples_dir=EXAMPLES_DIR if EXAMPLES_DIR.is_dir() else None,
        )
    except ModelError as err:
        raise SystemExit(f"{args.prog}: error: {err}") from None
    demo = app.build()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    if on_built is not None:  # before gradio's launch, whose Spaces reloader looks for the launched demo then
        on_built(demo)
    # System fonts: the default theme fetches web fonts, which an offline machine cannot.
    fonts = {"font": ["ui-sans-serif", "system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}
    theme = gr.themes.Default(**fonts).set(**READABLE_COLOURS)
    with patient_local_check() as why:  # (in a server that blocks, it undoes itself at gradio's check)
        _serve(demo, args, why, theme=theme, css=CSS, max_file_size=app.max_upload_mb * 1024 * 1024, **launch_kwargs)
    if not launch_kwargs.get("prevent_thread_lock"):  # it served until stopped: the server has closed
        app.stop_all()  # the exit waits for running restorations, whose results no one would get
    return demo


def _usable_proxy(args: argparse.Namespace) -> None:
    """Exempt the server's own addresses from the proxy variables set (gradio's start asks the server through httpx,
    which would send that to the proxy), and stop with one line naming them where httpx cannot use them at all."""
    variables = exempt_local_addresses(args.host)
    problem = proxy_problem() if variables else None
    if problem is not None:
        raise SystemExit(
            f"{args.prog}: error: the proxy in {' / '.join(variables)} cannot be used ({problem}): correct it, or "
            "unset it for the demo"
        )


def _serve(demo: gr.Blocks, args: argparse.Namespace, why: list[str], **launch_kwargs) -> None:
    """`demo.launch(...)` on `args`' host and port, its failures to start said in one line (SystemExit); `why` is
    where `patient_local_check` puts why the started server did not answer."""
    import httpx  # gradio's

    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            footer_links=["api"],
            **launch_kwargs,
        )
    except KeyboardInterrupt:
        if demo.local_url is None:  # before the server started (gradio sets it once the server listens)
            raise
        # A second Ctrl-C (or SIGTERM) while gradio closed the server after the first: a stop all the same.
        demo.close()
    except ValueError:  # gradio's blames the proxy settings and asks for share=True, whatever kept the answer
        if not why or demo.share:
            raise
        _unanswered(demo, args, why[0])
    except httpx.HTTPError as err:  # gradio's first request to the started server (its startup events) failed
        if demo.local_url is None or demo.share:
            raise
        _unanswered(demo, args, f"could not be reached ({type(err).__name__}: {err})")
    except OSError:  # gradio's says only that no port in the range was free, and to pass server_port to launch()
        problem = _bind_problem(args.host, args.port)
        if problem is None:
            raise
        raise SystemExit(
            f"{args.prog}: error: cannot listen on {args.host}:{args.port} ({problem}): choose another --port (or "
            "GRADIO_SERVER_PORT), or a --host address of this machine"
        ) from None


# The default theme's colours that fail WCAG AA's 4.5:1 contrast for text (axe-core's color-contrast rule, checked by
# tests/test_app_browser.py): its subdued grey (the tasks' explanations, the upload's "- or -", "Use via API") is
# 1.9:1 on white, and white on its orange Restore button 2.8:1 in light mode (hovered and in dark mode 3.6:1). Now
# 7.7:1, and 5.2:1 (hovered 7.3:1).
READABLE_COLOURS = {
    "body_text_color_subdued": "*neutral_600",  # light mode only: the dark one's is 7.8:1 on its blocks
    "button_primary_background_fill": "*primary_700",
    "button_primary_background_fill_dark": "*primary_700",
    "button_primary_background_fill_hover": "*primary_800",
    "button_primary_background_fill_hover_dark": "*primary_800",
}


def _unanswered(demo: gr.Blocks, args: argparse.Namespace, why: str) -> NoReturn:
    """Close the started `demo`, whose server did not answer on this machine (`why`), and stop with one line."""
    demo.close()  # it listens: left running, it would hold the port (and a test's process) on
    raise SystemExit(
        f"{args.prog}: error: the server started but {demo.local_url} {why}: the machine may be too busy, or "
        "something (a firewall) stops its requests to itself"
    ) from None


def _bind_problem(host: str, port: int) -> str | None:
    """Why nothing can listen on host:port, in the system's words ('Address already in use'), or None."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind(address)
    except OSError as err:
        return err.strerror or str(err)
    return None


def main(
    argv: list[str] | None = None, prog: str = "swinir-hf demo", on_built: Callable[[gr.Blocks], None] | None = None
) -> int:
    """Serve the demo until interrupted (`on_built` as `launch`'s); 1 with one line on stderr where gradio (the demo
    extra) is missing."""
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    # SIGTERM (`timeout`, `docker stop`, a Space's restart) stops the server as Ctrl-C does: gradio's loop takes it,
    # closes the server and returns, so that the exit removes the results folder (SIGTERM's default kill left it).
    try:
        with terminate_as_interrupt():
            _usable_proxy(args)  # before gradio's import, which makes an httpx client: with a SOCKS proxy, it fails
            require("gradio", "demo", prog)  # imports it: seconds
            launch(args, on_built)
            remove_own_gradio_cache()  # served until stopped: no one needs its uploads now
    except MissingExtraError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:  # before the server ran (gradio's loop takes those that come while it serves)
        how, status = stopped_by(stop)
        print(f"{prog}: {how} before the server started", file=sys.stderr)
        return status
    return 0
