"""The training config: `TrainingConfig`, its sections (`model`, `data`, `train`, `gan`: `sections`) checked
together, and how it is read from YAML files, bundled configs (`swinir_hf/configs/*.yaml`) and the command line.

jsonargparse reads the sections' type hints and attribute docstrings: it type-checks configs (`from_dict`), and
the trainer's command line (`swinir_hf.training.cli`) takes every field as `--section.field VALUE`, with the
docstrings as `--help`."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.resources
import re
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser, Namespace, set_parsing_settings

from ..checkpoints.hub_licenses import UnknownLicenseError, license_terms
from ..console import shown_name
from ..models.constants_swinir import LOSSES
from ..option_guesses import unspaced_field
from .benchmark_sets import check_folder_not_test_set
from .sections import VGG19_LAYERS, DataArgs, GanArgs, ModelArgs, TrainArgs, check_no_null_name
from .unread import unread_settings


def _local_folder(spec: str, split: str) -> Path | None:
    """The resolved local folder whose images a data entry (a plain path or `imagefolder:DIR`) gives for `split`
    (`split_folder`); None for a Hub id or a path that does not exist (refused later, when the data loads)."""
    from ..image_datasets import local_dataset_folder, split_folder

    path = local_dataset_folder(spec)
    if path is None:
        return None
    try:
        return split_folder(path, split).resolve()
    except ValueError:  # no such split: refused when the data loads
        return path.resolve()


# The modes torch.compile takes on every supported torch (newer ones add more, e.g. "lite").
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_backends() -> tuple[str, ...]:
    """The torch.compile backends accelerate's dynamo plugin takes (asked only of a config that names one: importing
    accelerate imports torch, which reading a config otherwise does not need)."""
    from accelerate.utils import DynamoBackend

    return tuple(sorted(b.value.lower() for b in DynamoBackend if b.value != "NO"))


# (section, count, least value, what its floor means): each refused in its own words.
_COUNT_FLOORS = (
    ("train", "max_steps", 1, ""),
    ("train", "batch_size", 1, ""),
    ("train", "gradient_accumulation_steps", 1, ""),
    ("data", "patch_size", 1, ""),
    ("train", "checkpoint_every", 0, " (0: off)"),
    ("train", "warmup_steps", 0, " (0: no warmup)"),
    ("train", "checkpoint_minutes", 0, " (0: off)"),
    ("train", "validate_every", 0, " (0: off)"),
    ("train", "keep_checkpoints", 1, ""),
    ("train", "log_every", 1, ""),
)


@dataclass
class TrainingConfig:
    """A full training run: `model`, `data`, `train` and `gan` sections."""

    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    gan: GanArgs = field(default_factory=GanArgs)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> TrainingConfig:
        """Build, type-check and validate a config; unknown sections or fields and wrongly typed values raise
        `ValueError` naming them, prefixed with `origin`."""
        parser = _sections_parser()
        try:
            return cls.from_namespace(parser, parser.parse_object(check_sections(raw, origin)))
        except argparse.ArgumentError as err:
            raise ValueError(f"{shown_name(origin)}: {error_message(err)}") from None

    @classmethod
    def from_namespace(cls, parser: ArgumentParser, parsed: Namespace, written: Collection[str] = ()) -> TrainingConfig:
        """The validated config from what `parser` (filled by `add_config_arguments`) parsed, of a command line that
        writes the options `written` (`--data.noise_sigma`, ...)."""
        built = parser.instantiate(parsed)
        config = cls(**{name: built[name] for name in SECTIONS})
        config.validate(command_line_levels(parsed, written))
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self, written_levels: Collection[str] = ()) -> None:
        """Raise `ValueError` for inconsistent settings (checked before any work starts); `written_levels`: the
        degradation levels a command line sets (`command_line_levels`), refused with the config's where unread."""
        t, d = self.train, self.data
        check_no_null_name(self)
        if not d.train:
            raise ValueError("data.train is empty: give at least one folder or dataset of training images")
        if not t.output_dir.strip():  # an unset shell variable: "" trained into the current folder
            raise ValueError("train.output_dir is empty (an unset shell variable?): name the run's folder")
        starts = {"model.init_from": "train from scratch", "gan.init_discriminator_from": "start it untrained"}
        for name, value in zip(starts, (self.model.init_from, self.gan.init_discriminator_from), strict=True):
            if value is not None and not value.strip():  # as output_dir: "" is no weights
                why = "is empty (an unset shell variable?): name the starting weights, or null to"
                raise ValueError(f"{name} {why} {starts[name]}")
        self._check_degradation()
        if d.degradation == "paired" and len(d.train_lr) != len(d.train):
            raise ValueError("degradation 'paired' needs one data.train_lr entry per data.train entry")
        if t.mixed_precision not in (None, "no", "bf16", "fp16"):
            raise ValueError(f"train.mixed_precision must be null, no, bf16 or fp16, got {t.mixed_precision!r}")
        if not 0.0 <= t.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
        self._check_counts()
        self._check_separate_validation()
        self._check_no_test_set()
        if self.gan.enabled:
            self._check_gan()
        if t.compile is not None and t.compile not in (backends := compile_backends()):
            raise ValueError(f"train.compile must be null or one of {', '.join(backends)}, got {t.compile!r}")
        if t.compile_mode not in (None, *COMPILE_MODES):
            raise ValueError(
                f"train.compile_mode must be null or one of {', '.join(COMPILE_MODES)}, got {t.compile_mode!r}"
            )
        # Set, yet the run would not read it: it would be silently ignored.
        if unread := unread_settings(self, written_levels):
            raise ValueError(next(iter(unread.values())))
        self._check_license()
        if t.loss not in (None, *LOSSES):
            raise ValueError(f"train.loss must be l1, charbonnier or null, got {t.loss!r}")
        self._check_optimizer()
        self.milestones()

    def _check_license(self) -> None:
        # Before any work: the Hub refuses (or shows no license for) a card with an unknown id.
        t, names = self.train, ("train.license", "train.license_name", "train.license_link")
        try:  # the id looked up once, by license_terms, whose refusal of it names the value only
            t.license, t.license_name, t.license_link = license_terms(
                t.license, t.license_name, t.license_link, spelled=names
            )
        except UnknownLicenseError as err:
            raise ValueError(f"train.license: {err}") from None

    def _check_no_test_set(self) -> None:
        """Training folders named as a benchmark test set (`benchmark_sets`): a model that learnt them would be scored
        on its own training images."""
        for entry in self.data.train:
            check_folder_not_test_set(entry, _local_folder(entry, self.data.split))

    def _check_separate_validation(self) -> None:
        """Training folders that hold the validation images (the same folder, or one inside the other) would make
        validation score images the model learnt from."""
        d = self.data
        val = _local_folder(d.val, d.val_split) if d.val is not None else None
        if val is None:
            return
        for entry in d.train:
            folder = _local_folder(entry, d.split)
            if folder is not None and (folder == val or folder in val.parents or val in folder.parents):
                divide = ""  # the validation images inside the training folder: its split layout keeps them apart
                if folder == val or folder in val.parents:
                    shown = shown_name(entry)
                    divide = (
                        f", divide {shown.removeprefix('imagefolder:')} into a train/ and a val/ folder (then "
                        f"--data.train '[{shown}]' --data.val {shown} trains on the one and validates on the other)"
                    )
                raise ValueError(
                    f"data.train {shown_name(entry)} and data.val {shown_name(d.val)} hold the same images: validation "
                    "would score images the model trained on. Validate on a separate folder (Set5, say: the benchmark "
                    f"test sets are never training data){divide}, or pass --data.val null"
                )

    def _check_counts(self) -> None:
        """Every count's floor, each in its own words: those that torch refuses with a traceback (num_threads) or
        in its own words once everything is built (num_workers), or that would silently mean something else
        (val_max_images -4: all but the last 4)."""
        d, t = self.data, self.train
        for section, name, least, note in _COUNT_FLOORS:
            value = getattr(t if section == "train" else d, name)
            if value < least:
                raise ValueError(f"{section}.{name} must be >= {least}{note}, got {value}")
        if not 0 <= t.seed < 2**32:  # numpy's and accelerate's seeds: said there without the field's name
            raise ValueError(f"train.seed must be in 0 .. 2**32 - 1, got {t.seed}")
        if d.num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0 (0: load in the main process), got {d.num_workers}")
        if d.val_max_images is not None and d.val_max_images < 1:
            raise ValueError(f"data.val_max_images must be >= 1 or null (all images), got {d.val_max_images}")
        if t.num_threads is not None and t.num_threads < 1:
            raise ValueError(f"train.num_threads must be >= 1 or null (torch's default), got {t.num_threads}")

    def _check_degradation(self) -> None:
        """The kind and levels of `data.degradation`: a bad noise σ or JPEG quality would otherwise fail inside the
        data loader, at the first sample that draws it (perhaps hours into the run). One the degradation does not
        read (`--data.noise_sigma 10` for bicubic SR) is refused with the other unread settings (`unread_settings`;
        an unused level at its default is dropped as such by `DataArgs`)."""
        from ..degradations.levels import LEVELS, check_level
        from ..degradations.setting import DEGRADATIONS

        d = self.data
        if d.degradation not in DEGRADATIONS:
            raise ValueError(f"data.degradation must be one of {', '.join(DEGRADATIONS)}, got {d.degradation!r}")
        for kind, level in LEVELS.items():
            for name in (level.field, f"val_{level.field}"):
                if (value := getattr(d, name)) is not None and kind == d.degradation:
                    check_level(kind, value, f"data.{name}", ranged=name == level.field)  # validation's: one level

    def _check_gan(self) -> None:
        """The GAN stage's fields, before its VGG and discriminator are built (they failed mid-step, or trained on
        other values than the run records: an empty perceptual_layers meant the default five)."""
        g = self.gan
        if g.vgg_weights is None and not g.allow_random_vgg:
            raise ValueError(
                "gan.vgg_weights is required for GAN training (a torchvision-layout VGG-19 state dict or a Hub id "
                "such as timm/vgg19.tv_in1k); gan.allow_random_vgg=true runs without one (tests only)"
            )
        weights = {"pixel_weight": g.pixel_weight, "perceptual_weight": g.perceptual_weight, "gan_weight": g.gan_weight}
        for name, value in {**weights, **{f"perceptual_layers.{k}": v for k, v in g.perceptual_layers.items()}}.items():
            if not value >= 0:  # a negative weight maximises its loss
                raise ValueError(f"gan.{name} must be >= 0, got {value}")
        if g.discriminator_channels < 1:
            raise ValueError(f"gan.discriminator_channels must be >= 1, got {g.discriminator_channels}")
        known = list(VGG19_LAYERS)
        if not g.perceptual_layers or set(g.perceptual_layers) - set(known):
            raise ValueError(
                f"gan.perceptual_layers {g.perceptual_layers}: give VGG-19 layers among {known} and their weights "
                "(gan.perceptual_weight 0 turns the perceptual loss off)"
            )

    def check_options_given(self, written: set[str]) -> None:
        """Refuse what the command line sets (among its `written` options) that the run would not read, where
        `validate` cannot tell it was asked for: GAN options without the GAN stage (not checked either:
        `--gan.discriminator_channels 0` passed)."""
        if not self.gan.enabled and (
            gan := sorted(o for o in written if o.startswith("--gan.") and o != "--gan.enabled")
        ):
            raise ValueError(
                f"{', '.join(gan)}: the GAN stage's options, and gan.enabled is false: add --gan.enabled true, or "
                "drop them"
            )

    def _check_optimizer(self) -> None:
        """The Adam and schedule fields: torch only refuses some of them once the model and data are built, in its
        own words, and takes a negative `lr_gamma` (a negative learning rate after the first milestone)."""
        t = self.train
        if not t.learning_rate >= 0:
            raise ValueError(f"train.learning_rate must be >= 0, got {t.learning_rate}")
        if len(t.adam_betas) != 2 or not all(0.0 <= b < 1.0 for b in t.adam_betas):
            raise ValueError(f"train.adam_betas must be two numbers in [0, 1), got {t.adam_betas}")
        if not t.weight_decay >= 0:
            raise ValueError(f"train.weight_decay must be >= 0, got {t.weight_decay}")
        if not t.lr_gamma > 0:
            raise ValueError(f"train.lr_gamma must be > 0, got {t.lr_gamma}")
        if not t.max_grad_norm >= 0:  # a negative norm would silently mean no clipping
            raise ValueError(f"train.max_grad_norm must be >= 0 (0: no clipping), got {t.max_grad_norm}")
        if not self.gan.discriminator_lr >= 0:
            raise ValueError(f"gan.discriminator_lr must be >= 0, got {self.gan.discriminator_lr}")

    def milestones(self) -> list[int]:
        """`train.lr_milestones` as step numbers."""
        steps = []
        for m in self.train.lr_milestones:
            if isinstance(m, float) and 0.0 < m < 1.0:
                # At least step 1: a milestone at 0 would lower the learning rate before the first step.
                steps.append(max(1, round(m * self.train.max_steps)))
            elif isinstance(m, int) and not isinstance(m, bool) and m >= 1:
                steps.append(m)
            else:
                raise ValueError(f"train.lr_milestones: {m!r} is neither a fraction in (0, 1) nor a step number >= 1")
        return sorted(steps)


SECTIONS = tuple(f.name for f in dataclasses.fields(TrainingConfig))
# "train.batch_size" → "int": the annotations as written (strings, under `from __future__ import annotations`).
FIELD_TYPES = {
    f"{section}.{f.name}": f.type
    for section, section_cls in typing.get_type_hints(TrainingConfig).items()
    for f in dataclasses.fields(section_cls)
}


def command_line_levels(given: Namespace, written: Collection[str]) -> set[str]:
    """The degradation levels (`noise_sigma`, `val_jpeg_quality`, ...) a command line sets (among its `written`
    options, parsed into `given`) other than null: one another degradation reads is asked for even at its default,
    which `DataArgs` drops as a saved config's."""
    from ..degradations.levels import LEVELS

    names = [name for level in LEVELS.values() for name in (level.field, f"val_{level.field}")]
    return {name for name in names if f"--data.{name}" in written and given.data[name] is not None}


def add_config_arguments(parser: ArgumentParser) -> None:
    """Add every config field to `parser` as a typed `--section.field` option, its attribute docstring as help."""
    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    parser.add_class_arguments(TrainingConfig)


@functools.cache
def _sections_parser() -> ArgumentParser:
    parser = ArgumentParser(exit_on_error=False, print_config=None)
    add_config_arguments(parser)
    return parser


def check_sections(raw: Any, origin: str) -> dict:
    """`raw` if it maps known sections to mappings, with empty (null) sections as `{}`; else `ValueError`.

    jsonargparse checks the fields, but lets an unknown empty section pass and fails on a non-mapping section
    with an unhelpful message."""
    if not isinstance(raw, dict):
        raise ValueError(f"{shown_name(origin)}: expected a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{shown_name(origin)}: unknown section(s) {unknown}; sections are {list(SECTIONS)}")
    for name, values in raw.items():
        if values is not None and not isinstance(values, dict):
            spaced = _unspaced(name, values) if isinstance(values, str) else None
            hint = f" ({spaced})" if spaced else ""
            raise ValueError(
                f"{shown_name(origin)}: section {name!r} must be a mapping, got {type(values).__name__}{hint}"
            )
    return {name: values or {} for name, values in raw.items()}


# jsonargparse's multi-line report of a wrongly typed value: 'Parser key "train.batch_size": ... Got value: big'.
_TYPE_ERROR = re.compile(r'Parser key "(?P<key>[\w.]+)":.*(?:Got|Given) value: (?P<value>[^\n]*)', re.DOTALL)
# ... and of an unknown field in a config: "Group 'train' does not accept option 'max_stepz'".
_UNKNOWN_FIELD = re.compile(r"Group '(?P<section>\w+)' does not accept option '(?P<field>[^']+)'")


def error_message(err: Exception, hints: Mapping[str, str] | None = None) -> str:
    """A jsonargparse error on one line, in the config's terms: `section.field: expected TYPE, got VALUE`,
    `unknown field section.field`; `hints`: what to write instead, by field (the command line's, from the value as
    written: `got 2024` says nothing of the `[/data/Trip, 2024]` it came from)."""
    text = str(err)
    if (found := _TYPE_ERROR.match(text)) and found["key"] in FIELD_TYPES:
        wanted, value = FIELD_TYPES[found["key"]], found["value"]
        # One folder where a list of them is wanted: the list form is the fix (quoted, as a shell passes it).
        scalar = value in ("None", "True", "False") or value.lstrip("-").replace(".", "").isdigit()
        listed = wanted == "list[str]" and not value.startswith(("[", "{")) and not scalar
        hint = f" (a list: '[{value}]')" if listed else ""
        if found["key"] in (hints or {}):
            hint = f" ({hints[found['key']]})"
        return f"{found['key']}: expected {wanted}, got {value}{hint}"
    if found := _UNKNOWN_FIELD.match(text):
        return f"unknown field {found['section']}.{found['field']} ({_unspaced(*found.groups()) or 'see --help'})"
    return " ".join(text.split())


def _unspaced(section: str, word: str) -> str | None:
    """`unspaced_field` of `word` among `section`'s fields: `{scale:2}` in YAML's flow style is the key 'scale:2'."""
    return unspaced_field(word, [name.split(".")[1] for name in FIELD_TYPES if name.startswith(f"{section}.")])


def bundled_configs() -> list[str]:
    """Names of the configs shipped in `swinir_hf/configs`."""
    folder = importlib.resources.files("swinir_hf") / "configs"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def config_path(spec: str) -> Path:
    """A YAML config file, or a bundled config by name (`tiny_sr_x2` or `tiny_sr_x2.yaml`)."""
    path = Path(spec)
    if path.is_file():
        return path
    bundled = importlib.resources.files("swinir_hf") / "configs" / f"{spec.removesuffix('.yaml')}.yaml"
    if not bundled.is_file():
        what = "is a folder, not a YAML file" if path.is_dir() else "not found"
        raise FileNotFoundError(f"config {shown_name(spec)} {what}; bundled configs: {', '.join(bundled_configs())}")
    return Path(str(bundled))


def read_config_file(spec: str) -> dict:
    """The raw sections of a config file or bundled config (see `config_path`)."""
    with config_path(spec).open(encoding="utf-8") as f:  # a stream, so that YAML errors name the file
        return yaml.safe_load(f) or {}


def flat_config(d: dict, prefix: str = "") -> dict:
    """Nested config → flat {"section/field": scalar} for trackers (lists and dicts as strings)."""
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict) and not prefix:
            flat.update(flat_config(value, f"{key}/"))
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = str(value)
    return flat
