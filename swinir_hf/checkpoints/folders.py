"""Model folders: the one way this package writes a `save_pretrained` folder (weights, config, image processor,
model card), and reads its weights back as stored (`stored_weights`). (Pushing one: `export.push_folder`, after
`repo_names.check_push_access`.)"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import torch

from ..console import shown_name
from ..library_bars import transformers_bars_off
from ..models.image_processing_swinir import SwinIRImageProcessor
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.weight_files_swinir import WEIGHTS_LAYOUTS, safetensors_files
from ..storage.atomic_writes import files_matching, written_aside
from .remote_code import HANDLER_FILE, REMOTE_MODULES, REQUIREMENTS_FILE, HubExportError, written_by_package

# The files of a model folder without remote code (what the trainer saves).
MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "README.md")
# Every file a model folder may hold: a save replaces them all, removing those it does not write again (an earlier
# model's card, code or weights in another layout would describe, or load as, the new one).
_MODEL_FOLDER_PATTERNS = (
    *MODEL_FILES,
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "pytorch_model-*-of-*.bin",
    *(f"{module}.py" for module in REMOTE_MODULES),
    # An export's (without its code beside it, a handler that cannot load), removed only where the export wrote them
    # (`written_by_package`): a user's own handler.py or requirements.txt stays.
    HANDLER_FILE,
    REQUIREMENTS_FILE,
)


def weights_follow_umask(folder: Path, like: Path) -> None:
    """Give the `.safetensors` files in `folder` the permissions of `like`, a file written as the umask says:
    safetensors ≥ 0.7 creates its files with mode 0600 whatever the umask, so a folder others can read (a shared
    models directory) would hold weights they cannot."""
    mode = like.stat().st_mode & 0o777
    for weights in folder.glob("*.safetensors"):
        weights.chmod(mode)


def save_model_folder(
    folder: Path,
    model: SwinIRForImageRestoration,
    card: str | None = None,
    *,
    processor_auto_map: dict[str, str] | None = None,
) -> None:
    """`save_pretrained` (safetensors + config), the image processor (with `processor_auto_map` for remote code) and,
    when given, the model card (`README.md`) into `folder`. Without `processor_auto_map` the folder has no remote
    code: its config.json gets none of the `code_files_swinir.REMOTE_CODE_FIELDS` (`model.config` keeps them), and it
    loads through the package.

    The files are written aside (a hidden folder inside `folder`) and moved in at the end, with Ctrl-C and SIGTERM
    held back for those renames: an interrupted save leaves the folder as it was, never half of a model or a new
    config beside old weights. The model files of an earlier save that this one does not write are removed (a
    handler.py or requirements.txt only where an export wrote it)."""
    with written_aside(folder, _MODEL_FOLDER_PATTERNS, owned=written_by_package) as staging:
        write_model_files(staging, model, card, processor_auto_map=processor_auto_map)


def model_folder_files(folder: Path) -> list[Path]:
    """The model files in `folder` (weights in any layout, config, processor config, card, code): what a save
    replaces."""
    return [path for path in files_matching(folder, _MODEL_FOLDER_PATTERNS) if written_by_package(path)]


def write_model_files(
    folder: Path,
    model: SwinIRForImageRestoration,
    card: str | None = None,
    *,
    processor_auto_map: dict[str, str] | None = None,
) -> None:
    """`save_model_folder`'s files written straight into `folder`, a staging folder the caller moves into place
    itself (an export's, a checkpoint's `step-N.tmp`): no staging of its own, whose renames would be a second copy.
    Code files already in `folder` are kept (an export's, with their version headers)."""
    config = model.config
    with transformers_bars_off():  # "Writing model shards" at every training checkpoint
        model.save_pretrained(folder, safe_serialization=True, remote_code=bool(processor_auto_map))
    weights_follow_umask(folder, folder / "config.json")
    _load_in_float32(folder / "config.json")
    processor = SwinIRImageProcessor(num_channels=config.num_channels)
    if processor_auto_map:
        processor.auto_map = dict(processor_auto_map)
    processor.save_pretrained(folder)
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")


def _load_in_float32(config_file: Path) -> None:
    """Make config.json's `dtype` float32, whatever the weights' storage precision. transformers 5 loads in that
    dtype by default (`dtype="auto"`); float16 storage only halves the file, and a float16 model is slow on CPUs and
    breaks fine-tuning (Adam's first step turns it to NaN). `from_pretrained(..., dtype=torch.float16)` still loads
    the half-precision model."""
    import json

    fields = json.loads(config_file.read_text(encoding="utf-8"))
    if fields.get("dtype") != "float32":
        fields["dtype"] = "float32"
        config_file.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def in_stored_dtypes(model: SwinIRForImageRestoration, stored: Mapping[str, torch.Tensor]) -> SwinIRForImageRestoration:
    """A copy of `model` whose tensors have the dtypes `stored` (the weights of a file or folder) keeps them in, so
    that saving it keeps their precision value for value: a float16 folder's float32 edges stay float32."""
    copied = copy.deepcopy(model)
    for name, tensor in copied.state_dict(keep_vars=True).items():
        if name in stored and tensor.is_floating_point():
            tensor.data = tensor.data.to(stored[name].dtype)
    return copied


def stored_weights(model_dir: Path) -> dict:
    """The tensors of a `save_pretrained` folder's safetensors weights, one file or the shards its index names.

    Raises `HubExportError`: the folder has none (another format).
    """
    from safetensors.torch import load_file

    files = safetensors_files(model_dir)
    if files is None:
        raise HubExportError(
            f"{shown_name(model_dir)} holds no safetensors weights ({' or '.join(WEIGHTS_LAYOUTS)}): re-save it with "
            "save_pretrained first"
        )
    return {name: tensor for file in files for name, tensor in load_file(file).items()}
