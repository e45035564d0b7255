"""A Hub model's files as a strict load needs them: the Hub asked once (`hub_reachable`), then the cache alone
(`cache_only_offline`), the config and weights fetched so that they are checked before the model is built
(`hub_folder`), and a model the cache lacks while the Hub cannot be reached said in one line (`not_cached_said`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .hub_push_swinir import network_errors
from .weight_files_swinir import WEIGHTS_LAYOUTS, safetensors_files

# One quick look at the Hub before a download: unreachable, huggingface_hub would retry each file the cache lacks
# with backoff (five retries, 1 to 8 s apart: 23 s), logging every attempt, before giving up.
PROBE_TIMEOUT_S = 5.0


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether one HEAD request to the Hub endpoint gets any answer within `timeout` seconds (no retries)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout, follow_redirects=False)
    except network_errors():
        return False
    return True


def cache_only_offline(name: object, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`from_pretrained`'s `kwargs`, with local_files_only=True where `name` is a Hub id and the Hub is not to be
    asked (HF_HUB_OFFLINE) or does not answer (`hub_reachable`): else each file the cache lacks costs 23 s of
    huggingface_hub's retries, as `hub_folder` fetches it and again as transformers does. A `local_files_only` given
    (False too: `load_model` has asked the Hub already) is left as it is."""
    from huggingface_hub import constants

    if not isinstance(name, (str, os.PathLike)) or Path(name).exists() or kwargs.get("local_files_only") is not None:
        return kwargs
    if constants.HF_HUB_OFFLINE or not hub_reachable():
        return {**kwargs, "local_files_only": True}
    return kwargs


# The options of `from_pretrained` that say where its files come from, as transformers' own downloads take them.
_DOWNLOAD_OPTIONS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


def hub_folder(repo_id: str, kwargs: dict[str, Any]) -> Path | None:
    """The Hub cache's folder of `repo_id` (at `from_pretrained`'s `kwargs`: revision, subfolder, cache, token) once
    the config.json and the weights `from_pretrained` loads are fetched into it, as it fetches them (it then finds
    them there): one safetensors file, or the shards its index names, else a pytorch_model.bin. For
    `loading_swinir._check_stored_weights` to read them before the model is built. None where they cannot be had
    (from_pretrained says why), or it loads others (a variant, a GGUF file, given weights, a pytorch_model.bin in
    place of safetensors weights: use_safetensors=False)."""
    from transformers.utils import cached_file

    use_safetensors = kwargs.get("use_safetensors")
    if use_safetensors is False or any(kwargs.get(key) is not None for key in ("variant", "gguf_file", "state_dict")):
        return None
    options = {key: kwargs[key] for key in _DOWNLOAD_OPTIONS if kwargs.get(key) is not None}

    def fetch(filename: str) -> str | None:
        return cached_file(
            repo_id,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **options,
        )

    # transformers' order: safetensors first, then a pytorch_model.bin unless use_safetensors=True.
    weights = [*WEIGHTS_LAYOUTS, *([] if use_safetensors else ["pytorch_model.bin"])]
    try:
        if (config := fetch("config.json")) is None or not (found := next(filter(fetch, weights), None)):
            return None
        folder = Path(config).parent
        shards = safetensors_files(folder) if found.endswith(".index.json") else []
        if not all(fetch(shard.relative_to(folder).as_posix()) for shard in shards or ()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a repo that cannot be had, a bad index
        return None
    return folder


@contextlib.contextmanager
def not_cached_said(source: object, revision: str | None = None, subfolder: str | None = None) -> Iterator[None]:
    """A Hub id that is not in the cache while the Hub cannot be reached: transformers says only "We couldn't
    connect to 'https://huggingface.co'"; say that the model is not cached and the ways to get it. A `subfolder`
    and a `revision` other than main are named: the cache may hold the repo at main, or without that subfolder
    (a misspelt one, say), and the plain download would fetch main."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        yield
    except OSError as err:
        causes, cause = [], err
        while cause is not None and len(causes) < 8:
            causes.append(cause)
            cause = cause.__cause__ or cause.__context__
        if not any(isinstance(c, LocalEntryNotFoundError) for c in causes):
            raise
        what = f"the subfolder {subfolder!r} of {source}" if subfolder else str(source)
        option = ""
        if revision not in (None, "main"):
            what, option = f"{what} at revision {revision!r}", f" --revision {revision}"
        from huggingface_hub import constants

        offline = constants.HF_HUB_OFFLINE
        raise OSError(
            f"{what} is not in the Hugging Face cache and "
            + ("HF_HUB_OFFLINE is set: " if offline else "the Hub cannot be reached: ")
            + _bundled_hint(source)
            + f"download it where there is a network (hf download {source}{option}) and copy the cache (HF_HOME) "
            "here, or pass the path of a local model folder; "
            + (
                "or unset HF_HUB_OFFLINE if this machine can reach the Hub"
                if offline
                else "HF_HUB_OFFLINE=1 makes such a load fail at once instead of retrying the connection"
            )
        ) from err


def _bundled_hint(source: object) -> str:
    """For a bare name (no org/), as the package's bundled models are called (`sr-x4`): how those load, which
    `from_pretrained` cannot do by name (they are folders inside the package, not Hub repos); then the Hub's way."""
    name = str(source)
    if "/" in name or os.sep in name:
        return ""
    return (
        f"if {name!r} is a model bundled with swinir_hf (`swinir-hf models` lists them), load it with "
        f"swinir_hf.load_model({name!r}) or from_pretrained(swinir_hf.loading.DEFAULTS_DIR / {name!r}); if it is a "
        "Hub repo, "
    )
