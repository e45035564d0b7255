"""The `image-to-image` pipeline: SwinIR models run through the restoration engine (automatic tiling, bounded
memory), and greyscale results come out the right way round."""

from __future__ import annotations

from typing import Any

from PIL import Image
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.image_to_image import ImageToImagePipeline

from .image_processing_swinir import float_to_image
from .modeling_swinir import SwinIRForImageRestoration
from .restoration import SwinIRRestorer


class ImageRestorationPipeline(ImageToImagePipeline):
    """`transformers`' image-to-image pipeline, with SwinIR models run by `SwinIRRestorer` (tile="auto": large
    images are tiled to fit memory) in the precision the model was loaded in (`torch_dtype`, as transformers users
    expect, rather than the engine's `dtype="auto"`), and one fix for every model: the stock post-processing
    transposes single-channel outputs (it squeezes the channel axis, then moves axis 0 last); here (N, C, H, W) →
    PIL images of H × W for any C. Other models run and come out as with the stock pipeline."""

    def _forward(self, model_inputs: Any, **kwargs: Any) -> Any:
        if isinstance(self.model, SwinIRForImageRestoration):
            dtype = str(self.model.dtype).removeprefix("torch.")
            restorer = SwinIRRestorer(self.model, dtype=dtype)  # type: ignore[arg-type]
            return {"reconstruction": restorer.restore_tensor(model_inputs["pixel_values"])}
        return super()._forward(model_inputs, **kwargs)

    def postprocess(self, model_outputs: Any) -> Image.Image | list[Image.Image]:
        recon = model_outputs["reconstruction"].detach().float().cpu().permute(0, 2, 3, 1).numpy()
        images = [float_to_image(r) for r in recon]
        return images if len(images) > 1 else images[0]


def register() -> None:
    """Make `pipeline("image-to-image")` use `ImageRestorationPipeline`."""
    task = PIPELINE_REGISTRY.supported_tasks["image-to-image"]
    if task["impl"] is not ImageRestorationPipeline:
        # Assigning the entry avoids `register_pipeline`'s "overwriting" warning on every import.
        PIPELINE_REGISTRY.supported_tasks["image-to-image"] = {**task, "impl": ImageRestorationPipeline}
