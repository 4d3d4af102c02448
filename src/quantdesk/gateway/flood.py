"""Tick flood: stream quotes back-to-back, as fast as each client reads them (``GatewayConfig.tick_flood``).

For throughput benchmarks only. Every streaming ``reqMktData`` subscription gets, on top of the regular pushes,
an endless run of bid and ask ``tickPrice`` messages walking along the contract's replayed price path of the current
session (one second per pair, sizes from the quote model). The flood writes in batches and waits for the socket to
drain between them, so a slow client slows it down instead of filling the gateway's memory. It stops when the
subscription is cancelled or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from quantdesk.gateway import replies
from quantdesk.gateway.clock import SESSION_SECONDS
from quantdesk.gateway.codec import frame

if TYPE_CHECKING:
    from quantdesk.gateway.client import ClientSession
    from quantdesk.gateway.streams import TickSubscription
    from quantdesk.gateway.venue_context import VenueContext

__all__ = ["BATCH", "CYCLE_SECONDS", "flood_messages", "install_flood"]

BATCH = 512
CYCLE_SECONDS = 2_000
_log = logging.getLogger("quantdesk.gateway.flood")


def flood_messages(venue: VenueContext, sub: TickSubscription) -> list[list[str]]:
    """Bid and ask ticks for ``CYCLE_SECONDS`` seconds of the session's price path, from the current second."""
    row, secs = venue.calendar.split(venue.clock.now_tt())
    path = venue.market.session_path(sub.spec, row)
    out: list[list[str]] = []
    start = int(secs)
    for sec in range(start, start + CYCLE_SECONDS):
        price = float(path[sec % (SESSION_SECONDS + 1)])
        bid, ask = venue.market.bid_ask(sub.spec, price)
        size = 100 * (1 + sec % 9)
        out.append(replies.tick_price(sub.req_id, 1, bid, size, attrib_mask=1))
        out.append(replies.tick_price(sub.req_id, 2, ask, size, attrib_mask=1))
    return out


def _batches(messages: list[list[str]]) -> list[bytes]:
    return [b"".join(frame(m) for m in messages[i : i + BATCH]) for i in range(0, len(messages), BATCH)]


async def _flood(venue: VenueContext, session: ClientSession) -> None:
    # Pre-framed batches go straight to the session's (coalescing) writer: a benchmark mode, so no fault filters
    # and no reply delays, and no per-message encoding cost on the gateway's side.
    cycles: dict[int, list[bytes]] = {}
    position = 0
    while session.is_open and session.streams.ticks:
        for sub in list(session.streams.ticks.values()):
            batches = cycles.get(sub.req_id)
            if batches is None:
                batches = cycles[sub.req_id] = _batches(flood_messages(venue, sub))
            session.write_framed(batches[position % len(batches)])
        position += 1
        await session.flush()


def install_flood(venue: VenueContext) -> None:
    """Start a flood for every session that streams ticks (checked on every pump tick)."""
    tasks: dict[int, asyncio.Task[Any]] = {}

    def start(tt: float) -> None:
        for task_key in [k for k, t in tasks.items() if t.done()]:
            del tasks[task_key]
        for session in list(venue.sessions.values()):
            if session.ready and session.is_open and session.streams.ticks and id(session) not in tasks:
                task = asyncio.get_running_loop().create_task(_flood(venue, session))
                task.add_done_callback(_report)
                tasks[id(session)] = task

    venue.add_pump_hook(start)


def _report(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None and not isinstance(exc, ConnectionError):
            _log.warning("tick flood ended: %r", exc)
