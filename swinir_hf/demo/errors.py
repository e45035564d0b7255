"""The demo's kinds of failure: a message for the user (one past the time limit), a model that cannot be used, and
API values that the page's components cannot take (`input_problem`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gradio as gr

from ..checkpoints.loading import missing_path, resolve_spec

# How a client sends a file: a FileData dict, which the server accepts only for its own uploads. gradio_client's
# `handle_file` uploads and writes it; over HTTP (curl, gradio's API page) the caller does both, which the message
# said nothing of: told to use gradio_client, a curl user had no way on.
SEND_FILES = (
    "send files with gradio_client.handle_file(PATH), or over HTTP POST them to /gradio_api/upload and send "
    '{"path": the path it returns, "meta": {"_type": "gradio.FileData"}}'
)


# What the custom model box takes, said where the path typed into it does not exist.
CUSTOM_MODEL_HINT = (
    "enter the path of a local model folder (with config.json) or of an authors' .pth file, or pick a model in the "
    "Model list"
)


def missing_model(path: str) -> str | None:
    """That the custom model `path` is a local path that does not exist (as loading it would say: `missing_path`),
    and what the box takes; None for one that exists or a Hub id: loading it said only "~/x does not exist"."""
    resolved = resolve_spec(path) if path else None
    problem = missing_path(path, resolved) if isinstance(resolved, str) else None
    return None if problem is None else f"{problem}: {CUSTOM_MODEL_HINT}."


def user_error(message: str) -> gr.Error:
    """A message for the user; not a server fault, so no traceback in the server log. It stays on the page until
    closed (gradio's default closes it after 10 s, and the page kept no trace of why nothing happened)."""
    return gr.Error(message, duration=None, print_exception=False)


def time_limit_message(limit_s: float) -> str:
    """What a user whose restoration passed the server's `--time-limit` is told: the limit, and what to do."""
    return (
        f"Stopped: this restoration ran past this server's time limit of {limit_s:g} s. Try a smaller image or fewer "
        "options (no ×8 self-ensemble), or run the demo on your own machine (swinir-hf demo, or python app.py), "
        "which sets no time limit."
    )


class ModelError(ValueError):
    """A model that cannot be used, with one plain line on what is wrong and what to do."""


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def value_problem(component: Any, value: Any) -> str | None:
    """Why `value` cannot go to `component` (what gradio would refuse, or round, with a traceback in the server
    log and no message for the client), or None."""
    if isinstance(component, gr.File):
        sent = isinstance(value, dict) and value.get("meta") == {"_type": "gradio.FileData"}
        if value is None or component.file_count != "single" or (sent and isinstance(value.get("path"), str)):
            return None
        return f"expected a file, not {_shown(value)}: {SEND_FILES}"
    if isinstance(component, (gr.Radio, gr.Dropdown)):
        if value is None or getattr(component, "allow_custom_value", False) or getattr(component, "multiselect", False):
            return None
        choices = [choice for _, choice in component.choices]
        if value in choices and not isinstance(value, (list, dict)):
            return None
        return f"{_shown(value)} is not one of {', '.join(map(repr, choices))}"
    if isinstance(component, (gr.Number, gr.Slider)):
        if value is None and isinstance(component, gr.Number):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"expected a number, not {_shown(value)}"
        if getattr(component, "precision", None) == 0 and value != int(value):
            return f"expected a whole number, not {value!r}"
        low, high = component.minimum, component.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"≥ {low}" if high is None else f"≤ {high}" if low is None else f"{low} to {high}"
            return f"{value!r} is out of range ({bounds})"
        return None
    if isinstance(component, gr.Checkbox) and value is not None and not isinstance(value, bool):
        return f"expected true or false, not {_shown(value)}"
    if isinstance(component, gr.Textbox) and value is not None and not isinstance(value, str):
        return f"expected a string, not {_shown(value)}"
    return None


def _counts_taken(count: int, optional: int) -> str:
    """How many values an endpoint of `count` parameters takes, its last `optional` ones with defaults: "12", "11
    or 12", "10 to 12"."""
    if not optional:
        return str(count)
    return f"{count - optional} {'or' if optional == 1 else 'to'} {count}"


def _parameters(names: list[str], optional: int) -> str:
    """The parameters' names in order, the last `optional` said to have defaults."""
    listed = ", ".join(names)
    if not optional:
        return listed
    later = ", ".join(names[-optional:])
    return f"{listed}; {later} {'has a default' if optional == 1 else 'have defaults'}"


def input_problem(
    api_name: str | None, names: Sequence[str | None], components: Sequence, values: list, optional: int = 0
) -> str | None:
    """Why the values an event received do not fit its input components, in one line naming the parameter as the
    API shows it (`scale: expected a whole number, not 2.5`), or None.

    Args:
        api_name: the event's API name (None for an event without one).
        names: the API's parameter names, one per component (None where gradio has none).
        components: the event's input components (with their current choices).
        values: what the client sent.
        optional: how many of the last parameters may be left out (their defaults taken: `layout.LATER_PARAMETERS`).
    """
    names = [(names[i] if i < len(names) else None) or f"value {i + 1}" for i in range(len(components))]
    if len(values) < len(components):
        endpoint = f"/{api_name}" if api_name else "This event"
        taken = f"{_counts_taken(len(components), optional)} values ({_parameters(names, optional)})"
        return f"{endpoint} takes {taken}, got {len(values)}."
    for name, component, value in zip(names, components, values, strict=False):
        problem = value_problem(component, value)
        if problem:
            return f"{name}: {problem}."
    return None
