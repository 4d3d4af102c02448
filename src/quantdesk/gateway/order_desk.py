"""The order desk: the wire's adapter over the one simulated venue, priced by the gateway's quotes.

One :class:`~quantdesk.execution.venue.SimulatedVenue` serves the whole server (all clients, all accounts): its
matching engine, fees, id sequences, price band and margin check (on the gateway's accounts, through
:class:`~quantdesk.gateway.order_checks.GatewayAccounts`) are the simulated broker's. The venue keeps each order's
state as a ``VenueOrder``; the desk's ``GatewayOrder`` is the wire-side view (client and order id, wire terms, IB
status). An order enters the engine when it is transmitted; the desk then feeds the engine the gateway's current
quote of that contract at once (so a market order fills immediately at the ask or bid) and again on every pump tick
for every contract with working orders (so resting orders fill as the replayed prices move). With
``respect_quote_size`` a quote fills at most its displayed size, so a large order fills in several executions. When
the simulated clock crosses a session close the desk runs the closing auction (MOC, LOC, DAY expiry) and the next
opening auction (OPG) at the session's close and open prices.

What TWS does around the engine lives here too: held orders (``transmit=0``) wait until the order that transmits
their list arrives; children of one parent on the parent's opposite side form an implicit OCA group (IB's
bracket); rejects for an unknown contract (200), a zero size (434), what the domain refuses (201), prices too far
from the market (201) and insufficient margin (201); modify by re-sending an order id; cancel (202, 10147, 10148);
global cancel; what-if previews. Replies go out through :class:`~quantdesk.gateway.order_messages.OrderMessenger`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from quantdesk.domain.events import (
    OrderAccepted,
    OrderCancelled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderFillEvent,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.execution import AuctionKind, FixedHours, MatchingConfig, MatchingEngine, OrderActivated
from quantdesk.execution.venue import SimulatedVenue
from quantdesk.gateway.clock import SESSION_SECONDS
from quantdesk.gateway.contracts import ContractSpec
from quantdesk.gateway.order_book import ExecutionRecord, GatewayOrder, GatewayOrderBook
from quantdesk.gateway.order_checks import (
    GatewayAccounts,
    account_of,
    margin_refusal,
    market_price,
    price_refusal,
    reject_json,
    resolve,
    what_if_reply,
)
from quantdesk.gateway.order_mapping import (
    GatewayFees,
    OrderRefused,
    cancel_reason,
    domain_order,
    instrument_for,
    reply_contract,
    same_order_type,
)
from quantdesk.gateway.order_messages import OrderMessenger
from quantdesk.gateway.order_replies import order_status
from quantdesk.gateway.order_wire import WireContract, WireOrder

if TYPE_CHECKING:
    from quantdesk.gateway.client import ClientSession
    from quantdesk.gateway.venue_context import VenueContext

__all__ = ["OrderDesk", "reject_json"]

_MAX_AUCTION_ROWS = 5


class OrderDesk:
    """Orders, executions and the matching engine of one gateway."""

    def __init__(self, server: VenueContext) -> None:
        self.server = server
        cfg = server.config
        self.book = GatewayOrderBook()
        self.messages = OrderMessenger(server)
        self.fees = GatewayFees(cfg.commission_schedule)
        self._con_ids: dict[InstrumentId, int] = {}
        self.venue = SimulatedVenue(
            GatewayAccounts(server, self.fees),
            fees=self.fees,
            price_of=self._price_of,
            matching=MatchingConfig(respect_quote_size=cfg.respect_quote_size, id_prefix="gw"),
            calendar=FixedHours.us_equities(),
            max_price_deviation=cfg.max_price_deviation,
            ids=self.book.ids,
        )
        self._last_tt = server.clock.now_tt()
        self._last_ts = self._utc(self._last_tt)

    @property
    def engine(self) -> MatchingEngine:
        """The venue's matching engine."""
        return self.venue.engine

    def instrument(self, spec: ContractSpec) -> Instrument:
        """The domain instrument of a catalogue contract, made known to the venue's prices."""
        instrument = instrument_for(spec)
        self._con_ids[instrument.id] = spec.con_id
        return instrument

    def _price_of(self, instrument_id: InstrumentId) -> Decimal | None:
        con_id = self._con_ids.get(instrument_id)
        return None if con_id is None else market_price(self.server, con_id)

    # --- time ------------------------------------------------------------------------------------------------

    def _utc(self, tt: float) -> datetime:
        return self.server.calendar.to_datetime(tt).astimezone(UTC)

    def now(self) -> tuple[float, datetime]:
        """The current trading time and the engine's timestamp for it (never earlier than one already used).

        When the clock has passed a session close since the last call, that session's closing auction and the next
        opening auction run first, so that nothing reaches the engine out of time order."""
        tt = self.server.clock.now_tt()
        prev = self._last_tt
        if tt > prev:
            self._last_tt = tt
            self._auctions(prev, tt)
        ts = max(self._utc(tt), self._last_ts)
        self._last_ts = ts
        return tt, ts

    # --- placing ---------------------------------------------------------------------------------------------

    def place(self, session: ClientSession, contract: WireContract, order: WireOrder) -> None:
        """``placeOrder``: a new order, a modification (same id, still live) or a what-if preview."""
        server = self.server
        client_id = session.client_id or 0
        server.use_order_id(client_id, order.order_id)
        if order.what_if:
            self.what_if(session, contract, order)
            return
        fault = server.faults.consume("reject_next_order")
        if fault is not None:
            refusal = OrderRefused(
                int(fault.get("code", 201)), str(fault.get("reason", "rejected by a scripted fault"))
            )
            session.error(order.order_id, refusal.code, refusal.message, reject_json(refusal))
            return
        existing = self.book.get(client_id, order.order_id)
        if existing is not None:
            if existing.is_done:
                session.error(order.order_id, 103, "Duplicate order id")
            else:
                self.modify(session, existing, contract, order)
            return
        try:
            record = self._new_record(client_id, contract, order)
        except OrderRefused as refusal:
            session.error(order.order_id, refusal.code, refusal.message, reject_json(refusal))
            if refusal.code == 434:  # a warning to ib_async: end the order with a status as well
                total = order.total_quantity or 0.0
                session.send(
                    order_status(order.order_id, "Cancelled", 0, total, 0, 0, order.parent_id or 0, 0, client_id)
                )
            return
        if server.faults.consume("withhold_order_status") is not None:
            record.withhold_status = True
        self.book.add(record)
        if order.transmit:
            self.transmit(record)
        else:
            record.held = True

    def _new_record(self, client_id: int, contract: WireContract, order: WireOrder) -> GatewayOrder:
        spec = resolve(self.server, contract)
        account = account_of(self.server, order)
        parent = None
        if order.parent_id:
            parent = self.book.get(client_id, order.parent_id)
            if parent is None:
                raise OrderRefused(201, f"parent order {order.parent_id} is not found")
            if parent.is_done and parent.filled == 0:
                raise OrderRefused(201, f"parent order {order.parent_id} is {parent.status}")
        oca_key, oca_type = self._oca(account, order, parent)
        perm_id = self.book.new_perm_id()
        cid = ClientOrderId(f"p{perm_id}")
        linked = parent is not None and (parent.held or parent.venue_order is not None)
        domain = domain_order(
            order,
            self.instrument(spec),
            client_order_id=cid,
            parent=parent.cid if parent is not None and linked else None,
            oca_group=oca_key,
            oca_type=oca_type,
        )
        domain = dataclasses.replace(domain, account=AccountId(account))
        refusal = price_refusal(self.venue, domain)
        if refusal is None and parent is None:  # a child fills only once its parent has: not checked, as the venue
            refusal = margin_refusal(self.venue, domain)
        if refusal is not None:
            raise refusal
        return GatewayOrder(
            client_id=client_id,
            order_id=order.order_id,
            perm_id=perm_id,
            con_id=spec.con_id,
            account=account,
            contract=reply_contract(spec, contract),
            order=dataclasses.replace(order, account=account, client_id=client_id, perm_id=perm_id),
            parent_perm_id=parent.perm_id if parent is not None else 0,
            oca_key=oca_key,
            domain=domain,
        )

    @staticmethod
    def _oca(account: str, order: WireOrder, parent: GatewayOrder | None) -> tuple[str | None, int | None]:
        """The engine's OCA group: the client's group per account, or the implicit group of a bracket's exits."""
        if order.oca_group:
            name = "_".join(f"{account}:{order.oca_group}".split())[:128]
            return name, order.oca_type or 1
        if parent is not None and order.action.upper() != parent.order.action.upper():
            return f"bracket:{parent.perm_id}", 2
        return None, None

    # --- transmitting and matching ---------------------------------------------------------------------------

    def transmit(self, record: GatewayOrder) -> None:
        """Send ``record`` and every held order of its list (parent first) into the engine, then match them."""
        root = self.book.by_perm.get(record.parent_perm_id, record) if record.parent_perm_id else record
        family = [root, *self.book.children_of(root)]
        batch = sorted({r.perm_id: r for r in family if r.held or r is record}.values(), key=lambda r: r.perm_id)
        if record not in batch:
            batch.append(record)
        tt, ts = self.now()
        for r in batch:
            r.held = False
            self.submit(r, ts)
        self.match_now({r.con_id for r in batch}, tt, ts)
        for r in batch:
            if not r.is_done and r.active and r.status == "PreSubmitted" and r.venue_order is not None:
                r.status = "Submitted"
                self.messages.status(r)

    def submit(self, record: GatewayOrder, ts: datetime) -> None:
        """Put one order into the engine (its domain order must be built) and report the outcome."""
        domain = record.domain
        if domain is None:
            return
        record.domain = None
        ids = BrokerOrderId(record.order_id, record.perm_id, record.client_id)
        record.venue_order = self.venue.track(domain, ids, ts)
        self.handle(self.engine.submit(domain, ts))

    def match_now(self, con_ids: Iterable[int], tt: float, ts: datetime) -> None:
        """Match the working orders of ``con_ids`` against the current quote."""
        for con_id in sorted(con_ids):
            self._quote(con_id, tt, ts)

    def _quote(self, con_id: int, tt: float, ts: datetime) -> None:
        spec = self.server.catalog.get(con_id)
        if spec is None:
            return
        q = self.server.market.quote(spec, tt)
        if q.bid <= 0 or q.ask < q.bid:
            return
        quote = Quote(
            instrument_for(spec).id, ts, Decimal(repr(q.bid)), Decimal(repr(q.ask)), Decimal(q.bid_size),
            Decimal(q.ask_size),
        )  # fmt: skip
        self.handle(self.engine.on_quote(quote))

    def pump(self, tt: float) -> None:
        """Every tick: run the auctions of any session boundary passed, then match every working contract."""
        tt, ts = self.now()
        if not self.book.live:
            return
        for con_id in self.book.working_con_ids():
            self._quote(con_id, tt, ts)
        self.handle(self.engine.advance_to(ts))

    def _auctions(self, prev: float, tt: float) -> None:
        calendar, market = self.server.calendar, self.server.market
        first, last = calendar.split(prev)[0], calendar.split(tt)[0]
        for row in range(first, min(last, first + _MAX_AUCTION_ROWS)):
            close = (calendar.open_of(row) + timedelta(seconds=SESSION_SECONDS)).astimezone(UTC)
            opening = calendar.open_of(row + 1).astimezone(UTC)
            for kind, stamp, at_row, index in (
                (AuctionKind.CLOSE, close, row, -1),
                (AuctionKind.OPEN, opening, row + 1, 0),
            ):
                if stamp < self._last_ts:
                    continue
                self._last_ts = stamp
                for con_id in self.book.working_con_ids():
                    spec = self.server.catalog.get(con_id)
                    if spec is None:
                        continue
                    instrument = instrument_for(spec)
                    price = float(market.session_path(spec, at_row)[index])
                    if price > 0:
                        px = max(instrument.round_to_tick(Decimal(repr(price))), instrument.tick_size)
                        self.handle(self.engine.on_auction(instrument.id, kind, px, stamp))

    # --- engine events ---------------------------------------------------------------------------------------

    def handle(self, events: Iterable[OrderEvent]) -> None:
        """Turn the engine's events into IB replies, account changes and executions."""
        for event in events:
            record = self.book.by_cid(event.client_order_id)
            if record is None:
                continue
            if record.venue_order is not None:
                self.venue.advance(record.venue_order, event)
            if isinstance(event, OrderFillEvent):
                self._on_fill(record, event)
            elif isinstance(event, OrderAccepted):
                self._on_accepted(record)
            elif isinstance(event, OrderCancelled | OrderExpired):
                self._on_end(record, event)
            elif isinstance(event, OrderModified):
                self._on_modified(record, event)
            elif isinstance(event, OrderActivated):
                record.active = True
                if record.status == "PreSubmitted" and not record.is_done:
                    record.status, record.why_held = "Submitted", ""
                    self.messages.status(record)
            elif isinstance(event, OrderRejected):
                self.book.discard(record)
                self.venue.orders.pop(record.cid, None)
                refusal = OrderRefused(201, event.reason)
                self.messages.owner_error(record, 201, refusal.message, reject_json(refusal))
            elif isinstance(event, OrderModifyRejected | OrderCancelRejected):
                self.messages.owner_error(record, 321, f"Error validating request.-'bV' : cause - {event.reason}")

    def _on_accepted(self, record: GatewayOrder) -> None:
        record.active = self.engine.view(record.cid).active
        paper = self.server.config.paper
        record.status = "PreSubmitted" if paper or not record.active else "Submitted"
        record.why_held = "" if record.active else "child"
        self.book.set_working(record, True)
        self.messages.open_order(record)
        self.messages.status(record)

    def _on_fill(self, record: GatewayOrder, event: OrderFillEvent) -> None:
        fill = event.fill
        record.last_fill_price = float(fill.price)
        spec = self.server.catalog.get(record.con_id)
        exe = ExecutionRecord.of_fill(record, fill, self.book.new_exec_id(), spec)
        self.book.executions.append(exe)
        self.messages.execution(record, exe)
        realized = self.server.accounts.book(record.account, record.con_id, fill)
        if realized:
            exe.realized_pnl = float(realized - fill.commission.amount)
        self.messages.commission(record, exe)
        if isinstance(event, OrderFilled):
            self._finish(record, "Filled", event.ts)
            self.messages.open_order(record)
        elif record.status == "PreSubmitted" and record.active:
            record.status = "Submitted"
        self.messages.status(record)

    def _finish(self, record: GatewayOrder, status: str, ts: datetime) -> None:
        record.status = status
        OrderMessenger.stamp(record, ts)
        self.book.set_working(record, False)

    def _on_end(self, record: GatewayOrder, event: OrderCancelled | OrderExpired) -> None:
        if record.is_done:
            return
        self._finish(record, "Cancelled", event.ts)
        self.messages.status(record)
        if isinstance(event, OrderCancelled):
            self.messages.owner_error(record, 202, f"Order Canceled - reason:{cancel_reason(event.reason)}")
        if record.filled == 0:
            for child in self.book.children_of(record):
                if child.held:
                    self._cancel_held(child)

    def _on_modified(self, record: GatewayOrder, event: OrderModified) -> None:
        if event.quantity is not None:
            total = record.engine_offset + float(event.quantity)
            record.order = dataclasses.replace(record.order, total_quantity=total)
        state = self.engine.state(record.cid)
        if state.status is OrderStatus.FILLED and not record.is_done:
            self._finish(record, "Filled", event.ts)
        self.messages.open_order(record)
        self.messages.status(record)

    # --- modify and cancel -----------------------------------------------------------------------------------

    def modify(self, session: ClientSession, record: GatewayOrder, contract: WireContract, order: WireOrder) -> None:
        """A live order's id sent again: new quantity and/or prices (type, side and contract must not change)."""
        order = dataclasses.replace(order, account=record.account, client_id=record.client_id, perm_id=record.perm_id)
        differs = contract.con_id not in (0, record.con_id)
        if (
            differs
            or order.action.upper() != record.order.action.upper()
            or not same_order_type(order.order_type, record.order.order_type)
        ):
            session.error(order.order_id, 105, "Order being modified does not match original order.")
            return
        spec = self.server.catalog.get(record.con_id)
        assert spec is not None
        remaining = (order.total_quantity or 0.0) - record.engine_offset
        try:
            if remaining <= 0:
                raise OrderRefused(201, f"the new quantity {order.total_quantity} leaves nothing to work")
            target = domain_order(order, self.instrument(spec), client_order_id=record.cid, quantity=remaining)
            target = dataclasses.replace(target, account=AccountId(record.account))
            refused = price_refusal(self.venue, target)
            if refused is None and not record.held and not record.parent_perm_id:
                left = target.quantity - self.engine.state(record.cid).filled_quantity
                refused = margin_refusal(self.venue, target, left) if left > 0 else None
            if refused is not None:
                raise refused
        except OrderRefused as refusal:
            session.error(order.order_id, 321, f"Error validating request.-'bV' : cause - {refusal.reason}")
            return
        if record.held:
            record.order = order
            record.domain = target if record.domain is None else dataclasses.replace(target, link=record.domain.link)
            if order.transmit:
                self.transmit(record)
            return
        current, state = self.engine.order(record.cid), self.engine.state(record.cid)
        changes: dict[str, Decimal] = {}
        if target.quantity != state.quantity:
            changes["quantity"] = target.quantity
        for name in ("limit_price", "stop_price"):
            value = getattr(target, name)
            if value is not None and value != getattr(current, name):
                changes[name] = value
        previous, record.order = record.order, order
        tt, ts = self.now()
        if not changes:
            self.messages.open_order(record)
            self.messages.status(record)
            return
        events = self.engine.modify(record.cid, ts, **changes)
        if any(isinstance(e, OrderModifyRejected) for e in events):
            record.order = previous
        self.handle(events)
        self.match_now({record.con_id}, tt, ts)

    def cancel(self, session: ClientSession, order_id: int) -> None:
        """``cancelOrder``: Cancelled + 202; unknown id 10147; an order already done 10148."""
        record = self.book.get(session.client_id or 0, order_id)
        if record is None:
            session.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        elif record.is_done:
            session.error(
                order_id, 10148, f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: "
                f"{record.status}."
            )  # fmt: skip
        else:
            self.cancel_record(record)

    def cancel_record(self, record: GatewayOrder) -> None:
        """Cancel one order (held or working), with its held children."""
        if record.is_done:
            return
        if record.held:
            self._cancel_held(record)
            return
        _, ts = self.now()
        self.handle(self.engine.cancel(record.cid, ts, reason=""))

    def _cancel_held(self, record: GatewayOrder) -> None:
        record.held = False
        _, ts = self.now()
        self._finish(record, "Cancelled", ts)
        self.messages.held_cancelled(record)
        for child in self.book.children_of(record):
            if child.held:
                self._cancel_held(child)

    def global_cancel(self) -> None:
        """``reqGlobalCancel``: cancel every order of every client."""
        for record in list(self.book.orders()):
            self.cancel_record(record)

    # --- what-if ---------------------------------------------------------------------------------------------

    def what_if(self, session: ClientSession, contract: WireContract, order: WireOrder) -> None:
        """Answer a what-if order with an ``openOrder`` carrying margins and commission; nothing is placed."""
        what_if_reply(self.venue, self.instrument, session, contract, order)
