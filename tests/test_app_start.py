"""The demo's start when its server is slow to answer on this machine, or cannot be reached from it."""

from __future__ import annotations

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
    ],
)
def test_a_server_that_does_not_answer_stops_the_start_with_one_line(monkeypatch, free_port, head, why):
    """Still a failed start, but one line saying what happened: gradio's message blamed the proxy and asked for a
    share link even when the server was only too slow, and the server it had started ran on."""
    monkeypatch.setattr(local_check, "LOCAL_ANSWER_WAIT_S", 0.5)

    def fails(url, n, real, **kwargs):
        if head == "refused":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        raise httpx.ReadTimeout("timed out")

    _heads(monkeypatch, fails)
    port = free_port()
    with pytest.raises(SystemExit) as stop:
        app.launch(app.parse_args(["--port", str(port)]), prevent_thread_lock=True, quiet=True)
    assert str(stop.value) == (
        f"app.py: error: the server started but http://127.0.0.1:{port}/ {why}: the machine may be too busy, or a "
        "proxy takes localhost's requests (HTTP_PROXY / ALL_PROXY; exempt it with NO_PROXY=localhost,127.0.0.1)"
    )
    assert server._bind_problem("127.0.0.1", port) is None  # the server was closed


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
