"""The Gradio demo that `app.py` serves (needs the `demo` extra: gradio).

Layers, bottom up: `errors`; `menu` (tasks, model entries, `Menu.plan`: what Restore runs); `uploads` (the
uploaded image); `progress` (progress and Cancel through model hooks) and `model_cache`; `callbacks`
(`RestorationDemo`: state and event handlers); `layout` (the page). Nothing else in the package imports it.
"""

from .callbacks import RestorationDemo

__all__ = ["RestorationDemo"]
