"""SwinIR image restoration demo: `python app.py [--port N]` on localhost, and the same file as a Hugging Face Space.

Models: the package's bundled defaults (offline), the authors' checkpoints by Hub id (downloaded on first use where
the Hub is reachable, else only if cached), and any local `save_pretrained` folder or authors' `.pth` file. The demo
itself lives in `swinir_hf/demo/`; this file is its command line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import gradio as gr

from swinir_hf.demo import RestorationDemo
from swinir_hf.demo.callbacks import DEFAULT_MAX_PIXELS
from swinir_hf.demo.errors import ModelError
from swinir_hf.demo.layout import CSS

HERE = Path(__file__).resolve().parent
# In the repo the examples live with the Space files; an assembled Space has them beside app.py.
EXAMPLES_DIR = next((p for p in (HERE / "examples", HERE / "hub" / "space" / "examples") if p.is_dir()), None)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to listen on")
    parser.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")), help="port to listen on")
    parser.add_argument(
        "--model", action="append", default=[], help="local model folder or authors' .pth to add (repeatable)"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=int(env("SWINIR_DEMO_MAX_PIXELS", str(DEFAULT_MAX_PIXELS))),
        help="largest accepted input, width × height (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="restorations running at once, each on its share of the CPU cores"
    )
    parser.add_argument("--queue-size", type=int, default=20, help="jobs waiting at most before new ones are refused")
    return parser.parse_args(argv)


def launch(args: argparse.Namespace, **launch_kwargs) -> gr.Blocks:
    """Build, queue and start the app; extra keyword arguments go to `gr.Blocks.launch`.

    Raises:
        SystemExit: a `--model` that cannot be used, with one line saying why.
    """
    try:
        app = RestorationDemo(
            max_pixels=args.max_pixels,
            concurrency=args.concurrency,
            extra_models=args.model,
            examples_dir=EXAMPLES_DIR,
        )
    except ModelError as err:
        raise SystemExit(f"app.py: error: {err}") from None
    demo = app.build()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    # System fonts: the default theme fetches web fonts, which an offline machine cannot.
    fonts = {"font": ["ui-sans-serif", "system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}
    theme = gr.themes.Default(**fonts)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size="50mb",
        theme=theme,
        css=CSS,
        footer_links=["api"],
        **launch_kwargs,
    )
    return demo


if __name__ == "__main__":
    launch(parse_args())
