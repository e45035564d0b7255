"""SwinIR image restoration as a Hugging Face `transformers` model."""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageToImage

from .checkpoints.convert import CheckpointError, convert_original_checkpoint, detect_config
from .checkpoints.loading import DEFAULTS_DIR
from .inference.memory import tune_allocator
from .inference.restoration import EngineOptions, SwinIRRestorer, restore
from .models.configuration_swinir import PRESETS, TASKS, SwinIRConfig
from .models.image_processing_swinir import SwinIRImageProcessor
from .models.modeling_swinir import ImageRestorationOutput, SwinIRForImageRestoration, SwinIRPreTrainedModel
from .models.pipeline_swinir import ImageRestorationPipeline
from .models.pipeline_swinir import register as _register_pipeline

AutoConfig.register("swinir", SwinIRConfig, exist_ok=True)
AutoModel.register(SwinIRConfig, SwinIRForImageRestoration, exist_ok=True)
AutoModelForImageToImage.register(SwinIRConfig, SwinIRForImageRestoration, exist_ok=True)
AutoImageProcessor.register(SwinIRConfig, image_processor_classes={"pil": SwinIRImageProcessor}, exist_ok=True)
_register_pipeline(default_model=str(DEFAULTS_DIR / "sr-x4"))  # pipeline("image-restoration"): the bundled x4 model

__version__ = "0.1.0"
__all__ = [
    "PRESETS",
    "TASKS",
    "CheckpointError",
    "EngineOptions",
    "ImageRestorationOutput",
    "ImageRestorationPipeline",
    "SwinIRConfig",
    "SwinIRForImageRestoration",
    "SwinIRImageProcessor",
    "SwinIRPreTrainedModel",
    "SwinIRRestorer",
    "convert_original_checkpoint",
    "detect_config",
    "restore",
    "tune_allocator",
]
