"""How SwinIR models load and save strictly: stored weights checked against the config before anything is allocated
(their count, dtypes and shards, from the safetensors headers), what `from_pretrained` loaded checked after (missing,
unexpected, mis-shaped or non-finite weights: `IncompatibleWeightsError`), damaged files said in one line. (The code
files a saved folder holds are `code_files_swinir`'s; reading the weights files, `weight_files_swinir`'s; a Hub
model's files, the Hub asked once then the cache alone, `hub_files_swinir`'s.)"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn
from transformers import PreTrainedConfig

from .code_files_swinir import LoadOptions
from .hub_files_swinir import cache_only_offline, hub_folder, not_cached_said
from .moved_swinir import moved_names
from .weight_files_swinir import FLOAT_TENSORS, WEIGHTS_LAYOUTS, inflated_problem, shard_problem, stored_tensors

if TYPE_CHECKING:
    from .modeling_swinir import SwinIRPreTrainedModel
else:  # names that left for modules of their own: a saved folder's code files (after 0.1.0), a Hub model's files and
    # the weights files
    __getattr__ = moved_names(
        __name__,
        dict.fromkeys(
            ("MODEL_AUTO_MAP", "REMOTE_CODE_FIELDS", "code_header", "first_line_starts", "is_swinir_code"),
            "code_files_swinir",
        )
        | dict.fromkeys(("PROBE_TIMEOUT_S", "hub_reachable"), "hub_files_swinir")
        | dict.fromkeys(("replacing_other_layout", "safetensors_files"), "weight_files_swinir"),
    )

_Loaded = TypeVar("_Loaded", bound=nn.Module)  # what is loaded is of the class asked for


class IncompatibleWeightsError(ValueError):
    """Stored weights the model their config.json describes cannot use: missing, unexpected or mis-shaped parameters
    (loading them would give a partly random model), tensors that are not floating point, or NaN / infinite values
    (every output black)."""


def _own_fields(config_class: type[PreTrainedConfig]) -> set[str]:
    """The fields SwinIR's config adds to transformers' generic ones (a load dtype, `output_hidden_states`: they
    shape no weight)."""
    return set(config_class().to_dict()) - set(PreTrainedConfig().to_dict())


def _config_overrides(cls: type[SwinIRPreTrainedModel], kwargs: dict[str, Any]) -> dict[str, Any]:
    """SwinIR's config fields among `from_pretrained`'s keyword arguments, which transformers sets on the config it
    loads (`upscale=2`)."""
    own = _own_fields(cls.config_class)
    return {k: v for k, v in kwargs.items() if k in own}


def _config_not_stored(cls: type[SwinIRPreTrainedModel], source: Any, kwargs: dict[str, Any]) -> bool:
    """Whether `from_pretrained(source, **kwargs)` built its model from another config than `source`'s config.json:
    config fields among `kwargs` (`upscale=2`), or a `config=` that differs from the stored one. The Auto classes
    and the pipeline pass the stored one (as AutoConfig read it, with such fields applied): alike, the folder is
    to blame."""
    if _config_overrides(cls, kwargs):
        return True
    if (given := kwargs.get("config")) is None:
        return False
    where = {k: kwargs[k] for k in ("subfolder", "revision", "cache_dir", "token", "local_files_only") if k in kwargs}
    try:
        stored = cls.config_class.from_pretrained(source, **where)
    except (OSError, ValueError):  # no config.json of its own to blame
        return True
    return any(getattr(given, k, None) != getattr(stored, k) for k in _own_fields(cls.config_class))


def _check_not_a_weights_file(source: str | os.PathLike) -> None:
    """Raise an `OSError` saying what `from_pretrained` takes when `path` is a weights file (an authors' `.pth`, a
    folder's `model.safetensors`) given without a `config`, or a path (`./run`, `/models/x4`) where nothing is:
    transformers reads such a file as a config.json and says only that it "is not a valid JSON file", and takes a
    missing folder for a malformed Hub id."""
    name, path = os.fspath(source), Path(source)
    if not path.exists() and (name.startswith(("/", "./", "../")) or name.count("/") > 1 or "\\" in name):
        raise OSError(f"{name} does not exist (from_pretrained takes a model folder or a Hub id)")
    if path.suffix.lower() not in (".pth", ".pt", ".ckpt", ".bin", ".safetensors"):
        return
    if not path.exists():  # not a Hub id either: told to download it, or that it might be a bundled model's name
        raise OSError(f"{path} does not exist (from_pretrained takes a model folder or a Hub id)")
    if path.is_file():
        raise OSError(
            f"{path} is a weights file, not a model folder: from_pretrained takes the folder that save_pretrained "
            "wrote, or a Hub id; an authors' .pth loads with swinir_hf.load_model(path), or becomes such a "
            "folder with `swinir-hf convert PTH FOLDER`"
        )


def _check_stored_weights(
    cls: type[SwinIRPreTrainedModel], folder: Path, kwargs: dict[str, Any], source: object = None
) -> None:
    """Raise `IncompatibleWeightsError` when a local folder's safetensors weights (read from their headers) or
    pytorch_model.bin (memory-mapped) hold tensors that are not floating point (transformers would cast them and
    load), or when the model the folder loads as (its config.json, or the `config` of `from_pretrained`'s `kwargs`,
    with their config fields applied) is far larger than its weights, before transformers allocates it: an edited or
    damaged config (`upscale` 1000, `embed_dim` 10**6, `depths` [10**6]) would take gigabytes, or end in an
    allocator's traceback, before the mismatch is reported. Folders without config or such weights are left to
    `from_pretrained`. `source`: what the messages name (a Hub id, whose files `folder` holds); default `folder`."""
    source = folder if source is None else source
    if problem := shard_problem(folder) or _bomb_problem(folder):
        raise OSError(f"the weights of {source} cannot be read: {problem}; save or download the model again")
    tensors = stored_tensors(folder)
    if tensors is None:
        return
    _check_floating(source, tensors)
    stored = sum(values for _, values in tensors.values())
    given = kwargs.get("config")
    overrides = _config_overrides(cls, kwargs)
    if given is None and not overrides and not (folder / "config.json").is_file():
        # transformers would build a default-config model (11.5 M parameters) and report its weights as mismatched.
        inner = folder / "model" / "config.json"
        where = f": its model is in {inner.parent} (a training checkpoint's loadable model)" if inner.is_file() else ""
        raise OSError(f"{folder} has weights but no config.json, so it is not a saved model folder{where}")
    try:
        if given is None or isinstance(given, (str, os.PathLike)):
            config = cls.config_class.from_pretrained(folder if given is None else given)
        else:
            config = copy.deepcopy(given)
        for key, value in overrides.items():  # as from_pretrained applies them
            setattr(config, key, value)
    except (OSError, ValueError, TypeError, AttributeError):
        return  # from_pretrained says what is wrong with it
    # Each Swin layer holds at least its attention's four C × C projections: a config of a million layers is refused
    # before its module tree is built (on the meta device still seconds, and gigabytes of Python objects).
    least = config.least_parameters()
    at_least = "at least " if least > 2 * stored else ""
    params: dict[str, int] = {}  # the model's parameters' sizes, by name, once it is built (not when `at_least`)
    try:
        params = {} if at_least else _parameter_sizes(cls, config)
        expected = least if at_least else sum(params.values())
    except ValueError:  # a setting refused as such (attn_implementation="flash_attention_2"): from_pretrained says it
        return
    except (RuntimeError, OverflowError) as err:
        expected, why = None, str(err).splitlines()[0] if str(err) else type(err).__name__
    else:
        why = None
    if expected is None or expected > 2 * stored:
        size = (
            f"a model of {at_least}{expected:,} parameters"
            if expected is not None
            else f"a model it cannot build ({why})"
        )
        _refuse_size(cls, folder, kwargs, source, f"{size}, but its weights hold {stored:,} values", params, tensors)


def _bomb_problem(folder: Path) -> str | None:
    """`inflated_problem` of the pytorch_model.bin files (single, shards, variants) that a folder without safetensors
    weights loads from, with the file's name; None when none is a decompression bomb."""
    if any((folder / name).is_file() for name in WEIGHTS_LAYOUTS):
        return None  # transformers loads those, never the .bin beside them
    for file in sorted(folder.glob("pytorch_model*.bin")):
        if why := inflated_problem(file):
            return f"{file.name}: {why}"
    return None


def _parameter_sizes(cls: type[SwinIRPreTrainedModel], config: PreTrainedConfig) -> dict[str, int]:
    """Name → number of values of each parameter of `cls(config)`, built on the meta device (no memory)."""
    with torch.device("meta"):
        return {name: p.numel() for name, p in cls(config).named_parameters()}


def _refuse_size(
    cls: type[SwinIRPreTrainedModel],
    folder: Path,
    kwargs: dict[str, Any],
    source: object,
    sizes: str,
    params: dict[str, int],
    tensors: dict[str, tuple[str, int]],
) -> None:
    """Raise `IncompatibleWeightsError` for weights far smaller than the model the folder loads as (`sizes` says
    both): naming the parameters they lack where those are all they lack (tensors left out of a save) and the model
    was built (`params`: its parameters' sizes), else saying that the config and the weights do not belong together,
    and whose config is to blame."""
    # The Auto classes pass the folder's own config as `config=`: then the file is to blame all the same.
    stored_kwargs = {k: v for k, v in kwargs.items() if k != "subfolder"}  # `folder` is the subfolder already
    given_differs = _config_not_stored(cls, folder, stored_kwargs)
    if tensors.keys() <= params.keys():  # every stored name is the model's: the others are missing
        check_loading_info({"missing_keys": params.keys() - tensors.keys()}, source, given_differs)
    config_is = "the config given describes" if given_differs else "its config.json describes"
    # The caller's config is to blame, not the folder: no "re-export it" for a folder that is fine.
    hint = (
        "pass no config or fields, so that its config.json is used"
        if given_differs
        else "an edited or damaged config.json?"
    )
    raise IncompatibleWeightsError(
        f"{source}: {config_is} {sizes}: the config and the weights do not belong together ({hint})"
    )


def _check_floating(source: object, tensors: dict[str, tuple[str, int]]) -> None:
    """Raise `IncompatibleWeightsError` naming the stored tensors (`stored_tensors`) that are not floating point."""
    if not_float := [f"{name} ({dtype})" for name, (dtype, _) in tensors.items() if dtype not in FLOAT_TENSORS]:
        raise IncompatibleWeightsError(
            f"{source}: its weights hold tensors that are not floating point ({_names(not_float, 3)}): they are not "
            "a model's weights (a damaged or hand-made file?); re-export it (swinir-hf convert, or save_pretrained)"
        )


class _DropLoadReport(logging.Filter):
    """Hides transformers' load-report warning of this thread's load while `from_pretrained` raises its own,
    one-line error instead (other threads' loads, of other models, keep theirs: the logger is process-wide)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread or "LOAD REPORT" not in str(record.msg)


@contextlib.contextmanager
def _readable_weights(source: object) -> Iterator[None]:
    """Turn the bare errors of a truncated or damaged weights file, raised from deep inside transformers
    (safetensors' "Error while deserializing header", the `JSONDecodeError` of a sharded checkpoint's index, torch's
    "Invalid argument" of a truncated `pytorch_model.bin`: a damaged config.json is transformers' own `OSError`),
    into an `OSError` that names `source` and what to do."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, RuntimeError) as err:  # torch's reader of a damaged pytorch_model.bin: "Invalid argument", ...
        if (why := _unreadable_bin(source)) is None:
            raise
        raise OSError(
            f"the weights of {source} cannot be read ({why}): a pytorch_model.bin is truncated or damaged; save or "
            "download the model again"
        ) from err
    except (SafetensorError, json.JSONDecodeError) as err:
        what = "its weights index (.index.json)" if isinstance(err, json.JSONDecodeError) else "a .safetensors file"
        raise OSError(
            f"the weights of {source} cannot be read ({err}): {what} is truncated or damaged; save or download "
            "the model again"
        ) from err


def _unreadable_bin(source: object) -> str | None:
    """Why a local folder's `pytorch_model.bin` (its weights when it has no safetensors) cannot be read, in a line;
    None when it can, or the folder has none (a Hub id, safetensors weights). Read again only once a load failed."""
    if not isinstance(source, (str, os.PathLike)) or not (legacy := Path(source, "pytorch_model.bin")).is_file():
        return None
    if any(Path(source, name).is_file() for name in WEIGHTS_LAYOUTS):
        return None
    try:
        torch.load(legacy, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch's reader fails with many types: whatever it is, it is the file)
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def check_loading_info(info: dict, source: object, config_given: bool = False) -> None:
    """Raise `IncompatibleWeightsError` naming the parameters `from_pretrained`'s loading info reports as missing,
    unexpected or of another shape. The derived buffers (`relative_position_index`, `attn_mask`) are not stored by
    design, so they are never reported. `config_given`: the model was built from a `config=` or config fields passed
    to `from_pretrained`, not from the folder's config.json alone, which is then not to blame."""
    problems = []
    if missing := sorted(info.get("missing_keys") or ()):
        problems.append(f"missing {_names(missing)}")
    if unexpected := sorted(info.get("unexpected_keys") or ()):
        problems.append(f"unexpected {_names(unexpected)}")
    if mismatched := sorted(info.get("mismatched_keys") or ()):
        shapes = [f"{k} (stored {tuple(a)}, config needs {tuple(b)})" for k, a, b in mismatched]
        problems.append(f"wrong shape {_names(shapes)}")
    if problems and config_given:
        raise IncompatibleWeightsError(
            f"{source}: the weights do not fit the config given to from_pretrained: {'; '.join(problems)}. To start "
            "a model of that config from these weights (another scale or task, say), pass ignore_mismatched_sizes="
            "True: what fits is loaded and the rest initialised anew"
        )
    if problems:
        raise IncompatibleWeightsError(
            f"{source}: the weights do not fit its config.json: {'; '.join(problems)}. The folder is incomplete or "
            "its config.json was edited: re-export it (swinir-hf convert, or save_pretrained)"
        )


def check_finite_weights(model: _Loaded, source: object) -> _Loaded:
    """`model`, unless a weight is NaN or infinite (a training run that diverged saves such weights): every image
    would come out NaN, written as black.

    Raises:
        IncompatibleWeightsError: naming the first such parameters.
    """
    # (Parameters offloaded to disk by a `device_map` are on the meta device here: not read.)
    held = ((name, p) for name, p in model.named_parameters() if p.device.type != "meta")
    # A float64 sum is finite exactly when every value is (NaN and ±inf carry through it; finite weights cannot
    # overflow it): a third of the time of `isfinite(p).all()`, which allocates a mask as large as the weights.
    if bad := [name for name, p in held if not _finite(p.detach())]:
        raise IncompatibleWeightsError(
            f"{source}: its weights hold NaN or infinite values ({_names(bad, 3)}): it cannot restore an image; use "
            "another checkpoint (a training run that diverged saves such weights)"
        )
    return model


def _finite(p: torch.Tensor) -> bool:
    """Whether every value of `p` is finite; where there is no float64 (Apple's GPU), by a mask."""
    if p.device.type in ("cpu", "cuda"):
        return math.isfinite(p.sum(dtype=torch.float64))
    return bool(torch.isfinite(p).all())


def _names(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f", … (+{len(items) - limit} more)" if len(items) > limit else "")


def strict_from_pretrained(
    cls: type[_Loaded], load: Callable[..., Any], name: str | os.PathLike[str] | None, /, *args: Any, **kwargs: Any
) -> _Loaded:
    """`SwinIRPreTrainedModel.from_pretrained` (which see) of `cls`: transformers' own (`load`), strictly."""
    kwargs.setdefault("use_kernels", False)
    if isinstance(name, str) and name.startswith("~"):
        name = os.path.expanduser(name)  # as a shell would
    if kwargs.get("output_loading_info") or kwargs.get("ignore_mismatched_sizes"):
        with (
            not_cached_said(name, kwargs.get("revision"), kwargs.get("subfolder")),
            _readable_weights(name),
        ):
            return _with_load_options(load(name, *args, **cache_only_offline(name, kwargs)), kwargs)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("output_loading_info", "ignore_mismatched_sizes")}
    if isinstance(name, (str, os.PathLike)):
        if kwargs.get("config") is None:  # with a config, transformers loads a weights file itself
            _check_not_a_weights_file(name)
        kwargs = cache_only_offline(name, kwargs)
        folder, source = Path(name, kwargs.get("subfolder") or ""), None
        if not Path(name).exists() and (cached := hub_folder(os.fspath(name), kwargs)) is not None:
            folder, source = cached, "/".join(filter(None, (os.fspath(name), kwargs.get("subfolder"))))
        _check_stored_weights(cls, folder, kwargs, source)
    report_logger = logging.getLogger("transformers.modeling_utils")
    quiet = _DropLoadReport()
    report_logger.addFilter(quiet)
    try:
        with (
            not_cached_said(name, kwargs.get("revision"), kwargs.get("subfolder")),
            _readable_weights(name),
        ):
            model, info = load(
                name,
                *args,
                output_loading_info=True,
                ignore_mismatched_sizes=True,
                **kwargs,
            )
    finally:
        report_logger.removeFilter(quiet)
    reported = any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    config_given = reported and _config_not_stored(cls, name, kwargs)
    check_loading_info(info, name, config_given)
    return _with_load_options(check_finite_weights(model, name), kwargs)


def _with_load_options(loaded: Any, kwargs: dict[str, Any]) -> Any:
    """`loaded` (a model, or transformers' (model, loading info)), its model holding the `LoadOptions` among `kwargs`
    (cache_dir, subfolder, token) as `_loaded_with`: a save looks for a model's other files where it was loaded
    from (`code_files_swinir.loaded_files`), not in the repo's root, the default cache, without the token."""
    (loaded[0] if isinstance(loaded, tuple) else loaded)._loaded_with = LoadOptions.of(kwargs)
    return loaded
