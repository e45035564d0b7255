"""Pushes to the Hub of the config, the image processor, the model and the pipeline that fail for want of the Hub
(HF_HUB_OFFLINE, no network) with one `OSError` saying what to do, not the HTTP client's error from inside an upload;
a save asked for together with a push is made first, so that nothing is lost. Also the package's one definition of a
network error (`network_errors`): this file ships as remote code, so it cannot import it from the rest of the package.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from typing import Any


class SaidPush:
    """Mixin, before transformers' class, for its `push_to_hub` and `save_pretrained(..., push_to_hub=True)` (a class
    with a `save_pretrained` of its own calls `save_then_push` from it)."""

    def push_to_hub(self, repo_id: str, *args: Any, **kwargs: Any) -> Any:
        with push_said(repo_id):
            return super().push_to_hub(repo_id, *args, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("push_to_hub"):
            return self.save_then_push(save_directory, *args, **kwargs)
        return super().save_pretrained(save_directory, *args, **kwargs)

    def save_then_push(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """`save_pretrained(save_directory, push_to_hub=True, ...)` as two steps: the whole folder, as saved without
        a push, then what the save changed in it uploaded. transformers creates the repo before it saves (without the
        Hub nothing was saved) and uploads before a subclass's `save_pretrained` has finished the folder (the model's
        code files were left out)."""
        push = {name: kwargs.pop(name) for name in _PUSH_OPTIONS if name in kwargs}
        kwargs["push_to_hub"] = False
        os.makedirs(save_directory, exist_ok=True)
        before = self._get_files_timestamps(save_directory)
        self.save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):  # a distributed save: the main process pushes, as transformers'
            return
        repo_id = push.get("repo_id") or os.fspath(save_directory).rstrip(os.sep).split(os.sep)[-1]
        with push_said(repo_id, saved=save_directory):
            from huggingface_hub import HfApi

            token = kwargs.get("token")
            repo_id = HfApi().create_repo(repo_id, private=push.get("private"), token=token, exist_ok=True).repo_id
            card = os.path.join(save_directory, "README.md")
            tagged = getattr(self, "model", self)  # a pipeline's model
            if hasattr(tagged, "model_tags") and not os.path.exists(card):  # a model: a card, as transformers' push
                from transformers.utils.hub import create_and_tag_model_card

                create_and_tag_model_card(repo_id, tagged.model_tags, token=token).save(card)
            self._upload_modified_files(
                save_directory,
                repo_id,
                before,
                commit_message=push.get("commit_message"),
                token=token,
                create_pr=push.get("create_pr", False),
                revision=push.get("revision"),
            )


# What `save_pretrained(..., push_to_hub=True)` takes for its push (transformers' names).
_PUSH_OPTIONS = ("repo_id", "commit_message", "create_pr", "private", "revision")


@contextlib.contextmanager
def push_said(repo_id: str, saved: str | os.PathLike | None = None) -> Iterator[None]:
    """A push to `repo_id` that fails for want of the Hub as an `OSError` saying so and how to upload later; `saved`:
    the folder already saved, which the message names."""
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    if saved is None:
        later = f"save it (.save_pretrained(FOLDER)) and upload the folder later (hf upload {repo_id} FOLDER)"
        failed = f"cannot push to {repo_id}"
    else:
        later = f"upload the folder later (hf upload {repo_id} {os.fspath(saved)})"
        failed = f"saved in {os.fspath(saved)}, but cannot push to {repo_id}"
    if constants.HF_HUB_OFFLINE:
        raise OSError(f"{failed}: HF_HUB_OFFLINE is set; unset it where the Hub can be reached, or {later}")
    try:
        yield
    except OfflineModeIsEnabled as err:
        raise OSError(f"{failed}: HF_HUB_OFFLINE is set; {later}") from err
    except Exception as err:
        # huggingface_hub's own errors are OSErrors and say what the Hub answered; a connection that fails outright
        # raises its HTTP client's (httpx, httpx2), which says no more than "Name or service not known".
        if not is_http_client_error(err):
            raise
        raise OSError(
            f"{failed}: the Hub ({constants.ENDPOINT}) cannot be reached ({type(err).__name__}: {err}); retry when it "
            f"can, or {later}"
        ) from err


def network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a failed Hub request (or URL fetch) raises: huggingface_hub's own errors are `OSError`s; a
    connection that fails outright raises its HTTP client's error (`is_http_client_error`), which is not."""
    return (OSError, *_http_client_errors())


def is_http_client_error(err: BaseException) -> bool:
    """Whether `err` is huggingface_hub's HTTP client's own (httpx, or httpx2 in huggingface_hub ≥ 2): its
    `HTTPError` (a connection that fails outright, a timeout, a bad status) or `InvalidURL`; not an `OSError`, and its
    message names no URL. The clients' other errors (a response stream read twice, ...) are bugs, not the network's."""
    return isinstance(err, _http_client_errors())


def _http_client_errors() -> tuple[type[BaseException], ...]:
    # Each client's HTTPError, the base of its network failures, last.
    errors: list[type[BaseException]] = []
    for client in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(client)
        except ImportError:
            continue
        errors += [getattr(module, name) for name in ("InvalidURL", "HTTPError") if hasattr(module, name)]
    return tuple(errors)
