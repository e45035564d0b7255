"""The Hub-ready model folders `swinir-hf hub` builds (what they hold: `export_arguments.DESCRIPTION`), verified,
then optionally pushed.

Each folder is built in a staging folder and only moved into place once (1) every saved tensor equals the
authors' tensor bit for bit and (2) the folder reloaded with this package and with `trust_remote_code` gives the
same output as the model converted straight from the `.pth` on one image (the checks: `verification`; the code
shipped for `trust_remote_code`: `remote_code`; the repo's name: `repo_names`; the card's `--eval` figures:
`measured_results`; the staging folders: `staging`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import HfApi

from ..console import shown_name, some_names
from ..interrupts import signals_deferred
from ..library_bars import transformers_bars_off
from ..models.configuration_swinir import SwinIRConfig
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..storage.atomic_writes import replace_folder, write_error
from ..storage.output_folders import folder_claimed, would_replace
from .cards import hub_card, render_model_card
from .catalog import Release, find_release, load_catalog
from .convert import (
    BUFFER_SUFFIXES,
    check_named_release,
    convert_original_checkpoint,
    extract_state_dict,
    load_state_dict_file,
)
from .folders import in_stored_dtypes, stored_weights, write_model_files
from .hub_licenses import LicenseTerms, license_terms
from .loading import load_folder, model_folder
from .measured_results import labelled, measure
from .remote_code import AUTO_MAP, CUSTOM_PIPELINES, HubExportError, drop_remote_module_cache, remote_code_sources
from .repo_names import check_repo_id, folder_repo_name, hub_repo_id
from .staging import remove_stale_staging, staging_folder
from .verification import ATOL, is_export_of, refuse_changed_export, verify_folder

logger = logging.getLogger(__name__)

RELEASE_URL = "https://github.com/JingyunLiang/SwinIR/releases/tag/v0.0"


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
    repo_id: str | None = None,
    organization: str | None = None,
    overwrite: bool = False,
    eval_datasets: Sequence[str] = (),
    noise: float | None = None,
    jpeg: int | None = None,
    atol: float = ATOL,
    license: str | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
) -> HubFolder:
    """Build and verify the Hub folder `output_dir/<repo name>` of one authors' checkpoint.

    Catalogued files (by file name) get their catalogue repo name and the paper's figures; other files are named
    `swinir-<file stem>` (`-custom` added where that is a catalogue name); `repo_id` overrides both. Each tensor keeps
    its stored precision (`in_stored_dtypes`: a float16 copy's folder is float16, value for value). `eval_datasets`
    are scored at the release's noise level / JPEG quality, for other ×1 checkpoints at `noise` / `jpeg`. A
    non-empty target folder is replaced only with `overwrite` or when it is this tool's unedited export of the same
    weights (a `--dry-run` before `--push`, possibly for another organisation). A release's card states the authors'
    license; another file's, `license` (`render_model_card`'s, with `other` its `license_name` and `license_link`).
    Raises `HubExportError` / `CheckpointError`, or `ValueError` for a license the Hub would not take
    (`hub_licenses.license_terms`), before any work; nothing is left behind on failure.
    """
    checkpoint, terms = Path(checkpoint), license_terms(license, license_name, license_link)
    release = find_release(checkpoint.name)
    if release is not None and terms[0] is not None:  # their weights: the license is theirs to state
        raise HubExportError(
            f"{shown_name(checkpoint.name)} is the authors' release, under their license: drop --license"
        )
    # Where the release keeps them, or at the top level of a copy saved bare (which convert and --model take).
    raw = load_state_dict_file(checkpoint)
    state = extract_state_dict(
        raw, weights_key=release.state_dict_key if release and release.state_dict_key in raw else None
    )
    model = convert_original_checkpoint(state)
    check_named_release(model, checkpoint)
    if repo_id is None:
        repo_id = hub_repo_id(checkpoint, organization)
    check_repo_id(repo_id)
    params = {k: v for k, v in state.items() if not k.endswith(BUFFER_SUFFIXES)}
    levels = release.levels if release else {"noise": noise, "jpeg": jpeg}

    def card(max_abs_diff: float, measured: dict) -> str:
        # A release's figures are measured as the paper's; other files' as `swinir-hf eval` at the levels given.
        protocol = release.protocol if release else _protocol(model.config, noise, jpeg) if measured else None
        return _release_card(model, repo_id, release, checkpoint, max_abs_diff, measured, protocol, terms)

    stored = in_stored_dtypes(model, params)  # a float16 copy's folder stays float16
    build = _Build(checkpoint, stored, model, params, repo_id, card, levels)
    folder, max_abs_diff, measured = build.run(Path(output_dir), overwrite, eval_datasets, atol)
    return HubFolder(folder, repo_id, checkpoint, release, max_abs_diff, measured)


def export_model_folder(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    repo_id: str | None = None,
    organization: str | None = None,
    overwrite: bool = False,
    eval_datasets: Sequence[str] = (),
    noise: float | None = None,
    jpeg: int | None = None,
    atol: float = ATOL,
    license: str | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
) -> HubFolder:
    """Build and verify the Hub folder `output_dir/<repo name>` of a `save_pretrained` folder: a run of
    `swinir_hf.train`, one of its checkpoints (`checkpoints/step-N`), a bundled model. The same files and checks as
    `export_checkpoint`; the weights keep their stored precision (a float16 folder stays float16, value for value).

    The card is the folder's own `README.md` (a training card keeps its recipe and validation curve) with the
    `trust_remote_code=True` usage for the repo (`cards.hub_card`); a folder without a card gets a new one.
    `repo_id` defaults to `organization/<folder_repo_name(source)>`; `eval_datasets` are scored at the model's scale,
    or for a ×1 model at the `noise` σ / `jpeg` quality given; `license` (with `other`, `license_name` and
    `license_link`) is the card's (`hub_card`'s).
    Raises `HubExportError` / `CheckpointError` (not a model folder, weights that do not fit the config), or
    `ValueError` for a license the Hub would not take (`hub_licenses.license_terms`), before any work.
    """
    source, (license, license_name, license_link) = Path(source), license_terms(license, license_name, license_link)
    model_dir = model_folder(source)
    with transformers_bars_off():  # three loads per export, each with its bar, would bury the command's lines
        model = load_folder(model_dir)
    if repo_id is None:
        repo_id = f"{organization or load_catalog().organization}/{folder_repo_name(source)}"
    check_repo_id(repo_id)
    params = stored_weights(model_dir)
    stored = in_stored_dtypes(model, params)
    readme = model_dir / "README.md"
    own_card = readme.read_text(encoding="utf-8") if readme.is_file() else None

    levels = {"noise": noise, "jpeg": jpeg}
    protocol = _protocol(model.config, noise, jpeg)

    def card(max_abs_diff: float, measured: dict) -> str:
        if own_card is not None:
            own = {"measured_results": measured, "protocol": protocol, "license": license}
            own |= {"license_name": license_name, "license_link": license_link}
            return hub_card(own_card, model.config, model_id=repo_id, **own)
        return render_model_card(
            model.config,
            model_id=repo_id,
            title=f"SwinIR {repo_id.rsplit('/', 1)[-1]}",
            description=f"SwinIR weights from the `save_pretrained` folder `{source.name}`, exported with swinir-hf "
            f"(the exported folder reproduces its output, max abs difference {max_abs_diff:.1e} on a test image).",
            measured_results=measured,
            protocol=protocol if measured else None,
            num_parameters=model.num_parameters(),
            license=license,
            license_name=license_name,
            license_link=license_link,
        )

    build = _Build(source, stored, model, params, repo_id, card, levels)
    folder, max_abs_diff, measured = build.run(Path(output_dir), overwrite, eval_datasets, atol)
    return HubFolder(folder, repo_id, source, None, max_abs_diff, measured)


def _protocol(config: SwinIRConfig, noise: float | None, jpeg: int | None) -> str:
    """How `measure` scores a model folder, in the catalogue's words for its kind of task."""
    protocols, grey = load_catalog().protocols, config.num_channels == 1
    if noise is not None:
        return f"{protocols['gray_dn' if grey else 'color_dn']}; sigma {noise:g}"
    if jpeg is not None:
        return f"{protocols['jpeg_car' if grey else 'color_jpeg_car']}; quality {jpeg}"
    return f"{protocols['classical_sr']}; MATLAB-bicubic x{config.upscale} inputs"


def is_model_folder(source: Path) -> bool:
    """Whether `source` is a `save_pretrained` folder or a training checkpoint (`export_model_folder`'s sources)."""
    return source.is_dir() and (model_folder(source) / "config.json").is_file()


@dataclass(frozen=True)
class _Build:
    """What one Hub folder is built from: `source` the file or folder given, `stored` is saved, `reference` (float32)
    is what the saved folder must reproduce, `params` the tensors it must hold exactly, `card(max_abs_diff,
    measured)` its README.md, `levels` the noise level / JPEG quality `--eval` scores at (named in the results)."""

    source: Path
    stored: SwinIRForImageRestoration
    reference: SwinIRForImageRestoration
    params: dict
    repo_id: str
    card: Callable[[float, dict], str]
    levels: dict

    def run(
        self, output_dir: Path, overwrite: bool, eval_datasets: Sequence[str], atol: float
    ) -> tuple[Path, float, dict]:
        """Stage, verify and move the folder into `output_dir/<repo name>` → (folder, max abs diff, measured)."""
        target = output_dir / self.repo_id.rsplit("/", 1)[-1]
        # First, so that an export refused below (the target exists, is in use) removes a killed one's too.
        remove_stale_staging(output_dir)
        # Replacing the target removes it: a run folder with its checkpoints, a bundled model, the .pth given.
        if would_replace(target, self.source):
            raise HubExportError(
                f"{shown_name(target)} is or holds the source {shown_name(self.source)}, which the export would "
                "replace: choose another -o"
            )
        with ExitStack() as held:
            # Held from the checks to the move: a concurrent export of the same name is refused, not mixed with this
            # one, and so is one replacing a folder another run holds (a training's run folder). Exports of other
            # names into -o go on side by side.
            try:
                held.enter_context(folder_claimed(target))
            except ValueError as err:  # held by another run (`FolderInUseError`), or under a file
                raise HubExportError(str(err)) from None
            return self._run_claimed(target, output_dir, overwrite, eval_datasets, atol)

    def _run_claimed(
        self, target: Path, output_dir: Path, overwrite: bool, eval_datasets: Sequence[str], atol: float
    ) -> tuple[Path, float, dict]:
        if target.exists() and any(target.iterdir()) and not overwrite and not is_export_of(target, self.params):
            raise HubExportError(
                f"{shown_name(target)} exists and is not an export of these weights (it holds "
                f"{some_names(sorted(p.name for p in target.iterdir()))}); pass "
                "--overwrite to replace it and everything in it"
            )
        measured = measure(self.reference, eval_datasets, self.levels) if eval_datasets else {}

        staging = staging_folder(output_dir)
        staging.chmod(0o755)  # mkdtemp's 0700 would stick to the published folder
        try:
            self.stored.config.auto_map = dict(AUTO_MAP)
            self.stored.config.custom_pipelines = CUSTOM_PIPELINES
            auto_map = {"AutoImageProcessor": AUTO_MAP["AutoImageProcessor"]}
            for file_name, source in remote_code_sources().items():  # first: the model's save keeps them
                (staging / file_name).write_text(source, encoding="utf-8")
            write_model_files(staging, self.stored, processor_auto_map=auto_map)
            with transformers_bars_off():
                max_abs_diff = verify_folder(staging, self.reference, self.params, atol)
            (staging / "README.md").write_text(self.card(max_abs_diff, measured), encoding="utf-8")
            if target.exists() and not overwrite:
                refuse_changed_export(target, staging, self.repo_id, from_folder=self.source.is_dir())
            _say_removed(target, staging)
            with signals_deferred():  # an earlier export is not removed without the new one taking its place
                replace_folder(staging, target, staging_folder)
        except HubExportError:  # verification's, the refused changed export's
            raise
        except Exception as err:  # a full disk: "cannot write TARGET: No space left on device", not the staging's
            if (failure := write_error(err, target, staging)) is None:
                raise
            raise HubExportError(str(failure)) from err
        finally:
            drop_remote_module_cache(staging)
            shutil.rmtree(staging, ignore_errors=True)
        return target, max_abs_diff, measured


def _say_removed(target: Path, staging: Path) -> None:
    """Warn of what replacing `target` by the export in `staging` removes that is not part of the export: the folder
    is what gets uploaded, so it goes (convert's --overwrite keeps such files), but not unsaid."""
    others = sorted(p.name for p in target.iterdir() if not (staging / p.name).exists()) if target.exists() else []
    if others:
        removed = ", ".join(map(shown_name, others))
        logger.warning(f"--overwrite removes from {shown_name(target)} what is not part of the export: {removed}")


def _release_card(
    model: SwinIRForImageRestoration,
    repo_id: str,
    release: Release | None,
    checkpoint: Path,
    max_abs_diff: float,
    measured: dict,
    protocol: str | None,
    terms: LicenseTerms = (None, None, None),
) -> str:
    """The model card of an exported checkpoint: the catalogue's facts, the paper's figures and the authors' license
    for a release; `protocol`: how the figures were measured; `terms`: another file's license (`license_terms`')."""
    title, description = _describe(release, checkpoint, max_abs_diff)
    return render_model_card(
        model.config,
        model_id=repo_id,
        title=title,
        description=description,
        training_data=release.training_data if release else (),
        # Named with the release's level, as `measure` names the measured figures: "CBSD68 σ15".
        paper_results={labelled(k, release.levels): v for k, v in release.results.items()} if release else None,
        measured_results=measured,
        protocol=protocol,
        num_parameters=model.num_parameters(),
        tags=("gan",) if release and release.gan else (),
        license=terms[0],
        license_name=terms[1],
        license_link=terms[2],
        authors_license=release is not None,
    )


def push_folder(
    folder: HubFolder,
    *,
    private: bool = False,
    token: str | None = None,
    dry_run: bool = False,
    message: str | None = None,
) -> str | None:
    """Create the repo (if needed) and upload the whole folder in one commit (`message`, default: what was
    converted); returns the commit URL. With `dry_run`, print what would be uploaded and return None."""
    files = folder.files()
    if dry_run:
        size = sum((folder.path / f).stat().st_size for f in files)
        what = f"{len(files)} files, {size / 1e6:.1f} MB, one commit"
        print(f"would push {shown_name(folder.path)} → {folder.repo_id} ({what}):")
        for f in files:
            print(f"  {f}")
        return None
    if message is None:
        source = folder.release.file if folder.release else folder.source.name
        message = f"SwinIR {source} exported with swinir-hf"
    api, repo = HfApi(token=token), folder.repo_id
    api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo, folder_path=str(folder.path), repo_type="model", commit_message=message)
    return str(getattr(info, "commit_url", info))
