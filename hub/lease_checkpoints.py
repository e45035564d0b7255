"""Compact, resumable checkpoints for the GPU lease (hub/gpu_lease.py): what comes back from a lease and is
carried to the next one.

NAME.tar holds a trainer checkpoint folder's newest step, compacted: the EMA weights in float16, the raw weights as
a bfloat16 difference from them, Adam's second moments in bfloat16 and its first moments dropped (they restart at
zero and refill within ~20 steps), ~6 bytes per parameter instead of ~20; the small files as saved, with the
checkpoint's model/ folder (the EMA model, its weights rewritten from the float16 EMA). A finished run adds its final
model (final/). `unpack` rebuilds the checkpoint folder the trainer resumes from.

`lean` keeps only the float16 EMA of such a tar (~2 bytes per parameter): the lease state that lands in the
repository (hub/lease_state/), because ignored folders do not outlive a session. A run restored from it trains on
from its EMA weights with a fresh Adam state, its step, learning-rate schedule and data order kept.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save, save_file

FINAL_FILES = ("model.safetensors", "config.json", "preprocessor_config.json", "README.md", "training_summary.json")


def step_folders(run: Path) -> list[Path]:
    """`swinir_hf.checkpoints.run_folder.list_checkpoints`, restated: the lease scripts run where the package's
    dependencies (jsonargparse, ...) are not installed yet, so they import nothing of it."""
    return sorted((run / "checkpoints").glob("step-[0-9]*[0-9]"))


def kept_checkpoints(run: Path) -> int:
    """How many checkpoints the run's trainer keeps (its training_config.yaml's train.keep_checkpoints); 1 where it
    does not say, the fewest: a pack then counts any newer checkpoint as a removal under way."""
    import yaml

    try:
        config = yaml.safe_load((run / "training_config.yaml").read_text(encoding="utf-8"))
        return max(1, int(config["train"]["keep_checkpoints"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):  # none yet, or one being written
        return 1


def _find_ema(folder: Path, keys: set[str]) -> Path | None:
    """The accelerate custom-object file holding the EMA weights (a state dict with the model's keys)."""
    for path in sorted(folder.glob("custom_checkpoint_*.pkl")):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and set(state) == keys:
            return path
    return None


def compact(step_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """An accelerate checkpoint folder → (16-bit tensors, metadata); small files ride along in metadata."""
    raw = load_file(step_dir / "model.safetensors")
    ema_file = _find_ema(step_dir, set(raw))
    ema = torch.load(ema_file, map_location="cpu", weights_only=True) if ema_file else {}
    tensors: dict[str, torch.Tensor] = {}
    for key, weight in raw.items():
        half = ema[key].half() if key in ema and weight.is_floating_point() else None
        if half is None or not torch.isfinite(half).all():
            tensors[f"raw.{key}"] = weight  # no EMA, or one that float16 cannot hold
            if key in ema:
                tensors[f"ema32.{key}"] = ema[key]
            continue
        tensors[f"ema.{key}"] = half
        tensors[f"delta.{key}"] = (weight - half.float()).bfloat16()
    opt = torch.load(step_dir / "optimizer.bin", map_location="cpu", weights_only=True)
    steps = {}
    for index, state in opt["state"].items():
        steps[str(index)] = float(state["step"])
        tensors[f"exp_avg_sq.{index}"] = state["exp_avg_sq"].bfloat16()
    skip = {"model.safetensors", "optimizer.bin", ema_file.name if ema_file else ""}
    small = {p.name: p.read_bytes().hex() for p in step_dir.iterdir() if p.is_file() and p.name not in skip}
    # model/ (the validated EMA model the trainer saves with each step) without its weights: expand rewrites them
    # from the EMA, so that a returned unfinished checkpoint can be evaluated and exported like a local one.
    if ema_file and (step_dir / "model" / "config.json").is_file():
        for path in (step_dir / "model").iterdir():
            if path.is_file() and path.name != "model.safetensors":
                small[f"model/{path.name}"] = path.read_bytes().hex()
    meta = {
        "step_dir": step_dir.name,
        "ema_file": ema_file.name if ema_file else None,
        "param_groups": opt["param_groups"],
        "steps": steps,
        "files": small,
    }
    return tensors, meta


def expand(tensors: dict[str, torch.Tensor], meta: dict, run: Path) -> Path:
    """Rebuild the accelerate checkpoint folder under run/checkpoints/ from `compact`'s output; returns it."""
    folder = run / "checkpoints" / meta["step_dir"]
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    raw, ema = {}, {}
    for name, tensor in tensors.items():
        kind, key = name.split(".", 1)
        if kind == "raw":
            raw[key] = tensor
        elif kind == "ema32":
            ema[key] = tensor
        elif kind == "ema":
            ema[key] = tensor.float()
            delta = tensors.get(f"delta.{key}")  # none in a lean tar: training goes on from the EMA
            raw[key] = ema[key] + delta.float() if delta is not None else ema[key].clone()
    save_file(raw, tmp / "model.safetensors", metadata={"format": "pt"})
    if meta["ema_file"]:
        torch.save({key: ema.get(key, raw[key]).clone() for key in raw}, tmp / meta["ema_file"])
    state = {}  # empty for a lean tar: Adam starts afresh (its bias correction from step 0)
    for index, step in meta["steps"].items():
        sq = tensors[f"exp_avg_sq.{index}"].float()
        state[int(index)] = {"step": torch.tensor(step), "exp_avg": torch.zeros_like(sq), "exp_avg_sq": sq}
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    torch.save({"state": state, "param_groups": groups}, tmp / "optimizer.bin")
    for name, data in meta["files"].items():
        (tmp / name).parent.mkdir(exist_ok=True)  # model/
        (tmp / name).write_bytes(bytes.fromhex(data))
    if (tmp / "model" / "config.json").is_file():  # its weights are the EMA (here rounded to float16)
        save_file({key: ema.get(key, raw[key]) for key in raw}, tmp / "model" / "model.safetensors", {"format": "pt"})
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _write_tar(target: Path, tensors: dict[str, torch.Tensor], meta: dict, files: dict[str, bytes]) -> None:
    """target, atomically: the compacted checkpoint and the files (tar member name → bytes)."""
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        _add_bytes(tar, "compact.safetensors", save(tensors))
        _add_bytes(tar, "compact.json", json.dumps(meta).encode())
        for name, data in files.items():
            _add_bytes(tar, name, data)
    os.replace(tmp, target)


def pack(run: Path, target: Path, train_log: Path | None = None, warm_start: dict | None = None) -> int | None:
    """Write run's newest checkpoint (+ its final model when finished) as target (a tar); returns its step.
    `warm_start`: the model and step whose weights the run started from, kept in the tar's metadata (`origin`)."""
    found = step_folders(run)
    if not found:
        return None
    tensors, meta = compact(found[-1])
    # The trainer removes a checkpoint only once `keep_checkpoints` newer ones are in place: while it is among the
    # newest that many, nothing of it went while read (with several kept, a save meanwhile leaves it whole).
    if found[-1] not in step_folders(run)[-kept_checkpoints(run) :]:
        raise RuntimeError(f"{found[-1].name} was replaced while it was packed")
    if warm_start is not None:
        meta["warm_start"] = warm_start
    step = _step_of(meta)
    files = {}
    if (run / "training_config.yaml").is_file():
        files["training_config.yaml"] = (run / "training_config.yaml").read_bytes()
    summary = run / "training_summary.json"
    if summary.is_file() and json.loads(summary.read_text())["step"] == step:
        files |= {f"final/{name}": (run / name).read_bytes() for name in FINAL_FILES}
    if train_log is not None and train_log.is_file():
        files["train.log"] = train_log.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_tar(target, tensors, meta, files)
    return step


def _read(source: Path) -> tuple[dict[str, torch.Tensor], dict, bytes | None]:
    """A tar from `pack` or `lean` → (its tensors, its metadata, the run's training_config.yaml if it holds one)."""
    with tarfile.open(source) as tar:
        tensors = load(tar.extractfile("compact.safetensors").read())
        meta = json.loads(tar.extractfile("compact.json").read())
        config = tar.extractfile("training_config.yaml").read() if "training_config.yaml" in tar.getnames() else None
    return tensors, meta, config


def lean(source: Path, target: Path) -> int:
    """Write target: source (a tar from `pack`) with its float16 EMA, small files and run config only (no raw
    weights' difference from the EMA, Adam moments, final model or train log); returns its step."""
    tensors, meta, config = _read(source)
    kept = {key: t for key, t in tensors.items() if not key.startswith(("delta.", "exp_avg_sq."))}
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_tar(target, kept, {**meta, "steps": {}}, {"training_config.yaml": config} if config else {})
    return _step_of(meta)


def _metadata(source: Path) -> dict:
    """A tar from `pack` or `lean`'s metadata (compact.json), without its tensors."""
    with tarfile.open(source) as tar:
        return json.loads(tar.extractfile("compact.json").read())


def origin(source: Path) -> dict | None:
    """The warm start recorded in a tar from `pack` or `lean` ({"model": NAME, "step": N}), or None."""
    return _metadata(source).get("warm_start")


def holds_model(source: Path) -> bool:
    """Whether a tar from `pack` or `lean` holds its checkpoint's model/ folder (the first lease's do not), which a
    warm start on the lease machine loads: it cannot rebuild one (`rebuild_model_folder`)."""
    return "model/config.json" in _metadata(source)["files"]


def _step_of(meta: dict) -> int:
    """The step of a compacted checkpoint, from its metadata (`compact`)."""
    return json.loads(bytes.fromhex(meta["files"]["progress.json"]))["step"]


def verified_step(source: Path) -> int:
    """The step of a tar from `pack` or `lean`, after reading all of it; ValueError if it is none (truncated,
    damaged or another file)."""
    try:
        _, meta, _ = _read(source)  # all of it: a tar cut short fails here, not in the lease
        return _step_of(meta)
    except (OSError, EOFError, tarfile.TarError, KeyError, AttributeError, ValueError) as error:
        raise ValueError(f"{source} is no readable lease checkpoint ({type(error).__name__}: {error})") from None


def unpack(source: Path, run: Path, rebuild_model: bool = False) -> int:
    """Restore a tar from `pack` or `lean` into run/checkpoints/ (and run/training_config.yaml); returns its step.
    `rebuild_model`: write the checkpoint's model/ folder when the tar lacks it (here, with this package
    importable; on the lease machine, whose transformers may be too old to import it, the trainer needs none)."""
    tensors, meta, config = _read(source)
    run.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (run / "training_config.yaml").write_bytes(config)
    folder = expand(tensors, meta, run)
    if rebuild_model and meta["ema_file"] and not (folder / "model" / "config.json").is_file():
        rebuild_model_folder(folder, run / "training_config.yaml", meta["ema_file"])
    return json.loads((folder / "progress.json").read_text())["step"]


def rebuild_model_folder(step_dir: Path, training_config: Path, ema_file: str) -> None:
    """step_dir/model/ from the run's config and the checkpoint's EMA weights, for a tar packed without it (the
    first lease's); the card is left out."""
    from swinir_hf.checkpoints.folders import save_model_folder
    from swinir_hf.training.cli import parse_command_line
    from swinir_hf.training.state import build_model

    cfg, _ = parse_command_line(["--config", str(training_config)])
    cfg.model.init_from = None  # a warm start's source, on the lease machine: the weights are the EMA's anyway
    model, _ = build_model(cfg.model, cfg.train)
    model.load_state_dict(torch.load(step_dir / ema_file, map_location="cpu", weights_only=True), strict=True)
    save_model_folder(step_dir / "model", model.eval())
