"""SwinIR image restoration as a Hugging Face `transformers` model.

`import swinir_hf` loads neither torch nor transformers (the `swinir-hf` command's help and usage errors answer
at once): the public names below load their modules on first use, and SwinIR is registered with transformers'
Auto classes and `pipeline("image-restoration")` before transformers can be used (`registration`).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from .registration import register_with_transformers

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from .checkpoints.convert import CheckpointError, convert_original_checkpoint, detect_config
    from .checkpoints.loading import ModelNotAvailableError, load_model
    from .inference.memory import tune_allocator
    from .inference.restoration import EngineOptions, SwinIRRestorer, restore
    from .models.configuration_swinir import TASKS, SwinIRConfig
    from .models.image_processing_swinir import SwinIRImageProcessor
    from .models.loading_swinir import IncompatibleWeightsError
    from .models.memory_swinir import ImageTooLargeError
    from .models.modeling_swinir import ImageRestorationOutput, SwinIRForImageRestoration, SwinIRPreTrainedModel
    from .models.pipeline_swinir import ImageRestorationPipeline
    from .models.presets_swinir import PRESETS

__version__ = "0.2.0.dev0"
# Public name → the module that defines it (imported on first use).
_MODULES = {
    "CheckpointError": ".checkpoints.convert",
    "convert_original_checkpoint": ".checkpoints.convert",
    "detect_config": ".checkpoints.convert",
    "load_model": ".checkpoints.loading",
    "ModelNotAvailableError": ".checkpoints.loading",
    "tune_allocator": ".inference.memory",
    "EngineOptions": ".inference.restoration",
    "SwinIRRestorer": ".inference.restoration",
    "restore": ".inference.restoration",
    "PRESETS": ".models.presets_swinir",
    "TASKS": ".models.configuration_swinir",
    "SwinIRConfig": ".models.configuration_swinir",
    "SwinIRImageProcessor": ".models.image_processing_swinir",
    "ImageRestorationOutput": ".models.modeling_swinir",
    "ImageTooLargeError": ".models.memory_swinir",
    "IncompatibleWeightsError": ".models.loading_swinir",
    "SwinIRForImageRestoration": ".models.modeling_swinir",
    "SwinIRPreTrainedModel": ".models.modeling_swinir",
    "ImageRestorationPipeline": ".models.pipeline_swinir",
}
__all__ = [
    "PRESETS",
    "TASKS",
    "CheckpointError",
    "EngineOptions",
    "ImageRestorationOutput",
    "ImageRestorationPipeline",
    "ImageTooLargeError",
    "IncompatibleWeightsError",
    "ModelNotAvailableError",
    "SwinIRConfig",
    "SwinIRForImageRestoration",
    "SwinIRImageProcessor",
    "SwinIRPreTrainedModel",
    "SwinIRRestorer",
    "convert_original_checkpoint",
    "detect_config",
    "load_model",
    "restore",
    "tune_allocator",
]


# Not for type checkers: they would take any name for a public one (`swinir_hf.lod_model`, a typo) as Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """`swinir_hf.NAME` and `from swinir_hf import NAME`: the public name, its module imported now. A module of the
        package (`swinir_hf.inference.image_io.read_image` after `import swinir_hf`) is imported on use too, with the
        modules of the public names, whose imports made such paths work when `import swinir_hf` loaded them."""
        if name not in _MODULES and not _is_submodule(name):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # transformers first (every public name's module imports it), holding no import lock of ours: its import
        # registers SwinIR by importing the model layer, so a thread importing transformers meanwhile is waited for,
        # where importing the model layer first would make each thread wait for the other's lock (an import deadlock).
        importlib.import_module("transformers")
        if name in _MODULES:
            value = getattr(importlib.import_module(_MODULES[name], __name__), name)
        else:
            for module in sorted(set(_MODULES.values())):
                importlib.import_module(module, __name__)
            return importlib.import_module(f".{name}", __name__)  # the import binds it here
        globals()[name] = value  # the next look-up is a plain one
        return value


def _is_submodule(name: str) -> bool:
    """Whether `name` is a module of the package (not a data folder such as defaults/, a namespace package)."""
    if name.startswith("_"):  # dunders probed by tools (__wrapped__, ...), private names
        return False
    spec = importlib.util.find_spec(f"{__name__}.{name}")
    return spec is not None and spec.origin is not None


def __dir__() -> list[str]:
    """What tab completion offers: the public names, `__version__` and the package's modules (`loading`, whose
    `load_model` every example starts with, listed before it is imported), not this file's own helpers (`Any`,
    `importlib`, ...). Listed without importing anything."""
    import pkgutil  # here, not at the top: `import swinir_hf` stays as light as the command line needs

    modules = {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}
    return sorted({*__all__, *modules, *(name for name in globals() if name.startswith("__"))})


register_with_transformers()
