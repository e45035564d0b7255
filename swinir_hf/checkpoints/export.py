"""Hub-ready model folders from the authors' `.pth` releases: safetensors weights, config and processor with
`auto_map`, the model code for `trust_remote_code=True`, and a model card; verified, then optionally pushed.

Each folder is built in a staging folder and only moved into place once (1) every saved tensor equals the
authors' tensor bit for bit and (2) the folder reloaded with this package and with `trust_remote_code` gives the
same output as the model converted straight from the `.pth` on one image.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import models
from ..inference.image_io import left_by_dead_process, process_tag
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.pipeline_swinir import TASK
from .cards import render_model_card
from .catalog import Release, find_release, load_catalog
from .convert import (
    BUFFER_SUFFIXES,
    convert_original_checkpoint,
    extract_state_dict,
    load_state_dict_file,
)
from .folders import MODEL_FILES, push_model_folder, save_model_folder

RELEASE_URL = "https://github.com/JingyunLiang/SwinIR/releases/tag/v0.0"
_PACKAGE = __package__.split(".")[0]  # "swinir_hf"
# The modules of swinir_hf.models, shipped as remote code; they may import each other (transformers copies relative
# imports) and nothing else of the package.
REMOTE_MODULES = ("configuration_swinir", "modeling_swinir", "image_processing_swinir", "pipeline_swinir")
AUTO_MAP = {
    "AutoConfig": "configuration_swinir.SwinIRConfig",
    "AutoModel": "modeling_swinir.SwinIRForImageRestoration",
    "AutoModelForImageToImage": "modeling_swinir.SwinIRForImageRestoration",
    "AutoImageProcessor": "image_processing_swinir.SwinIRImageProcessor",
}
# `pipeline(TASK, model=folder, trust_remote_code=True)` builds the folder's own pipeline class.
CUSTOM_PIPELINES = {
    TASK: {"impl": "pipeline_swinir.ImageRestorationPipeline", "pt": ["AutoModelForImageToImage"], "type": "image"}
}
# Fields a catalogue entry fixes: the file's detected configuration must agree before the entry's card is used.
RELEASE_FIELDS = (
    "task",
    "num_channels",
    "upscale",
    "image_size",
    "embed_dim",
    "depths",
    "num_heads",
    "window_size",
    "mlp_ratio",
    "upsampler",
    "resi_connection",
    "img_range",
)
ATOL = 1e-5
# Staging folders are `swinir_staging_<host>-<pid>-<random>` in the output folder: one left by a killed export is
# recognised by its process id and removed by the next export into that folder.
_STAGING_PREFIX = "swinir_staging_"


class HubExportError(RuntimeError):
    """A checkpoint that cannot be exported, or whose exported folder does not reproduce it."""


@dataclass(frozen=True)
class HubFolder:
    """A verified Hub-ready folder and where it goes."""

    path: Path
    repo_id: str
    source: Path
    release: Release | None
    max_abs_diff: float
    measured_results: dict[str, dict[str, float]] = field(default_factory=dict)

    def files(self) -> list[str]:
        """Relative paths of the files to upload, sorted."""
        return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())


def remote_code_sources() -> dict[str, str]:
    """File name → source of the package modules that make a folder loadable with `trust_remote_code=True`.

    Generated from the installed package, so the Hub copies never drift from it.
    """
    from .. import __version__

    sources = {}
    for module in REMOTE_MODULES:
        source = resources.files(models).joinpath(f"{module}.py").read_text(encoding="utf-8")
        for target in re.findall(r"^\s*from \.(\w*) import", source, flags=re.MULTILINE):
            if target not in REMOTE_MODULES:
                raise HubExportError(f"{module}.py imports .{target}, which is not shipped as remote code")
        header = f"# {module}.py of swinir-hf {__version__}, copied for trust_remote_code=True (edit the package).\n"
        sources[f"{module}.py"] = header + source
    return sources


def measure(model: SwinIRForImageRestoration, datasets: Sequence[str], release: Release | None) -> dict:
    """This package's `evaluate` on each dataset → {dataset: {"psnr", "ssim"[, "psnr_b"]}} in the paper's
    convention (Y channel for super-resolution, the image's own channels otherwise)."""
    from ..evaluation.benchmark import evaluate

    levels = {}
    if release is not None:
        levels = {"noise": release.noise_level, "jpeg": release.jpeg_quality}
    results = {}
    for dataset in datasets:
        try:
            evaluation = evaluate(model, dataset, progress=False, model_name="model", **levels)
        except (ValueError, FileNotFoundError) as err:
            raise HubExportError(f"--eval on {dataset}: {err}") from err
        mean = evaluation.mean("model")
        suffix = "_y" if model.config.upscale > 1 else ""
        figures = {"psnr": mean[f"psnr{suffix}"], "ssim": mean[f"ssim{suffix}"]}
        if f"psnrb{suffix}" in mean:
            figures["psnr_b"] = mean[f"psnrb{suffix}"]
        results[evaluation.dataset] = figures
    return results


def _describe(release: Release | None, checkpoint: Path, max_abs_diff: float) -> tuple[str, str]:
    from .. import __version__

    provenance = (
        f"converted to safetensors with swinir-hf {__version__}; the converted model reproduces the original "
        f"checkpoint's output (max abs difference {max_abs_diff:.1e} on a test image)."
    )
    if release is None:
        title = f"SwinIR {checkpoint.stem}"
        return title, f"SwinIR weights from `{checkpoint.name}`, configuration read off the state dict, {provenance}"
    text = f"The authors' `{release.file}` ([SwinIR release v0.0]({RELEASE_URL})), {provenance}"
    if release.task == "real_sr":
        text += " Trained on synthetic real-world degradations (the BSRGAN degradation model)" + (
            " with perceptual and adversarial losses: sharp, natural-looking output that does not maximise PSNR."
            if release.gan
            else " with the L1 loss only (PSNR-oriented, smoother than the GAN model)."
        )
    return release.title(), text


def _check_release(model: SwinIRForImageRestoration, release: Release, checkpoint: Path) -> None:
    expected = release.config()
    wrong = [
        f"{name} {getattr(model.config, name)!r} (catalogue: {getattr(expected, name)!r})"
        for name in RELEASE_FIELDS
        if getattr(model.config, name) != getattr(expected, name)
    ]
    if wrong:
        raise HubExportError(
            f"{checkpoint} is named like the release {release.file} but its weights do not match it: "
            + ", ".join(wrong)
        )


def verify_folder(
    folder: Path, reference: SwinIRForImageRestoration, params: Mapping[str, torch.Tensor], atol: float = ATOL
) -> float:
    """Check a written folder against the original: the saved tensors equal `params` exactly; the folder loaded
    with this package and with the folder's own code (its dynamic modules: transformers 5 would otherwise pick
    the classes this package registered) reproduces `reference`'s output on one image; and the folder's own
    pipeline gives exactly the package's `restore()` pixels on an RGBA image.

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
    remote_model = remote["model"].from_pretrained(folder).eval()
    remote_processor = remote["processor"].from_pretrained(folder)
    candidates = {"package": SwinIRForImageRestoration.from_pretrained(folder).eval(), "remote code": remote_model}

    cfg = reference.config
    ws = cfg.window_size
    generator = torch.Generator().manual_seed(0)
    # Odd size: exercises the padding and cropping as well as every layer.
    image = torch.rand(2 * ws + 3, 2 * ws + 5, cfg.num_channels, generator=generator).numpy()
    pixel_values = remote_processor(image, return_tensors="pt")["pixel_values"]
    worst = 0.0
    with torch.no_grad():
        expected = reference(pixel_values).reconstruction
        for name, model in candidates.items():
            diff = (model(pixel_values).reconstruction - expected).abs().max().item()
            if not diff <= atol:
                raise HubExportError(f"the folder loaded via {name} differs from the original by {diff:.3g} > {atol}")
            worst = max(worst, diff)

    rgba = (torch.rand(ws + 3, ws + 6, 4, generator=generator) * 255).round().to(torch.uint8).numpy()
    piped = remote["pipeline"](model=remote_model, image_processor=remote_processor)(Image.fromarray(rgba))
    if not np.array_equal(np.asarray(piped), np.asarray(restore(reference, Image.fromarray(rgba), dtype="float32"))):
        raise HubExportError("the folder's own pipeline does not reproduce swinir_hf.restore() on an RGBA image")
    return worst


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
            raise HubExportError(f"{cls.__name__} came from the installed package, not from {folder}'s code")
    return classes


def _drop_remote_module_cache(folder: Path) -> None:
    """transformers caches a local folder's remote code under its name; the staging folder's copy is not needed."""
    from transformers.utils import HF_MODULES_CACHE

    shutil.rmtree(Path(HF_MODULES_CACHE) / "transformers_modules" / folder.name, ignore_errors=True)


def export_checkpoint(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    organization: str | None = None,
    overwrite: bool = False,
    eval_datasets: Sequence[str] = (),
    atol: float = ATOL,
) -> HubFolder:
    """Build and verify the Hub folder `output_dir/<repo name>` of one authors' checkpoint.

    Catalogued files (by file name) get their catalogue repo name and the paper's figures; other files are named
    `swinir-<file stem>` (`-custom` added where that is a catalogue name). A non-empty target folder is replaced
    only with `overwrite` or when it is this tool's unedited export of the same weights (a `--dry-run` before
    `--push`, possibly for another organisation).
    Raises `HubExportError` / `CheckpointError`; nothing is left behind on failure.
    """
    checkpoint = Path(checkpoint)
    release = find_release(checkpoint.name)
    state = extract_state_dict(
        load_state_dict_file(checkpoint), weights_key=release.state_dict_key if release else None
    )
    model = convert_original_checkpoint(state)
    if release is not None:
        _check_release(model, release, checkpoint)
    name = release.repo if release else local_repo_name(checkpoint)
    repo_id = f"{organization or load_catalog().organization}/{name}"
    _check_repo_id(repo_id)
    target = Path(output_dir) / name
    params = {k: v for k, v in state.items() if not k.endswith(BUFFER_SUFFIXES)}
    if target.exists() and any(target.iterdir()) and not overwrite and not is_export_of(target, params):
        raise HubExportError(f"{target} exists and is not empty; pass --overwrite to replace it")
    measured = measure(model, eval_datasets, release) if eval_datasets else {}

    Path(output_dir).mkdir(parents=True, exist_ok=True)
    remove_stale_staging(Path(output_dir))
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{process_tag()}-", dir=output_dir))
    staging.chmod(0o755)  # mkdtemp's 0700 would stick to the published folder
    try:
        model.config.auto_map = dict(AUTO_MAP)
        model.config.custom_pipelines = CUSTOM_PIPELINES
        save_model_folder(staging, model, processor_auto_map={"AutoImageProcessor": AUTO_MAP["AutoImageProcessor"]})
        for file_name, source in remote_code_sources().items():
            (staging / file_name).write_text(source, encoding="utf-8")
        max_abs_diff = verify_folder(staging, model, params, atol)
        card = _release_card(model, repo_id, release, checkpoint, max_abs_diff, measured)
        (staging / "README.md").write_text(card, encoding="utf-8")
        if target.exists() and not overwrite:
            _refuse_changed_export(target, staging, repo_id)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        _drop_remote_module_cache(staging)
        shutil.rmtree(staging, ignore_errors=True)
    return HubFolder(target, repo_id, checkpoint, release, max_abs_diff, measured)


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders in `output_dir` of exports on this host whose process has died (SIGKILL, power
    loss: the `finally` that removes them never ran); a running export's are kept. Returns what was removed."""
    removed = []
    for folder in output_dir.glob(f"{_STAGING_PREFIX}*"):
        if folder.is_dir() and left_by_dead_process(folder.name, _STAGING_PREFIX):
            _drop_remote_module_cache(folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _check_repo_id(repo_id: str) -> None:
    """Refuse a repo id the Hub would reject (a bad `--org`, a file stem too long), before anything is built rather
    than at the push."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubExportError(f"{repo_id!r} is not a valid Hub repo id (check --org): {err}") from err


def _release_card(
    model: SwinIRForImageRestoration,
    repo_id: str,
    release: Release | None,
    checkpoint: Path,
    max_abs_diff: float,
    measured: dict,
) -> str:
    """The model card of an exported checkpoint: the catalogue's facts and the paper's figures for a release."""
    title, description = _describe(release, checkpoint, max_abs_diff)
    return render_model_card(
        model.config,
        model_id=repo_id,
        title=title,
        description=description,
        training_data=release.training_data if release else (),
        paper_results=release.results if release else None,
        measured_results=measured,
        protocol=release.protocol if release else None,
        num_parameters=model.num_parameters(),
        tags=("gan",) if release and release.gan else (),
    )


def local_repo_name(checkpoint: Path) -> str:
    """`swinir-<file stem>` for a file that is not in the catalogue; `-custom` is added when that name is a
    catalogue repo's (`lightweight_sr_x4.pth`), so that a push can never target an authors' release."""
    name = "swinir-" + re.sub(r"[^a-z0-9.]+", "-", checkpoint.stem.lower()).strip("-")
    if name in {release.repo for release in load_catalog().releases}:
        name += "-custom"
    return name


def export_files() -> set[str]:
    """The names of the files an export writes (`HubFolder.files()` of a fresh export)."""
    return {*MODEL_FILES, *remote_code_sources()}


def is_export_of(folder: Path, params: Mapping[str, torch.Tensor]) -> bool:
    """Whether `folder` is an export of exactly `params` by this tool: its model.safetensors holds them, its remote
    code is present and it holds no other files than an export's. (`_refuse_changed_export` then checks that the
    rest is unedited.)"""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    if not names <= export_files() or not all((folder / name).is_file() for name in export_files() - {"README.md"}):
        return False
    try:
        saved = load_file(folder / "model.safetensors")
    except (OSError, SafetensorError):
        return False
    return set(saved) == set(params) and all(torch.equal(v, params[k].to(v.dtype)) for k, v in saved.items())


def _refuse_changed_export(target: Path, staging: Path, repo_id: str) -> None:
    """Raise `HubExportError` unless every file of `target` (an earlier export of the same weights) equals the fresh
    export in `staging`, so that rebuilding it loses no edits. The card's repo id may differ (a `--dry-run` before
    `--push --org ORG`): the earlier card is compared with its repo ids made `repo_id`."""
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
            f"{target} holds an export of these weights, but {', '.join(changed)} differ(s) from this export's "
            "(edited, or made with other --eval datasets or another swinir-hf version); pass --overwrite to replace it"
        )


def push_folder(
    folder: HubFolder, *, private: bool = False, token: str | None = None, dry_run: bool = False
) -> str | None:
    """Create the repo (if needed) and upload the whole folder in one commit; returns the commit URL.
    With `dry_run`, print what would be uploaded and return None."""
    files = folder.files()
    if dry_run:
        size = sum((folder.path / f).stat().st_size for f in files)
        print(f"would push {folder.path} → {folder.repo_id} ({len(files)} files, {size / 1e6:.1f} MB, one commit):")
        for f in files:
            print(f"  {f}")
        return None
    source = folder.release.file if folder.release else folder.source.name
    message = f"SwinIR {source} converted with swinir-hf"
    return push_model_folder(folder.path, folder.repo_id, message, private=private, token=token)
