"""What the venue and the handlers see of a client connection (:class:`ClientSession`) and who holds which id.

:class:`~quantdesk.gateway.session.Session` is the one implementation (a socket); handlers, the order desk and the
fault switchboard are written against this protocol, so none of them imports the session or the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from quantdesk.gateway.slots import ExtensionSlots
    from quantdesk.gateway.streams import SessionStreams

__all__ = ["ClientRegistry", "ClientSession"]

_clients = logging.getLogger("quantdesk.gateway.clients")


class ClientSession(Protocol):
    """One API client as a handler needs it: who it is, the version agreed with it, its subscriptions, output."""

    client_id: int | None
    server_version: int
    peer: str
    ready: bool
    market_data_type: int
    delay: float
    positions_subscribed: bool
    account_updates: str | None
    summary_subscriptions: dict[int, tuple[str, tuple[str, ...]]]
    multi_subscriptions: dict[int, tuple[str, str]]

    @property
    def is_open(self) -> bool:
        """Whether the connection can still carry messages."""
        ...

    @property
    def streams(self) -> SessionStreams:
        """The session's live market-data subscriptions."""
        ...

    @property
    def slots(self) -> ExtensionSlots:
        """Per-client values of extensions (what the client has been shown, …); they die with the connection."""
        ...

    def send(self, fields: Sequence[str]) -> None:
        """Queue one message to the client."""
        ...

    def send_all(self, messages: Sequence[Sequence[str]]) -> None:
        """Queue several messages in order."""
        ...

    def error(self, req_id: int, code: int, message: str, advanced_order_reject_json: str = "") -> None:
        """Send IB's ``error`` message (4)."""
        ...

    def write_framed(self, data: bytes) -> None:
        """Write already framed messages straight to the socket (no delay, no fault filter: benchmarks only)."""
        ...

    async def flush(self) -> None:
        """Wait until everything queued has reached the socket buffer."""
        ...

    def abort(self) -> None:
        """Drop the connection at once."""
        ...


class ClientRegistry:
    """Client id → live session; a second live session asking for a held id is refused (TWS's error 326)."""

    def __init__(self) -> None:
        self.sessions: dict[int, ClientSession] = {}

    def register(self, session: ClientSession, client_id: int) -> bool:
        """Claim a client id for a session; ``False`` when a live session already holds it."""
        current = self.sessions.get(client_id)
        if current is not None and current is not session and current.is_open:
            _clients.info("client %s refused: the client id is in use (%s)", client_id, session.peer)
            return False
        self.sessions[client_id] = session
        _clients.info("client %s connected from %s", client_id, session.peer)
        return True

    def unregister(self, session: ClientSession) -> None:
        """Release the session's client id (only if it still holds it)."""
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
            _clients.info("client %s disconnected", session.client_id)

    def live(self) -> Iterator[ClientSession]:
        """The sessions past their handshake whose connection is open."""
        for session in list(self.sessions.values()):
            if session.ready and session.is_open:
                yield session
