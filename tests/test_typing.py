"""The public API as a type-checking user meets it: the documented calls pass `mypy --strict` with the types they
return (a PIL image in, a PIL image out), and mistakes are caught (a misspelt name was typed `Any` by the package's
lazy `__getattr__`; `from_pretrained` and the pipeline returned `Any`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# What README.md and docs/restoration.md show from Python, annotated as a user's code would be.
DOCUMENTED = """
    from pathlib import Path

    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModel

    from swinir_hf import (
        ImageRestorationOutput,
        ImageRestorationPipeline,
        ImageTooLargeError,
        IncompatibleWeightsError,
        SwinIRConfig,
        SwinIRForImageRestoration,
        SwinIRImageProcessor,
        SwinIRRestorer,
        load_model,
        restore,
    )
    from swinir_hf.degradations import bicubic_downscale, imresize
    from swinir_hf.metrics import psnr

    model = load_model("sr-x4")
    restore(model, Image.open("photo.jpg"), tile="auto").save("out.png")
    width, height = restore(model, Image.open("photo.jpg"), outscale=2).size
    rows: int = restore(model, np.zeros((8, 8, 3), np.uint8)).shape[0]
    either: Image.Image | np.ndarray = restore(model, "scan.png")
    thumbnails: list[Image.Image] = SwinIRRestorer(model, dtype=torch.bfloat16).restore_images([Image.open("a.png")])


    def loaded(folder: Path) -> SwinIRForImageRestoration:
        return SwinIRForImageRestoration.from_pretrained(folder)


    def upscale(m: SwinIRForImageRestoration) -> int:
        config: SwinIRConfig = m.config
        return config.upscale


    def piped(m: SwinIRForImageRestoration, image: Image.Image) -> Image.Image:
        return ImageRestorationPipeline(model=m)(image)


    def images(out: ImageRestorationOutput) -> tuple[Image.Image, np.ndarray]:
        processor = SwinIRImageProcessor()
        return processor.post_process_image_restoration(out)[0], processor.post_process_image_restoration(
            out, output_type="np"
        )[0]


    def score(hr: np.ndarray) -> float:
        return psnr(imresize(bicubic_downscale(hr, 4), 4), hr, crop_border=4)


    try:
        AutoModel.from_pretrained("me/swinir-x4")
    except (ImageTooLargeError, IncompatibleWeightsError) as error:
        print(error)
"""

MISTAKES = """
    import swinir_hf
    from PIL import Image
    from swinir_hf import load_model, restore

    swinir_hf.lod_model("sr-x4")
    size: int = restore(load_model("sr-x4"), Image.new("RGB", (8, 8)))
    swinir_hf.SwinIRRestorer(load_model("sr-x4"), dtype="float64")
"""


def _mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` over `code` as a user's file, the package read as an installed one (its own modules' errors
    are not the user's)."""
    (tmp_path / "user.py").write_text(textwrap.dedent(code))
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n[mypy-swinir_hf.*]\nignore_errors = True\n")
    command = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache")]
    env = os.environ | {"MYPYPATH": str(REPO)}  # an editable install's import hook is invisible to mypy
    return subprocess.run([*command, "user.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_documented_usage_type_checks_and_mistakes_do_not(tmp_path):
    good = _mypy(tmp_path, DOCUMENTED)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _mypy(tmp_path, MISTAKES)
    errors = [line.split(": error: ")[1] for line in bad.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Module has no attribute "lod_model"; maybe "load_model"?  [attr-defined]',
        'Incompatible types in assignment (expression has type "Image", variable has type "int")  [assignment]',
        'Argument "dtype" to "SwinIRRestorer" has incompatible type "Literal[\'float64\']"; expected '
        "\"Literal['auto', 'float32', 'bfloat16', 'float16'] | dtype\"  [arg-type]",
    ], bad.stdout
