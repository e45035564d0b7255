"""The start's check that the server answers on this machine, made patient of a slow answer.

Once its server listens, gradio's `Blocks.launch` checks that it answers on localhost (`gradio.networking.url_ok`: a
HEAD with a 3 s timeout) and otherwise stops with "When localhost is not accessible, a shareable link must be
created ... check your proxy settings". A timeout fails that check at once, with no second try, so a server slow to
answer (a loaded machine, a cold Space container, a model loading meanwhile) failed the start, blamed on a proxy.
gradio has no hook for that check (its one switch, `launch`'s private `_frontend`, skips it altogether), so
`patient_local_check` wraps its function for one launch's check (launches in other threads meanwhile check as
before, or patiently in a `patient_local_check` of their own), and stops loudly where this gradio no longer checks
through it.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

LOCAL_ANSWER_WAIT_S = 60.0  # how long a start waits for the server to answer on this machine
# The statuses gradio's check takes as the server's answer (gradio 6.31's `url_ok`: a login page's 401, redirects).
GRADIO_ANSWERS = frozenset({200, 301, 302, 303, 307, 308, 401})
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")  # httpx's; urllib reads the lower-case names too
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # listening on every address: gradio asks it on localhost


def exempt_local_addresses(host: str) -> list[str]:
    """Add localhost, 127.0.0.1 and `host` (the server's address, unless it listens on every one) to the proxy
    exemptions the user set, NO_PROXY / no_proxy, where a proxy variable is set → the proxy variables set (their
    names), else [] with the environment left as it was.

    Only where a proxy variable is set: on macOS and Windows urllib (so httpx and requests) takes the system's proxy
    settings only while the environment has no proxy variable, NO_PROXY included, so setting it alone would have
    sent the process's other requests (Hub downloads) past the system's proxy. Only this machine's own addresses are
    added, which a proxy elsewhere cannot reach on its behalf, so other requests are routed as before.
    """
    named = [name for variable in PROXY_VARIABLES for name in (variable, variable.lower()) if os.environ.get(name)]
    if not named:
        return []
    own = ["localhost", "127.0.0.1"] + ([host] if host not in WILDCARD_HOSTS else [])
    # urllib takes no_proxy over NO_PROXY where both are set (an empty one too): each set one gets them.
    for variable in [name for name in ("NO_PROXY", "no_proxy") if name in os.environ] or ["NO_PROXY"]:
        listed = [entry.strip() for entry in os.environ.get(variable, "").split(",") if entry.strip()]
        os.environ[variable] = ",".join(dict.fromkeys(listed + own))  # each once, in order
    return named


def proxy_problem() -> str | None:
    """Why httpx cannot send a request with this environment's proxy variables at all (a SOCKS proxy without the
    socksio package, a scheme it does not know), in its words, or None. An exemption does not help there: httpx
    builds every proxy's transport before it looks at the URL, and gradio's import makes a client already."""
    try:
        import httpx  # gradio's
    except ImportError:  # no gradio either: the start says so
        return None
    try:
        httpx.Client().close()
    except (ImportError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None


# gradio's check is one function for the whole process, and launches can be under way at once (demos started from
# threads, tests beside each other): the patient check is put in its place once, while any launch is within
# `patient_local_check` (counted in `_wrapped` under `_lock`), and is patient for a launch's own thread alone
# (`_pending`). Each launch wrapping gradio's function itself took another's wrapper for gradio's: its check answered
# the other launch's, and a wrapper could stay in gradio for good.
_lock = threading.Lock()
_wrapped: dict[str, Any] = {"gradio": None, "launches": 0}  # gradio's own check; the launches under way
_pending = threading.local()  # `.check`: this thread's next check's (wait_s, why), None once it has been asked


@contextmanager
def patient_local_check(wait_s: float | None = None) -> Iterator[list[str]]:
    """Within it, gradio's next localhost check in this thread first waits up to `wait_s` seconds
    (LOCAL_ANSWER_WAIT_S) for the server to answer at all, and is tried again while the server answers but too slowly
    for it; otherwise gradio's check decides as before → the list that then holds why the server did not answer (one
    phrase), if so. Other threads' checks, and this one's later ones (a share link's wait), are gradio's own.

    Raises:
        RuntimeError: this gradio's `Blocks.launch` no longer checks through `gradio.networking.url_ok(url)`.
    """
    from gradio import networking

    why: list[str] = []
    with _lock:
        if _wrapped["launches"] == 0:
            # Ours still there (put back by one that wrapped it while a launch was under way): gradio's is the one
            # kept; taking ours for it, each check would ask itself until Python's recursion limit.
            if (check := _gradio_check()) is not _url_ok:
                _wrapped["gradio"] = check
            networking.url_ok = _url_ok
        _wrapped["launches"] += 1
    # A launch within another's in one thread (not gradio's way, but cheap to keep right): its check, then the other's.
    outer = getattr(_pending, "check", None)
    _pending.check = (LOCAL_ANSWER_WAIT_S if wait_s is None else wait_s, why)
    try:
        yield why
    finally:
        _pending.check = outer
        with _lock:
            _wrapped["launches"] -= 1
            if _wrapped["launches"] == 0:
                if networking.url_ok is _url_ok:  # else another library's since: left to it
                    networking.url_ok = _wrapped["gradio"]  # (kept in `_wrapped`: a thread may be calling in)


def _url_ok(url: str) -> bool:
    """gradio's check in its place while a launch is under way: the patient one for a launch's first check in its
    thread, else gradio's own."""
    check, pending = _wrapped["gradio"], getattr(_pending, "check", None)
    if pending is None:
        return check(url)
    _pending.check = None  # this launch's check alone (a share link's later wait is gradio's own)
    wait, why = pending
    deadline = time.monotonic() + wait
    while True:
        answer = _answer(url, deadline, wait)
        if isinstance(answer, str):
            why.append(answer)
            return False
        if check(url):
            return True
        if answer not in GRADIO_ANSWERS:  # its check will not take it however often asked: not a slow answer
            why.append(f"answered HTTP {answer}")
            return False
        if time.monotonic() >= deadline:
            why.append(f"answered more slowly than gradio's check waits (3 s) for {wait:g} s")
            return False


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
