"""Whether gradio has given up on a session's client, so that its running jobs can stop.

gradio notices a client that went away without cancelling (a killed `gradio_client` script, a dropped network)
when the client's event stream closes: it marks every event of that session dead and never sends their results,
but it leaves a running function running. Only its queue knows; these functions read it.
"""

from __future__ import annotations

from collections.abc import Iterable

import gradio as gr

# How often a running job asks (seconds): a departed client's job holds a worker at most this much longer.
CHECK_EVERY_S = 0.5


def client_gone(pages: Iterable[gr.Blocks], session: str) -> bool:
    """Whether one of `pages`' queues holds a running event of `session` that gradio marked dead.

    Reads gradio 6's queue internals (`Blocks._queue.active_jobs`, `Event.session_hash`, `Event.alive`); where they
    differ it answers False, and a departed client's job runs to its end, as it did before this check.
    """
    for page in pages:
        for events in getattr(getattr(page, "_queue", None), "active_jobs", None) or ():
            for event in events or ():
                if getattr(event, "session_hash", None) == session and getattr(event, "alive", True) is False:
                    return True
    return False
