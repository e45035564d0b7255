"""The image readers' warnings about a file named otherwise (`named_as`): a temporary file's, or an upload's, which
would show the server's temporary folders in its log."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from ..console import shown_name


@contextlib.contextmanager
def named_as(path: str | os.PathLike, name: str) -> Iterator[None]:
    """While inside, the warnings `image_io` and `frames_swinir` log about `path` name it `name` instead."""
    from ..models import frames_swinir
    from . import image_io

    spellings = {shown_name(path), str(path)}  # as the readers write it (`shown_name`) and as raw text

    def renamed(record: logging.LogRecord) -> bool:  # on the loggers the records are made on: filters don't propagate
        text = record.getMessage()
        for spelling in spellings:
            text = text.replace(spelling, name)
        record.msg, record.args = text, None
        return True

    readers = (image_io.logger, frames_swinir.logger)  # frames_swinir: an animated file's warning
    for logger in readers:
        logger.addFilter(renamed)
    try:
        yield
    finally:
        for logger in readers:
            logger.removeFilter(renamed)
