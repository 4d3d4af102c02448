"""The request dispatch table: message id → handler, with TWS's answers to a malformed (320) or failing (321) one.

A handler is ``handler(session, request)`` (plain or ``async``); the request's cursor stands just after the message
id, so a handler reads the version field itself where the message has one. The gateway's own handlers are written
as ``handler(venue, session, request)`` and registered with :meth:`HandlerTable.bind`, which fixes the venue.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias, TypeVar

from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.codec import ProtocolError, Request

__all__ = ["Handler", "HandlerTable"]

C = TypeVar("C")
Handler: TypeAlias = Callable[[ClientSession, Request], Awaitable[None] | None]
_log = logging.getLogger("quantdesk.gateway.handlers")


class HandlerTable:
    """Message id → handler."""

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}

    def register(self, msg_id: int, handler: Handler) -> Handler | None:
        """Install ``handler`` for ``msg_id``; returns the handler it replaced, if any."""
        previous = self._handlers.get(msg_id)
        self._handlers[msg_id] = handler
        return previous

    def bind(
        self, context: C, handlers: Mapping[int, Callable[[C, ClientSession, Request], Awaitable[None] | None]]
    ) -> None:
        """Register handlers that take ``context`` (the venue) first."""
        for msg_id, handler in handlers.items():
            self.register(msg_id, functools.partial(handler, context))

    def get(self, msg_id: int) -> Handler | None:
        """The handler of a message id."""
        return self._handlers.get(msg_id)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._handlers

    @property
    def message_ids(self) -> list[int]:
        """Every message id with a handler."""
        return sorted(self._handlers)

    async def dispatch(self, session: ClientSession, req: Request) -> None:
        """Run the handler of ``req``; a malformed request gets error 320, a failing handler error 321."""
        handler = self._handlers.get(req.msg_id)
        if handler is None:
            _log.info("client %s: no handler for message %s: %s", session.client_id, req.msg_id, req.fields)
            return
        try:
            result = handler(session, req)
            if inspect.isawaitable(result):
                await result
        except (ProtocolError, ValueError, IndexError) as exc:
            _log.warning("client %s: cannot parse message %s: %s", session.client_id, req.msg_id, exc)
            session.error(-1, 320, f"Error reading request. Unable to parse data. {exc}")
        except Exception:
            _log.exception("client %s: handler for message %s failed", session.client_id, req.msg_id)
            session.error(-1, 321, f"Error validating request: message {req.msg_id} could not be processed")
