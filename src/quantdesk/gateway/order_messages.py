"""Who hears about an order, and what TWS writes to them: openOrder, orderStatus, execDetails, commissionReport.

Visibility follows IB: the owner (the client id that placed the order) and the master client (client id 0 unless
``GatewayConfig.master_client_id`` says otherwise) see an order; other clients do not. Errors about an order (202,
201, 10147, …) go to the owner only, because the error carries the owner's order id.

``ib_async`` files an ``orderStatus`` or an execution under the trade that an ``openOrder`` created, and logs an
error for an ``orderStatus`` of an order it has never seen. So before the first status or execution of an order
reaches a session, that session gets the order's ``openOrder`` (each session remembers what it has been shown).

Every message is written in the layout of the server version the session agreed at its handshake: a client capped
at 176 gets ``openOrder``/``completedOrder`` with ``faProfile`` and ``execDetails`` without ``pendingPriceRevision``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from quantdesk.gateway.codec import SERVER_VERSION
from quantdesk.gateway.order_book import ExecutionRecord, GatewayOrder
from quantdesk.gateway.order_replies import (
    commission_report,
    completed_order,
    exec_details,
    open_order,
    order_status,
)
from quantdesk.gateway.order_wire import WireExecution, WireOrderState, format_ib_time
from quantdesk.gateway.slots import Slot

if TYPE_CHECKING:
    from quantdesk.gateway.client import ClientSession
    from quantdesk.gateway.venue_context import VenueContext

__all__ = ["SEEN", "OrderMessenger"]

SEEN: Slot[set[int]] = Slot("orders.seen", set)
_STATUS_MARK = "\x01status\x01"


class OrderMessenger:
    """Encodes order replies and sends them to the sessions entitled to them."""

    def __init__(self, venue: VenueContext) -> None:
        self.venue = venue
        self.master = venue.config.master_client_id

    # --- audiences -------------------------------------------------------------------------------------------

    def sees(self, session: ClientSession, client_id: int) -> bool:
        """Whether ``session`` sees the orders of ``client_id``."""
        own = session.client_id
        return own == client_id or (self.master is not None and own == self.master)

    def viewers(self, record: GatewayOrder) -> list[ClientSession]:
        """The live sessions that see ``record``: its owner and the master client."""
        out = []
        for client_id, session in self.venue.sessions.items():
            if session.ready and session.is_open and (client_id == record.client_id or client_id == self.master):
                out.append(session)
        return out

    def owner(self, record: GatewayOrder) -> ClientSession | None:
        """The owner's live session, if connected."""
        session = self.venue.sessions.get(record.client_id)
        return session if session is not None and session.ready and session.is_open else None

    @staticmethod
    def _seen(session: ClientSession) -> set[int]:
        return session.slots.setdefault(SEEN, set)

    # --- encoders --------------------------------------------------------------------------------------------

    @staticmethod
    def open_order_fields(record: GatewayOrder, server_version: int = SERVER_VERSION) -> list[str]:
        """``openOrder`` with the order's current terms and status, in the layout of ``server_version``.

        At our own version the 135 fields are encoded once per version of the order's terms and a new status only
        replaces its field; a client that agreed an older version gets a fresh encoding each time.
        """
        if server_version != SERVER_VERSION:
            state = WireOrderState(status=record.status)
            return open_order(record.contract, record.order, state, server_version=server_version)
        cached = record.encoded
        if cached is None or cached[0] is not record.order:
            fields = open_order(record.contract, record.order, WireOrderState(status=_STATUS_MARK))
            cached = record.encoded = (record.order, fields, fields.index(_STATUS_MARK))
        fields = list(cached[1])
        fields[cached[2]] = record.status
        return fields

    @staticmethod
    def status_fields(record: GatewayOrder) -> list[str]:
        """``orderStatus`` with the order's current progress."""
        return order_status(
            record.order_id,
            record.status,
            record.filled,
            record.remaining,
            record.avg_price,
            record.perm_id,
            record.parent_id,
            record.last_fill_price,
            record.client_id,
            record.why_held,
        )

    @staticmethod
    def execution_fields(
        req_id: int, record: GatewayOrder, exe: ExecutionRecord, server_version: int = SERVER_VERSION
    ) -> list[str]:
        """``execDetails`` of one execution (``req_id`` -1 for a live fill) in the layout of ``server_version``."""
        execution = WireExecution(
            exec_id=exe.exec_id,
            time=exe.time,
            acct_number=exe.account,
            exchange=exe.exchange,
            side=exe.side,
            shares=exe.shares,
            price=exe.price,
            perm_id=exe.perm_id,
            client_id=exe.client_id,
            cum_qty=exe.cum_qty,
            avg_price=exe.avg_price,
            order_ref=exe.order_ref,
            last_liquidity=exe.liquidity,
        )
        return exec_details(req_id, exe.order_id, record.contract, execution, server_version=server_version)

    @staticmethod
    def commission_fields(exe: ExecutionRecord) -> list[str]:
        """``commissionReport`` of one execution (realized P&L only for a closing fill, as TWS sends it)."""
        return commission_report(exe.exec_id, exe.commission, exe.currency, exe.realized_pnl)

    @classmethod
    def completed_order_fields(cls, record: GatewayOrder, server_version: int = SERVER_VERSION) -> list[str]:
        """``completedOrder`` of a filled or cancelled order, in the layout of ``server_version``."""
        wire = dataclasses.replace(record.order, filled_quantity=float(record.filled))  # TWS reports it here
        return completed_order(record.contract, wire, cls.completed_state(record), server_version=server_version)

    @staticmethod
    def completed_state(record: GatewayOrder) -> WireOrderState:
        """The order-state block of ``completedOrder``."""
        return WireOrderState(
            status=record.status,
            completed_time=record.completed_time,
            completed_status=record.completed_status or record.status,
        )

    @staticmethod
    def stamp(record: GatewayOrder, moment: datetime) -> None:
        """Record when and how the order completed (for ``completedOrder``)."""
        record.completed_time = format_ib_time(moment)
        record.completed_status = record.status

    # --- pushes ----------------------------------------------------------------------------------------------

    def announce(self, session: ClientSession, record: GatewayOrder) -> None:
        """Send ``openOrder`` to a session that has not seen the order yet."""
        seen = self._seen(session)
        if record.perm_id not in seen:
            seen.add(record.perm_id)
            session.send(self.open_order_fields(record, session.server_version))

    def open_order(self, record: GatewayOrder) -> None:
        """Push ``openOrder`` (the order's terms or state changed) to every viewer."""
        by_version: dict[int, list[str]] = {}
        for session in self.viewers(record):
            version = session.server_version
            fields = by_version.get(version)
            if fields is None:
                fields = by_version[version] = self.open_order_fields(record, version)
            self._seen(session).add(record.perm_id)
            session.send(fields)

    def status(self, record: GatewayOrder) -> None:
        """Push ``orderStatus`` to every viewer (unless a fault withholds this order's statuses)."""
        if record.withhold_status:
            return
        fields = self.status_fields(record)
        for session in self.viewers(record):
            self.announce(session, record)
            session.send(fields)

    def snapshot(self, session: ClientSession, record: GatewayOrder) -> None:
        """``openOrder`` plus ``orderStatus`` of one order, as ``reqOpenOrders`` answers."""
        self._seen(session).add(record.perm_id)
        session.send(self.open_order_fields(record, session.server_version))
        if not record.withhold_status:
            session.send(self.status_fields(record))

    def execution(self, record: GatewayOrder, exe: ExecutionRecord) -> None:
        """Push a live fill (``execDetails`` with reqId -1) to every viewer."""
        by_version: dict[int, list[str]] = {}
        for session in self.viewers(record):
            version = session.server_version
            fields = by_version.get(version)
            if fields is None:
                fields = by_version[version] = self.execution_fields(-1, record, exe, version)
            self.announce(session, record)
            session.send(fields)

    def commission(self, record: GatewayOrder, exe: ExecutionRecord) -> None:
        """Push the ``commissionReport`` of a fill to every viewer."""
        fields = self.commission_fields(exe)
        for session in self.viewers(record):
            session.send(fields)

    def owner_error(self, record: GatewayOrder, code: int, message: str, advanced: str = "") -> None:
        """Send an error about the order to its owner."""
        session = self.owner(record)
        if session is not None:
            session.error(record.order_id, code, message, advanced)

    def held_cancelled(self, record: GatewayOrder) -> None:
        """Tell the owner a held (never transmitted) order was cancelled: orderStatus + 202, no openOrder."""
        session = self.owner(record)
        if session is not None:
            session.send(self.status_fields(record))
            session.error(record.order_id, 202, "Order Canceled - reason:")
