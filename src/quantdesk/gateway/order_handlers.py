"""The order messages of the TWS API, served by the gateway's :class:`~quantdesk.gateway.order_desk.OrderDesk`.

:func:`install_orders` is the extension the server installs by default. It registers the handlers below, runs the
desk's matching on every pump tick, saves orders and executions with the server's state and restores them at start.

=====  =====================  ===============================================================================
id     request                answer
=====  =====================  ===============================================================================
3      placeOrder             new order, modification (same id) or what-if; rejects 200/201/434/103/105
4      cancelOrder            orderStatus Cancelled + 202; unknown 10147; already done 10148
5      reqOpenOrders          openOrder + orderStatus per working order the client sees, then openOrderEnd
7      reqExecutions          execDetails + commissionReport per matching execution, then execDetailsEnd
15     reqAutoOpenOrders      recorded (client 0); client 0 sees every client's orders anyway
16     reqAllOpenOrders       every client's working orders, then openOrderEnd
58     reqGlobalCancel        cancels every working and held order
99     reqCompletedOrders     completedOrder per filled or cancelled order the client sees, then the end
=====  =====================  ===============================================================================

A read-only session (``GatewayConfig.read_only`` or its client id in ``read_only_client_ids``, IB's "Read-Only
API" setting) gets error 321 on every order request except ``reqExecutions``. Two named faults are understood
(see :class:`~quantdesk.gateway.faults.Faults`): ``faults.arm("reject_next_order", reason=..., code=201)`` rejects
the next order, ``faults.arm("withhold_order_status", times=n)`` withholds every ``orderStatus`` of the next ``n``
orders, so their fills reach the client only as executions.
"""

from __future__ import annotations

import logging
from typing import Protocol

from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.codec import Request
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.order_desk import OrderDesk
from quantdesk.gateway.order_replies import completed_orders_end, exec_details_end, open_order_end
from quantdesk.gateway.order_requests import (
    parse_cancel_order,
    parse_place_order,
    parse_req_all_open_orders,
    parse_req_auto_open_orders,
    parse_req_completed_orders,
    parse_req_executions,
    parse_req_global_cancel,
    parse_req_open_orders,
)
from quantdesk.gateway.order_state_store import STATE_KEY, dump, restore
from quantdesk.gateway.order_wire import MalformedRequest
from quantdesk.gateway.slots import Slot
from quantdesk.gateway.venue_context import VenueContext

__all__ = ["AUTO_BIND", "ORDER_DESK", "ORDER_MESSAGE_IDS", "READ_ONLY_MESSAGE", "desk_of", "install_orders"]

ORDER_MESSAGE_IDS = (3, 4, 5, 7, 15, 16, 58, 99)
READ_ONLY_MESSAGE = "Error validating request.-'bW' : cause - The API interface is currently in Read-Only mode."
ORDER_DESK: Slot[OrderDesk] = Slot("orders.desk", OrderDesk)
AUTO_BIND: Slot[bool] = Slot("orders.auto_bind", bool)
_log = logging.getLogger("quantdesk.gateway.orders")


class HasVenue(Protocol):
    """Anything that carries a venue (the gateway server)."""

    @property
    def venue(self) -> VenueContext:
        """The venue."""
        ...


def desk_of(owner: VenueContext | HasVenue) -> OrderDesk:
    """The order desk :func:`install_orders` attached to a venue (or to the server that holds it)."""
    venue = owner if isinstance(owner, VenueContext) else owner.venue
    return venue.slots.require(ORDER_DESK, "install_orders(venue, handlers) was not called")


def _read_only(venue: VenueContext, session: ClientSession) -> bool:
    config = venue.config
    return config.read_only or (session.client_id in config.read_only_client_ids)


def _refuse_read_only(venue: VenueContext, session: ClientSession, req_id: int = -1) -> bool:
    if _read_only(venue, session):
        session.error(req_id, 321, READ_ONLY_MESSAGE)
        return True
    return False


def _malformed(session: ClientSession, exc: MalformedRequest) -> None:
    session.error(exc.request_id if exc.request_id is not None else -1, 320, f"Error reading request. {exc.message}")


def place_order(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """placeOrder (3)."""
    try:
        contract, order = parse_place_order(req.rest(), session.server_version)
    except MalformedRequest as exc:
        _malformed(session, exc)
        return
    if _refuse_read_only(venue, session, order.order_id):
        venue.use_order_id(session.client_id or 0, order.order_id)
        return
    desk_of(venue).place(session, contract, order)


def cancel_order(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelOrder (4)."""
    try:
        request = parse_cancel_order(req.rest(), session.server_version)
    except MalformedRequest as exc:
        _malformed(session, exc)
        return
    if not _refuse_read_only(venue, session, request.order_id):
        desk_of(venue).cancel(session, request.order_id)


def _send_open_orders(venue: VenueContext, session: ClientSession, every_client: bool) -> None:
    desk = desk_of(venue)
    for record in desk.book.open_orders():
        if every_client or desk.messages.sees(session, record.client_id):
            desk.messages.snapshot(session, record)
    session.send(open_order_end())


def req_open_orders(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqOpenOrders (5): the orders this client sees (all of them for the master client)."""
    parse_req_open_orders(req.rest())
    if not _refuse_read_only(venue, session):
        _send_open_orders(venue, session, every_client=False)


def req_all_open_orders(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqAllOpenOrders (16): every client's working orders, once."""
    parse_req_all_open_orders(req.rest())
    if not _refuse_read_only(venue, session):
        _send_open_orders(venue, session, every_client=True)


def req_auto_open_orders(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqAutoOpenOrders (15): bind future orders to client 0 (recorded; client 0 sees every order anyway)."""
    auto_bind = parse_req_auto_open_orders(req.rest())
    if _refuse_read_only(venue, session):
        return
    if session.client_id != 0:
        session.error(-1, 321, "Error validating request.-'bZ' : cause - Auto-bind is only possible for client id 0")
        return
    session.slots.put(AUTO_BIND, auto_bind)


def req_executions(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqExecutions (7): the executions the client sees that pass its filter, each with its commission."""
    try:
        flt = parse_req_executions(req.rest())
    except MalformedRequest as exc:
        _malformed(session, exc)
        return
    desk = desk_of(venue)
    for exe in desk.book.executions:
        record = desk.book.by_perm.get(exe.perm_id)
        if record is None or not desk.messages.sees(session, exe.client_id):
            continue
        if flt.matches(
            client_id=exe.client_id,
            account=exe.account,
            symbol=record.contract.symbol,
            sec_type=record.contract.sec_type,
            exchange=exe.exchange,
            side=exe.side,
            time=exe.time,
        ):
            session.send(desk.messages.execution_fields(flt.req_id, record, exe, session.server_version))
            session.send(desk.messages.commission_fields(exe))
    session.send(exec_details_end(flt.req_id))


def req_completed_orders(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqCompletedOrders (99): filled and cancelled orders the client sees, oldest first."""
    parse_req_completed_orders(req.rest())
    if _refuse_read_only(venue, session):
        return
    desk = desk_of(venue)
    for record in desk.book.orders():
        if record.is_done and record.completed_time and desk.messages.sees(session, record.client_id):
            session.send(desk.messages.completed_order_fields(record, session.server_version))
    session.send(completed_orders_end())


def req_global_cancel(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqGlobalCancel (58): cancel every order of every client."""
    parse_req_global_cancel(req.rest())
    if not _refuse_read_only(venue, session):
        desk_of(venue).global_cancel()


def install_orders(venue: VenueContext, handlers: HandlerTable) -> OrderDesk:
    """Attach an :class:`OrderDesk` to ``venue`` (slot :data:`ORDER_DESK`) and its handlers to ``handlers``;
    the desk matches on every pump tick and its orders are saved and restored with the venue's state."""
    desk = OrderDesk(venue)
    venue.slots.put(ORDER_DESK, desk)
    saved = venue.state.get(STATE_KEY)
    if isinstance(saved, dict):
        restore(desk, saved)
    handlers.bind(
        venue,
        {
            3: place_order,
            4: cancel_order,
            5: req_open_orders,
            7: req_executions,
            15: req_auto_open_orders,
            16: req_all_open_orders,
            58: req_global_cancel,
            99: req_completed_orders,
        },
    )
    venue.add_pump_hook(desk.pump)

    def save() -> None:
        venue.state[STATE_KEY] = dump(desk)

    venue.add_save_hook(save)
    return desk
