"""Models loaded once per spec (least recently used dropped beyond a memory budget), each watched by the progress
hooks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ..checkpoints.convert import CheckpointError
from ..checkpoints.loading import ModelNotAvailableError, load_model
from ..library_bars import transformers_bars_off
from ..models.modeling_swinir import SwinIRForImageRestoration
from .errors import ModelError
from .menu import read_config
from .progress import watch

# What the loaded models' parameters may take together: every bundled model (1-2 MB each) stays loaded, so
# switching tasks reloads nothing, and a few of the authors' releases fit (SwinIR-M: 45 MiB in float32, SwinIR-L:
# 107 MiB).
MODEL_CACHE_BYTES = 256 << 20


class ModelCache:
    """Models loaded once per spec, least recently used dropped while their parameters take over `budget` bytes
    (the newest is always kept); each is `watch`ed for progress and Cancel."""

    def __init__(self, budget: int = MODEL_CACHE_BYTES) -> None:
        self.budget = budget
        self._models: OrderedDict[str, SwinIRForImageRestoration] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts, never held while a model loads
        # Per spec being loaded: its lock (one load of it at a time) and how many jobs hold or wait for it.
        self._loading: dict[str, tuple[threading.Lock, list[int]]] = {}

    def get(self, spec: str) -> SwinIRForImageRestoration:
        """The loaded model. A model being loaded (a first-use Hub download) delays only the jobs that need it.
        Raises ModelError (one line) when it cannot be loaded."""
        with self._lock:
            if (model := self._cached(spec)) is not None:
                return model
            loading, users = self._loading.setdefault(spec, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with loading:
                with self._lock:
                    if (model := self._cached(spec)) is not None:  # the load this job waited for
                        return model
                model = load_checked(spec)  # a failure leaves the next waiter to try again, alone
                watch(model)
                with self._lock:
                    self._models[spec] = model
                    while len(self._models) > 1 and self._held() > self.budget:
                        self._models.popitem(last=False)
                return model
        finally:
            with self._lock:
                users[0] -= 1
                if not users[0]:  # no job waits on this lock: a later one makes a new one
                    del self._loading[spec]

    def _held(self) -> int:
        """Bytes of the loaded models' parameters and buffers."""
        return sum(model.get_memory_footprint() for model in self._models.values())

    def _cached(self, spec: str) -> SwinIRForImageRestoration | None:
        if spec in self._models:
            self._models.move_to_end(spec)
        return self._models.get(spec)


def load_checked(spec: str) -> SwinIRForImageRestoration:
    """`load_model`, with every way a model can fail to load turned into one ModelError line."""
    if Path(spec).is_dir():
        read_config(Path(spec))
    try:
        with transformers_bars_off():  # a server's log, not a terminal: no "Loading weights" bar per model loaded
            return load_model(spec)
    except (ModelNotAvailableError, CheckpointError) as err:
        raise ModelError(message_of(err)) from None
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"Cannot load the model {spec}: {message_of(err).splitlines()[0]}") from None


def message_of(err: BaseException) -> str:
    """An exception's own text (`str` of a KeyError subclass would add quotes)."""
    text = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
    return text.strip() or type(err).__name__
