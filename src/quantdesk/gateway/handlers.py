"""The handlers for connection, contract and reference-data requests.

Each is ``handler(venue, session, request)``: the venue it answers from, the client as a
:class:`~quantdesk.gateway.client.ClientSession`, and the request with its cursor just after the message id (so a
handler reads the version field itself where the message has one). :func:`install_core_handlers` binds them to a
venue in a :class:`~quantdesk.gateway.dispatch.HandlerTable`; the order messages (3, 4, 5, 7, 15, 16, 58, 99) are
registered by :func:`quantdesk.gateway.order_handlers.install_orders`.
"""

from __future__ import annotations

import dataclasses

from quantdesk.gateway import replies
from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.codec import Request
from quantdesk.gateway.contracts import MARKET_RULES, ContractQuery
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.venue_context import VenueContext

__all__ = ["NO_SECURITY_DEFINITION", "install_core_handlers"]

NO_SECURITY_DEFINITION = "No security definition has been found for the request"


# --- connection and time -------------------------------------------------------------------------------------


def req_ids(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqIds (8): answer nextValidId."""
    session.send(replies.next_valid_id(venue.next_order_id(session.client_id or 0)))


def req_managed_accounts(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqManagedAccts (17)."""
    session.send(replies.managed_accounts(venue.accounts.ids))


def req_current_time(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqCurrentTime (49): the simulated time."""
    session.send(replies.current_time(int(venue.clock.now().timestamp())))


def ignore(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """Requests that need no answer (setServerLogLevel, cancelHeadTimeStamp, …)."""


# --- contracts -----------------------------------------------------------------------------------------------


def req_contract_details(venue: VenueContext, session: ClientSession, req: Request) -> None:
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
    found = venue.catalog.lookup(q)
    if not found:
        session.error(req_id, 200, NO_SECURITY_DEFINITION)
        return
    hours = venue.trading_hours()
    for spec in found:
        session.send(replies.contract_details(req_id, spec, hours))
    session.send(replies.contract_details_end(req_id))


def req_sec_def_opt_params(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqSecDefOptParams (78): one answer per exchange listing options on the underlying, then the end."""
    req_id = req.read_int()
    symbol = req.read_str()
    fut_fop_exchange = req.read_str()
    sec_type = req.read_str()
    con_id = req.read_int()
    for chain in venue.catalog.option_chains(symbol, sec_type, con_id, fut_fop_exchange):
        session.send(replies.sec_def_opt_params(req_id, chain))
    session.send(replies.sec_def_opt_params_end(req_id))


def req_matching_symbols(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqMatchingSymbols (81): symbolSamples with the matching underlyings."""
    req_id = req.read_int()
    pattern = req.read_str()
    catalog = venue.catalog
    items = [(s, catalog.derivative_sec_types(s)) for s in catalog.matching_symbols(pattern)]
    session.send(replies.symbol_samples(req_id, items))


def req_market_rule(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqMarketRule (91): the price ladder of a rule id; unknown ids are ignored (as TWS does)."""
    rule = MARKET_RULES.get(req.read_int())
    if rule is not None:
        session.send(replies.market_rule(rule))


def install_core_handlers(table: HandlerTable, venue: VenueContext) -> None:
    """Register the connection, contract and reference-data handlers, answering from ``venue``."""
    table.bind(
        venue,
        {
            8: req_ids,
            14: ignore,
            17: req_managed_accounts,
            49: req_current_time,
            9: req_contract_details,
            78: req_sec_def_opt_params,
            81: req_matching_symbols,
            91: req_market_rule,
        },
    )
