"""The custom handler of Hugging Face Inference Endpoints for a SwinIR Hub folder, shipped as its root `handler.py`.

The endpoint's toolkit imports this file by its path (not as part of a package: it imports no other file of the
folder itself), builds `EndpointHandler(repo_folder)` once and calls it with each request, `{"inputs": image,
"parameters": {...}}`. The model runs with the folder's own code (config.json's `auto_map` and `custom_pipelines`,
as `trust_remote_code=True` loads it): the swinir-hf package is not needed, and not used where it is installed.

What the toolkit was relied on for (huggingface-inference-toolkit; untested on a real endpoint): a request with an
image body (`Content-Type: image/png`, ...) arrives as a PIL image, converted to RGB; a JSON body's `inputs` as it
was sent, a base64 string here (the toolkit's own media decoding applies to its tasks, not to a custom handler); the
PIL image returned is saved in the format of the request's `Accept` header (`image/png` keeps every mode).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

TASK = "image-restoration"
# What a request's "parameters" may hold: the options of the folder's pipeline that apply to one image (checked there,
# with the pipeline's messages): tiles bound an endpoint's memory for large photos.
PARAMETERS = ("alpha", "tile", "tile_overlap")
_COUNTS = ("tile", "tile_overlap")  # whole numbers of pixels
# The largest input (width × height) a request may send, checked from the image file's header before it is decoded:
# the output is scale² times larger, and a CPU endpoint needs about a minute or more per megapixel. The demo's
# default (swinir_hf.demo.limits.DEFAULT_MAX_PIXELS, which this file, shipped without the package, cannot import);
# the endpoint's owner sets another in the endpoint's environment variables.
DEFAULT_MAX_PIXELS = 1024 * 1024
MAX_PIXELS_VARIABLE = "SWINIR_ENDPOINT_MAX_PIXELS"


class EndpointHandler:
    """Restores the image of each request with the model of the folder `path`, on CUDA where there is one.

    `device` (not given by the toolkit) runs it elsewhere: the export's check runs it on the CPU. An image of more
    than `max_pixels` pixels (`MAX_PIXELS_VARIABLE`, read here, else `DEFAULT_MAX_PIXELS`) is refused.
    """

    def __init__(self, path: str = "", device: str | None = None) -> None:
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        self.max_pixels = max_pixels()  # before the model loads: a wrong setting stops the start at once
        folder = str(Path(path or ".").resolve())
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))

        def own(reference: str) -> type:  # the folder's copy, never a class an installed package registered
            return get_class_from_dynamic_module(reference, folder)

        model = own(config["auto_map"]["AutoModelForImageToImage"]).from_pretrained(folder).eval()
        processor = own(config["auto_map"]["AutoImageProcessor"]).from_pretrained(folder)
        pipeline_class = own(config["custom_pipelines"][TASK]["impl"])
        # The options swinir_hf.restore has and this code does not (outscale, the self-ensemble, ...).
        self.engine_options = set(getattr(sys.modules[pipeline_class.__module__], "ENGINE_OPTIONS", ()))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.pipeline = pipeline_class(model=model, image_processor=processor, device=torch.device(device))

    def __call__(self, data: dict[str, Any]) -> Image.Image:
        """`data["inputs"]`: a PIL image, an image file's bytes or their base64 (a `data:` URI too); returns the
        restored PIL image, of the input's mode with its alpha. Raises ValueError / TypeError for anything else."""
        if not isinstance(data, dict) or "inputs" not in data:
            raise ValueError('a request is {"inputs": image, "parameters": {...}}, got ' + _shown(data))
        others = sorted(set(data) - {"inputs", "parameters"})
        if others:
            raise ValueError(f"a request holds inputs and parameters, not {', '.join(others)}")
        parameters = {} if data.get("parameters") is None else data["parameters"]
        self.check_parameters(parameters)
        # An image body's options come as query parameters (`?tile=512`), which the toolkit passes on as strings;
        # `?tile=none` is JSON's null, the whole image, as the message below, `swinir-hf restore` and the demo say it.
        counts = {k: int(v) for k, v in parameters.items() if k in _COUNTS and isinstance(v, str) and v.isdecimal()}
        if isinstance(tile := parameters.get("tile"), str) and tile.strip().lower() == "none":
            counts["tile"] = None
        return self.pipeline(as_image(data["inputs"], self.max_pixels), **{**parameters, **counts})

    def check_parameters(self, parameters: Any) -> None:
        """Refuse what is not one of `PARAMETERS`, saying why: nothing asked of a request is left undone silently."""
        if not isinstance(parameters, dict):
            raise TypeError(f"parameters must be an object, got {_shown(parameters)}")
        unknown = sorted(set(parameters) - set(PARAMETERS))
        if not unknown:
            return
        message = (
            f"unknown parameter(s) {', '.join(unknown)}: this endpoint takes alpha ('model' or 'bicubic'), tile "
            "(input pixels a tile side; none: whole images) and tile_overlap"
        )
        if set(unknown) & self.engine_options:
            message += (
                "; it restores images with the model code of this repository, which has no outscale, "
                "self-ensemble or precision options (the swinir-hf package's swinir_hf.restore has them)"
            )
        raise ValueError(message)


def max_pixels() -> int:
    """The largest input (width × height) the endpoint takes: `MAX_PIXELS_VARIABLE`'s value, else (unset or empty)
    `DEFAULT_MAX_PIXELS`. Raises ValueError for a value that is not a whole number of at least 1."""
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise ValueError(
            f"{MAX_PIXELS_VARIABLE} must be a whole number of pixels (width × height), at least 1, not {text!r}: "
            f"correct it in the endpoint's settings, or remove it for the default {DEFAULT_MAX_PIXELS:,}"
        )
    return int(text)


def as_image(inputs: Any, limit: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """A request's input as a PIL image of at most `limit` pixels (a file's read from its header, before it is
    decoded). A string is an image file in base64, never a path or URL (which the endpoint would read or fetch
    itself)."""
    if isinstance(inputs, Image.Image):  # decoded by the toolkit already: refused before the model runs
        return _within(inputs, limit)
    if isinstance(inputs, str):
        text = inputs.split(",", 1)[1] if inputs.startswith("data:") else inputs
        try:  # whitespace aside: `base64 FILE` breaks its output into lines
            inputs = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as err:
            message = f"inputs: a string is taken as an image file in base64, and this one is not ({err})"
            raise ValueError(message) from None
    if isinstance(inputs, (bytes, bytearray)):
        try:
            return _within(Image.open(io.BytesIO(inputs)), limit)  # Image.open reads the header only
        except UnidentifiedImageError:
            raise ValueError(f"inputs: not an image file Pillow can read ({len(inputs)} bytes)") from None
        except Image.DecompressionBombError:  # Pillow's own limit, whatever this endpoint's is
            size = f"over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels, more than Pillow decodes"
            raise ValueError(_too_large(size, limit)) from None
    raise TypeError(f"inputs must be an image, its file's bytes or their base64, got {_shown(inputs)}")


def _within(image: Image.Image, limit: int) -> Image.Image:
    """`image`, or ValueError where it has more than `limit` pixels."""
    w, h = image.size
    if w * h > limit:
        raise ValueError(_too_large(f"{w}×{h} = {w * h:,} pixels", limit))
    return image


def _too_large(size: str, limit: int) -> str:
    """The one-line refusal of an image of `size` (exact pixels: rounded megapixels read a 1.05 MP image as 1.0)."""
    return (
        f"inputs: this image is {size}; this endpoint takes up to {limit:,} (width × height): send a smaller or "
        f"cropped image, or, as the endpoint's owner, set {MAX_PIXELS_VARIABLE} higher in its settings"
    )


def _shown(value: Any) -> str:
    """`value` for a message: its type, and a short repr (a request may be megabytes of base64)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
