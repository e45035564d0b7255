"""The page: `build` lays out a `RestorationDemo`'s controls and wires its callbacks as a `gr.Blocks` app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
from gradio.exceptions import InvalidPathError
from gradio.state_holder import SessionState

from ..inference.restoration import EngineOptions
from .clients import RESTORE_QUEUE
from .errors import SEND_FILES, input_problem, user_error
from .limits import MIN_TILE, UPLOAD_MAX_AGE_S
from .menu import AUTO, CUSTOM, DENOISE, JPEG, SR, precisions
from .request_options import FORMAT_CHOICES, FORMAT_INFO

if TYPE_CHECKING:
    from .callbacks import RestorationDemo


TILE_CHOICES = [("Automatic", "auto"), ("Whole image (no tiles)", "none"), "128", "256", "512"]
# Which task fits which picture: the labels alone did not say that "Photo" also removes noise and JPEG blocks (so a
# JPEG from the web to enlarge is a photo), nor what "clean" means.
TASK_INFO = (
    "Photo: from a phone or camera, or a JPEG from the web; enlarged, its noise and JPEG blocks removed. "
    "Clean image: sharp and noise-free (a render, a screenshot, a clean scan); enlarged. "
    "Noisy / JPEG: kept at its size, its grain or JPEG blocks removed."
)
# The tile sizes besides the choices that /restore runs (`callbacks.parse_tile`): typed in the page, sent by a client.
TILE_INFO = f"Or type a size: any whole number of pixels ≥ {MIN_TILE}, or 0 for the whole image (as Whole image)"
OVERLAP_INFO = "Shared by neighbouring tiles and blended; 0 turns the blending off, so seams may show"
# The engine's `alpha` option: how an upscaling model enlarges an alpha channel.
ALPHA_CHOICES = [("By the model (sharper)", "model"), ("Bicubic (faster)", "bicubic")]
# Scrolls the result to the top when it starts in the lower half of the screen (on a phone: below Restore).
SCROLL_TO_RESULT_JS = """() => {
  const el = document.getElementById('comparison');
  const r = el && el.getBoundingClientRect();
  if (r && (r.top < 0 || r.top > window.innerHeight / 2)) el.scrollIntoView({block: 'start'});
}"""
# The examples table's headers and file names keep to one line in gradio's style: on a phone its last column, Scale,
# sat off-screen (the table scrolled inside its box). They wrap here, file names anywhere (they have no spaces).
CSS = (
    "#plan p, #input-info p {margin: 0} #restore-button {min-height: 48px} "
    "#examples th {white-space: normal} #examples td div {white-space: normal; overflow-wrap: anywhere}"
)
# What the API page ("Use via API") says of the public endpoints; without them gradio shows the callbacks'
# docstrings, which are notes on threads and coroutines for the code's readers.
RESTORE_API_DESCRIPTION = (
    "Restore an image: real-world or classical super-resolution, denoising or JPEG artifact removal. Only `path` "
    "is required (send it with gradio_client.handle_file(PATH)); model 'auto' picks one that runs here, scale None "
    "is a named model's own, else the page's default for the task (×4 to enlarge). Returns the before / after "
    "previews, the full-resolution result (output_format 'png': the input's bit depth and transparency kept, "
    "TIFF for a float TIFF; or 'jpg', 'webp', 'auto': the input's format) and a line saying what was done. "
    "A value that cannot run raises an error saying why."
)
# How many of an endpoint's last parameters were added after it was published (/restore: output_format).
LATER_PARAMETERS = {"restore": 1}
CANCEL_API_DESCRIPTION = (
    "Stop this client's restorations (those of its session), running or waiting: each stops at its next Swin block."
)


class Page(gr.Blocks):
    """`gr.Blocks` whose events refuse values their input components cannot take (API clients send anything) with
    a one-line `gr.Error` naming the parameter, as a user error: no traceback in the server log. Without this,
    gradio answers a wrong type, a string path or too few values with no message at all, and every refused value
    with a traceback in the log."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        state = state or SessionState(self)
        # A component updated in this session (the scale's choices, say) has its current copy in `state`.
        components = [state[c._id] if c._id in state else c for c in block_fn.inputs]
        inputs = with_later_defaults(block_fn.api_name, components, inputs)
        names, optional = block_fn.input_parameter_names or [], LATER_PARAMETERS.get(block_fn.api_name or "", 0)
        problem = input_problem(block_fn.api_name, names, components, inputs, optional)
        if problem:
            raise user_error(problem)
        if url := next(filter(None, map(_url_of, inputs)), None):
            # gradio would download it whole, past --max-upload-mb (which only /upload enforces), for anyone
            raise user_error(f"{url}: the demo takes uploaded files, not URLs: download the image and {SEND_FILES}.")
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except InvalidPathError as err:  # a FileData path on the server's disk that no client uploaded
            raise user_error(f"{err} {SEND_FILES[0].upper()}{SEND_FILES[1:]}.") from None


def with_later_defaults(api_name: str | None, components: list, values: list) -> list:
    """`values` with the parameters an endpoint gained after clients were written (`LATER_PARAMETERS`), where they are
    left out, set to their controls' defaults, as gradio_client sends them: an HTTP call with the earlier count of
    values was refused."""
    missing = len(components) - len(values)
    if 0 < missing <= LATER_PARAMETERS.get(api_name or "", 0):
        return [*values, *(c.value for c in components[len(values) :])]
    return values


def any_tile_size(tile: gr.Dropdown) -> gr.Dropdown:
    """The tile size control, whose API schema takes its choices, 0 (the whole image, as 'none' and `--tile 0`) or
    any whole number of pixels ≥ `MIN_TILE`: a dropdown's lists only its choices, so `view_api()` offered five tile
    values although `/restore` runs any such size; then its minimum of 8 left out the 0 it runs. (Set on the
    instance: a `gr.Dropdown` subclass makes gradio write a `.pyi` file beside this module.)"""
    listed = tile.api_info()
    sizes = [listed, {"type": "integer", "const": 0}, {"type": "integer", "minimum": MIN_TILE}]
    # gradio_client's view_api() shows `additional_description` beside the type, which cannot say "≥ 8".
    described = f"a choice, or a whole number of pixels: 0 for the whole image, else {MIN_TILE} or more"
    tile.api_info_as_input = lambda: {"anyOf": sizes, "additional_description": described}
    return tile


def _url_of(value: object) -> str | None:
    """The http(s) URL a FileData value asks the server to fetch (as its `path`), or None (an uploaded file's
    `url` is the server's own address for it, which gradio does not fetch for an input)."""
    path = value.get("path") if isinstance(value, dict) else None
    return path if isinstance(path, str) and path.startswith(("http://", "https://")) else None


def build(demo: RestorationDemo) -> gr.Blocks:
    """The page: the input column and the result column, examples, and every event wired to `demo`'s callbacks."""
    task0 = demo.menu.first_task()
    cache = (UPLOAD_MAX_AGE_S, UPLOAD_MAX_AGE_S)  # (how often, how old): uploads and results are deleted
    with Page(title="SwinIR image restoration", analytics_enabled=False, delete_cache=cache) as page:
        gr.Markdown(
            "# SwinIR image restoration\n"
            "Drop an image, say what it is, pick the size, press **Restore**. The result keeps the input's bit "
            f"depth and transparency. Inputs up to {demo.max_pixels / 1e6:.3g} megapixels and {demo.max_upload_mb} MB."
            # Said before a long job is stopped by it: the ×8 self-ensemble of a large image may not fit.
            + (f" A restoration may run up to {demo.time_limit_s} s." if demo.time_limit_s else "")
        )
        with gr.Row():
            with gr.Column(min_width=320):
                c = _input_column(demo, task0)
            with gr.Column(min_width=320):
                # Shows the files `comparison` writes (images it would encode itself, as slow PNGs).
                comparison = gr.ImageSlider(
                    label="Before / after", type="filepath", elem_id="comparison", max_height=640
                )
                download = gr.File(label="Full-resolution result", elem_id="download")
                info = gr.Markdown(elem_id="info", label="Info")  # the label names the API's return value
        _examples(demo, c)
        _wire(page, demo, c, comparison, download, info)
    return page


def _input_column(demo: RestorationDemo, task0: str) -> dict:
    """The left column: upload, preview, task, scale, Restore / Cancel, plan line, Advanced; and the API's hidden
    controls. Returns them."""
    scale0 = demo.menu.default_scale(task0)
    plan0 = demo.menu.plan(task0, scale0, AUTO, None, None)
    c = {}
    c["file"] = gr.File(label="Image (drop or click)", elem_id="upload", height=110)
    c["shrink"] = gr.Button("Shrink to fit and use", visible=False, size="sm", elem_id="shrink-button")
    c["preview"] = gr.Image(
        label="Input",
        interactive=False,
        height=200,
        visible=False,
        elem_id="input-preview",
        buttons=[],
        alt_text="Preview of the uploaded image",  # gradio wraps it in a button, named by this
    )
    c["input_info"] = gr.Markdown(elem_id="input-info")
    c["task"] = gr.Radio(demo.menu.task_choices(), value=task0, label="What is it?", info=TASK_INFO, elem_id="task")
    with gr.Row():
        c["scale"] = gr.Radio(
            [(f"×{s}", s) for s in demo.menu.scales(task0)], value=scale0, label="Scale", elem_id="scale"
        )
        c["level"] = gr.Radio(visible=False, label="Level", elem_id="level")
    with gr.Row():
        c["run"] = gr.Button(
            "Restore", variant="primary", elem_id="restore-button", interactive=False, scale=3, min_width=120
        )
        c["stop"] = gr.Button(
            "Cancel", variant="secondary", elem_id="cancel-button", interactive=False, scale=1, min_width=80
        )
    c["plan"] = gr.Markdown(demo.plan_text(plan0, {}), elem_id="plan")
    with gr.Accordion("Advanced", open=False, elem_id="advanced"):
        c.update(_advanced(demo, task0))
    c.update(_api_controls(demo))
    return c


def _advanced(demo: RestorationDemo, task0: str) -> dict:
    """The Advanced panel's controls (inside it): model, model path, tiles, ensemble, precision, transparency and
    download format. Returns them."""
    a = {}
    # The choices follow the task in the page; API clients may send any task's model (plan() checks it).
    a["model"] = gr.Dropdown(
        demo.menu.model_choices(task0), value=AUTO, label="Model", elem_id="model", allow_custom_value=True
    )
    a["custom"] = gr.Textbox(label="Local model folder or authors' .pth file", visible=False, max_lines=1)
    a["tile"] = any_tile_size(
        gr.Dropdown(
            TILE_CHOICES,
            value="auto",
            allow_custom_value=True,
            label="Tile size (input pixels; bounds memory on large images)",
            info=TILE_INFO,
        )
    )
    # precision=0: whole pixels, as the engine takes them (an API client's 2.5 is refused, not run as 2).
    a["overlap"] = gr.Slider(
        0,
        64,
        value=EngineOptions.tile_overlap,
        step=2,
        precision=0,
        label="Tile overlap (pixels)",
        info=OVERLAP_INFO,
    )
    a["ensemble"] = gr.Checkbox(False, label="Self-ensemble ×8 (SwinIR+: slightly better, 8× slower)")
    a["precision"] = gr.Radio(precisions(demo.device), value="auto", label="Precision")
    a["alpha"] = gr.Radio(ALPHA_CHOICES, value="model", label="Transparency when enlarging", elem_id="alpha")
    a["format"] = gr.Radio(FORMAT_CHOICES, value="png", label="Download format", info=FORMAT_INFO, elem_id="format")
    return a


def _api_controls(demo: RestorationDemo) -> dict:
    """The hidden inputs and button of the public `/restore`, which takes what the page's controls cannot: any
    task's scale, level and model. Returns them."""
    c = {}
    # The API's Restore: gradio checks a Radio's value against the choices the page was built with (the first
    # task's scales, no levels), so API clients send scale and level as plain numbers and plan() checks them.
    enlarging = sorted({e.scale for e in demo.menu.entries if e.scale > 1})  # the authors' ×3 and ×8 too
    c["api_scale"] = gr.Number(
        visible=False,
        precision=0,
        label=f"Scale: 1 (denoising, JPEG) or {', '.join(map(str, enlarging))} to enlarge, as the task's models "
        "have it; None: a named model's own, else the page's default for the task",
    )
    c["api_level"] = gr.Number(
        visible=False,
        precision=0,
        label="Level: noise σ or JPEG quality, for the models trained per level (with model 'auto': the nearest one "
        "that runs here); None: the default",
    )
    # The page's model list holds one task's models; view_api shows the API's list, so it names every task's.
    custom = [CUSTOM] if demo.menu.custom_models else []
    c["api_model"] = gr.Dropdown(
        list(dict.fromkeys([AUTO, *(e.label for e in demo.menu.entries), *custom])),
        value=AUTO,
        visible=False,
        allow_custom_value=True,
        label="Model: 'auto', a model of the task" + (", or 'custom' with custom_path" if custom else ""),
    )
    c["api_run"] = gr.Button(visible=False)
    return c


def _examples(demo: RestorationDemo, c: dict) -> None:
    """Examples for the tasks that can run here (a JPEG example is no use while no JPEG model can)."""
    if demo.examples_dir is None:
        return
    # With its scale: the ×2-downscaled example ran ×4, the scale the page opens on. None (the task's own) for the
    # ×1 tasks, as the scale choices are still the first task's when an example is clicked and 1 is not one of them.
    rows = [
        [str(demo.examples_dir / "church_x2_downscaled.png"), SR, 2],
        [str(demo.examples_dir / "starfish_noise25.png"), DENOISE, None],
        [str(demo.examples_dir / "flowers_jpeg15.jpg"), JPEG, None],
    ]
    rows = [r for r in rows if demo.menu.task_ready(r[1])]
    if rows:
        gr.Examples(
            rows,
            inputs=[c["file"], c["task"], c["scale"]],
            label="Examples (crops of BSDS500 training images: downscaled, noisy, JPEG-compressed)",
            elem_id="examples",
        )


def _wire_controls(demo: RestorationDemo, c: dict, busy: gr.State, settings: list, results: list, quiet: dict) -> None:
    """Connect the upload and the controls to `demo`'s control callbacks, which set the controls (`quiet`: outside
    the queue), and a new upload to clearing the last `results`."""
    controls = [c["scale"], c["model"], c["level"], c["custom"], c["plan"], c["run"]]
    # These events run at once, each on its own thread, and their answers land in any order: an upload's, computed
    # from the settings it was sent with (decoding a large image takes ~0.5 s), landed after a task clicked meanwhile
    # and set the old task's scale and plan back. So it leaves the values of the scale, model and level alone, and
    # the `.then` sets them where no setting changed while it decoded, else the controls again for the settings now;
    # nothing once a click made after the upload's answer landed reached the server (so it cannot undo a later click
    # in turn). Not a FIFO queue for the controls: their waiting events would count against --queue-size, refused
    # while restorations fill it (and a concurrency_id is shared by all sessions).
    left = gr.State(None)  # the settings the upload was sent with, its controls and its stamp
    stamp = gr.Number(0, visible=False, precision=0)  # the last upload answer's, which each click sends
    uploaded = [c["preview"], c["input_info"], c["shrink"], *controls, left, stamp]
    answer = c["file"].change(demo.upload_answer, [*settings, busy], uploaded, **quiet)
    answer.then(demo.after_upload, [left, *settings, busy], controls, **quiet)
    c["file"].change(no_result, None, results, **quiet)
    # A click while the control's last answer is on its way runs once that has landed (gradio's default for `.input`,
    # "once", dropped it: the radio showed the new choice, the controls the one before).
    last = dict(quiet, trigger_mode="always_last")
    c["task"].input(demo.on_task, [c["file"], c["task"], c["custom"], busy, stamp], controls, **last)
    for control in (c["scale"], c["level"], c["custom"]):
        control.input(demo.on_settings, [*settings, busy, stamp], controls, **last)
    c["model"].input(demo.on_model, [*settings, busy, stamp], controls, **last)
    c["shrink"].click(demo.shrink_upload, c["file"], c["file"], api_visibility="private")


def _wire(page: gr.Blocks, demo: RestorationDemo, c: dict, comparison, download, info) -> None:
    """Connect the controls to `demo`'s callbacks: the page's events are private, `/restore` and `/cancel` public.

    `busy` is this session's flag, on from Restore's click until its job ends: the control callbacks take it and
    leave Restore off meanwhile, and `on_idle` sets Restore from the controls as they are when the job ends.
    """
    busy = gr.State(False)
    settings = [c["file"], c["task"], c["scale"], c["model"], c["level"], c["custom"]]
    quiet = dict(queue=False, show_progress="hidden", api_visibility="private")
    results = [comparison, download, info]
    _wire_controls(demo, c, busy, settings, results, quiet)
    # The format last: /restore's positional arguments before it are those of the API before it was added.
    options = [c["tile"], c["overlap"], c["ensemble"], c["precision"], c["alpha"], c["format"]]
    shared = dict(concurrency_limit=demo.concurrency, concurrency_id=RESTORE_QUEUE)
    buttons = [busy, c["run"], c["stop"]]
    ran = gr.State(None)  # the upload the page's job restores
    start = c["run"].click(running, c["file"], [*buttons, info, ran], **quiet)
    job = start.then(
        demo.restore,
        settings + options,
        results,
        api_name="restore_in_page",
        api_visibility="private",
        show_progress_on=[comparison],
        **shared,
    )
    # After the job, however it ended (Cancel counts as a failure). Not one `.then`: gradio 6.31's page runs it after
    # a success or Cancel but not after an error, which left Restore off and Cancel on.
    for ended in (job.success, job.failure):
        ended(demo.on_idle, settings, buttons, **quiet)
    job.success(kept_result, [c["file"], ran], results, **quiet)
    job.success(None, js=SCROLL_TO_RESULT_JS, queue=False)
    api_settings = [c["file"], c["task"], c["api_scale"], c["api_model"], c["api_level"], c["custom"]]
    api_job = c["api_run"].click(
        demo.restore,
        api_settings + options,
        results,
        api_name="restore",
        api_description=RESTORE_API_DESCRIPTION,
        **shared,
    )
    c["stop"].click(
        demo.cancel,
        None,
        info,
        cancels=[job, api_job],
        queue=False,
        api_name="cancel",
        api_description=CANCEL_API_DESCRIPTION,
    )
    page.unload(demo.end_session)  # a closed tab's job would otherwise run on, holding a worker


def running(path: str | None) -> tuple[bool, dict, dict, str, str | None]:
    """(busy, Restore, Cancel, result line, the upload restored) while a job runs: busy, Restore off, Cancel on, the
    last job's line cleared (a job that then failed left "Cancelled." or the last result's line standing)."""
    return True, gr.update(interactive=False), gr.update(interactive=True), "", path


def kept_result(path: str | None, ran: str | None) -> tuple:
    """(before / after, download, result line) once the page's job has shown its result: kept, unless another upload
    (or none) replaced the one it restored while it ran, beside which that result would stand (`no_result` cleared
    the last result at the upload, not the one still to come)."""
    return (gr.update(),) * 3 if path == ran else no_result()


def no_result() -> tuple[None, None, str]:
    """(before / after, download, result line) for a new upload, or none: the last result was another image's,
    whose download stayed on offer beside the new image (its line still named the old input's size)."""
    return None, None, ""
