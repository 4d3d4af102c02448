"""The request dispatch table and the handlers for connection, contract and reference-data requests.

A handler is ``handler(session, request)`` (plain or ``async``) registered under the message id it answers; the
request's cursor stands just after the message id, so a handler reads the version field itself where the message
has one. :meth:`HandlerTable.register` replaces an earlier handler; the order messages (3, 4, 5, 7, 15, 16, 58, 99)
are registered by :func:`quantdesk.gateway.order_handlers.install_orders`.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from quantdesk.gateway import replies
from quantdesk.gateway.codec import ProtocolError, Request
from quantdesk.gateway.contracts import MARKET_RULES, ContractQuery

if TYPE_CHECKING:
    from quantdesk.gateway.session import Session

__all__ = ["NO_SECURITY_DEFINITION", "Handler", "HandlerTable", "install_core_handlers"]

Handler: TypeAlias = Callable[["Session", Request], Awaitable[None] | None]
NO_SECURITY_DEFINITION = "No security definition has been found for the request"
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

    def get(self, msg_id: int) -> Handler | None:
        """The handler of a message id."""
        return self._handlers.get(msg_id)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._handlers

    @property
    def message_ids(self) -> list[int]:
        """Every message id with a handler."""
        return sorted(self._handlers)

    async def dispatch(self, session: Session, req: Request) -> None:
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


# --- connection and time -------------------------------------------------------------------------------------


def req_ids(session: Session, req: Request) -> None:
    """reqIds (8): answer nextValidId."""
    session.send(replies.next_valid_id(session.server.next_order_id(session.client_id or 0)))


def req_managed_accounts(session: Session, req: Request) -> None:
    """reqManagedAccts (17)."""
    session.send(replies.managed_accounts(session.server.accounts.ids))


def req_current_time(session: Session, req: Request) -> None:
    """reqCurrentTime (49): the simulated time."""
    session.send(replies.current_time(int(session.server.clock.now().timestamp())))


def ignore(session: Session, req: Request) -> None:
    """Requests that need no answer (setServerLogLevel, cancelHeadTimeStamp, …)."""


# --- contracts -----------------------------------------------------------------------------------------------


def req_contract_details(session: Session, req: Request) -> None:
    """reqContractDetails (9): every matching contract, then contractDetailsEnd; none → error 200."""
    req.read_int()  # version
    req_id = req.read_int()
    q = ContractQuery.read(req)
    include_expired = req.read_bool() if req.remaining else False
    sec_id_type = req.read_str() if req.remaining else ""
    sec_id = req.read_str() if req.remaining else ""
    issuer_id = req.read_str() if req.remaining else ""
    q = dataclasses.replace(
        q, include_expired=include_expired, sec_id_type=sec_id_type, sec_id=sec_id, issuer_id=issuer_id
    )
    server = session.server
    found = server.catalog.lookup(q)
    if not found:
        session.error(req_id, 200, NO_SECURITY_DEFINITION)
        return
    hours = server.trading_hours()
    for spec in found:
        session.send(replies.contract_details(req_id, spec, hours))
    session.send(replies.contract_details_end(req_id))


def req_sec_def_opt_params(session: Session, req: Request) -> None:
    """reqSecDefOptParams (78): one answer per exchange listing options on the underlying, then the end."""
    req_id = req.read_int()
    symbol = req.read_str()
    fut_fop_exchange = req.read_str()
    sec_type = req.read_str()
    con_id = req.read_int()
    for chain in session.server.catalog.option_chains(symbol, sec_type, con_id, fut_fop_exchange):
        session.send(replies.sec_def_opt_params(req_id, chain))
    session.send(replies.sec_def_opt_params_end(req_id))


def req_matching_symbols(session: Session, req: Request) -> None:
    """reqMatchingSymbols (81): symbolSamples with the matching underlyings."""
    req_id = req.read_int()
    pattern = req.read_str()
    catalog = session.server.catalog
    items = [(s, catalog.derivative_sec_types(s)) for s in catalog.matching_symbols(pattern)]
    session.send(replies.symbol_samples(req_id, items))


def req_market_rule(session: Session, req: Request) -> None:
    """reqMarketRule (91): the price ladder of a rule id; unknown ids are ignored (as TWS does)."""
    rule = MARKET_RULES.get(req.read_int())
    if rule is not None:
        session.send(replies.market_rule(rule))


def install_core_handlers(table: HandlerTable) -> None:
    """Register the connection, contract and reference-data handlers."""
    for msg_id, handler in {
        8: req_ids,
        14: ignore,
        17: req_managed_accounts,
        49: req_current_time,
        9: req_contract_details,
        78: req_sec_def_opt_params,
        81: req_matching_symbols,
        91: req_market_rule,
    }.items():
        table.register(msg_id, handler)
