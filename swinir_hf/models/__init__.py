"""The model layer: exactly the modules a Hub folder ships as remote code (`trust_remote_code=True`).

They import each other and nothing else of `swinir_hf` (tests/test_hub.py checks it): the Hub copies must load
without the package. This file, which the Hub folders do not ship, registers them with transformers' Auto classes
and `pipeline("image-restoration")`: whatever of the package first needs the model layer (or transformers, see
`swinir_hf/__init__.py`) registers it, before anything can use it.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageToImage

from ..checkpoints.bundled import DEFAULTS_DIR
from .configuration_swinir import SwinIRConfig
from .image_processing_swinir import SwinIRImageProcessor
from .modeling_swinir import SwinIRForImageRestoration
from .pipeline_swinir import register as _register_pipeline

AutoConfig.register("swinir", SwinIRConfig, exist_ok=True)
AutoModel.register(SwinIRConfig, SwinIRForImageRestoration, exist_ok=True)
AutoModelForImageToImage.register(SwinIRConfig, SwinIRForImageRestoration, exist_ok=True)
AutoImageProcessor.register(SwinIRConfig, image_processor_classes={"pil": SwinIRImageProcessor}, exist_ok=True)
_register_pipeline(default_model=str(DEFAULTS_DIR / "sr-x4"))  # pipeline("image-restoration"): the bundled x4 model
