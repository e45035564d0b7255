"""SwinIR registered with transformers' Auto classes without loading transformers (and torch) on `import swinir_hf`:
at once where transformers is loaded already, else right after its import (a one-shot import hook), so that
`import swinir_hf` then `AutoModel.from_pretrained(folder)` works as before while `swinir-hf --help` loads neither.

The model layer (`swinir_hf.models`, the Hub folders' remote code) cannot register itself: it imports nothing of the
package, and its torch-free module (`constants_swinir`) must stay light to import.
"""

from __future__ import annotations

import copy
import importlib.abc
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

MODEL_LAYER = "swinir_hf.models"
_Run = Callable[[ModuleType], None]  # a loader's exec_module
_lock = threading.Lock()  # guards _AfterTransformers' counts, which threads share


def register() -> None:
    """Register SwinIR's config, model and image processor with transformers' Auto classes, and its pipeline as
    `pipeline("image-restoration")` (the bundled x4 model by default). Imports the model layer (torch,
    transformers); registering again is harmless."""
    config, model, processor, register_pipeline = _model_layer()  # first: see _model_layer
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageToImage

    from .checkpoints.bundled import DEFAULT_MODEL, DEFAULTS_DIR

    AutoConfig.register("swinir", config, exist_ok=True)
    AutoModel.register(config, model, exist_ok=True)
    AutoModelForImageToImage.register(config, model, exist_ok=True)
    AutoImageProcessor.register(config, image_processor_classes={"pil": processor}, exist_ok=True)
    register_pipeline(default_model=str(DEFAULTS_DIR / DEFAULT_MODEL))


def _model_layer() -> tuple[type, type, type, Callable[..., None]]:
    """The model layer's config, model and image processor classes, and its pipeline's `register`.

    Imported before anything else, while `sys.modules["transformers"]` is still the module being imported: another
    thread importing transformers meanwhile waits for that import (this registration included) to end. Importing
    transformers' pipelines replaces that module (transformers' lazy module), and a thread arriving after it would
    go on without waiting, to find SwinIR not yet registered."""
    from .models.configuration_swinir import SwinIRConfig
    from .models.image_processing_swinir import SwinIRImageProcessor
    from .models.modeling_swinir import SwinIRForImageRestoration
    from .models.pipeline_swinir import register as register_pipeline

    return SwinIRConfig, SwinIRForImageRestoration, SwinIRImageProcessor, register_pipeline


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Finds transformers with the other finders and registers SwinIR once its module has run.

    It leaves sys.meta_path when transformers' module runs, not when asked for it: `importlib.util.find_spec(
    "transformers")`, how libraries (accelerate's `is_transformers_available`) ask whether it is installed, asks it
    too, and the spec it gets is never run. Until then it also wraps the model layer's modules: one whose import
    loads transformers is unfinished when transformers' module ends (registering then would find its classes
    missing), so the registration waits for the model-layer modules being imported, in any thread, to end: a
    thread importing transformers while another imports one cannot register (it would wait for that module's import
    lock while its owner waits for transformers', and `import transformers` fail on a partially initialised module),
    and leaves it to that thread."""

    transformers_loaded = False
    importing = 0  # model-layer modules being imported, in all threads (one inside another counts twice)

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "transformers" and not name.startswith(f"{MODEL_LAYER}."):
            return None
        spec = self._find_with_the_others(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        # A copy: a zip's importer is the loader of every module in its folder (each probe would wrap it once more,
        # and it would stay wrapped once this finder is gone); a file's loader is the spec's own.
        spec.loader = copy.copy(spec.loader)
        run = spec.loader.exec_module
        wrapped = self._transformers_then_register if name == "transformers" else self._model_module_then_register
        spec.loader.exec_module = lambda module: wrapped(run, module)  # type: ignore[method-assign]
        return spec

    def _transformers_then_register(self, run: _Run, module: ModuleType) -> None:
        if self in sys.meta_path:  # one shot (unless something replaced sys.meta_path)
            sys.meta_path.remove(self)
        run(module)
        with _lock:
            _AfterTransformers.transformers_loaded = True
            importing = _AfterTransformers.importing
        if not importing:  # else the model-layer module being imported registers when it ends
            register()

    def _model_module_then_register(self, run: _Run, module: ModuleType) -> None:
        with _lock:
            _AfterTransformers.importing += 1
        try:
            run(module)
        finally:
            with _lock:
                _AfterTransformers.importing -= 1
                last = not _AfterTransformers.importing and _AfterTransformers.transformers_loaded
        if last:
            register()

    def _find_with_the_others(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        """The spec the finders after this one give (not importlib.util.find_spec: it would ask this one again)."""
        for finder in list(sys.meta_path):  # another copy's finder too: each asked the other, without end
            find = getattr(finder, "find_spec", None)
            if not _is_ours(finder) and find is not None and (spec := find(name, path, target)) is not None:
                return spec
        return None


def _is_ours(finder: object) -> bool:
    """Whether `finder` is an `_AfterTransformers` of any copy of this module: `importlib.reload`, or a notebook's
    `del sys.modules[...]` of the package and import again, makes a new class, of which the earlier finder is none."""
    return type(finder).__module__ == __name__ and type(finder).__qualname__ == _AfterTransformers.__qualname__


def register_with_transformers() -> None:
    """Register SwinIR now if transformers is loaded, else as soon as it is (by the finder an earlier copy of this
    module inserted, if any: one is enough, and two made `import transformers` a RecursionError)."""
    if "transformers" in sys.modules:
        register()
    elif not any(_is_ours(finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTransformers())
