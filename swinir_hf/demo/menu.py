"""What the demo offers: its tasks in the user's words, and one entry per model choice (bundled, local, the
authors' releases on the Hub) with whether it can run here."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints.catalog import Release, load_catalog
from ..checkpoints.convert import CheckpointError
from ..checkpoints.hub_lookup import hub_cached
from ..checkpoints.loading import DEFAULTS_DIR, hub_reachable, read_model_config
from ..console import typed_path
from ..degradations.levels import LEVELS
from ..models.configuration_swinir import TASK_TABLE
from .errors import ModelError, missing_model, user_error

SR = "Super-resolution"
REAL_SR = "Real-world super-resolution"
DENOISE = "Denoising"
JPEG = "JPEG artifact removal"
TASKS = (REAL_SR, SR, DENOISE, JPEG)
# The task choice in the words of someone who just wants a better picture: what the input is, and what happens.
TASK_WORDS = {
    REAL_SR: "Photo: enlarge",
    SR: "Clean image: enlarge",
    DENOISE: "Noisy: remove noise",
    JPEG: "JPEG: remove blocks",
}
# What a ×1 task's download is named after (photo_denoise.png); an enlarging task's says its scale (photo_x4.png).
FILE_TAGS = {DENOISE: "denoise", JPEG: "dejpeg"}
TASK_NOUNS = {REAL_SR: "photos", SR: "clean images", DENOISE: "noisy images", JPEG: "JPEG images"}
# What the noise level / JPEG quality control is called for the tasks whose checkpoints are trained per level.
LEVEL_LABELS = {DENOISE: "Noise level σ (selects the checkpoint)", JPEG: "JPEG quality (selects the checkpoint)"}
# The values a level can take (the degradations' own bounds): a noise σ on the 0-255 scale, a JPEG quality.
LEVEL_RANGES = {
    task: (what, LEVELS[kind].low, LEVELS[kind].high)
    for task, what, kind in ((DENOISE, "Noise level σ", "noise"), (JPEG, "JPEG quality", "jpeg"))
}
# The demo's task of each of the paper's tasks (`TASK_TABLE`: what its checkpoints restore), and their menu names.
_RESTORES = {"sr": SR, "real_sr": REAL_SR, "dn": DENOISE, "jpeg": JPEG}
CONFIG_TASKS = {name: _RESTORES[task.restores] for name, task in TASK_TABLE.items()}
SHORT_KINDS = {name: task.short for name, task in TASK_TABLE.items()}
MAIN_SCALES = (1, 2, 4)
AUTO = "auto"
CUSTOM = "custom"
CUSTOM_OFF = (
    "This server loads only the models it lists. To restore with your own model, run the demo on your machine "
    "(`swinir-hf demo`), or use `swinir-hf restore --model PATH`."
)


@dataclass(frozen=True)
class ModelEntry:
    """One model choice: its task, scale, colour channels, a label, and the `load_model` spec for each level.

    `specs` maps a noise σ / JPEG quality to its checkpoint, or has the single key None for a model with no levels.
    """

    task: str
    label: str
    specs: Mapping[int | None, str]
    scale: int = 1
    channels: int = 3
    on_hub: bool = False

    @property
    def levels(self) -> list[int]:
        return sorted(k for k in self.specs if k is not None)

    def spec(self, level: int | None) -> str:
        if None in self.specs:
            return self.specs[None]
        if level is None or int(level) not in self.specs:
            raise user_error(f"Pick one of the levels {self.levels} for {self.label}.")
        return self.specs[int(level)]


def release_label(release: Release) -> str:
    """Short picker label of an authors' checkpoint family, e.g. 'SwinIR-M real-world ×4 GAN · authors'."""
    extra = ""
    if release.task == "classical_sr":
        extra = " DF2K" if "Flickr2K" in release.training_data else " DIV2K"
    elif release.task == "real_sr":
        extra = " GAN" if release.gan else " PSNR"
    scale = f" ×{release.scale}" if release.scale > 1 else ""
    return f"SwinIR-{release.size} {SHORT_KINDS[release.task]}{scale}{extra} · authors"


def authors_models() -> list[ModelEntry]:
    """The authors' released checkpoints from the package catalogue, by Hub id. Checkpoints that differ only in
    noise σ / JPEG quality share one entry."""
    families: dict[tuple, tuple[Release, dict[int | None, str]]] = {}
    for release in load_catalog().releases:
        key = (release.task, release.scale, release.size, release.objective, release.training_data)
        levelless = dataclasses.replace(release, noise_level=None, jpeg_quality=None)
        families.setdefault(key, (levelless, {}))[1][release.noise_level or release.jpeg_quality] = release.repo_id()
    return [
        ModelEntry(CONFIG_TASKS[r.task], release_label(r), specs, r.scale, r.config().num_channels, on_hub=True)
        for r, specs in families.values()
    ]


def task_of(config: Mapping) -> str:
    """Demo task of a model config (its `task`, else ×1 models count as denoising)."""
    return CONFIG_TASKS.get(config.get("task")) or (SR if config.get("upscale", 1) > 1 else DENOISE)


def read_config(folder: Path) -> dict:
    """`read_model_config` (config.json checked to be loadable; a training checkpoint's read through its model
    folder), its one-line problem a `ModelError`."""
    try:
        return read_model_config(folder)
    except CheckpointError as err:
        raise ModelError(str(err)) from None


def config_entry(config: Mapping, label: str, spec: str) -> ModelEntry:
    """The entry of one local model (`spec`: its folder or file) from its config: task, scale and channels."""
    scale = int(config.get("upscale", 1))
    return ModelEntry(task_of(config), label, {None: spec}, scale, int(config.get("num_channels", 3)))


def folder_entry(folder: Path, label: str) -> ModelEntry:
    return config_entry(read_config(folder), label, str(folder))


def local_labels(specs: list[str]) -> list[str]:
    """Model-list labels of local folders / `.pth` files: the name, or the path as given where two share a name (the
    list finds a model by its label)."""
    names = [Path(s).resolve().name for s in specs]
    return [f"{name if names.count(name) == 1 else spec} · local" for name, spec in zip(names, specs, strict=True)]


def bundled_models(defaults_dir: Path = DEFAULTS_DIR) -> list[ModelEntry]:
    """The package's own checkpoints: every `save_pretrained` folder under `swinir_hf/defaults/` (work offline), but
    hidden ones: the staging folder of a bundling that was killed (`hub/bundle_default.py`) is not a model."""
    if not defaults_dir.is_dir():
        return []
    folders = sorted(p for p in defaults_dir.iterdir() if not p.name.startswith(".") and (p / "config.json").is_file())
    return [folder_entry(p, f"{p.name} · bundled") for p in folders]


@functools.cache
def _hub_answers() -> bool:
    return hub_reachable()


def hub_online() -> bool:
    """Whether Hub downloads can happen: not HF_HUB_OFFLINE, and the Hub answered (probed once per process)."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE and _hub_answers()


def default_level(levels: list[int], target: int | None) -> int:
    """The level closest to `target` (a level asked for, or a JPEG's estimated quality; the lower on a tie), else
    the middle one."""
    if target is None:
        return levels[len(levels) // 2]
    return min(levels, key=lambda q: abs(q - target))


@dataclass(frozen=True)
class Plan:
    """What Restore will run with the current controls, or why it cannot."""

    entry: ModelEntry | None = None
    spec: str | None = None
    level: int | None = None
    problem: str | None = None
    auto: bool = False  # the automatic choice: a level picks the nearest trained one rather than having to match

    @property
    def name(self) -> str:
        if self.entry is None:
            return Path(self.spec or "").name
        return self.entry.label if self.level is None else f"{self.entry.label}, {self.level}"


@dataclass
class Menu:
    """The model entries on offer, and what Restore runs for the controls' values (`plan`).

    Args:
        entries: every model choice, in the order the model list shows them (bundled, local, the authors').
        custom_models: whether a model can be given by path or Hub id ("custom"): a server open to others must not
            let its users load (and probe) its files, or any Hub repo.
    """

    entries: list[ModelEntry]
    custom_models: bool = True

    def unavailable(self, entry: ModelEntry, level: int | None = None) -> str | None:
        """Why `entry` cannot run here now (offline and not cached), or None."""
        if not entry.on_hub:
            return None
        specs = [entry.specs[level]] if level in entry.specs else list(entry.specs.values())
        if hub_online() or all(hub_cached(s) for s in specs):
            return None
        return "needs a download from the Hugging Face Hub, and this server is offline"

    def status_label(self, entry: ModelEntry) -> str:
        """The entry's label as the model list shows it: marked when it downloads or cannot run."""
        if not entry.on_hub or all(hub_cached(s) for s in entry.specs.values()):
            return entry.label
        return entry.label + (" · downloads on first use" if hub_online() else " · needs a download (offline)")

    def task_entries(self, task: str) -> list[ModelEntry]:
        return [e for e in self.entries if e.task == task]

    def task_ready(self, task: str) -> bool:
        return any(self.unavailable(e) is None for e in self.task_entries(task))

    def task_choices(self) -> list[tuple[str, str]]:
        return [(TASK_WORDS[t] + ("" if self.task_ready(t) else " (needs a download)"), t) for t in TASKS]

    def first_task(self) -> str:
        """The first task (in `TASKS` order) with an offline (bundled or local) model, else super-resolution."""
        offline = {e.task for e in self.entries if not e.on_hub}
        return next((t for t in TASKS if t in offline), SR)

    def scales(self, task: str, entry: ModelEntry | None = None) -> list[int]:
        """The scale choices of a task: ×1 / ×2 / ×4 where it has models, plus a chosen model's own scale."""
        have = {e.scale for e in self.task_entries(task)}
        main = [s for s in MAIN_SCALES if s in have] or sorted(have) or [1]
        return sorted(set(main) | ({entry.scale} if entry else set()))

    def default_scale(self, task: str) -> int:
        return max(self.scales(task))

    def model_choices(self, task: str) -> list[tuple[str, str]]:
        return (
            [("Automatic (best for the task, scale and image)", AUTO)]
            + [(self.status_label(e), e.label) for e in self.task_entries(task)]
            + ([("Local folder or .pth file…", CUSTOM)] if self.custom_models else [])
        )

    def entry(self, task: str, label: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.task == task and e.label == label), None)

    def pick(self, task: str, scale: int, channels: int = 3, level: int | None = None) -> ModelEntry | None:
        """The automatic choice: a model of the task and scale that runs here, trained at the level nearest a
        `level` asked for (before a blind one), local before Hub, cached before not, the input's colour (colour
        JPEG → colour model)."""
        candidates = [e for e in self.task_entries(task) if e.scale == scale]
        order = {id(e): i for i, e in enumerate(candidates)}

        def distance(e: ModelEntry) -> float:
            if level is None:
                return 0
            return min((abs(x - level) for x in e.levels), default=math.inf)

        def rank(e: ModelEntry) -> tuple:
            return (self.unavailable(e) is not None, distance(e), e.on_hub, e.channels != channels, order[id(e)])

        return min(candidates, key=rank, default=None)

    def unknown_model(self, task: str, label: str | None) -> str:
        """Why a model label sent with a task is none of the task's: another task's model (say which), or unknown."""
        other = next((e for e in self.entries if e.label == label), None)
        if other is None:
            return f"Unknown model {label!r} for {TASK_NOUNS.get(task, task)}: {self._model_hint(task, label)}"
        return (
            f"{label} is a model for {TASK_NOUNS[other.task]}, not for {TASK_NOUNS.get(task, task)}: "
            f"choose the task {other.task!r} ({TASK_WORDS[other.task]!r}), or another model."
        )

    def _scale_hint(self, task: str) -> str:
        """': send scale 2, 3, 4 or 8': the scales the task has a model at that runs here (an API client may send
        any; offline, a scale whose models all need a download would only be refused next), else all of them."""
        entries = self.task_entries(task)
        runs = {e.scale for e in entries if self.unavailable(e) is None}
        scales = [str(s) for s in sorted(runs or {e.scale for e in entries})]
        if not scales:
            return ""
        return f": send scale {', '.join(scales[:-1]) + ' or ' + scales[-1] if len(scales) > 1 else scales[0]}"

    def _model_hint(self, task: str, label: object) -> str:
        """What to send instead of a model `label` that is none of the task's: the label of the same name (API
        clients send `sr-x2`, as the command line takes it, for `sr-x2 · bundled`) with its task where that is
        another (sent with this task, it would only be refused next), else the choices that run here, others counted."""
        name = label.split(" · ")[0] if isinstance(label, str) else None
        ordered = sorted(self.entries, key=lambda e: e.task != task)  # the task's own first
        near = next((e for e in ordered if e.label.split(" · ")[0] == name), None)
        if near is not None:
            words = f"the task {near.task!r}, {TASK_WORDS[near.task]!r} on the page"
            other = "" if near.task == task else f", a model for {TASK_NOUNS[near.task]} ({words})"
            return f"did you mean {near.label!r}{other}?"
        runs = [e.label for e in self.task_entries(task) if self.unavailable(e) is None]
        left_out = len(self.task_entries(task)) - len(runs)
        more = f" ({left_out} more would need a download, and this server is offline.)" if left_out else ""
        return f"choose {', '.join(map(repr, [AUTO, *runs]))}.{more}"

    def auto_levels(self, task: str, scale: int) -> list[int]:
        """The levels that steer the automatic choice at this task and scale: those of its models that run here."""
        entries = [e for e in self.task_entries(task) if e.scale == scale and self.unavailable(e) is None]
        return sorted({x for e in entries for x in e.levels})

    def plan(
        self,
        task: str,
        scale: int | str | None,
        model: str | None,
        level: int | str | None,
        custom_path: str | None,
        channels: int = 3,
        quality: int | None = None,
    ) -> Plan:
        """Controls → what Restore runs, or the one-line reason it cannot. `channels` and a JPEG's `quality` are
        the input's: they pick the colour model and the default quality level."""
        if model == CUSTOM:
            if not self.custom_models:
                return Plan(problem=CUSTOM_OFF)
            path = typed_path(custom_path or "")
            if not path:
                return Plan(problem="Enter the path of a local model folder or an authors' .pth file.")
            return Plan(spec=path, problem=missing_model(path))
        auto = model in (None, "", AUTO)
        asked = int(level) if level not in (None, "") else None
        if not auto:
            entry = self.entry(task, model)
            if entry is None:
                return Plan(problem=self.unknown_model(task, model))
        else:
            scale = int(scale) if scale not in (None, "") else self.default_scale(task)
            entry = self.pick(task, scale, channels, asked)
            if entry is None:
                return Plan(problem=f"No model for {TASK_NOUNS.get(task, task)} at ×{scale}{self._scale_hint(task)}.")
        chosen = None
        if entry.levels:  # the level asked for (the nearest one for the automatic choice), else the default
            steers = asked is not None and (auto or asked in entry.levels)
            chosen = default_level(entry.levels, asked) if steers else default_level(entry.levels, quality)
        problem = self.unavailable(entry, chosen)
        if problem is not None:
            if auto:
                problem = f"No offline model for {TASK_NOUNS[task]} ×{entry.scale} yet: {entry.label} {problem}"
            else:
                problem = f"{entry.label} {problem}"
            return Plan(entry=entry, level=chosen, problem=problem + ".", auto=auto)
        return Plan(entry=entry, spec=entry.spec(chosen), level=chosen, auto=auto)


def precisions(device: str) -> list:
    """The precisions a device ("cpu" / "cuda") runs, as the page's radio offers them."""
    from ..inference.devices import device_dtypes

    return [("Automatic", "auto"), *device_dtypes(device)]
