"""Checks of exported Hub folders: that a written folder reproduces the authors' checkpoint (weights bit for bit,
outputs through the package and through the folder's own remote code, the folder's pipeline), that a checkpoint
named like a catalogue release has that release's architecture, and whether an existing folder is this tool's
unedited export of the same weights (and so may be rebuilt without --overwrite).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..console import shown_name
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.runtime_swinir import ENV_CPU_ATTENTION
from .folders import MODEL_FILES
from .remote_code import (
    HANDLER_FILE,
    REQUIREMENTS_FILE,
    HubExportError,
    endpoint_handler,
    folder_classes,
    remote_code_sources,
)

ATOL = 1e-5


def verify_folder(
    folder: Path, reference: SwinIRForImageRestoration, params: Mapping[str, torch.Tensor], atol: float = ATOL
) -> float:
    """Check a written folder against the original: the saved tensors equal `params` exactly; the folder loaded
    with this package and with the folder's own code (its dynamic modules: transformers 5 would otherwise pick
    the classes this package registered) reproduces `reference`'s output on one image; and the folder's own
    pipeline and its Inference Endpoints handler give exactly the package's `restore()` pixels on an RGBA image,
    whole and in tiles (`tile=`); and its requirements.txt admits the versions these checks ran with.

    Returns the largest absolute output difference; raises `HubExportError` on any mismatch.
    """
    from safetensors.torch import load_file

    from ..inference.restoration import restore

    saved = load_file(folder / "model.safetensors")
    if set(saved) != set(params):
        raise HubExportError(f"saved weights have keys {sorted(set(saved) ^ set(params))[:8]} not in the original")
    changed = [k for k, v in saved.items() if not torch.equal(v, params[k].to(v.dtype))]
    if changed:
        raise HubExportError(f"saved weights differ from the original in {changed[:8]}")

    remote = folder_classes(folder)
    # transformers' default dtype ("auto": config.json's), as users load it: float32 like `reference`, whatever the
    # weights' storage precision.
    remote_model = remote["model"].from_pretrained(folder).eval()
    remote_processor = remote["processor"].from_pretrained(folder)
    package_model = SwinIRForImageRestoration.from_pretrained(folder).eval()
    loaded = {str(p.dtype) for m in (remote_model, package_model) for p in m.parameters()}
    if loaded != {"torch.float32"}:
        raise HubExportError(f"the folder loads in {sorted(loaded)} by default, not float32: its config.json's dtype")
    candidates = {"package": package_model, "remote code": remote_model}

    cfg = reference.config
    ws = cfg.window_size
    generator = torch.Generator().manual_seed(0)
    # Odd size: exercises the padding and cropping as well as every layer.
    image = torch.rand(2 * ws + 3, 2 * ws + 5, cfg.num_channels, generator=generator).numpy()
    pixel_values = remote_processor(image, return_tensors="pt")["pixel_values"]
    worst = 0.0
    rgba = (torch.rand(ws + 3, ws + 6, 4, generator=generator) * 255).round().to(torch.uint8).numpy()
    # One CPU attention kernel for all: each copy of the model code times its own choice ("auto"), and the two
    # kernels' float32 outputs differ in the last bits (the card's figure would change from run to run) and may
    # round to 8-bit levels one apart.
    with _pinned_cpu_attention("matmul"):
        with torch.no_grad():
            expected = reference(pixel_values).reconstruction
            for name, model in candidates.items():
                diff = (model(pixel_values).reconstruction - expected).abs().max().item()
                if not diff <= atol:
                    raise HubExportError(
                        f"the folder loaded via {name} differs from the original by {diff:.3g} > {atol}"
                    )
                worst = max(worst, diff)
        pipeline = remote["pipeline"](model=remote_model, image_processor=remote_processor)
        handler = endpoint_handler(folder, device="cpu")
        # Whole, then in one-window tiles (2 × 3 of them, blended): cheap, and every step of the tiled path.
        for parameters in ({}, {"tile": ws}):
            restored = restore(reference, Image.fromarray(rgba), dtype="float32", **parameters)
            said = "".join(f" ({name}={value})" for name, value in parameters.items())
            if not np.array_equal(np.asarray(pipeline(Image.fromarray(rgba), **parameters)), np.asarray(restored)):
                raise HubExportError(
                    f"the folder's own pipeline does not reproduce swinir_hf.restore() on an RGBA image{said}"
                )
            _check_endpoint_handler(handler, Image.fromarray(rgba), restored, parameters)
    _check_requirements(folder)
    return worst


def _check_requirements(folder: Path) -> None:
    """The folder's `requirements.txt` admits the versions installed here, those the checks above ran the folder's
    code with: an endpoint that installs it gets versions of each package at least as new (within the range)."""
    import importlib.metadata

    from packaging.requirements import Requirement

    lines = (folder / REQUIREMENTS_FILE).read_text(encoding="utf-8").splitlines()
    for requirement in (Requirement(line) for line in lines if line.strip() and not line.startswith("#")):
        version = importlib.metadata.version(requirement.name)
        if not requirement.specifier.contains(version, prereleases=True):
            raise HubExportError(
                f"the folder's {REQUIREMENTS_FILE} asks for {requirement}, but it was verified with "
                f"{requirement.name} {version}"
            )


def _check_endpoint_handler(
    handler: Any, image: Image.Image, restored: Image.Image, parameters: dict[str, Any]
) -> None:
    """The folder's `handler` (`endpoint_handler`: its `handler.py`, imported as Inference Endpoints import it, on
    the CPU here) gives `restored` for `image` sent as a PIL image and as a PNG file in base64, with `parameters`."""
    png = io.BytesIO()
    image.save(png, format="PNG")
    said = "".join(f", {name}={value}" for name, value in parameters.items())
    for kind, inputs in (("a PIL image", image), ("a base64 PNG", base64.b64encode(png.getvalue()).decode())):
        served = handler({"inputs": inputs, "parameters": parameters})
        if served.mode != restored.mode or not np.array_equal(np.asarray(served), np.asarray(restored)):
            raise HubExportError(
                f"the folder's {HANDLER_FILE} does not reproduce swinir_hf.restore() on {kind} (RGBA{said})"
            )


@contextlib.contextmanager
def _pinned_cpu_attention(kernel: str) -> Iterator[None]:
    """`SWINIR_CPU_ATTENTION` set to `kernel` (read at each call by the package's and remote code's attention)."""
    before = os.environ.get(ENV_CPU_ATTENTION)
    os.environ[ENV_CPU_ATTENTION] = kernel
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_CPU_ATTENTION]
        else:
            os.environ[ENV_CPU_ATTENTION] = before


def export_files() -> set[str]:
    """The names of the files an export writes (`HubFolder.files()` of a fresh export)."""
    return {*MODEL_FILES, *remote_code_sources()}


def is_export_of(folder: Path, params: Mapping[str, torch.Tensor]) -> bool:
    """Whether `folder` is an export of exactly `params` by this tool: its model.safetensors holds them, its remote
    code is present and it holds no other files than an export's. (`refuse_changed_export` then checks that the
    rest is unedited.)"""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    # (An earlier version's export has no handler or requirements.txt: refused below as another version's, not as no
    # export at all.)
    needed = export_files() - {"README.md", HANDLER_FILE, REQUIREMENTS_FILE}
    if not names <= export_files() or not all((folder / name).is_file() for name in needed):
        return False
    try:
        saved = load_file(folder / "model.safetensors")
    except (OSError, SafetensorError):
        return False
    return set(saved) == set(params) and all(torch.equal(v, params[k].to(v.dtype)) for k, v in saved.items())


def refuse_changed_export(target: Path, staging: Path, repo_id: str, from_folder: bool = False) -> None:
    """Raise `HubExportError` unless every file of `target` (an earlier export of the same weights) equals the fresh
    export in `staging`, so that rebuilding it loses no edits. The card's repo id may differ (a `--dry-run` before
    `--push --org ORG`): the earlier card is compared with its repo ids made `repo_id`. `from_folder`: the export is
    of a model folder, whose own card the fresh one is made from."""
    changed = []
    for path in sorted(target.iterdir()):
        old, new = path.read_bytes(), (staging / path.name).read_bytes()
        if path.name == "README.md":
            name = re.escape(repo_id.rsplit("/", 1)[-1])
            old = re.sub(rf"[\w.-]+/{name}\b".encode(), repo_id.encode(), old)
        if old != new:
            changed.append(path.name)
    if changed:
        raise HubExportError(
            f"{shown_name(target)} holds an export of these weights, but {', '.join(changed)} differ(s) from this "
            "export's (edited, or made with other --eval datasets or another swinir-hf version"
            + (", or the source folder's README.md has changed since" if from_folder else "")
            + "); pass --overwrite to replace it"
        )
