"""The Gradio demo that `swinir-hf demo` and `app.py` serve (needs the `demo` extra: gradio).

Layers, bottom up: `errors`; `menu` (tasks, model entries, `Menu.plan`: what Restore runs); `uploads` (the
uploaded image); `progress` (progress and Cancel through model hooks) and `model_cache`; `callbacks`
(`RestorationDemo`: state and event handlers); `layout` (the page); `server` (the command line). Nothing else in the
package imports it but the `swinir-hf` command line, which hands `demo` to `server`.
"""

from .callbacks import RestorationDemo

__all__ = ["RestorationDemo"]
