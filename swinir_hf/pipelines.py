"""The `image-to-image` pipeline, registered so that greyscale models come out the right way round."""

from __future__ import annotations

from typing import Any

from PIL import Image
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.image_to_image import ImageToImagePipeline

from .image_processing_swinir import float_to_image


class ImageRestorationPipeline(ImageToImagePipeline):
    """`transformers`' image-to-image pipeline with one fix: its post-processing transposes single-channel
    outputs (it squeezes the channel axis, then moves axis 0 last); here (N, C, H, W) → PIL images of H × W for
    any C. Results for 3-channel models are unchanged."""

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
