"""A saved folder's code files: the config.json entries that name the model code (`REMOTE_CODE_FIELDS`,
`MODEL_AUTO_MAP`), the header line each copy starts with (`code_header`) that tells it from a user's own file of that
name (`is_swinir_code`), and a save's copying of the files its config names (`save_with_code`), which never replaces
a user's file."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .hub_push_swinir import network_errors

if TYPE_CHECKING:
    from transformers import PreTrainedConfig

logger = logging.getLogger(__name__)

# The config.json entries that name a folder's own code: the Auto classes' (`auto_map`) and a Hub export's pipeline.
REMOTE_CODE_FIELDS = ("auto_map", "custom_pipelines")
# The `auto_map` a plain `save_pretrained` writes for a config that names no code (a model built or loaded through
# this package), beside the two files it names, so that the folder loads with trust_remote_code=True without the
# package. The image processor and the pipeline are a Hub export's (`swinir-hf hub`), which adds them.
MODEL_AUTO_MAP = {
    "AutoConfig": "configuration_swinir.SwinIRConfig",
    "AutoModel": "modeling_swinir.SwinIRForImageRestoration",
    "AutoModelForImageToImage": "modeling_swinir.SwinIRForImageRestoration",
}


def code_header(name: str, version: str) -> str:
    """The first line of a model code file `name` (`modeling_swinir.py`) that swinir-hf `version` writes into a
    folder (an export's, a `save_pretrained`'s): it tells the package's copies from a user's own file of that name."""
    return f"{_header_start(name)}{version}, copied for trust_remote_code=True (edit the package).\n"


def _header_start(name: str) -> str:
    return f"# {name} of swinir-hf "


def is_swinir_code(path: Path) -> bool:
    """Whether `path`, a file named like one of this code's modules, is a copy of it: its first line is a
    `code_header` (any version's), or it is byte for byte this code's module of that name (a copy saved before
    the headers). A user's own `modeling_swinir.py` is neither: a save neither removes nor replaces it."""
    if first_line_starts(path, _header_start(path.name)):
        return True
    own = Path(__file__).with_name(path.name)
    try:
        return own.is_file() and own.read_bytes() == path.read_bytes()
    except OSError:  # unreadable: not taken for ours
        return False


def first_line_starts(path: Path, start: str) -> bool:
    """Whether the first line of the file `path` starts with `start` (a header a save or export wrote); False where
    it cannot be read."""
    try:
        with path.open("rb") as file:
            return file.readline(len(start.encode()) + 1).decode("utf-8", "replace").startswith(start)
    except OSError:  # unreadable: not taken for ours
        return False


def _copy_code(source: Path, target: Path) -> None:
    """Copy a code file, with a `code_header` line first where `source` is one of the package's own modules (this
    file's siblings in swinir_hf; a Hub folder's copies, beside this file in transformers' cache, have theirs):
    the line tells the copy from a user's own file of that name, which a later save leaves alone."""
    target.write_bytes(_code_bytes(source))


def _code_bytes(source: Path) -> bytes:
    """What `_copy_code` writes of `source`."""
    data = source.read_bytes()  # bytes: the copy keeps the source's line endings
    # swinir_hf's version in the package; None in a Hub folder's copy (its package is transformers_modules).
    version = getattr(sys.modules.get(__name__.split(".")[0]), "__version__", None)
    if version is not None and source.parent == Path(__file__).parent:
        data = code_header(source.name, version).encode() + data
    return data


def _earlier_copy(target: Path, source: Path) -> bool:
    """Whether `target` is a copy of this code that an earlier save wrote (`is_swinir_code`) with another first line
    than a copy of `source` has now: another version's, or one from before the header line. A save replaces it; a
    copy of this version (an export's, written before the model's save) is kept as it is."""
    if not source.is_file() or not is_swinir_code(target):
        return False
    with target.open("rb") as file:
        return file.readline().rstrip(b"\r\n") != _code_bytes(source).split(b"\n", 1)[0].rstrip(b"\r")


# Saves take turns, each editing its model's config while it writes (`save_with_code`).
_SAVES_TURN = threading.Lock()


class LoadOptions(dict):
    """The options `from_pretrained` was given that say where the model's files are, which a save looks in for the
    files its config names (`loaded_files`): `cache_dir`, `subfolder` (of a repo or folder holding several models)
    and `token` (a private repo's). The token is kept in memory only: a copy in memory (`copy.deepcopy` of the
    model: EMA, accelerate) keeps it, a pickled model's options drop it, and their repr hides it."""

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> LoadOptions:
        """Those among `from_pretrained`'s `kwargs`."""
        given = {k: kwargs[k] for k in ("cache_dir", "subfolder", "token") if kwargs.get(k) not in (None, "")}
        if "cache_dir" in given:
            given["cache_dir"] = os.fspath(given["cache_dir"])
        return cls(given)

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:  # pickle: never written with the token
        return type(self), ({k: v for k, v in self.items() if k != "token"},)

    def __copy__(self) -> LoadOptions:  # copy and deepcopy would go by `__reduce__` and drop the token
        return type(self)(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadOptions:  # its values are strings: nothing deeper to copy
        return type(self)(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({ {k: '<hidden>' if k == 'token' else v for k, v in self.items()} })"


def save_with_code(
    config: PreTrainedConfig,
    folder: Path,
    save: Callable[[], None],
    remote_code: bool,
    loaded_with: Mapping[str, Any] | None = None,
) -> None:
    """`save()` (transformers' save of a model of `config` into `folder`) with the code files `config` names
    (`SwinIRPreTrainedModel.save_pretrained`, which see): `config` holds the `REMOTE_CODE_FIELDS` the folder is to
    have while it runs, and as it was once it ends; saves take turns. `loaded_with`: where the model was loaded from
    (`LoadOptions`)."""
    with _SAVES_TURN:
        fields = config.__dict__
        saved = {k: fields[k] for k in REMOTE_CODE_FIELDS if k in fields}
        if not remote_code:
            for k in saved:
                del fields[k]
        elif not saved.get("auto_map"):
            fields["auto_map"] = dict(MODEL_AUTO_MAP)
        try:
            if remote_code:
                refuse_foreign_code(config, folder)
            save()
            if remote_code:
                copy_named_code(config, folder, loaded_with=loaded_with)
                copy_endpoint_files(config, folder, loaded_with)
        finally:  # the config as it was
            for k in REMOTE_CODE_FIELDS:
                fields.pop(k, None)
            fields.update(saved)


def named_code(config: PreTrainedConfig, fields: dict[str, Any] | None = None) -> list[str]:
    """The module files the `auto_map` / `custom_pipelines` entries of the config (or of `fields`, a saved
    config.json's) name."""
    fields = vars(config) if fields is None else fields
    refs = list((fields.get("auto_map") or {}).values())
    refs += [entry["impl"] for entry in (fields.get("custom_pipelines") or {}).values()]
    modules = (ref.split("--")[-1].rsplit(".", 1)[0] for ref in refs)  # "[org/repo--]module.Class"
    return list(dict.fromkeys(f"{module}.py" for module in modules))


def refuse_foreign_code(config: PreTrainedConfig, folder: Path) -> None:
    """FileExistsError if `folder` holds a file named like one of this code's modules that the save writes (the
    config's and those they import) and that is not a copy of it: the save would replace it (transformers' own
    copy of a remote-code class's modules does) or leave config.json naming it."""
    from transformers.dynamic_module_utils import get_relative_imports

    names = [name for name in named_code(config) if Path(name).name == name]  # "../x.py": never written
    for name in names:
        target, source = folder / name, Path(__file__).with_name(name)
        if not source.is_file():  # not this code's (a config naming other modules): a file there is kept
            continue
        if target.is_file() and not is_swinir_code(target):
            header = code_header(name, "VERSION").strip()
            # A copy an earlier version saved has no such line either: it cannot be told from a file edited.
            raise FileExistsError(
                f"{target} is not this swinir-hf's copy of SwinIR's model code (its first line is not {header!r}: "
                "a file of your own, or a copy an earlier version saved) and the save writes a file of that name: "
                "move it out of the folder (delete an earlier save's copy), or save with remote_code=False (no "
                "code files)"
            )
        names += [f"{module}.py" for module in get_relative_imports(source) if f"{module}.py" not in names]


def copy_named_code(
    config: PreTrainedConfig,
    folder: Path,
    fields: dict[str, Any] | None = None,
    loaded_with: Mapping[str, Any] | None = None,
) -> list[str]:
    """Copy beside the saved config the modules its `auto_map` / `custom_pipelines` entries name: from beside
    this file (the package, or the remote code transformers fetched), else from the folder or Hub repo the model
    was loaded from (a remote-code model fetched only its own module and its imports; `loaded_with`: its
    `LoadOptions`). Returns their names."""
    from transformers.dynamic_module_utils import get_relative_imports

    names = named_code(config, fields)
    for name in names:  # grows by the modules each one imports (transformers loads those with it)
        if Path(name).name != name:  # "../x.py", "/x.py": a hostile config.json's; read or written outside
            logger.warning("config.json names %s, which is not a file of the folder: not copied", name)
            continue
        target, source = folder / name, Path(__file__).with_name(name)
        # An earlier version's copy is replaced; a file of the user's is kept (a save that would write its name
        # was refused before), and so is one this code cannot copy again.
        if target.exists() and not _earlier_copy(target, source):
            names += [f"{module}.py" for module in get_relative_imports(target) if f"{module}.py" not in names]
            continue
        if not source.is_file() and (found := loaded_from(config, name, loaded_with)) is not None:
            source = Path(found)
        if source.is_file():
            _copy_code(source, target)
            names += [f"{module}.py" for module in get_relative_imports(target) if f"{module}.py" not in names]
        else:
            logger.warning(
                "config.json names %s, which could not be copied into %s (not beside this code, nor in %r): "
                "add it, or the folder will not load with trust_remote_code=True",
                name,
                folder,
                getattr(config, "_name_or_path", ""),
            )
    return names


# The root files an export writes for Inference Endpoints (`swinir_hf.checkpoints.remote_code`), which no config names,
# each by the start of its first line, the swinir-hf version after it.
ENDPOINT_HEADERS = {
    "handler.py": "# handler.py: handler_swinir.py of swinir-hf ",
    "requirements.txt": "# requirements.txt: what the model code of swinir-hf ",
}


def copy_endpoint_files(
    config: PreTrainedConfig, folder: Path, loaded_with: Mapping[str, Any] | None = None
) -> list[str]:
    """Copy into `folder` the export's Inference Endpoints files (`ENDPOINT_HEADERS`) of the folder or Hub repo the
    model of `config` (an export's: it names its pipeline) was loaded from, where they are of the swinir-hf version
    of the model code now in `folder`: a re-saved export stays deployable, and a handler or requirements of other
    code is never put beside it. A file already in `folder` is kept. Returns the names copied. `loaded_with`: where
    the model was loaded from (`LoadOptions`)."""
    code = _header_version(folder / "modeling_swinir.py", _header_start("modeling_swinir.py"))
    if code is None or not getattr(config, "custom_pipelines", None):
        return []
    copied, absent = [], [name for name in ENDPOINT_HEADERS if not (folder / name).exists()]
    files = loaded_files(config, absent, loaded_with)  # the Hub asked once at most, for the files its cache lacks
    for name in (name for name in absent if name in files):
        found, version = files[name], _header_version(Path(files[name]), ENDPOINT_HEADERS[name])
        if version == code:
            (folder / name).write_bytes(Path(found).read_bytes())
            copied.append(name)
        elif version is not None:
            logger.warning(
                "%s of %s is swinir-hf %s's and the model code saved %s's: not copied (export the model again, "
                "swinir-hf hub, for an Inference Endpoints handler)",
                name,
                getattr(config, "_name_or_path", ""),
                version,
                code,
            )
    return copied


def _header_version(path: Path, start: str) -> str | None:
    """The swinir-hf version in the header line `start` begins the file `path` with, else None."""
    if not first_line_starts(path, start):
        return None
    with path.open("rb") as file:
        rest = file.readline().decode("utf-8", "replace")[len(start) :]
    return rest.replace(",", " ").split(" ", 1)[0] or None


def loaded_from(config: PreTrainedConfig, filename: str, loaded_with: Mapping[str, Any] | None = None) -> str | None:
    """`filename` from the local folder or Hub repo the model of `config` was loaded from (`loaded_files`)."""
    return loaded_files(config, [filename], loaded_with).get(filename)


def loaded_files(
    config: PreTrainedConfig, names: list[str], loaded_with: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Name → path of the files `names` of the local folder or Hub repo the model of `config` was loaded from, in
    the subfolder it was loaded from, with the Hub cache and token it was (`loaded_with`: the model's
    `LoadOptions`; none: the repo's root, the default cache and token): the folder's, or the cache's at the
    revision loaded; only for those the cache lacks, and not under HF_HUB_OFFLINE, the repo's file list is asked
    once and the files it holds fetched into it (not a request a file)."""
    from huggingface_hub import HfApi, constants

    source = getattr(config, "_name_or_path", "")
    if not source:
        return {}
    revision = getattr(config, "_commit_hash", None)
    where = dict(loaded_with or {})
    found = {name: path for name in names if (path := _fetched(source, name, revision, local_files_only=True, **where))}
    missing = [name for name in names if name not in found]
    if not missing or constants.HF_HUB_OFFLINE or Path(source).is_dir():
        return found
    try:
        listed = set(HfApi().list_repo_files(source, revision=revision, token=where.get("token")))
    except (*network_errors(), ValueError):  # an unreachable Hub, a repo gone, a name that is no repo id
        return found
    inside = f"{where['subfolder'].strip('/')}/" if where.get("subfolder") else ""
    fetched = {name: _fetched(source, name, revision, **where) for name in missing if inside + name in listed}
    return found | {name: path for name, path in fetched.items() if path}


def _fetched(source: str, filename: str, revision: str | None, **options: Any) -> str | None:
    """`filename` of the folder or Hub repo `source` (`cached_file`'s options), or None where it cannot be had."""
    from transformers.utils import cached_file

    try:
        return cached_file(
            source,
            filename,
            revision=revision,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **options,
        )
    except OSError:
        return None
