"""Resolve a model spec (local folder, authors' checkpoint file, catalogue name or Hub repo id) to a loaded model."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..console import shown_name
from ..models.configuration_swinir import CONFIG_ERRORS, SwinIRConfig
from ..models.constants_swinir import TASKS
from ..models.hub_files_swinir import hub_reachable  # defined there: the remote code probes the Hub too
from ..models.hub_push_swinir import network_errors  # defined there: the remote code needs it too
from ..models.loading_swinir import IncompatibleWeightsError, check_finite_weights
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.weight_files_swinir import shard_problem
from ..option_guesses import nearest_choice
from .bundled import DEFAULT_MODEL, DEFAULT_MODELS, DEFAULTS_DIR
from .convert import CheckpointError, convert_original_checkpoint, load_state_dict_file
from .hub_lookup import is_repo_id
from .run_folder import MODEL, is_checkpoint

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


class ModelNotAvailableError(OSError):
    """A Hub model that cannot be fetched (offline, not cached, or no such repo)."""


def load_default(name: str = DEFAULT_MODEL) -> SwinIRForImageRestoration:
    """One of the bundled checkpoints (`DEFAULT_MODELS`), in eval mode, float32; no network needed."""
    if name not in DEFAULT_MODELS:
        raise ValueError(f"unknown bundled model {name!r}; choose one of {sorted(DEFAULT_MODELS)}")
    folder = DEFAULTS_DIR / name
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"bundled model {name!r} is missing from {folder}: reinstall swinir-hf")
    return load_folder(folder)


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def model_folder(source: Path) -> Path:
    """The folder holding the model files of `source`: itself, or the `model/` folder of a checkpoint of
    `swinir_hf.train` (`checkpoints/step-N`, which holds the weights it validated beside its progress.json)."""
    if not (source / "config.json").is_file() and is_checkpoint(source) and (source / MODEL).is_dir():
        return source / MODEL
    return source


def read_model_config(folder: str | os.PathLike) -> dict:
    """The config.json fields of a SwinIR model folder (a training checkpoint's `model/` folder for the checkpoint),
    checked to be loadable without loading it: valid JSON, a SwinIR model, weights beside it.

    Raises:
        CheckpointError: one line naming the problem and what to do.
    """
    import json

    folder = model_folder(Path(folder))
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{shown_name(folder)} is a folder without config.json: not a save_pretrained folder")
    try:
        fields = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"{shown_name(config_file)} is not valid JSON ({err}): fix it or re-export the model"
        ) from err
    if not isinstance(fields, dict):
        raise CheckpointError(f"{shown_name(config_file)} is not a model config (a JSON object): re-export the model")
    # Another architecture's folder would load its shared field names into a SwinIR config, or fail on its weights.
    if (model_type := fields.get("model_type")) not in (None, SwinIRConfig.model_type):
        raise CheckpointError(
            f"{shown_name(folder)} holds a {model_type!r} model (config.json's model_type), not a SwinIR one"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise CheckpointError(
            f"{shown_name(folder)} has a config.json but no weights (model.safetensors): copy the whole "
            "save_pretrained folder"
        )
    return fields


def load_folder(folder: str | os.PathLike) -> SwinIRForImageRestoration:
    """A `save_pretrained` folder, strictly, in eval mode, float32.

    Raises:
        CheckpointError: no / unreadable config.json, no weights file, or weights that do not fit the config
            (missing, unexpected or mis-shaped parameters, named).
    """
    folder = model_folder(Path(folder))
    read_model_config(folder)
    try:
        return _strict(folder, lambda: SwinIRForImageRestoration.from_pretrained(folder, dtype=torch.float32))
    except CheckpointError:
        raise
    except Exception as err:  # torch.load of a damaged .bin fails with almost any exception type
        if why := _unreadable_weights(folder):
            raise CheckpointError(why) from err
        raise


def _unreadable_weights(folder: Path) -> str | None:
    """Why one of `folder`'s weights files (single, or the shards its index names) cannot be read; None if all
    can."""
    import json

    if problem := shard_problem(folder):
        return f"{shown_name(folder)}: {problem}; save or download the model again"
    files = []
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):
            try:
                shards = set(json.loads(path.read_text(encoding="utf-8"))["weight_map"].values())
            except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
                return f"{shown_name(path)} is not a readable weights index (truncated or corrupt?): {err!r}"
            files += [folder / shard for shard in sorted(shards)]
        else:
            files.append(path)
    for path in files:
        try:
            load_state_dict_file(path)
        except CheckpointError as err:
            return str(err)
    return None


def _strict(source: object, load) -> SwinIRForImageRestoration:
    """Run `load()`; weights or a config that do not fit become a `CheckpointError` naming `source`."""
    try:
        return load().eval()
    except IncompatibleWeightsError as err:
        raise CheckpointError(str(err)) from err
    except CONFIG_ERRORS as err:  # SwinIRConfig's own validation of config.json's fields
        message = " ".join(str(err).split())
        raise CheckpointError(f"{shown_name(source)}: its config.json is not a valid SwinIR config: {message}") from err


def resolve_spec(spec: str | os.PathLike) -> str | Path:
    """A local path (if it exists), else the folder of a bundled model (`sr-x4`), else the Hub repo id of a
    catalogue name (`swinir-classical-sr-x4-df2k`) or of the authors' name for its file, without `.pth`
    (`001_classicalSR_DF2K_s64w8_SwinIR-M_x4`), else `spec` itself as a Hub repo id."""
    from .catalog import find_release

    path = Path(spec)
    if path.exists():
        return path
    text = str(spec)
    if text in DEFAULT_MODELS:
        return DEFAULTS_DIR / text
    release = None if "/" in text else find_release(text)
    if release is not None and text in (release.repo, Path(release.file).stem):  # the authors' name for their file
        return release.repo_id()
    return text


def load_model(
    spec: str | os.PathLike,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    weights_key: str | None = None,
) -> SwinIRForImageRestoration:
    """Load a model, in eval mode, from a `save_pretrained` folder, an authors' `.pth` / `.safetensors` file
    (converted on the fly; `weights_key`: its entry holding the weights, found by itself when None), a bundled model
    name (`DEFAULT_MODELS`: `sr-x4`, `real-sr-x4`, ...), a catalogue name (`swinir-classical-sr-x4-df2k`, see
    `swinir_hf.checkpoints.catalog`) or a Hub repo id (`org/name`).

    Raises:
        CheckpointError: a local file that is not a SwinIR checkpoint, a path that does not exist, weights that
            hold NaN or infinite values, a `weights_key` for a model that is no checkpoint file, or an empty `spec`.
        ModelNotAvailableError: a Hub model that cannot be downloaded here, with what to do about it.
    """
    if isinstance(spec, str) and not spec:  # `Path("")` is the current folder: an unset variable loaded that
        raise CheckpointError(
            "the model spec is empty (an unset variable?): give a bundled name (sr-x4), a model folder, an authors' "
            ".pth or a Hub id"
        )
    resolved = resolve_spec(spec)
    if isinstance(resolved, Path) and revision is not None:
        raise CheckpointError(f"{shown_name(spec)} is a local model: a revision is for a Hub model (org/name)")
    is_file = isinstance(resolved, Path) and resolved.is_file()
    if weights_key is not None and not is_file:
        raise CheckpointError(
            f"{shown_name(spec)} is no authors' checkpoint file (.pth / .safetensors): a weights key is for one"
        )
    if is_file:
        return _finite(convert_original_checkpoint(resolved, weights_key), spec)
    if isinstance(resolved, Path):
        return load_folder(resolved)
    if missing := missing_path(spec, resolved):
        raise CheckpointError(missing)
    try:
        return from_hub(resolved, revision=revision, cache_dir=cache_dir)
    except ModelNotAvailableError as err:
        if "/" in str(spec):
            raise ModelNotAvailableError(_nor_local_folder(str(err), spec)) from err
        if misspelt := _misspelt(spec):  # `sr-x5`: not a Hub model to download
            raise ModelNotAvailableError(misspelt) from err
        raise


def unavailable_model(spec: str | os.PathLike) -> str | None:
    """Why `load_model(spec)` would fail, where that shows without loading anything or asking the Hub: a missing
    local path, a misspelt name, a Hub model not in the cache while HF_HUB_OFFLINE is set; else None. For a run
    with nothing left to restore, said before its model loads for its fingerprint (if at all: not when records of
    another model refused every output): a mistyped --model on such a rerun passed unseen."""
    from huggingface_hub import constants

    from .hub_lookup import hub_cached

    resolved = resolve_spec(spec)
    if isinstance(resolved, Path):
        return None
    if problem := missing_path(spec, resolved) or ("/" not in str(spec) and _misspelt(spec)):
        return problem
    if constants.HF_HUB_OFFLINE and not hub_cached(resolved):  # what loading it would say, what to do included
        problem = _not_cached(f"model {resolved!r}", resolved, OFFLINE_SET, None, HUB_MODEL_LOCAL)
        return _nor_local_folder(problem, spec) if "/" in str(spec) else problem
    return None


def _nor_local_folder(problem: str, spec: str | os.PathLike) -> str:
    """`problem` of a Hub id that may have been meant as a local folder (`models/x4`)."""
    return f"{problem} (nor is there a local folder {shown_name(spec)})"


def _finite(model: SwinIRForImageRestoration, source: object) -> SwinIRForImageRestoration:
    """`model`, unless a weight is NaN or infinite (`check_finite_weights`, which `from_pretrained` applies too)."""
    try:
        return check_finite_weights(model, source)
    except IncompatibleWeightsError as err:
        raise CheckpointError(str(err)) from err


def missing_path(spec: str | os.PathLike, resolved: str) -> str | None:
    """That `spec`, resolved to `resolved` (no local file), is a local path that does not exist (`looks_like_path`),
    naming the catalogue name of a release file; else None."""
    from .catalog import find_release

    if not looks_like_path(resolved):
        return None
    hint = ""
    if (release := find_release(Path(resolved).name)) is not None:
        hint = f"; its converted release loads by its catalogue name, {release.repo}"
    return f"{shown_name(spec)} does not exist{hint}"


def _misspelt(spec: str | os.PathLike) -> str | None:
    """That `spec` is a misspelt bundled or catalogue name (`sr-x5`), with the names it may have meant, or a task's
    name (`classical_sr`, as the authors' --task); else None."""
    if str(spec) in TASKS:
        return f"{spec!r} is a task, not a model: `swinir-hf models` lists the models of each task"
    near = _near_name(str(spec))
    if not near or near == str(spec):
        return None
    return (
        f"no model {spec!r} here: did you mean {near}? (`swinir-hf models` lists the names; a Hub model is named "
        "org/name)"
    )


def _near_name(spec: str) -> str | None:
    """The bundled or catalogue model names `spec` may have meant: the names it begins (a catalogue name without its
    training data, `swinir-classical-sr-x2`: its two releases; up to three), else the closest one, if one is close."""
    from .catalog import load_catalog

    names = [*DEFAULT_MODELS, *load_catalog().by_repo()]
    spec = spec.lower()  # the names are lower case: `SR-X4` is `sr-x4`, not a word away from it
    starting = [name for name in names if name.startswith(f"{spec}-")]
    if 0 < len(starting) <= 3:  # more is no suggestion: `swinir-hf models` lists them
        return " or ".join(starting)
    # Stricter than a subcommand's slip: a wrong guess here names a model that is not the one meant.
    return nearest_choice(spec, names, cutoff=0.75)


def looks_like_path(spec: str) -> bool:
    """Whether the model spec `spec` can only be a local path: no repo id, a checkpoint file's suffix, or `models/x4`
    beside an existing `models/` (a typo in a local path)."""
    return (
        not is_repo_id(spec)
        or Path(spec).suffix.lower() in CHECKPOINT_SUFFIXES
        or ("/" in spec and Path(spec).parent.is_dir())
    )


OFFLINE_SET = "HF_HUB_OFFLINE is set"
# What to do instead where OFFLINE_SET is the reason: it is what keeps a machine that can reach the Hub from it.
UNSET_OFFLINE = "unset HF_HUB_OFFLINE if this machine can reach the Hub"
# What a model not in the cache can be given as instead of its repo id.
HUB_MODEL_LOCAL = "a local save_pretrained folder or the authors' .pth file"


def hub_offline() -> str | None:
    """Why the Hub cannot be used here ("HF_HUB_OFFLINE is set", "the Hub cannot be reached"), or None."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return OFFLINE_SET
    return None if hub_reachable() else "the Hub cannot be reached"


def from_hub(
    repo_id: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None
) -> SwinIRForImageRestoration:
    """`from_pretrained` on a Hub repo id, turning network / cache failures into one actionable message.

    Offline (`HF_HUB_OFFLINE=1`) or with the Hub unreachable, only the local cache is used, without retries.
    """
    from huggingface_hub.errors import RepositoryNotFoundError

    offline = hub_offline()
    try:
        model = _strict(
            repo_id,
            lambda: SwinIRForImageRestoration.from_pretrained(
                repo_id,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=offline is not None,
                dtype=torch.float32,  # as from a folder, whatever the repo's config.json says
            ),
        )
    except RepositoryNotFoundError as err:
        raise ModelNotAvailableError(f"no model repository {repo_id!r} on the Hugging Face Hub") from err
    except CheckpointError:
        raise
    except Exception as err:  # a damaged cached file fails in torch.load with almost any exception type
        if why := _damaged_in_cache(repo_id, revision, cache_dir):
            raise CheckpointError(why) from err
        if not isinstance(err, network_errors()):  # OSErrors, and HTTP-client errors of a connection failing midway
            raise
        problem = _not_cached(f"model {repo_id!r}", repo_id, offline, err, HUB_MODEL_LOCAL, revision)
        raise ModelNotAvailableError(problem) from err
    return _finite(model.eval(), repo_id)


def _damaged_in_cache(repo_id: str, revision: str | None, cache_dir: str | os.PathLike | None) -> str | None:
    """What to do about a Hub model whose cached weights cannot be read (an interrupted copy of the cache); None
    when it is not cached or reads."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir, revision=revision)
    if not isinstance(config, str) or not (why := _unreadable_weights(Path(config).parent)):
        return None
    return (
        f"the cached copy of model {repo_id!r} is damaged ({why}): remove it (`hf cache rm model/{repo_id}`) and "
        f"download it again (`hf download {repo_id}`)"
    )


def _not_cached(
    what: str,
    repo_id: str,
    offline: str | None,
    err: BaseException | None,
    local: str = "a local file",
    revision: str | None = None,
) -> str:
    """What to do about `what`, not cached: `offline` is `hub_offline()`'s reason (None: the download failed); a
    `revision` other than main is the one to download (the cache may hold main only)."""
    why = offline or f"downloading it failed ({err})"
    download = repo_id
    if revision not in (None, "main"):
        what, download = f"{what} at revision {revision!r}", f"{repo_id} --revision {revision}"
    return (
        f"{what} is not in the local Hugging Face cache and {why}. Either download it on a machine "
        f"with internet access (`hf download {download}`) and copy the cache (~/.cache/huggingface/"
        "hub, or the folder HF_HOME / HF_HUB_CACHE points to) here"
        + (f"; or {UNSET_OFFLINE}" if offline == OFFLINE_SET else ", then run with HF_HUB_OFFLINE=1")
        + f"; or pass {local} instead of a repo id."
    )


def hub_file(repo_id: str, filename: str, local: str = "a local file") -> Path:
    """One file of a Hub repo (downloaded, or from the cache); offline or with the Hub unreachable, the cache only,
    without retries; the error then offers `local` (what the caller takes instead of a repo id).

    Raises:
        ModelNotAvailableError: the file cannot be had here, with what to do about it.
    """
    from huggingface_hub import hf_hub_download

    offline = hub_offline()
    try:
        return Path(hf_hub_download(repo_id, filename, local_files_only=offline is not None))
    except network_errors() as err:
        raise ModelNotAvailableError(_not_cached(f"{filename} of {repo_id!r}", repo_id, offline, err, local)) from err
