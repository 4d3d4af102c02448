"""One client connection: handshake, client-id registration, message dispatch and the outgoing queue.

A session works on its server's venue and dispatches through the server's handler table; handlers receive it (as a
:class:`~quantdesk.gateway.client.ClientSession`) with each request and answer through :meth:`Session.send`.
Per-client state (the negotiated server version, subscriptions, market data type, typed slots for extensions)
lives here and dies with the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Sequence

from quantdesk.gateway import replies
from quantdesk.gateway.codec import (
    API_PREFIX,
    MAX_MESSAGE_SIZE,
    ProtocolError,
    Request,
    frame,
    parse_version_range,
    split_fields,
)
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.pacing import MessageRateLimiter
from quantdesk.gateway.slots import ExtensionSlots
from quantdesk.gateway.streams import SessionStreams
from quantdesk.gateway.venue_context import VenueContext

__all__ = ["Session"]

_log = logging.getLogger("quantdesk.gateway.session")
_FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
DUPLICATE_CLIENT_ID = "Unable to connect as the client id is already in use. Retry with a unique client id."


class Session:
    """The server side of one API connection."""

    def __init__(
        self, venue: VenueContext, handlers: HandlerTable, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.venue = venue
        self._handlers = handlers
        self._reader = reader
        self._writer = writer
        self.peer = str(writer.get_extra_info("peername"))
        self.client_id: int | None = None
        self.server_version = 0
        self.connect_options = ""
        self.ready = False
        self.market_data_type = 1
        self.delay = venue.faults.default_delay
        self._streams = SessionStreams(self, venue)
        self.positions_subscribed = False
        self.account_updates: str | None = None
        self.summary_subscriptions: dict[int, tuple[str, tuple[str, ...]]] = {}
        self.multi_subscriptions: dict[int, tuple[str, str]] = {}
        self._slots = ExtensionSlots()
        self.rate = MessageRateLimiter(venue.config.max_messages_per_second)
        self._queue: deque[tuple[float, bytes]] = deque()
        self._queue_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._closing = False

    def __repr__(self) -> str:
        return f"Session(client_id={self.client_id}, peer={self.peer})"

    @property
    def is_open(self) -> bool:
        """Whether the connection can still carry messages."""
        return not self._closing and not self._writer.is_closing()

    @property
    def streams(self) -> SessionStreams:
        """The live market-data subscriptions of this client."""
        return self._streams

    @property
    def slots(self) -> ExtensionSlots:
        """Per-client values of extensions (the order desk keeps what this client has been shown here)."""
        return self._slots

    # --- output ----------------------------------------------------------------------------------------------

    def send(self, fields: Sequence[str]) -> None:
        """Queue one message to the client (after any scripted delay; dropped if a fault filter withholds it)."""
        if not self.is_open or not self.venue.faults.allows(self, fields):
            return
        data = frame(fields)
        if self.delay <= 0 and not self._queue:
            self._writer.write(data)
            return
        loop = asyncio.get_running_loop()
        self._queue.append((loop.time() + max(self.delay, 0.0), data))
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = loop.create_task(self._drain_queue())

    def send_all(self, messages: Sequence[Sequence[str]]) -> None:
        """Queue several messages in order."""
        for fields in messages:
            self.send(fields)

    def write_framed(self, data: bytes) -> None:
        """Write already framed messages straight to the socket (no delay, no fault filter: benchmarks only)."""
        self._writer.write(data)

    def error(self, req_id: int, code: int, message: str, advanced_order_reject_json: str = "") -> None:
        """Send IB's ``error`` message (4)."""
        self.send(replies.error(req_id, code, message, advanced_order_reject_json))

    async def _drain_queue(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            due, data = self._queue[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._writer.is_closing():
                self._queue.clear()
                return
            self._queue.popleft()
            self._writer.write(data)

    async def flush(self) -> None:
        """Wait until every queued message has been written to the socket buffer."""
        if self._queue_task is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._queue_task
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    def close(self) -> None:
        """Close gracefully once the queued messages are out."""
        if self._closing:
            return
        self._closing = True
        if not self._queue:
            self._writer.close()
            return

        async def _close() -> None:
            await self.flush()
            self._writer.close()

        self._close_task = asyncio.get_running_loop().create_task(_close())

    def abort(self) -> None:
        """Drop the socket at once, as when the network goes (nothing queued is sent)."""
        self._closing = True
        self._queue.clear()
        transport = self._writer.transport
        transport.abort()

    # --- input -----------------------------------------------------------------------------------------------

    async def _read_payload(self) -> bytes:
        (size,) = struct.unpack(">I", await self._reader.readexactly(4))
        if size > MAX_MESSAGE_SIZE:
            raise ProtocolError(f"message of {size} bytes is too large")
        return await self._reader.readexactly(size)

    async def _read_request(self) -> Request:
        return Request(split_fields(await self._read_payload()))

    async def _handshake(self) -> bool:
        prefix = await self._reader.readexactly(len(API_PREFIX))
        if prefix != API_PREFIX:
            _log.warning("%s: not an API client (prefix %r)", self.peer, prefix)
            return False
        offer = parse_version_range(await self._read_payload())
        version = offer.negotiate()
        if version is None:
            _log.warning("%s: client needs server version >= %s", self.peer, offer.min_version)
            return False
        self.server_version = version
        self.connect_options = offer.options
        conn_time = self.venue.clock.now()
        self.send([str(version), f"{conn_time:%Y%m%d %H:%M:%S} {conn_time.tzname()}"])
        while True:
            req = await self._read_request()
            if req.msg_id == 71:
                break
            _log.info("%s: ignoring message %s before startApi", self.peer, req.msg_id)
        req.read_int()  # version
        client_id = req.read_int()
        if not self.venue.clients.register(self, client_id):
            self.error(-1, 326, DUPLICATE_CLIENT_ID)
            return False
        self.client_id = client_id
        self.send(replies.managed_accounts(self.venue.accounts.ids))
        self.send(replies.next_valid_id(self.venue.next_order_id(client_id)))
        if self.venue.config.farm_notices:
            for code, text in _FARM_NOTICES:
                self.error(-1, code, text)
        self.ready = True
        return True

    async def run(self) -> None:
        """Serve the connection until the client leaves, a rule drops it or the server stops."""
        try:
            if not await self._handshake():
                return
            while self.is_open:
                req = await self._read_request()
                if not self.rate.record():
                    limit = self.rate.max_per_second
                    self.error(
                        -1,
                        100,
                        f"Max rate of messages per second has been exceeded:max={limit} rec={self.rate.current_rate}",
                    )
                    return
                await self._handlers.dispatch(self, req)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            _log.warning("%s: protocol error: %s", self.peer, exc)
        finally:
            self.streams.close()
            self.venue.clients.unregister(self)
            self.close()
