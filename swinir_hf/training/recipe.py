"""What a run records of its settings, and what a resume may change of them. Each checkpoint's progress.json keeps
the config of the launch that saved it (`config`), the settings its training samples follow (`samples`) and its
starting weights (`start`), which a resume reads once (`CheckpointRecord`); for a checkpoint written before a record
was kept, the run folder's training_config.yaml stands in (kept in the checkpoint before a resume rewrites it:
`keep_recorded_config`). A resume may change only `RESUMABLE` settings: those changes are kept in the run's progress
(`Progress.changes`) and head its training_config.yaml (`config_text`); `resume_checks` refuses the others."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..checkpoints.run_folder import CHECKPOINTS, PROGRESS
from ..console import shown_name
from ..image_datasets import source_location
from ..storage.atomic_writes import write_text_file
from .config import FIELD_TYPES, SECTIONS, TrainingConfig
from .unread import EARLIER_VALUES, as_read

if TYPE_CHECKING:
    from .warm_start import InitReport

# The settings that make a run's training samples (each a pure function of the seed and its place in the stream):
# a resumed run that changed one would train on two streams that its card and training_config.yaml cannot tell apart.
SAMPLE_SETTINGS = (
    "train.seed",
    "train.batch_size",
    "data.train",
    "data.train_lr",
    "data.split",
    "data.patch_size",
    "data.degradation",
    "data.noise_sigma",
    "data.jpeg_quality",
    "data.sharpen_target",
    "data.flip",
    "data.rot90",
)

# The settings that name folders: compared by where the folders are, which each checkpoint keeps too (`located`).
LOCATED_SETTINGS = ("data.train", "data.train_lr")
# Every setting that names a file or folder, compared by where it is (a relative path from another working folder,
# an absolute one or a link to it: the same place), not as written.
PLACES = (*LOCATED_SETTINGS, "data.val", "data.val_lr", "data.cache_dir", "model.init_from", "gan.vgg_weights")

# The settings naming a run's starting weights: compared by the checkpoint's record of its start (`start`), not its
# config's, and gone on from on a resume that does not name them (`resumed_start`).
STARTS = ("model.init_from", "gan.init_discriminator_from")

# The settings the model's config is resolved from (`warm_start.build_model`): two runs whose model configs are the same
# resolved them alike, however they were written (train.loss null and the preset's own l1; model.config without
# upscale and with model.scale's).
MODEL_SETTINGS = ("model.preset", "model.scale", "model.config", "train.loss", "train.charbonnier_eps")

# What a resume may change: how long the run trains and its learning-rate schedule (which follows the current config:
# `state.set_schedule`; the discriminator's too), how its steps run (precision, compiling, micro-batches, clipping: the
# advice for a run that diverged, memory, threads, data workers) and where, and how it validates, checkpoints and
# logs. The rest is the run's recipe (its model, samples, loss, optimizer, EMA, GAN terms, starting weights): a run
# resumed with another would be trained two ways, and its card and training_config.yaml would give one for all steps.
RESUMABLE = frozenset(
    {
        "model.gradient_checkpointing",
        "data.val",
        "data.val_lr",
        "data.val_split",
        "data.val_max_images",
        "data.val_noise_sigma",
        "data.val_jpeg_quality",
        "data.num_workers",
        "data.cache_dir",
        "train.output_dir",
        "train.max_steps",
        "train.learning_rate",
        "train.lr_milestones",
        "train.lr_gamma",
        "train.warmup_steps",
        "train.gradient_accumulation_steps",
        "train.max_grad_norm",
        "train.mixed_precision",
        "train.compile",
        "train.compile_mode",
        "train.compile_regions",
        "train.num_threads",
        "train.tune_allocator",
        "train.checkpoint_every",
        "train.checkpoint_minutes",
        "train.keep_checkpoints",
        "train.validate_every",
        "train.log_every",
        "train.report_to",
        "train.project_name",
        "train.license",
        "train.license_name",
        "train.license_link",
        "gan.discriminator_lr",
        "gan.allow_random_vgg",
    }
)


def settings(cfg: TrainingConfig) -> dict[str, Any]:
    """Every field of `cfg` by its dotted name (`train.seed`), as JSON values."""
    sections = {name: getattr(cfg, name) for name in SECTIONS}
    return json.loads(json.dumps({n: getattr(sections[n.split(".")[0]], n.split(".")[1]) for n in FIELD_TYPES}))


def sample_settings(cfg: TrainingConfig) -> dict[str, Any]:
    """This run's `SAMPLE_SETTINGS` as JSON values (paths as given), which each checkpoint's progress.json keeps, and
    where its folders are (`located`): a run resumed from another working folder names them otherwise."""
    values = {name: value for name, value in settings(cfg).items() if name in SAMPLE_SETTINGS}
    return values | {"located": {name: _resolved(values[name]) for name in LOCATED_SETTINGS}}


def start(cfg: TrainingConfig, report: InitReport | None = None, discriminator: Path | None = None) -> dict[str, Any]:
    """The weights the run started from (`model.init_from`, as given and where it is) and what of them it loaded
    (`report`'s fields), and those of a GAN run's discriminator (`gan.init_discriminator_from`, under `discriminator`:
    as given, where it is, and the checkpoint it loaded, `discriminator`), which each checkpoint's progress.json keeps:
    a resume goes on from them, named again or not (`CheckpointRecord.start`), and the card of a resumed run names
    them, not the resumed command's."""
    saved = {"init_from": cfg.model.init_from, "located": _resolved(cfg.model.init_from)}
    if (disc := cfg.gan.init_discriminator_from) and cfg.gan.enabled:
        loaded = {"checkpoint": str(discriminator)} if discriminator is not None else {}
        saved["discriminator"] = {"init_from": disc, "located": _resolved(disc), **loaded}
    return saved | ({"report": dataclasses.asdict(report)} if report is not None else {})


def discriminator_start(started: dict[str, Any] | None) -> str | None:
    """The `gan.init_discriminator_from` of a run's record of its start (`start`); None: untrained (a record of an
    earlier swinir-hf, which had no such setting, too)."""
    return (started or {}).get("discriminator", {}).get("init_from")


@dataclasses.dataclass(frozen=True)
class CheckpointRecord:
    """What a checkpoint records of the run that saved it, read once for a resume (`checkpoint_record`) and handed to
    its checks and its start: its progress.json as read (`progress`: not to be changed, a resumed `Progress` takes a
    copy), the config the run trained with as recorded (`raw_config`: progress.json's, else its run folder's
    training_config.yaml) and as the run read it (`config`: `unread.as_read`), and its starting weights (`start`:
    progress.json's, else `config`'s `model.init_from`). A record not there or unreadable is None."""

    checkpoint: Path
    progress: dict[str, Any]
    raw_config: dict[str, Any] | None
    config: TrainingConfig | None
    start: dict[str, Any] | None

    @property
    def step(self) -> int:
        """The step the checkpoint was saved at."""
        return int(self.progress["step"])


def checkpoint_record(checkpoint: Path, progress: dict[str, Any], cfg: TrainingConfig) -> CheckpointRecord:
    """The record of `checkpoint`, whose progress.json read `progress`: its config as the run read it (`as_read`: a
    field it does not name, added to swinir-hf since, at `cfg`'s value; one its own settings leave unread at its
    default). For a checkpoint of an earlier swinir-hf, which keeps no config (nor starting weights), its run folder's
    training_config.yaml, written at the run's last launch, stands in."""
    raw = progress.get("config")
    if raw is None and (own := run_config_file(checkpoint)) is not None:
        try:
            raw = yaml.safe_load(own.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            raw = None
    raw = raw if isinstance(raw, dict) else None
    config = as_read(raw, cfg)[0] if raw is not None else None
    started = progress.get("start")
    if started is not None and started.get("init_from") == "":  # an earlier swinir-hf's from scratch (`as_read`)
        started = started | {"init_from": None, "located": None}
    if started is None and config is not None:
        started = start(config)
    return CheckpointRecord(checkpoint, progress, raw, config, started)


def resumed_start(record: CheckpointRecord, cfg: TrainingConfig) -> tuple[TrainingConfig, dict[str, Any]]:
    """`cfg` going on from `record`'s checkpoint (`check_start_resumable` passed) and the record of the weights it
    started from: the run's (`record.start`), whether `cfg` names them again or not, its `model.init_from` and
    `gan.init_discriminator_from` set to theirs for its training_config.yaml and later checkpoints (this config's
    where none is recorded)."""
    started = record.start or start(cfg)
    model = dataclasses.replace(cfg.model, init_from=started["init_from"])
    disc = discriminator_start(started) if cfg.gan.enabled else None
    gan = dataclasses.replace(cfg.gan, init_discriminator_from=disc)
    return dataclasses.replace(cfg, model=model, gan=gan), started


def run_config_file(checkpoint: Path) -> Path | None:
    """The training_config.yaml of the run folder `checkpoint` is in (`RUN/checkpoints/step-N`), if there is one."""
    path = checkpoint.parent.parent / "training_config.yaml"
    return path if checkpoint.parent.name == CHECKPOINTS and path.is_file() else None


def keep_recorded_config(record: CheckpointRecord, out: Path) -> None:
    """Before a resume from `record`'s checkpoint rewrites the training_config.yaml of its run folder `out`: where
    that file is the checkpoint's only record of its run's config (an earlier swinir-hf's checkpoint), copy it into
    the checkpoint's progress.json. A resume stopped before its first checkpoint left the next one compared with its
    own settings."""
    own, progress = run_config_file(record.checkpoint), record.progress
    if "config" in progress or own is None or own.resolve() != (out / "training_config.yaml").resolve():
        return
    if record.raw_config is not None:
        write_text_file(record.checkpoint / PROGRESS, json.dumps(progress | {"config": record.raw_config}))


def recipe_changes(before: TrainingConfig, after: TrainingConfig, same_model: bool = False) -> list[str]:
    """The settings of the recipe (all but `RESUMABLE`) that `after` changes from `before`, as messages say them; not
    the samples' and starting weights' (`SAMPLE_SETTINGS`, `STARTS`), which `resume_checks` compares by the
    checkpoint's own records of them where it has them, nor, where the two resolve the same model config
    (`same_model`), the settings it is resolved from (`MODEL_SETTINGS`), nor the GAN stage's (`gan.*`) where neither
    trains a GAN."""
    own = (*RESUMABLE, *SAMPLE_SETTINGS, *STARTS, *(MODEL_SETTINGS if same_model else ()))
    return _changes(before, after, [name for name in FIELD_TYPES if name not in own])


def resumed_changes(before: TrainingConfig, after: TrainingConfig) -> list[str]:
    """The `RESUMABLE` settings that `after` changes from `before`, as messages say them (the GAN stage's only where
    either trains a GAN)."""
    return _changes(before, after, [name for name in FIELD_TYPES if name in RESUMABLE])


def _changes(before: TrainingConfig, after: TrainingConfig, names: list[str]) -> list[str]:
    old, new = settings(before), settings(after)
    if not (old["gan.enabled"] or new["gan.enabled"]):  # the GAN stage's settings: read by neither run
        names = [name for name in names if not name.startswith("gan.")]
    return [change for name in names if (change := setting_change(old, new, name))]


def config_text(cfg: TrainingConfig, changes: list[dict]) -> str:
    """The run's training_config.yaml: `cfg`, under comments giving the values that resumes changed (`changes`, as
    `Progress.changes` keeps them), so that it does not claim the earlier steps for the values of the last launch."""
    # One comment a line: a line break in an entry (a file's name) would end the comment, the rest read as settings.
    lines = [shown_name(f"#   from step {c['step']}: {', '.join(c['changed'])}") for c in changes]
    header = [
        "# The settings of the run's last launch. A resume changed some of them; the steps before each change ran with",
        "# the values before its arrows:",
    ]
    return "".join(f"{line}\n" for line in (header + lines if lines else [])) + yaml.safe_dump(
        cfg.to_dict(), sort_keys=False
    )


def setting_change(saved: dict[str, Any], now: dict[str, Any], name: str) -> str | None:
    """Setting `name`'s change between recorded settings (`settings`, `sample_settings`) and this run's, as messages
    say it (places written alike but elsewhere, from another working folder: by where they are); None if unchanged."""
    before, after = _compared(saved, name, now[name]), _compared(now, name, now[name])
    if before == after:
        return None
    if (was := saved.get(name, EARLIER_VALUES.get(name))) != now[name]:
        before, after = was, now[name]
    return f"{name}: {before!r} → {after!r}"


def _compared(settings: dict[str, Any], name: str, default: Any) -> Any:
    """Setting `name` (`default` where a record lacks it) as compared: places (`PLACES`) by where they were when
    saved (`located`; a record of an earlier swinir-hf: as written, from this working folder); one added since at what
    earlier ones did (`EARLIER_VALUES`)."""
    if name not in PLACES:
        return settings.get(name, EARLIER_VALUES.get(name, default))
    located = settings.get("located", {})
    return located[name] if name in located else _resolved(settings.get(name, default))


def _resolved(value: Any) -> Any:
    """A setting to compare: files and folders (`data.train` entries) by where they are, not as written."""
    if isinstance(value, list):
        return [source_location(v) if isinstance(v, str) else v for v in value]
    return source_location(value) if isinstance(value, str) else value
