"""The model code a Hub folder ships for `trust_remote_code=True`: which of the package's modules, the `auto_map` /
`custom_pipelines` entries of the folder's config that point at them, their sources as written into the folder, and
the classes a folder's own copy defines.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from .. import models
from ..console import shown_name
from ..models.code_files_swinir import (
    ENDPOINT_HEADERS,
    MODEL_AUTO_MAP,
    code_header,
    first_line_starts,
    is_swinir_code,
)
from ..models.pipeline_swinir import TASK

_PACKAGE = __package__.split(".")[0]  # "swinir_hf"
# The modules of swinir_hf.models, shipped as remote code; they may import each other (transformers copies relative
# imports) and nothing else of the package.
REMOTE_MODULES = (
    "constants_swinir",
    "moved_swinir",
    "hub_push_swinir",
    "presets_swinir",
    "configuration_swinir",
    "weight_files_swinir",
    "hub_files_swinir",
    "loading_swinir",
    "code_files_swinir",
    "runtime_swinir",
    "memory_swinir",
    "tiling_swinir",
    "windows_swinir",
    "modeling_swinir",
    "frames_swinir",
    "alpha_swinir",
    "pil_images_swinir",
    "pixels_swinir",
    "image_processing_swinir",
    "image_files_swinir",
    "pipeline_swinir",
)
# Hugging Face Inference Endpoints' custom handler, shipped as the folder's root `handler.py` (the name the endpoint's
# toolkit looks for). The toolkit imports it by its path, outside any package: it imports no other shipped module.
HANDLER_MODULE = "handler_swinir"
HANDLER_FILE = "handler.py"
# Inference Endpoints pip-install a repo's root `requirements.txt` before importing its handler: the distributions the
# shipped code imports, at pyproject.toml's ranges (the container's may be older), never torch (the container's build
# matches its CUDA; PyPI's might not).
REQUIREMENTS_FILE = "requirements.txt"
ENDPOINT_PACKAGES = ("transformers", "huggingface_hub", "safetensors", "Pillow", "numpy")
# The first line of each root file the export writes: a save removes such a file only where it starts so (ours), and
# a save of a model loaded from an export copies it (`copy_endpoint_files`).
OWN_HEADERS = ENDPOINT_HEADERS
AUTO_MAP = {**MODEL_AUTO_MAP, "AutoImageProcessor": "image_processing_swinir.SwinIRImageProcessor"}
# `pipeline(TASK, model=folder, trust_remote_code=True)` builds the folder's own pipeline class.
CUSTOM_PIPELINES = {
    TASK: {"impl": "pipeline_swinir.ImageRestorationPipeline", "pt": ["AutoModelForImageToImage"], "type": "image"}
}


class HubExportError(RuntimeError):
    """A checkpoint that cannot be exported, or whose exported folder does not reproduce it."""


def remote_code_sources() -> dict[str, str]:
    """File name → source of the package modules that make a folder loadable with `trust_remote_code=True`, of its
    Inference Endpoints handler (`HANDLER_FILE`) and of the requirements.txt the endpoint installs for them.

    Generated from the installed package, so the Hub copies never drift from it.
    """
    from .. import __version__

    sources = {}
    for module in REMOTE_MODULES:
        source = resources.files(models).joinpath(f"{module}.py").read_text(encoding="utf-8")
        for target in re.findall(r"^\s*from \.(\w*) import", source, flags=re.MULTILINE):
            if target not in REMOTE_MODULES:
                raise HubExportError(f"{module}.py imports .{target}, which is not shipped as remote code")
        sources[f"{module}.py"] = code_header(f"{module}.py", __version__) + source
    source = resources.files(models).joinpath(f"{HANDLER_MODULE}.py").read_text(encoding="utf-8")
    if re.search(r"^\s*from \.", source, flags=re.MULTILINE):
        raise HubExportError(f"{HANDLER_MODULE}.py imports relatively, which its copy as {HANDLER_FILE} cannot")
    header = f"{OWN_HEADERS[HANDLER_FILE]}{__version__}, for Inference Endpoints (edit the package).\n"
    sources[HANDLER_FILE] = header + source
    header = f"{OWN_HEADERS[REQUIREMENTS_FILE]}{__version__} needs, for Inference Endpoints (besides torch).\n"
    sources[REQUIREMENTS_FILE] = header + "".join(f"{line}\n" for line in endpoint_requirements())
    return sources


def endpoint_requirements() -> list[str]:
    """The requirements of `ENDPOINT_PACKAGES` as swinir-hf declares them (pyproject.toml in a checkout, else the
    installed distribution's metadata, which a build makes from it), in `ENDPOINT_PACKAGES`' order."""
    import importlib.metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from ..extras import PACKAGE_PARENT

    pyproject = PACKAGE_PARENT / "pyproject.toml"
    if pyproject.is_file() and sys.version_info >= (3, 11):
        import tomllib

        declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    else:  # a wheel (or Python 3.10, without tomllib): its metadata, extras' requirements left out
        declared = [line for line in importlib.metadata.requires("swinir-hf") or [] if "extra ==" not in line]
    by_name = {canonicalize_name(Requirement(line).name): line.strip() for line in declared}
    missing = [name for name in ENDPOINT_PACKAGES if canonicalize_name(name) not in by_name]
    if missing:
        raise HubExportError(f"swinir-hf declares no requirement for {', '.join(missing)}, which its code imports")
    return [by_name[canonicalize_name(name)] for name in ENDPOINT_PACKAGES]


def written_by_package(path: Path) -> bool:
    """Whether `path`, a root file an export writes, is this package's: its first line is the export's header
    (`OWN_HEADERS`; a model code file's: `is_swinir_code`). A user's own `handler.py`, `requirements.txt` or
    `modeling_swinir.py` is not; other files always are."""
    if path.name in {f"{module}.py" for module in REMOTE_MODULES}:
        return is_swinir_code(path)
    header = OWN_HEADERS.get(path.name)
    return header is None or first_line_starts(path, header)


def folder_classes(folder: Path) -> dict[str, type]:
    """The model, image processor and pipeline classes of a folder's own remote code (not this package's)."""
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    refs = {
        "model": AUTO_MAP["AutoModelForImageToImage"],
        "processor": AUTO_MAP["AutoImageProcessor"],
        "pipeline": CUSTOM_PIPELINES[TASK]["impl"],
    }
    classes = {key: get_class_from_dynamic_module(ref, str(folder)) for key, ref in refs.items()}
    for cls in classes.values():
        if cls.__module__.startswith(_PACKAGE):
            raise HubExportError(
                f"{cls.__name__} came from the installed package, not from {shown_name(folder)}'s code"
            )
    return classes


def drop_remote_module_cache(folder: Path) -> None:
    """transformers caches a local folder's remote code under its name; the staging folder's copy is not needed.

    The name is made a Python identifier first (transformers 5.24: `-` → `_hyphen_`, `.` → `_dot_`, `_` before a
    leading digit), so `swinir_staging_host-12-ab` is cached as `swinir_staging_host_hyphen_12_hyphen_ab`; both
    spellings are removed.
    """
    from transformers.utils import HF_MODULES_CACHE

    identifier = folder.name.replace(".", "_dot_").replace("-", "_hyphen_")
    if identifier[:1].isdigit():
        identifier = f"_{identifier}"
    for name in {folder.name, identifier}:
        shutil.rmtree(Path(HF_MODULES_CACHE) / "transformers_modules" / name, ignore_errors=True)


def endpoint_handler(folder: Path, device: str | None = None) -> Any:
    """The `EndpointHandler` of `folder`'s `handler.py`, imported by its path as the endpoint's toolkit imports it."""
    spec = importlib.util.spec_from_file_location(f"swinir_endpoint_handler_{folder.name}", folder / HANDLER_FILE)
    if spec is None or spec.loader is None:
        raise HubExportError(f"{shown_name(folder / HANDLER_FILE)} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EndpointHandler(str(folder), device=device)
