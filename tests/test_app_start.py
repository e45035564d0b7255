"""The demo's start when its server is slow to answer on this machine, cannot be reached from it, or a proxy is set."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import threading
import types

import httpx
import huggingface_hub.constants
import pytest
from gradio import blocks, networking

import app
from swinir_hf.demo import local_check, server
from swinir_hf.demo.local_check import patient_local_check


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _heads(monkeypatch, answer) -> list[str]:
    """Every `httpx.head` (gradio's localhost check's and the demo's) goes to `answer(url, n, real_head, **kwargs)`,
    n counting from 1 → the URLs asked."""
    real, asked = httpx.head, []

    def head(url, **kwargs):
        asked.append(url)
        return answer(url, len(asked), real, **kwargs)

    monkeypatch.setattr(httpx, "head", head)
    return asked


def test_a_server_slow_to_answer_still_starts(monkeypatch, free_port):
    """gradio's start checks with a HEAD (3 s timeout) that the server answers on localhost, and a timeout failed
    it at once: `python app.py` on a loaded machine (or a cold Space) stopped with "When localhost is not accessible,
    a shareable link must be created ... check your proxy settings". The start now waits for the answer, and tries
    gradio's check again while the server answers too slowly for it."""
    gradio_check = networking.url_ok

    def late(url, n, real, **kwargs):
        if n in (1, 3):  # the first answer came after the client gave up, and so did gradio's first check's
            raise httpx.ReadTimeout("timed out")
        return real(url, **kwargs)

    asked = _heads(monkeypatch, late)
    page = app.launch(app.parse_args(["--port", str(free_port())]), prevent_thread_lock=True, quiet=True)
    try:
        # waited (1), answered (2), gradio's check timed out (3), answered (4), gradio's check passed (5)
        assert asked == [page.local_url] * 5
        assert httpx.get(page.local_url, timeout=30).status_code == 200
    finally:
        page.close()
    assert networking.url_ok is gradio_check  # its own again, for whatever else calls it


@pytest.mark.parametrize(
    ("head", "why"),
    [
        ("refused", "could not be reached (ConnectError: [Errno 111] Connection refused)"),
        ("silent", "did not answer within 0.5 s"),
        ("error", "answered HTTP 503"),
        ("no content", "answered HTTP 204"),  # a success gradio's check does not take: no 60 s of asking again
        ("slow", "answered more slowly than gradio's check waits (3 s) for 0.5 s"),
    ],
)
def test_a_server_that_does_not_answer_stops_the_start_with_one_line(monkeypatch, free_port, head, why):
    """Still a failed start, but one line saying what happened: gradio's message blamed the proxy and asked for a
    share link even when the server was only too slow, and the server it had started ran on. So too where it answers,
    but with an error status (not a 401: a login page) or, all the wait long, after gradio's check gave up."""
    monkeypatch.setattr(local_check, "LOCAL_ANSWER_WAIT_S", 0.5)
    # gradio's check asks again 0.5 s after a status it does not take, five times: not slept here.
    monkeypatch.setattr(networking, "time", types.SimpleNamespace(sleep=lambda seconds: None))

    def fails(url, n, real, **kwargs):
        if head == "refused":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        if head in ("error", "no content"):
            return httpx.Response(503 if head == "error" else 204)
        if head == "slow" and kwargs["timeout"] != 3:  # the demo's wait is answered, gradio's check (3 s) is not
            return httpx.Response(200)
        raise httpx.ReadTimeout("timed out")

    _heads(monkeypatch, fails)
    _assert_the_start_stops_unanswered(free_port(), why)


def test_a_gradio_that_checks_localhost_otherwise_is_said_not_worked_around_silently(monkeypatch):
    """The patience wraps gradio's `networking.url_ok`, which `Blocks.launch` calls: a gradio that no longer does
    stops the start with a RuntimeError naming the code to update, instead of failing on slow servers again."""
    gradio_check = networking.url_ok
    message = r"Blocks.launch no longer checks localhost through gradio.networking.url_ok\(url\): swinir_hf/demo/"
    with monkeypatch.context() as patch:
        patch.setattr(networking, "url_ok", lambda url, timeout=3: True)  # another signature
        with pytest.raises(RuntimeError, match=message), patient_local_check():
            pass
    with monkeypatch.context() as patch:

        def launch(self, **kwargs):  # a gradio whose launch checks by other means
            return None

        launch.__module__ = blocks.__name__
        patch.setattr(blocks.Blocks, "launch", launch)
        with pytest.raises(RuntimeError, match=message), patient_local_check():
            pass
    with patient_local_check():  # this gradio's
        assert networking.url_ok is not gradio_check
    assert networking.url_ok is gradio_check  # unchanged where the launch stopped before its check


def _in_turn(*steps) -> list[threading.Thread]:
    """Threads that each run their steps `(after, work)` in order: `work()` once the event `after` (None: at once) is
    set, then that step's own event, returned with the threads (for others to wait on: the steps' order is fixed by
    events alone)."""
    threads = []
    for script in steps:

        def run(script=script) -> None:
            for after, work, done in script:
                if after is not None:
                    assert after.wait(30), "the other thread never got there"
                work()
                done.set()

        threads.append(threading.Thread(target=run, daemon=True))
    return threads


def test_two_launches_at_once_each_check_patiently_and_leave_gradios_check_as_it_was(monkeypatch):
    """Two demos launched at once, in two threads: the second took the first's wrapper for gradio's own check, so the
    first launch's check was answered by the second's (its reason in the other's list), and where the first launch
    stopped before its check, the first's wrapper stayed in gradio for good. Each launch's check is now its own
    thread's, and gradio's own check comes back once both are done, whichever ends first."""
    gradio_asked = []

    def gradio_check(url: str) -> bool:  # gradio's own (`_gradio_check` takes this one)
        gradio_asked.append(url)
        return False

    monkeypatch.setattr(networking, "url_ok", gradio_check)
    monkeypatch.setattr(local_check, "_answer", lambda url, deadline, wait: f"{url} did not answer")
    whys, stacks = {}, {name: contextlib.ExitStack() for name in "ab"}
    events = {name: threading.Event() for name in ("a in", "b in", "a checked", "b checked", "a out")}

    def enter(name: str):
        return lambda: whys.setdefault(name, stacks[name].enter_context(patient_local_check(wait_s=1)))

    def check(url: str):
        return lambda: networking.url_ok(url)

    a = [(None, enter("a"), events["a in"]), (events["b in"], check("http://a/"), events["a checked"])]
    a += [(events["b checked"], stacks["a"].close, events["a out"])]
    b = [(events["a in"], enter("b"), events["b in"]), (events["a checked"], check("http://b/"), events["b checked"])]
    b += [(events["a out"], stacks["b"].close, threading.Event())]
    for thread in (threads := _in_turn(a, b)):
        thread.start()
    for thread in threads:
        thread.join(30)
    assert whys == {"a": ["http://a/ did not answer"], "b": ["http://b/ did not answer"]}
    assert networking.url_ok is gradio_check and gradio_asked == []

    # The first launch stopped before its check (a bad option), the second after it: gradio's check was left wrapped.
    whys, stacks = {}, {name: contextlib.ExitStack() for name in "ab"}
    events = {name: threading.Event() for name in ("a in", "b in", "a out", "b checked")}
    a = [(None, enter("a"), events["a in"]), (events["b in"], stacks["a"].close, events["a out"])]
    b = [(events["a in"], enter("b"), events["b in"]), (events["a out"], check("http://b/"), events["b checked"])]
    b += [(None, stacks["b"].close, threading.Event())]
    for thread in (threads := _in_turn(a, b)):
        thread.start()
    for thread in threads:
        thread.join(30)
    assert whys == {"a": [], "b": ["http://b/ did not answer"]}
    assert networking.url_ok is gradio_check and gradio_asked == []
    assert networking.url_ok("http://c/") is False and gradio_asked == ["http://c/"]  # gradio's, unwrapped


def test_our_check_put_back_in_gradios_place_is_not_taken_for_gradios(monkeypatch):
    """Another wrapper of gradio's check, put in while a launch was under way (a test's monkeypatch, another
    library), that put back what it found (ours) once the launch was done: the next launch took ours for gradio's,
    and its check asked itself until a RecursionError, and left ours in gradio for good."""
    gradio_asked = []

    def gradio_check(url: str) -> bool:
        gradio_asked.append(url)
        return True

    monkeypatch.setattr(networking, "url_ok", gradio_check)
    monkeypatch.setattr(local_check, "_answer", lambda url, deadline, wait: 200)
    with patient_local_check(wait_s=1):
        ours = networking.url_ok
        networking.url_ok = lambda url: ours(url)  # the other wrapper, in for a while
    networking.url_ok = ours  # put back, after the launch
    with patient_local_check(wait_s=1) as why:
        assert networking.url_ok("http://a/") is True
    assert why == [] and gradio_asked == ["http://a/"]
    assert networking.url_ok is gradio_check


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def _proxy(monkeypatch, url: str, *variables: str, no_proxy: str | None = None) -> None:
    """The proxy `url` in `variables` (upper-case names) alone, and `no_proxy` in NO_PROXY (none: unset)."""
    for name in (*PROXY_VARIABLES, "NO_PROXY"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)  # put back as it was after the test
    for name in variables:
        monkeypatch.setenv(name, url)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])  # (HTTPS_PROXY: not for the http:// server)
def test_a_dead_proxy_does_not_stop_the_start(monkeypatch, free_port, variable):
    """With a proxy in HTTP_PROXY, HTTPS_PROXY or ALL_PROXY and nothing in NO_PROXY, gradio's first request to the
    started server (GET .../startup-events) went to the proxy: a dead one stopped `python app.py` with httpx's
    ConnectError traceback. The demo now exempts its own addresses from the proxy, as browsers do localhost."""
    proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    _proxy(monkeypatch, proxy, variable)
    page = app.launch(app.parse_args(["--port", str(free_port())]), prevent_thread_lock=True, quiet=True)
    try:
        assert httpx.get(page.local_url, timeout=30).status_code == 200  # this process's requests: not proxied
    finally:
        page.close()
    assert os.environ["NO_PROXY"] == "localhost,127.0.0.1"
    assert "no_proxy" not in os.environ
    with pytest.raises(httpx.ConnectError, match="Connection refused"):  # others' still go to the proxy (no DNS)
        httpx.get("http://hub.invalid/", timeout=30)


@pytest.mark.parametrize(
    ("host", "proxy", "before", "after"),
    [
        ("127.0.0.1", False, ("hub.example", None), ("hub.example", None)),  # no proxy variable: as it was
        ("127.0.0.1", True, (" hub.example, localhost", None), ("hub.example,localhost,127.0.0.1", None)),
        ("0.0.0.0", True, (None, ""), (None, "localhost,127.0.0.1")),  # urllib reads an empty no_proxy too
        (
            "192.0.2.7",
            True,
            ("*", "10.0.0.1"),
            ("*,localhost,127.0.0.1,192.0.2.7", "10.0.0.1,localhost,127.0.0.1,192.0.2.7"),
        ),
    ],
)
def test_the_exemption_is_added_to_what_the_user_set(monkeypatch, host, proxy, before, after):
    """Only the server's own addresses are added (localhost, 127.0.0.1, the --host it listens on unless every one),
    after the user's, to each of NO_PROXY and no_proxy that is set (urllib takes no_proxy first), and only where a
    proxy variable is set: on macOS and Windows a NO_PROXY alone turns the system's proxy settings off."""
    _proxy(monkeypatch, "http://proxy.invalid:3128", *(["HTTP_PROXY"] if proxy else []), no_proxy=before[0])
    if before[1] is not None:
        monkeypatch.setenv("no_proxy", before[1])
    assert local_check.exempt_local_addresses(host) == (["HTTP_PROXY"] if proxy else [])
    assert (os.environ.get("NO_PROXY"), os.environ.get("no_proxy")) == after


def test_a_proxy_httpx_cannot_use_stops_the_start_with_one_line(monkeypatch, free_port):
    """A SOCKS proxy without the socksio package fails every httpx client, an exempted request's too: `python app.py`
    stopped with "needs the 'gradio' package, which is installed but fails to import" (gradio's import makes one),
    and a caller of `launch` with an ImportError traceback from gradio's first request to the server."""
    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed: httpx can use a SOCKS proxy")
    _proxy(monkeypatch, f"socks5://127.0.0.1:{free_port()}", "ALL_PROXY")
    port = free_port()
    line = (
        "app.py: error: the proxy in ALL_PROXY cannot be used (ImportError: Using SOCKS proxy, but the 'socksio' "
        "package is not installed. Make sure to install httpx using `pip install httpx[socks]`.): correct it, or "
        "unset it for the demo"
    )
    command = [sys.executable, app.__file__, "--port", str(port)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout, run.stderr) == (1, "", line + "\n")
    with pytest.raises(SystemExit) as stop:
        app.launch(app.parse_args(["--port", str(port)]), prevent_thread_lock=True, quiet=True)
    assert str(stop.value) == line
    assert server._bind_problem("127.0.0.1", port) is None  # it stopped before the server started


def test_a_first_request_that_fails_stops_the_start_with_one_line(monkeypatch, free_port):
    """Where gradio's first request to the started server fails all the same (here the dead proxy, not exempted), the
    start stops with one line, and the server is closed: it was httpx's traceback, the server left listening."""
    monkeypatch.setattr(server, "exempt_local_addresses", lambda host: [], raising=False)  # (none before the fix)
    _proxy(monkeypatch, f"http://127.0.0.1:{free_port()}", "HTTP_PROXY")
    _assert_the_start_stops_unanswered(
        free_port(), "could not be reached (ConnectError: [Errno 111] Connection refused)"
    )


def _assert_the_start_stops_unanswered(port: int, why: str) -> None:
    """The demo started on `port` stops with the one line saying `why` its server did not answer, the server closed."""
    with pytest.raises(SystemExit) as stop:
        app.launch(app.parse_args(["--port", str(port)]), prevent_thread_lock=True, quiet=True)
    assert str(stop.value) == (
        f"app.py: error: the server started but http://127.0.0.1:{port}/ {why}: the machine may be too busy, or "
        "something (a firewall) stops its requests to itself"
    )
    assert server._bind_problem("127.0.0.1", port) is None  # the server was closed
