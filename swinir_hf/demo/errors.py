"""The demo's two kinds of failure: a message for the user, and a model that cannot be used."""

from __future__ import annotations

import gradio as gr


def user_error(message: str) -> gr.Error:
    """A message for the user; not a server fault, so no traceback in the server log."""
    return gr.Error(message, print_exception=False)


class ModelError(ValueError):
    """A model that cannot be used, with one plain line on what is wrong and what to do."""
