"""SwinIR image restoration demo: `python app.py [--port N]` on localhost, and the same file as a Hugging Face Space.

Models: the package's bundled defaults (offline), the authors' checkpoints by Hub id (downloaded on first use where
the Hub is reachable, else only if cached), and any local `save_pretrained` folder or authors' `.pth` file. The demo
itself lives in `swinir_hf/demo/` (`server` is this command line; `swinir-hf demo` is the same for an installed
package).
"""

from __future__ import annotations

from swinir_hf.demo.server import EXAMPLES_DIR, launch, main, parse_args

__all__ = ["EXAMPLES_DIR", "launch", "parse_args"]

if __name__ == "__main__":
    raise SystemExit(main(prog="app.py"))
