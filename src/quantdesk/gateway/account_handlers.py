"""Handlers for positions and account data, and the pushes that keep their subscribers current.

``reqPositions``, ``reqAccountUpdates``, ``reqAccountUpdatesMulti`` and ``reqAccountSummary`` are subscriptions at
IB: after the first answer TWS pushes every change. :func:`publish_account` is that push; the server calls it for
every change made through its :class:`~quantdesk.gateway.accounts.AccountBook`.
"""

from __future__ import annotations

from quantdesk.gateway import replies
from quantdesk.gateway.accounts import SUMMARY_TAGS, ValueLine
from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.codec import Request
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.venue_context import VenueContext

__all__ = ["install_account_handlers", "publish_account"]

INVALID_ACCOUNT = "Error validating request.-'bB' : cause - Invalid account code"


def _position_messages(server: VenueContext, account_id: str, con_id: int | None = None) -> list[list[str]]:
    out = []
    for h in server.accounts.get(account_id).holdings.values():
        spec = server.catalog.get(h.con_id)
        if spec is not None and (con_id is None or h.con_id == con_id):
            out.append(replies.position(account_id, spec, float(h.quantity), float(h.avg_cost)))
    return out


def _portfolio_messages(server: VenueContext, account_id: str, con_id: int | None = None) -> list[list[str]]:
    out = []
    for p in server.accounts.portfolio(account_id, server.price_of, server.instrument_info):
        spec = server.catalog.get(p.con_id)
        if spec is not None and (con_id is None or p.con_id == con_id):
            out.append(
                replies.update_portfolio(
                    spec, p.quantity, p.market_price, p.market_value, p.avg_cost, p.unrealized_pnl, p.realized_pnl,
                    account_id,
                )
            )  # fmt: skip
    return out


def _update_values(server: VenueContext, account_id: str) -> list[ValueLine]:
    return server.accounts.update_values(account_id, server.price_of, server.instrument_info)


def _account_time(server: VenueContext) -> list[str]:
    return replies.update_account_time(f"{server.clock.now():%H:%M}")


def _summary_lines(server: VenueContext, account_id: str, tags: tuple[str, ...]) -> list[ValueLine]:
    values = server.accounts.values(account_id, server.price_of, server.instrument_info)
    out = [values[t] for t in tags if t in values]
    ledger_tags = [t for t in tags if t.startswith("$LEDGER")]
    if ledger_tags:
        ledger = server.accounts.ledger(account_id, server.price_of, server.instrument_info)
        currency = server.accounts.get(account_id).currency
        wanted: set[str] = set()
        for t in ledger_tags:
            _, _, which = t.partition(":")
            wanted |= {"BASE", currency} if which.upper() == "ALL" else {which.upper() or "BASE"}
        out += [line for line in ledger if line.currency in wanted]
    return out


def _accounts_for(server: VenueContext, name: str) -> list[str] | None:
    if name in ("", "All", "ALL"):
        return server.accounts.ids
    return [name] if name in server.accounts.accounts else None


# --- handlers ------------------------------------------------------------------------------------------------


def req_positions(server: VenueContext, session: ClientSession, req: Request) -> None:
    """reqPositions (61): every holding of every account, then positionEnd; subscribes to changes."""
    session.positions_subscribed = True
    for account_id in server.accounts.ids:
        session.send_all(_position_messages(server, account_id))
    session.send(replies.position_end())


def cancel_positions(server: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelPositions (64)."""
    session.positions_subscribed = False


def req_account_updates(server: VenueContext, session: ClientSession, req: Request) -> None:
    """reqAccountUpdates (6): values, portfolio, time and accountDownloadEnd of one account; a subscription."""
    req.read_int()  # version
    subscribe = req.read_bool()
    account_id = req.read_str() or server.accounts.ids[0]
    if account_id not in server.accounts.accounts:
        session.error(-1, 321, INVALID_ACCOUNT)
        return
    if not subscribe:
        session.account_updates = None
        return
    session.account_updates = account_id
    for v in _update_values(server, account_id):
        session.send(replies.update_account_value(v.tag, v.value, v.currency, account_id))
    session.send_all(_portfolio_messages(server, account_id))
    session.send(_account_time(server))
    session.send(replies.account_download_end(account_id))


def req_account_updates_multi(server: VenueContext, session: ClientSession, req: Request) -> None:
    """reqAccountUpdatesMulti (76): accountUpdateMulti per value, then accountUpdateMultiEnd; a subscription."""
    req.read_int()  # version
    req_id = req.read_int()
    account = req.read_str()
    model_code = req.read_str()
    accounts = _accounts_for(server, account)
    if accounts is None:
        session.error(req_id, 321, INVALID_ACCOUNT)
        return
    session.multi_subscriptions[req_id] = (account, model_code)
    for account_id in accounts:
        for v in _update_values(server, account_id):
            session.send(replies.account_update_multi(req_id, account_id, model_code, v.tag, v.value, v.currency))
    session.send(replies.account_update_multi_end(req_id))


def cancel_account_updates_multi(server: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelAccountUpdatesMulti (77)."""
    req.read_int()  # version
    session.multi_subscriptions.pop(req.read_int(), None)


def _send_summary(server: VenueContext, session: ClientSession, req_id: int, group: str, tags: tuple[str, ...]) -> None:
    for account_id in _accounts_for(server, group) or []:
        for v in _summary_lines(server, account_id, tags):
            session.send(replies.account_summary(req_id, account_id, v.tag, v.value, v.currency))
    session.send(replies.account_summary_end(req_id))


def req_account_summary(server: VenueContext, session: ClientSession, req: Request) -> None:
    """reqAccountSummary (62): the requested tags of every account in the group, then accountSummaryEnd."""
    req.read_int()  # version
    req_id = req.read_int()
    group = req.read_str()
    tags = tuple(t.strip() for t in req.read_str().split(",") if t.strip())
    if _accounts_for(server, group) is None:
        session.error(req_id, 321, f"Error validating request.-'bH' : cause - Unknown account group {group!r}")
        return
    unknown = [t for t in tags if t not in SUMMARY_TAGS and not t.startswith("$LEDGER")]
    if unknown:
        session.error(req_id, 321, f"Error validating request.-'bH' : cause - Unknown tags {','.join(unknown)}")
        return
    session.summary_subscriptions[req_id] = (group, tags)
    _send_summary(server, session, req_id, group, tags)


def cancel_account_summary(server: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelAccountSummary (63)."""
    req.read_int()  # version
    session.summary_subscriptions.pop(req.read_int(), None)


def install_account_handlers(table: HandlerTable, server: VenueContext) -> None:
    """Register the account and position handlers, answering from the venue ``server``."""
    table.bind(server, {61: req_positions, 64: cancel_positions, 6: req_account_updates})
    table.bind(server, {76: req_account_updates_multi, 77: cancel_account_updates_multi})
    table.bind(server, {62: req_account_summary, 63: cancel_account_summary})


# --- pushes --------------------------------------------------------------------------------------------------


def publish_account(server: VenueContext, account_id: str, con_id: int | None = None) -> None:
    """Push an account's change to every subscriber: position (61) and portfolio (7) of ``con_id`` when given,
    account values (6/73), the account time (8) and the account summary (63/64)."""
    for session in server.sessions.values():
        if not session.ready:
            continue
        if con_id is not None and session.positions_subscribed:
            session.send_all(_position_messages(server, account_id, con_id))
        if session.account_updates == account_id:
            for v in _update_values(server, account_id):
                session.send(replies.update_account_value(v.tag, v.value, v.currency, account_id))
            session.send_all(_portfolio_messages(server, account_id, con_id))
            session.send(_account_time(server))
        for req_id, (account, model_code) in session.multi_subscriptions.items():
            if account_id in (_accounts_for(server, account) or []):
                for v in _update_values(server, account_id):
                    session.send(
                        replies.account_update_multi(req_id, account_id, model_code, v.tag, v.value, v.currency)
                    )
        for req_id, (group, tags) in session.summary_subscriptions.items():
            if account_id in (_accounts_for(server, group) or []):
                _send_summary(server, session, req_id, group, tags)
