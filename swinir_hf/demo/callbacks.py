"""`RestorationDemo`: the demo's state and the callbacks the page and the API call: the restoration, run as a
cancellable job, and Cancel here; the control callbacks it mixes in from `controls` (what Restore runs for the
controls is `Menu.plan`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..checkpoints.loading import DEFAULTS_DIR
from ..inference.image_io import ImageData
from ..inference.memory import ImageTooLargeError
from ..inference.restoration import EngineOptions
from ..models.alpha_swinir import alpha_for_model
from ..models.image_processing_swinir import ALPHA_MODES, AlphaMode
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.pixels_swinir import image_to_float
from ..storage.atomic_writes import process_folder, remove_dead
from .clients import CHECK_EVERY_S, client_gone, drop_waiting, has_jobs
from .comparison import comparison_files, write_output
from .controls import ControlCallbacks, ControlStamps
from .errors import ModelError, time_limit_message, user_error
from .limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, DEFAULT_TIME_LIMIT_S
from .menu import (
    FILE_TAGS,
    JPEG,
    Menu,
    ModelEntry,
    authors_models,
    bundled_models,
    config_entry,
    local_labels,
    precisions,
)
from .model_cache import ModelCache
from .progress import Cancelled, Job, TimeLimitExceeded, attached, count_blocks
from .request_checks import custom_mismatch, mismatch, request_problem
from .request_options import ALPHA_DROPPED_NOTE, check_format, parse_tile
from .uploads import UploadFacts, colour_channels, decode, describe, frames_note, jpeg_quality, open_header, size_of
from .zerogpu import gpu_duration, on_gpu, restore_on_device

OUTPUT_MAX_AGE_S = 3600
# How long a stopped server waits for its restorations to end (each stops at its next Swin block); `docker stop`
# kills after 10 s.
STOP_WAIT_S = 5.0
# A demo's results folder, in the system's temporary folder: `swinir-demo-<process_tag()>-<random>`.
OUTPUT_PREFIX = "swinir-demo-"
# The result line's note when a job ran in tiles with overlap 0 (the engine only logs it).
NO_BLEND_NOTE = "⚠ run in tiles with overlap 0: the tiles were not blended, so seams may show"
# What Cancel and /cancel answer when the session has no restoration running or waiting ("Cancelled." said it had).
NOTHING_TO_CANCEL = "Nothing to cancel: no restoration of this session is running or waiting."


def result_notes(path: str, upload: Image.Image | np.ndarray, result: Image.Image | np.ndarray, notes: list) -> str:
    """The result line's notes after its first part: the upload's frames (`path`), the before enlarged, and `notes`
    (⚠ what the job or the download format changed)."""
    text = frames_note(path)
    if size_of(result) != size_of(upload):
        text += " · *before*: the input enlarged with bicubic interpolation"
    return text + "".join(f" · {note}" for note in notes)


def new_output_folder() -> Path:
    """A new results folder named after this process, the folders of demos that died without removing theirs (kill
    -9, out of memory, power loss) removed first: each start left one, which no later start would remove."""
    root = Path(tempfile.gettempdir())
    remove_dead(root, OUTPUT_PREFIX)
    return process_folder(root, OUTPUT_PREFIX)


def alpha_pass(pixels: Image.Image | np.ndarray, scale: int, alpha: AlphaMode = "model") -> bool:
    """Whether `restore` with the `alpha` option also runs the image's alpha channel through the model (for the
    progress bar: about as many forward passes again)."""
    return alpha_for_model(image_to_float(pixels)[1], scale, alpha) is not None


@dataclass
class RestorationDemo(ControlCallbacks):
    """The demo's state and callbacks; `build()` lays them out as a `gr.Blocks` app.

    Args:
        max_pixels: largest input (width × height) accepted; larger uploads get a message and an offer to shrink.
        max_upload_mb: largest file accepted, in MiB (the server refuses larger uploads before they reach the demo).
        concurrency: restorations running at once (the rest wait in the queue); on a CPU each gets its share of
            the cores.
        time_limit_s: seconds a restoration may run before it is stopped with a message (0: no limit), so that one
            large job cannot hold a shared server's worker for long; on ZeroGPU, the most GPU time a call asks for.
        extra_models: local folders / `.pth` files added to the model list (e.g. from `--model`).
        custom_models: whether users can restore with a model of their choice, given by path or Hub id (which
            lets them read this machine's files); `swinir-hf demo` allows it only on a server for this machine.
        defaults_dir: the bundled models' folder.
        examples_dir: the example images the page offers (none when None).
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    concurrency: int = 1
    time_limit_s: int = DEFAULT_TIME_LIMIT_S
    extra_models: list[str] = field(default_factory=list)
    custom_models: bool = True
    defaults_dir: Path = DEFAULTS_DIR
    examples_dir: Path | None = None

    def __post_init__(self) -> None:
        self.models = ModelCache()
        self.upload_facts = UploadFacts()
        self.control_stamps = ControlStamps()
        specs = list(dict.fromkeys(self.extra_models))  # a model given twice is listed once
        local = [self._local_entry(s, label) for s, label in zip(specs, local_labels(specs), strict=True)]
        self.menu = Menu(bundled_models(self.defaults_dir) + local + authors_models(), self.custom_models)
        # gradio's queue counts a cancelled job as finished at once; this also waits for its thread to stop.
        self._workers = threading.Semaphore(self.concurrency)
        # Each session's jobs' Cancel events, from the moment a restoration waits for a worker until it ends (the
        # page runs one job at a time; an API client may run several in one session).
        self._cancels: dict[str, set[threading.Event]] = {}
        self._pages: weakref.WeakSet[gr.Blocks] = weakref.WeakSet()  # built by `build`: their queues say who left
        # First: on ZeroGPU, importing `spaces` makes torch report CUDA (lent inside `spaces.GPU` calls).
        self._restore_on_device = on_gpu(restore_on_device, gpu_duration(self.time_limit_s))
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Jobs running at once split the cores: each one using all of them oversubscribes OpenMP, which slows them all.
        self.process_threads = torch.get_num_threads()
        self.threads_per_job = max(1, self.process_threads // max(1, self.concurrency))
        self.output_dir = new_output_folder()
        weakref.finalize(self, shutil.rmtree, self.output_dir, ignore_errors=True)  # at exit, or once unused

    def _local_entry(self, spec: str, label: str) -> ModelEntry:
        """A `--model` choice, loaded now: one that cannot run (bad config values, damaged weights) stops the start."""
        return config_entry(self.models.get(spec).config.to_dict(), label, spec)

    # -- restoration ----------------------------------------------------------------------------------------------

    async def restore(
        self,
        path: str | None,
        task: str,
        # None defaults: gradio lists these API parameters as optional (scale: the model's, or the page's default).
        scale: int | None = None,
        model: str | None = None,
        level: int | None = None,
        custom_path: str | None = None,
        tile: str = "auto",
        overlap: int = EngineOptions.tile_overlap,
        ensemble: bool = False,
        precision: str = "auto",
        alpha: str = "model",
        output_format: str = "png",
        request: gr.Request | None = None,
        progress=gr.Progress(),  # noqa: B008 (gradio reads this default to inject its tracker)
    ) -> tuple[tuple[str, str], str, str]:
        """Restore the uploaded file → ((input enlarged, result) files for the slider, full-resolution file path,
        size info).

        The job runs on a thread of its own. Whatever stops it stops that thread at its next Swin block, freeing the
        worker: the page's Cancel and `/cancel` (`cancel`), the page closed (`end_session`), and gradio cancelling
        this coroutine (what a `gradio_client` job's `cancel()` does), which would otherwise leave the thread running,
        and an API client gone without cancelling (`client_gone`: its results would never be sent).
        """
        session = request.session_hash if request else ""
        with self._cancellable(session) as cancel:
            options = (tile, overlap, ensemble, precision, alpha, output_format)
            settings = (path, task, scale, model, level, custom_path, *options)
            work = asyncio.ensure_future(asyncio.to_thread(self._restore, *settings, cancel, progress))
            try:
                while not work.done():
                    await asyncio.wait({work}, timeout=CHECK_EVERY_S)
                    if client_gone(self._pages, session):
                        cancel.set()
                return work.result()
            except asyncio.CancelledError:
                cancel.set()
                work.cancel()  # its thread's end (gr.Error "Cancelled.") is then nobody's to retrieve
                raise

    def _restore(
        self,
        path: str | None,
        task: str,
        scale: int | None,
        model: str | None,
        level: int | None,
        custom_path: str | None,
        tile: str,
        overlap: int,
        ensemble: bool,
        precision: str,
        alpha: str,
        output_format: str,
        cancel: threading.Event,
        progress,
    ) -> tuple[tuple[str, str], str, str]:
        """`restore`'s job, on its thread: stopped by `cancel` while it waits for a worker, loads or restores."""
        if problem := request_problem(task, level, scale):
            raise user_error(problem)
        data = self._decoded_upload(path)
        quality = jpeg_quality(path) if task == JPEG else None
        plan = self.menu.plan(task, scale, model, level, custom_path, colour_channels(data.pixels), quality)
        problem = plan.problem or mismatch(plan, scale, level)
        if problem:
            raise user_error(problem)
        engine = self._engine_options(tile, overlap, ensemble, precision, alpha)
        progress(0, desc="Waiting for a free worker")
        with self._workers:
            progress(0, desc=f"Loading {plan.name}")
            net = self._load(plan.spec, cancel)
            if plan.entry is None and (problem := custom_mismatch(task, net.config.to_dict(), plan.spec)):
                raise user_error(problem)
            check_format(output_format, path, tuple(n * net.config.upscale for n in size_of(data.pixels)))
            job = Job(
                report=lambda fraction, text: progress(fraction, desc=text),
                blocks_per_forward=count_blocks(net),
                image_hw=size_of(data.pixels)[::-1],  # upright: an EXIF-rotated header has w and h swapped
                images=3 if net.config.num_channels == 1 and colour_channels(data.pixels) == 3 else 1,
                overlap=engine.tile_overlap,
                passes=(8 if engine.ensemble else 1) * (2 if alpha_pass(data.pixels, net.config.upscale, alpha) else 1),
                cancel=cancel,
                time_limit_s=self.time_limit_s,
            )
            start = time.perf_counter()  # the restoration's own time: not the wait for a worker, nor the load
            result = self._run(job, net, data.pixels, engine)
            seconds = time.perf_counter() - start
        scale = net.config.upscale
        tag = f"x{scale}" if scale > 1 else FILE_TAGS.get(task, "restored")
        dropped: list[Path] = []  # the JPEG download, where its alpha channel was dropped
        out = write_output(self._output_path, path, tag, result, data, scale, output_format, dropped.append)
        slider = comparison_files(out, result, data.pixels, data.icc_profile)
        notes = [NO_BLEND_NOTE] if job.tiled and engine.tile_overlap == 0 else []
        notes += [ALPHA_DROPPED_NOTE] if dropped else []
        info = (
            f"**Input** {describe(data.pixels, path)} → **output** {describe(result)} · {plan.name} · {seconds:.1f} s"
        )
        return (str(slider[0]), str(slider[1])), str(out), info + result_notes(path, data.pixels, result, notes)

    def _decoded_upload(self, path: str | None) -> ImageData:
        """The uploaded image, decoded; a user error for none or one over `max_pixels` (read from its header)."""
        if not path:
            raise user_error("Upload an image first.")
        w, h = open_header(path)
        if w * h > self.max_pixels:
            raise user_error(
                f"{self.size_problem(w, h)}. Crop or shrink it, or run the demo yourself with a larger --max-pixels."
            )
        return decode(path)

    def _engine_options(self, tile: str, overlap: int, ensemble: bool, precision: str, alpha: str) -> EngineOptions:
        """The request's engine options; a user error for a value the page's controls do not send (API calls)."""
        tile_value = parse_tile(tile)
        self._check_precision(precision)
        if alpha not in ALPHA_MODES:  # a radio lets None in
            raise user_error(f"Unknown alpha {alpha!r}: send one of {', '.join(map(repr, ALPHA_MODES))}.")
        return EngineOptions(
            tile=tile_value, tile_overlap=int(overlap), ensemble=bool(ensemble), dtype=precision, alpha=alpha
        )

    def _check_precision(self, precision: str) -> None:
        """Raise a user error for a precision this server cannot run or that is not one (a radio lets None in)."""
        if precision == "float16" and self.device != "cuda":
            raise user_error("float16 needs a CUDA GPU and this server runs on the CPU: use Automatic or bfloat16.")
        offered = [choice if isinstance(choice, str) else choice[1] for choice in precisions(self.device)]
        if precision not in offered:  # the request's problem, not a failure of the restoration
            raise user_error(f"Unknown precision {precision!r}: send one of {', '.join(map(repr, offered))}.")

    @contextmanager
    def _cancellable(self, session: str) -> Iterator[threading.Event]:
        """An event that `cancel` and `end_session` set for this session while the block runs (waiting, loading and
        restoring)."""
        event = threading.Event()
        self._cancels.setdefault(session, set()).add(event)
        try:
            yield event
        finally:
            events = self._cancels.get(session, set())
            events.discard(event)
            if not events:
                self._cancels.pop(session, None)

    def _load(self, spec: str, cancel: threading.Event) -> SwinIRForImageRestoration:
        """The model, unless Cancel came while the job waited for a worker or loaded it (a first-use download):
        gradio drops a cancelled job at once, but its thread would go on to restore, holding the worker."""
        if cancel.is_set():
            raise user_error("Cancelled.")
        try:
            net = self.models.get(spec)
        except ModelError as err:
            raise user_error(str(err)) from None
        if cancel.is_set():
            raise user_error("Cancelled.")
        return net

    def _run(self, job: Job, net, pixels, engine: EngineOptions):
        """Run one job on this thread with its share of the cores (inside `spaces.GPU` where that imports, see
        `zerogpu`); Cancel, the time limit and failures become gr.Errors."""
        try:
            job.report(0, "Restoring")
            with self._job_threads(), attached(job):
                result = self._restore_on_device(net, pixels, engine, job.passes * job.images)
            if job.cancel.is_set():  # in a ZeroGPU worker, which the hooks' job does not reach
                raise Cancelled
            return result
        except TimeLimitExceeded as err:
            raise user_error(time_limit_message(err.limit_s)) from None
        except Cancelled:
            raise user_error("Cancelled.") from None
        except ImageTooLargeError as err:
            # Its advice names the API's and the command line's tile options: here the control is "Tile size".
            tiles = ' Set "Tile size" to Automatic to restore it in tiles.' if engine.tile is None else ""
            raise user_error(f"Restoration failed: {err}.{tiles}") from None
        except (RuntimeError, ValueError, MemoryError) as err:
            raise user_error(f"Restoration failed: {err}") from None

    @contextmanager
    def _job_threads(self) -> Iterator[None]:
        """On a CPU, this thread runs with the job's share of the cores, and the process's count is put back after:
        OpenMP's count is per calling thread, but torch makes it the default of threads started later too (a host
        app's own threads ran on the job's share)."""
        if self.device != "cpu":
            yield
            return
        torch.set_num_threads(self.threads_per_job)
        try:
            yield
        finally:
            torch.set_num_threads(self.process_threads)

    async def cancel(self, request: gr.Request) -> str:
        """Stop this session's restorations: the model stops at its next Swin block; a job still waiting for a
        worker (in the queue or for its thread) or loading its model stops before it runs. With none of them, it says
        so: "Cancelled." would tell an API client that something was stopped."""
        if not (self._cancels.get(request.session_hash) or has_jobs(self._pages, request.session_hash)):
            return NOTHING_TO_CANCEL
        self._stop_session(request.session_hash)
        # The API's jobs waiting in gradio's queue: gradio drops only the page's (`cancels`).
        await drop_waiting(self._pages, request.session_hash, "restore", user_error("Cancelled."))
        # The page's buttons are set by `on_idle`, which the cancelled job's end runs.
        return "**Cancelled.** Press Restore to run again."

    def end_session(self, request: gr.Request) -> None:
        """The page was closed or reloaded: stop its restorations, whose results no one would see."""
        self._stop_session(request.session_hash)
        self.control_stamps.forget(request.session_hash)

    def stop_all(self, wait_s: float = STOP_WAIT_S) -> bool:
        """The server has closed (Ctrl-C, SIGTERM): stop every restoration at its next Swin block, and wait up to
        `wait_s` seconds for their threads to leave torch (an exit while one still ran in it could abort the process,
        "terminate called without an active exception"). True when every worker is free."""
        for session in list(self._cancels):
            self._stop_session(session)
        deadline = time.monotonic() + wait_s
        held = 0  # the workers' permits: all of them held means no restoration runs
        while held < self.concurrency and self._workers.acquire(timeout=max(0.0, deadline - time.monotonic())):
            held += 1
        for _ in range(held):
            self._workers.release()
        return held == self.concurrency

    def _stop_session(self, session: str) -> None:
        for event in list(self._cancels.get(session, ())):
            event.set()

    def _output_path(self, name: str) -> Path:
        """A fresh folder per result (users may restore files of the same name at once); old ones are removed."""
        now = time.time()
        for old in self.output_dir.iterdir():
            try:
                age = now - old.stat().st_mtime
            except FileNotFoundError:  # another job's call removed it since iterdir listed it
                continue
            if age > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.output_dir)) / name

    def build(self) -> gr.Blocks:
        """The page (`layout.build`)."""
        from .layout import build

        page = build(self)
        self._pages.add(page)
        return page
