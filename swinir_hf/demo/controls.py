"""`ControlCallbacks`: what the page's controls show for the upload and the settings (the scale and model
choices, the level, the plan line, Restore on or off), and the shrink offer for an upload over the size limit.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import gradio as gr

from ..checkpoints.hub_lookup import hub_cached
from .comparison import write_output
from .errors import user_error
from .limits import MAX_SHRINK_PIXELS
from .menu import AUTO, CUSTOM, JPEG, LEVEL_LABELS, Menu, Plan
from .uploads import (
    UploadFacts,
    colour_channels,
    decode,
    describe,
    frames_note,
    jpeg_quality,
    open_header,
    shrink,
    size_of,
    thumbnail,
)


class ControlUpdates(NamedTuple):
    """What the control callbacks set: updates of the scale, model list, level, path box, plan line and Restore."""

    scale: dict
    model: dict
    level: dict
    custom: dict
    plan: str
    run: dict


class Settings(NamedTuple):
    """The controls' settings, as the page sends them."""

    task: str
    scale: int | None
    model: str | None
    level: int | None
    custom_path: str | None


class UploadLeft(NamedTuple):
    """What an upload's answer leaves for `after_upload`: the settings it was sent with, its controls (whose values
    it did not set), and the stamp it put on the page."""

    sent: Settings
    controls: ControlUpdates
    stamp: int


class ControlStamps:
    """Which control answers are stale. Each upload's answer stamps the page with a new number, and each click on a
    control (task, scale, level, path box, model) sends the stamp it saw: a click sent with an upload's stamp was
    made once that upload's answer had landed, so `after_upload`, sent when it landed, must not set the controls
    once such a click has reached the server. Its answer, computed from the settings before that click, could land
    after the click's and set the controls back (the control events run at once, each on its own thread).
    Likewise a click's answer is stale once a later click of the page (on another control) has reached the server."""

    def __init__(self) -> None:
        self._next = 1  # the page starts with stamp 0
        self._clicked: dict[str, int] = {}  # each session's latest stamp a click was sent with
        self._clicks: dict[str, int] = {}  # how many clicks of each session have reached the server
        self._lock = threading.Lock()

    def new(self) -> int:
        """A stamp for an upload's answer, above every stamp before it."""
        with self._lock:
            self._next += 1
            return self._next - 1

    def clicked(self, request: gr.Request | None, stamp: int | None) -> int | None:
        """A click reached the server, sent with `stamp` (None: called directly, not from the page): its number in
        its session's clicks, for `superseded`."""
        if stamp is None:
            return None
        with self._lock:
            session = _session(request)
            self._clicked[session] = max(self._clicked.get(session, 0), int(stamp))
            self._clicks[session] = self._clicks.get(session, 0) + 1
            return self._clicks[session]

    def superseded(self, request: gr.Request | None, click: int | None) -> bool:
        """Whether a click of the session made after click number `click` has reached the server."""
        with self._lock:
            return click is not None and self._clicks.get(_session(request), 0) > click

    def clicked_since(self, request: gr.Request | None, stamp: int) -> bool:
        """Whether a click sent once the page showed `stamp` has reached the server."""
        with self._lock:
            return self._clicked.get(_session(request), 0) >= stamp

    def forget(self, session: str) -> None:
        """The page was closed: its stamps are no one's."""
        with self._lock:
            self._clicked.pop(session, None)
            self._clicks.pop(session, None)


def _session(request: gr.Request | None) -> str:
    return request.session_hash if request else ""


def _no_value(update: dict) -> dict:
    """`update` without its value: the page keeps the one it shows."""
    return {key: value for key, value in update.items() if key != "value"}


class ControlCallbacks:
    """The control callbacks of `RestorationDemo`, which mixes them in: they read its `menu` and `max_pixels`, and
    write a shrunk upload, as `RestorationDemo` its results (`comparison.write_output`), where its `_output_path`
    says; the upload's facts are kept in its `upload_facts` for the control changes that follow."""

    menu: Menu
    max_pixels: int
    upload_facts: UploadFacts
    control_stamps: ControlStamps

    def inspect(self, path: str | None) -> dict:
        """What the controls need to know about the upload: size, colour, JPEG quality, or why it cannot be used."""
        if not path:
            return {}
        try:
            w, h = open_header(path)
            if w * h > self.max_pixels:
                return {"size": (w, h), "too_big": True}
            data = decode(path)
        except gr.Error as err:
            return {"error": err.message}
        return {
            "size": size_of(data.pixels),
            "channels": colour_channels(data.pixels),
            "quality": jpeg_quality(path),
            "pixels": data.pixels,
        }

    def controls(
        self, info: dict, task: str, scale, model, level, custom_path, *, follow_model: bool = False, busy: bool = False
    ) -> ControlUpdates:
        """Updates of (scale, model list, level, path box, plan line, Restore) for the current controls: a model
        sets the scale; another scale, or a model of another task, goes back to the automatic model. While this
        session's job runs (`busy`), Restore is left off whatever the plan: a second click would start a second job."""
        entry = self.menu.entry(task, model) if model not in (None, AUTO, CUSTOM) else None
        if entry is None and model not in (None, CUSTOM):
            # Another task's model: clicked before the task's answer landed, which `ControlStamps` then dropped.
            model = AUTO
        if follow_model and entry is not None:
            scale = entry.scale
        elif entry is not None and scale not in (None, "") and int(scale) != entry.scale:
            entry, model = None, AUTO
        scales = self.menu.scales(task, entry)
        scale = int(scale) if scale not in (None, "") and int(scale) in scales else self.menu.default_scale(task)
        quality = info.get("quality") if task == JPEG else None
        plan = self.menu.plan(task, scale, model, level, custom_path, info.get("channels", 3), quality)
        levels = plan.entry.levels if plan.entry else []
        if plan.auto and not levels:  # a blind model: the levels that would steer the automatic choice elsewhere
            levels = self.menu.auto_levels(task, scale)
        problem = plan.problem or info.get("error") or ("The image is too large." if info.get("too_big") else None)
        return ControlUpdates(
            gr.update(choices=[(f"×{s}", s) for s in scales], value=scale),
            gr.update(choices=self.menu.model_choices(task), value=model or AUTO),
            gr.update(visible=bool(levels), choices=levels, value=plan.level, label=LEVEL_LABELS.get(task, "Level")),
            gr.update(visible=model == CUSTOM),
            self.plan_text(plan, info),
            # Busy: left as the job's start set it (off). An answer sent while busy can land after the job's end
            # (`on_idle`, which sets Restore from the settings): it turned Restore off again, for good.
            gr.update() if busy else gr.update(interactive=problem is None and bool(info.get("size"))),
        )

    def plan_text(self, plan: Plan, info: dict) -> str:
        if plan.problem:
            return f"⚠ {plan.problem}"
        what = plan.name if plan.entry else f"{plan.spec} (local)"
        if plan.entry and plan.entry.on_hub and not hub_cached(plan.spec):
            what += " (downloads on first use)"
        if "size" not in info or "error" in info or info.get("too_big"):
            return f"Model: {what}"
        w, h = info["size"]
        if plan.entry is None:  # a local path: its scale is known only once Restore loads it
            return f"Model: {what} · {w}×{h} → ×? (the model's own scale)"
        s = plan.entry.scale
        return f"Model: {what} · {w}×{h} → {s * w}×{s * h}"

    def size_problem(self, w: int, h: int) -> str:
        """Why a w×h input is too large, in exact pixels: rounded megapixels made an image just over the limit
        read as under it ('1.0 megapixels; this demo takes up to 1.05')."""
        return f"This image is {w}×{h} = {w * h:,} pixels; this demo takes up to {self.max_pixels:,}"

    # The control callbacks' last input, `busy`, is the page's per-session flag: True from Restore's click until the
    # job ends (`on_idle`).

    def on_upload(self, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        """The upload's preview, its one-line description (or the problem), the shrink offer, and the controls."""
        shown, controls = self._upload_updates(path, task, scale, model, custom_path, busy)
        return (*shown, *controls)

    def _upload_updates(self, path, task, scale, model, custom_path, busy: bool) -> tuple[tuple, ControlUpdates]:
        """`on_upload`'s answer: (preview, description, shrink offer), and the controls."""
        info = self.inspect(path)
        if path and (key := UploadFacts.key(path)):
            self.upload_facts.put(key, info)
        shrinkable = bool(info.get("too_big")) and math.prod(info["size"]) <= MAX_SHRINK_PIXELS
        if info.get("too_big"):
            w, h = info["size"]
            fix = "Shrink it to fit" if shrinkable else f"Shrink it below {self.max_pixels:,} pixels yourself"
            text = f"⚠ {self.size_problem(w, h)}. {fix}, or run the demo yourself with a larger --max-pixels."
        elif "error" in info:
            text = f"⚠ {info['error']}"
        elif info:
            text = f"**Input** {describe(info['pixels'], path)}{frames_note(path)}"
        else:
            text = ""
        shown = thumbnail(info["pixels"]) if "pixels" in info else None
        controls = self.controls(info, task, scale, model, None, custom_path, busy=busy)
        return (gr.update(value=shown, visible=shown is not None), text, gr.update(visible=shrinkable)), controls

    def upload_answer(self, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        """`on_upload`'s updates, but not the values of the scale, model and level, which `after_upload` sets unless
        one was chosen while the upload decoded (set here, they undid it); and (for `after_upload`) the settings sent,
        the controls, and a new stamp, which the page also shows (for the clicks to send)."""
        shown, controls = self._upload_updates(path, task, scale, model, custom_path, busy)
        sent = Settings(task, scale, model, level, custom_path)
        stamp = self.control_stamps.new()
        unset = controls._replace(**{name: _no_value(getattr(controls, name)) for name in ("scale", "model", "level")})
        return (*shown, *unset, UploadLeft(sent, controls, stamp), stamp)

    def after_upload(
        self,
        left: UploadLeft | None,
        path,
        task,
        scale,
        model,
        level,
        custom_path,
        busy: bool = False,
        request: gr.Request | None = None,
    ) -> tuple:
        """Once the upload's answer is on the page: while the settings are those it was sent with, the scale, model
        and level it chose (no change where they are those already), else the controls for a task, scale, model,
        level or path chosen while it decoded (at the level the upload chose, unless a level was). No change either
        once a click made since the upload's answer landed has reached the server: its answer, computed from the page's
        settings, is the newer one (`ControlStamps`)."""
        now = Settings(task, scale, model, level, custom_path)
        if left is None:
            return (gr.update(),) * 6
        if now == left.sent:
            chosen = (left.controls.scale["value"], left.controls.model["value"], left.controls.level["value"])
            answer = left.controls if chosen != (scale, model, level) else (gr.update(),) * 6
        elif task != left.sent.task:
            answer = self._task_controls(path, task, custom_path, busy)
        else:
            if level == left.sent.level:  # not chosen meanwhile: the page's is the last image's; the upload chose anew
                level = left.controls.level["value"]
            info = self.inspect_light(path)
            answer = self.controls(
                info, task, scale, model, level, custom_path, follow_model=model != left.sent.model, busy=busy
            )
        return (gr.update(),) * 6 if self.control_stamps.clicked_since(request, left.stamp) else answer

    # The page's clicks send the stamp the page shows (`ControlStamps`). A click's answer changes nothing once a later
    # click (on another control) has reached the server: computed from the settings before that click, it could land
    # after that click's and undo it.

    def on_task(
        self, path, task, custom_path, busy: bool = False, stamp: int | None = None, request: gr.Request | None = None
    ) -> tuple:
        click = self.control_stamps.clicked(request, stamp)
        return self._latest(request, click, self._task_controls(path, task, custom_path, busy))

    # `busy` (bool) and `stamp` (int, None when called directly) go unannotated: the signatures stay on one line each.
    def on_settings(
        self, path, task, scale, model, level, custom_path, busy=False, stamp=None, request: gr.Request | None = None
    ) -> tuple:
        """A scale, level or path chosen: the controls for the settings now."""
        return self._clicked(request, stamp, path, Settings(task, scale, model, level, custom_path), busy, False)

    def on_model(
        self, path, task, scale, model, level, custom_path, busy=False, stamp=None, request: gr.Request | None = None
    ) -> tuple:
        """A model chosen: the controls for the settings now, with the scale the model's."""
        return self._clicked(request, stamp, path, Settings(task, scale, model, level, custom_path), busy, True)

    def _clicked(
        self, request: gr.Request | None, stamp: int | None, path, now: Settings, busy: bool, follow_model: bool
    ) -> tuple:
        """A click's answer: the controls for the settings `now` (a model sets the scale where `follow_model`), or no
        change once a later click of the page has reached the server."""
        click = self.control_stamps.clicked(request, stamp)
        answer = self.controls(self.inspect_light(path), *now, follow_model=follow_model, busy=busy)
        return self._latest(request, click, answer)

    def _latest(self, request: gr.Request | None, click: int | None, answer: ControlUpdates) -> tuple:
        return (gr.update(),) * 6 if self.control_stamps.superseded(request, click) else answer

    def _task_controls(self, path, task, custom_path, busy: bool) -> ControlUpdates:
        """The controls for a task just chosen: its default scale and the automatic model."""
        return self.controls(self.inspect_light(path), task, None, AUTO, None, custom_path, busy=busy)

    def on_idle(self, path, task, scale, model, level, custom_path) -> tuple[bool, dict, dict]:
        """The job has ended (done, failed or cancelled): (busy off, Restore as a settings change would set it for
        the controls now, which may have changed during the job, Cancel off)."""
        restore_button = self.controls(self.inspect_light(path), task, scale, model, level, custom_path).run
        return False, restore_button, gr.update(interactive=False)

    def inspect_light(self, path: str | None) -> dict:
        """`inspect` without the pixels: the control callbacks need only the facts about the image, kept from the
        upload (or the last change) while the file is unchanged."""
        key = UploadFacts.key(path) if path else None
        if key and (info := self.upload_facts.get(key)) is not None:
            return info
        info = self.inspect(path)
        info.pop("pixels", None)
        if key:
            self.upload_facts.put(key, info)
        return info

    def shrink_upload(self, path: str | None) -> str:
        """Scale the upload down to the size limit; the new file replaces it (and goes through `on_upload`)."""
        if not path:
            raise user_error("Upload an image first.")
        w, h = open_header(path)
        if w * h > MAX_SHRINK_PIXELS:  # refused from the header: decoding it could take gigabytes
            raise user_error(
                f"{self.size_problem(w, h)}, and it is too large to shrink here (at most {MAX_SHRINK_PIXELS:,} "
                "pixels): shrink it yourself."
            )
        data = decode(path)
        small = shrink(data.pixels, self.max_pixels)
        (w, h), (small_w, small_h) = size_of(data.pixels), size_of(small)
        return str(write_output(self._output_path, path, "small", small, data, (small_w / w, small_h / h)))
