"""Who a demo server's users are (this machine's alone, or others' too: a host that is not loopback, a share link,
a Hugging Face Space), and what follows from it: whether models load by path or Hub id, the time limit."""

from __future__ import annotations

import ipaddress
import os
import socket

from .limits import DEFAULT_TIME_LIMIT_S, SPACE_TIME_LIMIT_S


def shares(share: bool | None) -> bool:
    """Whether `gr.Blocks.launch(share=share)` opens a public share link: `share` when given, else as gradio decides
    (on in Colab and hosted notebooks, or with GRADIO_SHARE=true)."""
    if share is not None:
        return bool(share)
    from gradio import utils

    return utils.colab_check() or utils.is_hosted_notebook() or os.environ.get("GRADIO_SHARE", "").lower() == "true"


def custom_models_allowed(setting: str, host: str, share: bool) -> bool:
    """Whether the demo loads models by path or Hub id: `setting` "on" / "off", or for "auto" only when its users
    are this machine's (a loopback `host`, no share link, not a Hugging Face Space)."""
    if setting != "auto":
        return setting == "on"
    return _own_machine(host, share)


def time_limit_for(given: int | None, host: str, share: bool) -> int:
    """Seconds a restoration may run (0: no limit): `given`, else none for this machine's users alone, else 180 s:
    on a server open to others, one user's ×8 self-ensemble in small tiles held a worker for hours."""
    if given is not None:
        return given
    return DEFAULT_TIME_LIMIT_S if _own_machine(host, share) else SPACE_TIME_LIMIT_S


def _own_machine(host: str, share: bool) -> bool:
    """Whether the server's users are this machine's: a loopback `host`, no share link, not a Hugging Face Space."""
    return _loopback(host) and not share and "SPACE_ID" not in os.environ


def _loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback one (a name that starts "127." may not be)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):  # unresolvable: the server cannot bind it either
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
