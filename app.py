"""SwinIR image restoration demo: `python app.py [--port N]` on localhost, and the same file as a Hugging Face Space.

Models: the package's bundled defaults (offline), the authors' checkpoints by Hub id (downloaded on first use where
the Hub is reachable, else only if cached), and any local `save_pretrained` folder or authors' `.pth` file. The demo
itself lives in `swinir_hf/demo/` (`server` is this command line; `swinir-hf demo` is the same for an installed
package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swinir_hf.demo.server import EXAMPLES_DIR, launch, main, parse_args

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["EXAMPLES_DIR", "launch", "parse_args"]


def _keep_as_demo(blocks: gr.Blocks) -> None:
    """Make the launched demo this module's `demo`: on a Space, gradio's reloader (Dev mode) takes `demo` from
    `__main__` to refresh the page after a code change, and logged that it had none. It is set at launch, not
    built on import (which the tests do), since the command line's options shape it."""
    global demo
    demo = blocks


if __name__ == "__main__":
    raise SystemExit(main(prog="app.py", on_built=_keep_as_demo))
