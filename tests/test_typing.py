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


    def images(out: ImageRestorationOutput) -> tuple[Image.Image, np.ndarray, torch.Tensor]:
        processor = SwinIRImageProcessor()
        post_process = processor.post_process_image_restoration
        return post_process(out)[0], post_process(out, output_type="np")[0], post_process(out, output_type="pt")[0]


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


# mypy reads only the packages whose types the documented calls meet (the rest are Any): swinir_hf, numpy, PIL,
# transformers but its ~560 model families (`from transformers import X` read them all: 2282 of the 5585 modules
# read, ~2/3 of the time), torch but its compiler, export and distributed code. Every type the calls below meet was
# compared with `reveal_type` under both settings, and is the same. A class of a skipped module among the public
# classes' bases would make their attributes Any: test_the_public_classes_bases_are_all_type_checked guards that.
FOLLOWED = ["numpy.*", "PIL.*", "torch.*", "transformers.*", "transformers.models", "transformers.models.auto.*"]
SKIPPED = ["transformers.models.*"] + [
    f"torch.{name}.*"
    for name in "_inductor _dynamo _functorch _export export onnx fx distributed ao _higher_order_ops _decomp _refs "
    "_prims jit optim distributions testing utils.data".split()
]
MYPY_INI = f"""
[mypy]
strict = True
follow_imports = skip
[mypy-swinir_hf.*]
follow_imports = normal
ignore_errors = True
[mypy-{",".join(FOLLOWED)}]
follow_imports = normal
[mypy-{",".join(SKIPPED)}]
follow_imports = skip
"""


def _mypy(tmp_path: Path, **files: str) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` over each of `files` ({module name: code}) as a user's file, in one run, the package read as
    an installed one (its own modules' errors are not the user's)."""
    for name, code in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    (tmp_path / "mypy.ini").write_text(MYPY_INI)
    command = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache")]
    env = os.environ | {"MYPYPATH": str(REPO)}  # an editable install's import hook is invisible to mypy
    paths = [f"{name}.py" for name in files]
    return subprocess.run([*command, *paths], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_documented_usage_type_checks_and_mistakes_do_not(tmp_path):
    result = _mypy(tmp_path, documented=DOCUMENTED, mistakes=MISTAKES)
    assert result.returncode == 1 and not result.stderr, result.stdout + result.stderr
    assert "documented.py:" not in result.stdout, result.stdout
    errors = [line.split(": error: ")[1] for line in result.stdout.splitlines() if ": error: " in line]
    assert all(line.startswith("mistakes.py:") for line in result.stdout.splitlines()[:-1]), result.stdout
    assert errors == [
        'Module has no attribute "lod_model"; maybe "load_model"?  [attr-defined]',
        'Incompatible types in assignment (expression has type "Image", variable has type "int")  [assignment]',
        'Argument "dtype" to "SwinIRRestorer" has incompatible type "Literal[\'float64\']"; expected '
        "\"Literal['auto', 'float32', 'bfloat16', 'float16'] | dtype\"  [arg-type]",
    ], result.stdout


def test_the_public_classes_bases_are_all_type_checked():
    """No base of a public class is in a module the type check skips (MYPY_INI): it would be Any there, and so would
    every attribute the class does not define itself (a `config` annotation dropped would go unnoticed)."""
    import swinir_hf

    def skipped(module: str) -> bool:  # by mypy's rule: the most specific pattern that matches wins
        def matches(pattern: str) -> bool:
            return module == pattern or module.startswith(pattern.removesuffix("*"))

        followed = [len(p) for p in ["swinir_hf.*", *FOLLOWED] if matches(p)]
        return not followed or any(matches(p) and len(p) > max(followed) for p in SKIPPED)

    classes = [c for name in swinir_hf.__all__ if isinstance(c := getattr(swinir_hf, name), type)]
    bases = {base.__module__ for c in classes for base in c.__mro__}
    third_party = sorted(m for m in bases if m.split(".")[0] not in {*sys.stdlib_module_names, "swinir_hf"})
    assert "transformers.modeling_utils" in third_party, third_party
    assert not [m for m in third_party if skipped(m)], third_party


def test_every_public_method_and_property_says_what_it_is():
    """`help(SwinIRRestorer)` and an editor's hover show each public member's docstring (inherited ones too):
    `SwinIRRestorer.scale` had none."""
    import inspect

    import swinir_hf

    classes = [c for name in swinir_hf.__all__ if isinstance(c := getattr(swinir_hf, name), type)]
    public = [
        (c, name)
        for c in classes
        if c.__module__.startswith("swinir_hf")
        for name, value in vars(c).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, (property, classmethod, staticmethod)))
    ]
    assert len(public) > 20
    assert [f"{c.__name__}.{name}" for c, name in public if not inspect.getdoc(getattr(c, name))] == []
