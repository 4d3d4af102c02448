"""Placeholder handlers for the order messages, so that ``ib_async``'s start-up sync completes.

The order module replaces them by registering its own handlers for the same ids on ``server.handlers``:

=====  =====================  ==========================================================
id     request                placeholder answer
=====  =====================  ==========================================================
3      placeOrder             error 201 (no order handling installed)
4      cancelOrder            error 10147 (order not found)
5      reqOpenOrders          openOrderEnd (53)
7      reqExecutions          execDetailsEnd (55)
15     reqAutoOpenOrders      nothing
16     reqAllOpenOrders       openOrderEnd (53)
58     reqGlobalCancel        nothing
99     reqCompletedOrders     completedOrdersEnd (102)
=====  =====================  ==========================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantdesk.gateway import replies

if TYPE_CHECKING:
    from quantdesk.gateway.codec import Request
    from quantdesk.gateway.handlers import HandlerTable
    from quantdesk.gateway.session import Session

__all__ = ["ORDER_MESSAGE_IDS", "install_order_stubs"]

ORDER_MESSAGE_IDS = (3, 4, 5, 7, 15, 16, 58, 99)


def place_order(session: Session, req: Request) -> None:
    """placeOrder (3): rejected until an order module is installed."""
    order_id = req.read_int()
    session.error(order_id, 201, "Order rejected - reason:the gateway has no order handling installed")


def cancel_order(session: Session, req: Request) -> None:
    """cancelOrder (4): no order exists to cancel."""
    req.read_int()  # version
    order_id = req.read_int()
    session.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")


def open_orders(session: Session, req: Request) -> None:
    """reqOpenOrders (5) and reqAllOpenOrders (16): no open orders."""
    session.send(replies.open_order_end())


def executions(session: Session, req: Request) -> None:
    """reqExecutions (7): no executions."""
    req.read_int()  # version
    session.send(replies.exec_details_end(req.read_int()))


def completed_orders(session: Session, req: Request) -> None:
    """reqCompletedOrders (99): no completed orders."""
    session.send(replies.completed_orders_end())


def nothing(session: Session, req: Request) -> None:
    """reqAutoOpenOrders (15) and reqGlobalCancel (58): nothing to do without orders."""


def install_order_stubs(table: HandlerTable) -> None:
    """Register the placeholders (an order module registers over them)."""
    for msg_id, handler in {
        3: place_order,
        4: cancel_order,
        5: open_orders,
        7: executions,
        15: nothing,
        16: open_orders,
        58: nothing,
        99: completed_orders,
    }.items():
        table.register(msg_id, handler)
