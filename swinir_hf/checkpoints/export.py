"""Hub-ready model folders from the authors' `.pth` releases: safetensors weights, config and processor with
`auto_map`, the model code for `trust_remote_code=True`, and a model card; verified, then optionally pushed.

Each folder is built in a staging folder and only moved into place once (1) every saved tensor equals the
authors' tensor bit for bit and (2) the folder reloaded with this package and with `trust_remote_code` gives the
same output as the model converted straight from the `.pth` on one image (the checks: `verification`; the code
shipped for `trust_remote_code`: `remote_code`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..inference.files import left_by_dead_process, process_tag
from ..models.modeling_swinir import SwinIRForImageRestoration
from .cards import render_model_card
from .catalog import Release, find_release, load_catalog
from .convert import (
    BUFFER_SUFFIXES,
    convert_original_checkpoint,
    extract_state_dict,
    load_state_dict_file,
)
from .folders import push_model_folder, save_model_folder
from .remote_code import AUTO_MAP, CUSTOM_PIPELINES, HubExportError, drop_remote_module_cache, remote_code_sources
from .verification import ATOL, check_release, is_export_of, refuse_changed_export, verify_folder

RELEASE_URL = "https://github.com/JingyunLiang/SwinIR/releases/tag/v0.0"
# Staging folders are `swinir_staging_<host>-<pid>-<random>` in the output folder: one left by a killed export is
# recognised by its process id and removed by the next export into that folder. Earlier versions named them
# `swinir_staging_<random>`; <random> is mkdtemp's 8 characters.
_STAGING_PREFIX = "swinir_staging_"
_STAGING_NAME = re.compile(rf"{_STAGING_PREFIX}(?:(?P<host>[^-]+)-\d+-)?[a-z0-9_]{{8}}")


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
        check_release(model, release, checkpoint)
    repo_id = hub_repo_id(checkpoint, organization)
    name = repo_id.split("/")[1]
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
            refuse_changed_export(target, staging, repo_id)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        drop_remote_module_cache(staging)
        shutil.rmtree(staging, ignore_errors=True)
    return HubFolder(target, repo_id, checkpoint, release, max_abs_diff, measured)


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders in `output_dir` of exports on this host whose process has died (SIGKILL, power
    loss: the `finally` that removes them never ran); a running export's are kept, and so is any folder not named
    exactly as mkdtemp names a staging folder (a user's `swinir_staging_<host>-2024-notes`). Returns what was
    removed."""
    removed = []
    for folder in output_dir.glob(f"{_STAGING_PREFIX}*"):
        named = _STAGING_NAME.fullmatch(folder.name) and left_by_dead_process(folder.name, _STAGING_PREFIX)
        if named and folder.is_dir():
            drop_remote_module_cache(folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def unclaimed_staging(output_dir: Path) -> list[Path]:
    """Staging folders in `output_dir` that `remove_stale_staging` leaves because nothing tells them from a running
    export's: another machine's, and those named by swinir-hf versions before the host / pid naming. (This machine's
    are removed or are a running export's; folders not named like a staging folder are never listed.)"""
    here = process_tag().rsplit("-", 1)[0]
    return sorted(
        folder
        for folder in output_dir.glob(f"{_STAGING_PREFIX}*")
        if (match := _STAGING_NAME.fullmatch(folder.name)) and match["host"] != here and folder.is_dir()
    )


def hub_repo_id(checkpoint: Path, organization: str | None = None) -> str:
    """`organization/<repo name>` of a checkpoint's Hub folder (its catalogue name, else `local_repo_name`).

    Raises:
        HubExportError: an id the Hub would reject (a bad organisation, a file stem too long).
    """
    release = find_release(Path(checkpoint).name)
    name = release.repo if release else local_repo_name(Path(checkpoint))
    repo_id = f"{organization or load_catalog().organization}/{name}"
    _check_repo_id(repo_id)
    return repo_id


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
