"""`ControlCallbacks`: what the page's controls show for the upload and the settings (the scale and model
choices, the level, the plan line, Restore on or off), and the shrink offer for an upload over the size limit.
"""

from __future__ import annotations

import math

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


class ControlCallbacks:
    """The control callbacks of `RestorationDemo`, which mixes them in: they read its `menu` and `max_pixels`, and
    write a shrunk upload, as `RestorationDemo` its results (`comparison.write_output`), where its `_output_path`
    says; the upload's facts are kept in its `upload_facts` for the control changes that follow."""

    menu: Menu
    max_pixels: int
    upload_facts: UploadFacts

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
    ) -> tuple:
        """Updates of (scale, model list, level, path box, plan line, Restore) for the current controls: a model
        sets the scale; another scale goes back to the automatic model. While this session's job runs (`busy`),
        Restore is left off whatever the plan: a second click would start a second job."""
        entry = self.menu.entry(task, model) if model not in (None, AUTO, CUSTOM) else None
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
        return (
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
        return (
            gr.update(value=shown, visible=shown is not None),
            text,
            gr.update(visible=shrinkable),
            *self.controls(info, task, scale, model, None, custom_path, busy=busy),
        )

    def upload_answer(self, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        """`on_upload`'s updates, and the settings they leave on the page (task, scale, model, level, path) for
        `after_upload`."""
        answer = self.on_upload(path, task, scale, model, level, custom_path, busy)
        return (*answer, tuple([task, *(answer[i]["value"] for i in (3, 4, 5)), custom_path]))

    def after_upload(self, seen: tuple, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        """Once the upload's answer is on the page: no change while the settings are those it left (`seen`), else
        the controls for a task, model or setting chosen while it decoded, which its answer (computed from the
        settings before) set back."""
        now = (task, scale, model, level, custom_path)
        if tuple(seen or ()) == now:
            return (gr.update(),) * 6
        if task != seen[0]:
            return self.on_task(path, task, custom_path, busy)
        follow_model = model != seen[2]
        info = self.inspect_light(path)
        return self.controls(info, task, scale, model, level, custom_path, follow_model=follow_model, busy=busy)

    def on_task(self, path, task, custom_path, busy: bool = False) -> tuple:
        return self.controls(self.inspect_light(path), task, None, AUTO, None, custom_path, busy=busy)

    def on_settings(self, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        return self.controls(self.inspect_light(path), task, scale, model, level, custom_path, busy=busy)

    def on_model(self, path, task, scale, model, level, custom_path, busy: bool = False) -> tuple:
        info = self.inspect_light(path)
        return self.controls(info, task, scale, model, level, custom_path, follow_model=True, busy=busy)

    def on_idle(self, path, task, scale, model, level, custom_path) -> tuple[bool, dict, dict]:
        """The job has ended (done, failed or cancelled): (busy off, Restore as a settings change would set it for
        the controls now, which may have changed during the job, Cancel off)."""
        restore_button = self.on_settings(path, task, scale, model, level, custom_path)[-1]
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
