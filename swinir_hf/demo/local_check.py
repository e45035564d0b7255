"""The start's check that the server answers on this machine, made patient of a slow answer.

Once its server listens, gradio's `Blocks.launch` checks that it answers on localhost (`gradio.networking.url_ok`: a
HEAD with a 3 s timeout) and otherwise stops with "When localhost is not accessible, a shareable link must be
created ... check your proxy settings". A timeout fails that check at once, with no second try, so a server slow to
answer (a loaded machine, a cold Space container, a model loading meanwhile) failed the start, blamed on a proxy.
gradio has no hook for that check (its one switch, `launch`'s private `_frontend`, skips it altogether), so
`patient_local_check` wraps its function for one launch's check, here alone, and stops loudly where this gradio no
longer checks through it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOCAL_ANSWER_WAIT_S = 60.0  # how long a start waits for the server to answer on this machine


@contextmanager
def patient_local_check(wait_s: float | None = None) -> Iterator[list[str]]:
    """Within it, gradio's next localhost check first waits up to `wait_s` seconds (LOCAL_ANSWER_WAIT_S) for the
    server to answer at all, and is tried again while the server answers but too slowly for it; otherwise gradio's
    check decides as before → the list that then holds why the server did not answer (one phrase), if so.

    Raises:
        RuntimeError: this gradio's `Blocks.launch` no longer checks through `gradio.networking.url_ok(url)`.
    """
    from gradio import networking

    check = _gradio_check()
    wait = LOCAL_ANSWER_WAIT_S if wait_s is None else wait_s
    why: list[str] = []

    def url_ok(url: str) -> bool:
        networking.url_ok = check  # this launch's check alone (a share link's later wait is gradio's own)
        deadline = time.monotonic() + wait
        while True:
            answer = _answer(url, deadline, wait)
            if isinstance(answer, str):
                why.append(answer)
                return False
            if check(url):
                return True
            if answer >= 400 and answer != 401:  # gradio takes a 401 (a login page) as an answer
                why.append(f"answered HTTP {answer}")
                return False
            if time.monotonic() >= deadline:
                why.append(f"answered more slowly than gradio's check waits (3 s) for {wait:g} s")
                return False

    networking.url_ok = url_ok
    try:
        yield why
    finally:
        if networking.url_ok is url_ok:  # the launch stopped before its check
            networking.url_ok = check


def _answer(url: str, deadline: float, wait: float) -> int | str:
    """The HTTP status of a HEAD of `url` (as gradio's check sends it), waiting for it until `deadline`
    (time.monotonic), else why there was none: the server could not be reached, or did not answer in `wait` s."""
    import httpx

    while (left := deadline - time.monotonic()) > 0:
        try:
            return httpx.head(url, timeout=left, verify=False).status_code
        except httpx.TimeoutException:
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))  # no busy loop on a timeout that came early
        except (httpx.HTTPError, OSError) as err:
            return f"could not be reached ({type(err).__name__}: {err})"
    return f"did not answer within {wait:g} s"


def _gradio_check() -> Callable[[str], bool]:
    """gradio's localhost check, `gradio.networking.url_ok(url)`, which `Blocks.launch` calls through its module
    (so that replacing it there takes effect); a RuntimeError where this gradio's differs, rather than a start that
    would silently fail on a slow answer again."""
    import gradio
    from gradio import blocks, networking

    check = getattr(networking, "url_ok", None)
    launch = inspect.unwrap(blocks.Blocks.launch)
    # Only gradio's own launch is read: one another library or a test put in its place may never check at all.
    names = getattr(getattr(launch, "__code__", None), "co_names", ())
    calls_check = getattr(launch, "__module__", None) != blocks.__name__ or "url_ok" in names
    if (
        getattr(blocks, "networking", None) is networking
        and calls_check
        and callable(check)
        and list(inspect.signature(check).parameters) == ["url"]
    ):
        return check
    raise RuntimeError(
        f"gradio {gradio.__version__}'s Blocks.launch no longer checks localhost through "
        "gradio.networking.url_ok(url): swinir_hf/demo/local_check.py needs updating for it"
    )
