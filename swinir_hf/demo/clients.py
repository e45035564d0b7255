"""Whether gradio has given up on a session's client, so that its running jobs can stop; and its jobs still waiting.

gradio notices a client that went away without cancelling (a killed `gradio_client` script, a dropped network)
when the client's event stream closes: it marks every event of that session dead and never sends their results,
but it leaves a running function running. Only its queue knows; these functions read it.
"""

from __future__ import annotations

from collections.abc import Iterable

import gradio as gr
from gradio.server_messages import ProcessCompletedMessage
from gradio.utils import error_payload

# How often a running job asks (seconds): a departed client's job holds a worker at most this much longer.
CHECK_EVERY_S = 0.5
# The queue the restorations wait in for a worker (their events' `concurrency_id`).
RESTORE_QUEUE = "restore"


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


def has_jobs(pages: Iterable[gr.Blocks], session: str) -> bool:
    """Whether `session` has a restoration waiting in one of `pages`' restoration queue or running (the page's too,
    which gradio's `cancels` stops, from the moment it is queued). Reads gradio 6's queue internals
    (`event_queue_per_concurrency_id`, `active_jobs`, `Event.concurrency_id`); where they differ it answers False."""
    for page in pages:
        queue = getattr(page, "_queue", None)
        waiting = getattr(queue, "event_queue_per_concurrency_id", {}).get(RESTORE_QUEUE)
        running = [e for job in getattr(queue, "active_jobs", None) or () for e in job or ()]
        for event in [*getattr(waiting, "queue", ()), *running]:
            if (
                getattr(event, "session_hash", None) == session
                and getattr(event, "concurrency_id", None) == RESTORE_QUEUE
            ):
                return True
    return False


async def drop_waiting(pages: Iterable[gr.Blocks], session: str, api_name: str, error: gr.Error) -> int:
    """Take `session`'s `api_name` events still waiting in `pages`' restoration queue off it, each answered with
    `error`; returns how many. The page's Cancel has gradio drop the page's own waiting job (`cancels`); an API
    client's `/cancel` did not drop its waiting jobs, which ran later, one after another. Reads gradio 6's queue
    internals (`event_queue_per_concurrency_id`, `delete_lock`, `event_ids_to_events`, `send_message`); where they
    lack the table of queues nothing is dropped."""
    dropped = 0
    for page in pages:
        queue = getattr(page, "_queue", None)
        waiting = getattr(queue, "event_queue_per_concurrency_id", {}).get(RESTORE_QUEUE)
        if waiting is None:
            continue
        async with queue.delete_lock:  # the queue's own lock on its lists
            events = [e for e in waiting.queue if e.session_hash == session and e.fn.api_name == api_name]
            for event in events:
                waiting.queue.remove(event)
                queue.event_ids_to_events.pop(event._id, None)
        answer = error_payload(error, True)
        for event in events:
            queue.send_message(event, ProcessCompletedMessage(output=answer, success=False, title=error.title))
        dropped += len(events)
    return dropped
