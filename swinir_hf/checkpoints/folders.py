"""Model folders: the one way this package writes a `save_pretrained` folder (weights, config, image processor,
model card) and the one way it pushes a folder to the Hub."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from ..library_bars import transformers_bars_off
from ..models.image_processing_swinir import SwinIRImageProcessor
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..storage.atomic_writes import files_matching, written_aside
from .remote_code import REMOTE_MODULES

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
)


def weights_follow_umask(folder: Path, like: Path) -> None:
    """Give the `.safetensors` files in `folder` the permissions of `like`, a file written as the umask says:
    safetensors ≥ 0.7 creates its files with mode 0600 whatever the umask, so a folder others can read (a shared
    models directory) would hold weights they cannot."""
    mode = like.stat().st_mode & 0o777
    for weights in folder.glob("*.safetensors"):
        weights.chmod(mode)


def check_repo_id_given(repo_id: str, option: str = "--push-to-hub") -> None:
    """Raise `ValueError` for a repo id the Hub rejects (a space, `--`, `a/b/c`, over 96 characters: huggingface_hub's
    rule), naming `option`, which gave it: before the work it is pushed after (a restored dataset, a training run),
    not at the push, nor by pushing `a/b/c` to `a/c` (`check_push_access` keeps the first and last parts)."""
    from .repo_names import repo_id_problem

    if problem := repo_id_problem(repo_id):
        raise ValueError(
            f"{option} {repo_id!r} is not a Hub repo id ({problem}): give NAME or OWNER/NAME, of letters, digits, "
            "'-', '_' and '.'"
        )


def check_push_access(repo_id: str, upload_later: str, option: str = "--push-to-hub", token: str | None = None) -> str:
    """Raise `ValueError` (saying what to do) unless this machine can push to `repo_id` on the Hub: online, the Hub
    reachable, a token whose user or organisations own the repo's namespace. `upload_later` is how to upload what
    was saved locally instead (e.g. `hf upload ORG/NAME OUTPUT_DIR`), offered as the alternative; `option` is the
    command-line option that asked for the push, which the messages name; `token` the one to push with (default: the
    logged-in one / HF_TOKEN). Returns `repo_id` with its namespace: the token's user for a bare name, which the Hub
    creates there."""
    from huggingface_hub import constants

    from .loading import hub_reachable, network_errors

    later = f"or drop {option} and upload the saved folder later ({upload_later})"
    if constants.HF_HUB_OFFLINE:
        raise ValueError(f"{option} {repo_id}: HF_HUB_OFFLINE is set, so nothing can be pushed: unset it, {later}")
    if not hub_reachable():
        raise ValueError(
            f"{option} {repo_id}: the Hub ({constants.ENDPOINT}) cannot be reached: retry when it can, {later}"
        )
    try:
        me = HfApi(token=token).whoami()
    except network_errors() as err:
        raise ValueError(
            f"{option} {repo_id}: no valid Hub token ({err}): run `hf auth login` or set HF_TOKEN, {later}"
        ) from err
    names = {me.get("name")} | {org.get("name") for org in me.get("orgs") or []}
    namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
    if namespace not in names:
        raise ValueError(
            f"{option} {repo_id}: the token's user {me.get('name')!r} is not {namespace!r} nor a member of it "
            f"(it may push to {', '.join(sorted(n for n in names if n))}), {later}"
        )
    return f"{namespace}/{repo_id.rsplit('/', 1)[-1]}"


def save_model_folder(
    folder: Path,
    model: SwinIRForImageRestoration,
    card: str | None = None,
    *,
    processor_auto_map: dict[str, str] | None = None,
) -> None:
    """`save_pretrained` (safetensors + config), the image processor (with `processor_auto_map` for remote code) and,
    when given, the model card (`README.md`) into `folder`. Without `processor_auto_map` the folder has no remote
    code: its config.json gets none of the `loading_swinir.REMOTE_CODE_FIELDS` (`model.config` keeps them), and it
    loads through the package.

    The files are written aside (a hidden folder inside `folder`) and moved in at the end, with Ctrl-C and SIGTERM
    held back for those renames: an interrupted save leaves the folder as it was, never half of a model or a new
    config beside old weights. The model files of an earlier save that this one does not write are removed."""
    with written_aside(folder, _MODEL_FOLDER_PATTERNS) as staging:
        write_model_files(staging, model, card, processor_auto_map=processor_auto_map)


def model_folder_files(folder: Path) -> list[Path]:
    """The model files in `folder` (weights in any layout, config, processor config, card, code): what a save
    replaces."""
    return files_matching(folder, _MODEL_FOLDER_PATTERNS)


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
