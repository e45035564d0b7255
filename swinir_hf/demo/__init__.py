"""The Gradio demo that `swinir-hf demo` and `app.py` serve (needs the `demo` extra: gradio).

Layers, bottom up: `limits` (the defaults; no gradio); `errors`; `menu` (tasks, model entries, `Menu.plan`: what
Restore runs); `uploads` (the uploaded image); `progress` (progress and Cancel through model hooks), `clients` (API
clients gradio gave up on) and `model_cache`; `controls` (the control callbacks) and `callbacks` (`RestorationDemo`:
state, the restoration and Cancel, the control callbacks mixed in); `layout` (the page); `server` (the command line).
Nothing else in the package imports it but the `swinir-hf` command line, which hands `demo` to `server`.
"""

from __future__ import annotations

__all__ = ["RestorationDemo"]


def __getattr__(name: str):
    # Imported on first use, so that `server` can check the command line before gradio is imported.
    if name == "RestorationDemo":
        from .callbacks import RestorationDemo

        return RestorationDemo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
