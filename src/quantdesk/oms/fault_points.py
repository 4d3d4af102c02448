"""Named crash points on the order path, for the crash tests: ``QUANTDESK_CRASH_AT=name[:n]`` kills the process.

The OMS calls :func:`crash_point` at the moments a crash hurts most (intent stored but not sent, order sent but
its acknowledgement not stored, between two partial fills, …). Unset — always, outside the crash tests — a call
is one dictionary lookup. Set to ``after_send:3``, the third time the process passes ``after_send`` it sends
itself ``SIGKILL``: no ``finally`` block, no flush, exactly what ``kill -9`` or a power cut does.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = (
    "before_intent",  # risk passed, intent not yet durable
    "after_intent",  # intent durable, order not sent
    "after_send",  # order handed to the broker, acknowledgement not yet stored
    "after_ack",  # acknowledgement stored
    "after_fill",  # a fill applied in memory, its journal write maybe not committed
    "between_groups",  # the rebalance's sells done, buys not started
)
"""Every crash point, in the order an order passes them."""

_ENV = "QUANTDESK_CRASH_AT"
_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(_ENV, "").strip()
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count) if count else 1


_TARGET = _target()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when ``name`` is the configured crash point and its count is reached."""
    if _TARGET is None or _TARGET[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
