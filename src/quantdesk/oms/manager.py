"""The order manager: every order goes validate → risk → durable intent → broker; broker reports drive its state.

* **Idempotent on the ClientOrderId.** Submitting an order whose id is known returns its state and sends nothing;
  the database's unique intent row decides across restarts. An id reused for *different* content is refused.
* **Intent before send.** ``submit`` returns only after the broker acknowledged an order whose intent was durable
  before it left; a crash in between leaves an INITIALIZED intent that reconciliation resolves (adopts the order
  if the broker has it, marks it never-sent if not). Nothing is ever re-sent automatically.
* **Fills once.** Fills are keyed by execution id in an order's state and by (account, execution id) in the
  database; a fill reported twice (IB sends
  it again with its commission, and again after a reconnect) moves nothing the second time.
* **State from the table.** Broker reports move the domain ``OrderState`` through its transition table; a report
  the table refuses is logged as an event, never applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import (
    Broker,
    BrokerReport,
    ConnectionReport,
    ConnectionState,
    FillReport,
    OrderStatusReport,
    PositionReport,
)
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import (
    BrokerError,
    ConnectionLost,
    IllegalTransition,
    NotFound,
    OrderRejected,
    RiskRejected,
    ValidationError,
)
from quantdesk.oms.book import Book
from quantdesk.oms.fault_points import crash_point
from quantdesk.oms.managed import ManagedOrder, OrderListener, as_sent, rebuild_order, start_of_day
from quantdesk.oms.slicing import ParticipationSlicer
from quantdesk.oms.store_ops import (
    AdoptIntent,
    InsertIntent,
    OrderEventOp,
    RecordCommission,
    RecordFill,
    RiskEventOp,
    UpdateIntent,
)
from quantdesk.oms.stores import OrderStore, StoredIntentView
from quantdesk.risk.engine import RiskEngine
from quantdesk.risk.events import RiskEvent
from quantdesk.risk.kill_switch import KillSwitch
from quantdesk.risk.participation import needs_slicing, slice_quantity
from quantdesk.risk.throttle import OrderRateLimiter

__all__ = ["ManagedOrder", "OrderListener", "OrderManager"]  # ManagedOrder and OrderListener from oms.managed

log = logging.getLogger(__name__)


class OrderManager:
    """The OMS for one broker connection and one store (``oms.stores``); see the module docstring for its guarantees."""

    def __init__(
        self,
        broker: Broker,
        journal: OrderStore,
        *,
        risk: RiskEngine,
        kill_switch: KillSwitch,
        rate_limiter: OrderRateLimiter | None = None,
        run_id: str | None = None,
        account: AccountId | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.risk = risk
        self.kill_switch = kill_switch
        self.rate_limiter = rate_limiter
        self.run_id = run_id
        self.account = account
        self.book = Book()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._server_offset = timedelta(0)
        self._orders: dict[ClientOrderId, ManagedOrder] = {}
        self._submitting: dict[ClientOrderId, asyncio.Future[ManagedOrder]] = {}  # first submissions under way
        self._by_perm: dict[int, ManagedOrder] = {}
        self._listeners: list[OrderListener] = []
        self._remove_listener: Callable[[], None] | None = None
        self.unknown_reports: list[BrokerReport] = []
        self.slicer = ParticipationSlicer(self)
        self._was_disconnected = False
        self.on_reconnected: Callable[[], None] | None = None

    # --- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the active intents, listen to the broker and take the clock, positions and account value from it."""
        for intent in await self.journal.active_intents():
            self._track_stored(intent)
        self.book.trades_today = await self.journal.orders_since(start_of_day(self._clock()))
        self.book.day = self._clock().date()
        self._remove_listener = self.broker.add_listener(self.on_report)
        try:
            server = await self.broker.server_time()
            self._server_offset = server - self._clock()
        except (BrokerError, TimeoutError) as exc:  # market hours are then judged by the local clock
            log.warning("no broker clock (%s): the local clock stands in for market hours", exc)
        await self.refresh_book()

    async def refresh_book(self) -> None:
        """Take positions and net liquidation from the broker (after start and after a reconnect)."""
        positions = await self.broker.positions(self.account)
        summary = await self.broker.account_summary(self.account)
        book = self.book
        for p in positions:
            book.multipliers[p.instrument_id] = p.multiplier
            if p.currency is not None:
                book.currencies[p.instrument_id] = p.currency.code
            if p.market_price is not None and p.market_price > 0:
                book.last_prices[p.instrument_id] = p.market_price
        book.net_liquidation = summary.net_liquidation.amount
        book.base_currency = summary.base_currency.code
        book.exchange_rates = {c.code: r for c, r in summary.exchange_rates.items()}
        book.set_positions({p.instrument_id: p.quantity for p in positions})  # values everything taken above once

    async def close(self) -> None:
        """Stop slicing and listening, and wait for every journal write queued so far."""
        self.slicer.cancel_all()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        await self.flush()

    async def flush(self) -> None:
        """Wait until every journal write queued so far is durable."""
        await self.journal.flush()

    def now(self) -> datetime:
        """The broker's time (the local clock corrected by the offset measured at start): for market hours only."""
        return self._clock() + self._server_offset

    def stamp(self) -> datetime:
        """The local wall clock (UTC): when we acted (an intent created, sent, marked, an event, a snapshot). The
        venue's own times (executions, status reports) are stored as the broker reports them."""
        return self._clock()

    # --- queries ------------------------------------------------------------------------------------------------

    def add_listener(self, listener: OrderListener) -> Callable[[], None]:
        """Call ``listener`` whenever an order's state changes; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def get(self, client_order_id: ClientOrderId) -> ManagedOrder | None:
        """The tracked order, or None."""
        return self._orders.get(client_order_id)

    def find(self, client_order_id: ClientOrderId | None, perm_id: int = 0) -> ManagedOrder | None:
        """The tracked order by our id, else by IB's permId."""
        found = self._orders.get(client_order_id) if client_order_id is not None else None
        if found is None and perm_id:
            found = self._by_perm.get(perm_id)
        return found

    def orders(self) -> list[ManagedOrder]:
        """Every tracked order, oldest first."""
        return list(self._orders.values())

    def open_orders(self) -> list[ManagedOrder]:
        """Tracked orders that are not terminal."""
        return [m for m in self._orders.values() if not m.state.is_terminal]

    def is_submitting(self, client_order_id: ClientOrderId) -> bool:
        """True while the first submission of this order runs (checked, stored, not yet acknowledged)."""
        return client_order_id in self._submitting

    async def wait_terminal(self, cids: Iterable[ClientOrderId], timeout: float) -> bool:
        """Wait until every order in ``cids`` is terminal; False on timeout."""
        events = [m.done.wait() for c in cids if (m := self._orders.get(c)) is not None]
        if not events:
            return True
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*events)
        except TimeoutError:
            return False
        return True

    # --- submitting ----------------------------------------------------------------------------------------------

    async def submit(self, order: Order, *, price: Decimal | None = None, list_id: str | None = None) -> ManagedOrder:
        """Validate, check risk, persist the intent, send; returns the order as acknowledged by the broker.

        ``price`` is the reference price for notional checks when the book has none for the instrument (a market
        order needs one). Raises ``RiskRejected`` naming the rule, ``ValidationError`` for a reused id. The same
        order submitted again while its first submission is still under way waits for that one and shares its
        outcome: only the first ever sends.
        """
        cid = order.client_order_id
        existing = self._orders.get(cid)
        if existing is not None:
            self._same_or_raise(existing, order)
            return existing
        under_way = self._submitting.get(cid)
        if under_way is not None:
            managed = await asyncio.shield(under_way)
            self._same_or_raise(managed, order)
            return managed
        outcome: asyncio.Future[ManagedOrder] = asyncio.get_running_loop().create_future()
        self._submitting[cid] = outcome
        try:
            managed = await self._submit_once(order, price, list_id)
        except BaseException as exc:
            outcome.set_exception(exc)
            outcome.exception()  # retrieved: a submission nobody else waited for is not an unhandled error
            raise
        else:
            outcome.set_result(managed)
            return managed
        finally:
            del self._submitting[cid]

    async def _submit_once(self, order: Order, price: Decimal | None, list_id: str | None) -> ManagedOrder:
        adv = self.book.average_daily_volume.get(order.instrument.id)
        if list_id is None and needs_slicing(order.quantity, adv, self.risk.settings):
            return await self.slicer.submit(order, price, slice_quantity(order.quantity, adv, self.risk.settings))
        managed = await self._admit(order, price=price, list_id=list_id)
        if managed.state.status is not OrderStatus.INITIALIZED:
            return managed  # known to the database already: never sent twice
        await self._send(managed, order)
        return managed

    async def submit_list(
        self, order_list: OrderList, *, prices: dict[InstrumentId, Decimal] | None = None
    ) -> list[ManagedOrder]:
        """Check and persist every order of a bracket / OCA / OTO list, then send the list as one unit."""
        prices = prices or {}
        list_id = order_list.orders[0].client_order_id.value
        by_id = {o.client_order_id: o for o in order_list.orders}
        admitted: list[ManagedOrder] = []
        for order in order_list.orders:
            parent = by_id.get(order.link.parent_client_order_id) if order.link.parent_client_order_id else None
            if parent is None:
                admitted.append(await self._admit(order, price=prices.get(order.instrument.id), list_id=list_id))
                continue
            siblings = [m.client_order_id for m in admitted if m.order is not None
                        and m.order.link.parent_client_order_id == parent.client_order_id]  # fmt: skip
            with self.book.assuming(parent.instrument.id, parent.signed_quantity, [parent.client_order_id, *siblings]):
                admitted.append(await self._admit(order, price=prices.get(order.instrument.id), list_id=list_id))
        fresh = [m for m in admitted if m.state.status is OrderStatus.INITIALIZED]
        if len(fresh) != len(admitted):
            return admitted  # partly known: the list was sent before, reconciliation owns it
        await self._throttle()
        for m in admitted:
            self._set_state(m, m.state.apply_status(OrderStatus.PENDING_SUBMIT, self.stamp()), event=None)
        crash_point("after_intent")
        try:
            reports = await self.broker.place_order_list(order_list)
        except ConnectionLost as exc:
            for m in admitted:
                self._event(m, "send_unknown", str(exc))
            raise
        crash_point("after_send")
        for report in reports:
            self.on_report(report)
        return admitted

    async def _admit(self, order: Order, *, price: Decimal | None, list_id: str | None) -> ManagedOrder:
        """Capability and risk checks, then the durable intent; returns the tracked order."""
        self.broker.capabilities.check(order)
        now, stamp = self.now(), self.stamp()  # market hours on the broker's clock; our records on ours
        if price is not None:
            self.book.set_price(order.instrument.id, price)
        elif order.instrument.id not in self.book.last_prices:
            await self._fetch_price(order)
        ctx = self.book.context(order, now, self.kill_switch.state)
        try:
            self.risk.check(order, ctx)
        except RiskRejected as exc:
            self.record_rejection(order, stamp, exc)
            raise
        self.book.reserve(order, now)  # before the await: orders checked meanwhile must see this one
        crash_point("before_intent")
        try:
            created = await self.journal.write(InsertIntent(order, stamp, run_id=self.run_id, list_id=list_id))
        except BaseException:
            self.book.release(order, now)
            raise
        if not created:  # the database knows this id from an earlier run: load it, send nothing
            self.book.release(order, now)
            stored = await self.journal.get_intent(order.client_order_id)
            return self._track_stored(stored, order)
        managed = ManagedOrder(order.client_order_id, order.instrument.id, order.side, OrderState.new(
            order.client_order_id, order.quantity, stamp), order=order)  # fmt: skip
        self._orders[order.client_order_id] = managed
        return managed

    async def _fetch_price(self, order: Order) -> None:
        """The broker's quote as the reference price (once per instrument; later fills keep it current)."""
        try:
            async with asyncio.timeout(5.0):
                quote = await self.broker.quote(order.instrument)
        except (BrokerError, ValidationError, TimeoutError) as exc:
            log.info("no reference price for %s: %s", order.instrument.id, exc)
            return
        self.book.set_price(order.instrument.id, quote.mid)

    async def _send(self, managed: ManagedOrder, order: Order) -> None:
        crash_point("after_intent")
        await self._throttle()
        self._set_state(managed, managed.state.apply_status(OrderStatus.PENDING_SUBMIT, self.stamp()), event=None)
        try:
            report = await self.broker.place_order(order)
        except (ConnectionLost, ConnectionError) as exc:  # it may have left: reconciliation after the reconnect decides
            self._event(managed, "send_unknown", str(exc))
            raise
        except OrderRejected as exc:
            self._reject(managed, str(exc), exc.code)
            raise
        crash_point("after_send")
        self.on_report(report)
        crash_point("after_ack")

    async def _throttle(self) -> None:
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire()

    def _same_or_raise(self, existing: ManagedOrder, order: Order) -> None:
        if existing.order is not None and existing.order != order:
            raise ValidationError(
                f"client order id {order.client_order_id} is in use by another order",
                field="client_order_id",
                value=order.client_order_id.value,
                hint="give every new order a fresh ClientOrderId (ClientOrderId.new())",
            )

    @property
    def slices(self) -> dict[ClientOrderId, asyncio.Task[None]]:
        """Sliced orders still sending children, by the parent's id."""
        return self.slicer.tasks

    def log_event(self, cid: ClientOrderId, kind: str, message: str, payload: dict[str, Any] | None = None) -> None:
        """Append a line to an order's event log (also for an order that has no intent of its own)."""
        self._write(OrderEventOp(cid.value, None, kind, None, message, self.stamp(), payload))

    def record_rejection(self, order: Order, now: datetime, exc: RiskRejected) -> None:
        """Store a refused order as a REJECTED intent with the rule's message, and its event."""
        self._write(InsertIntent(order, now, run_id=self.run_id))
        state = OrderState.new(order.client_order_id, order.quantity, now).apply_status(OrderStatus.REJECTED, now)
        self._write(UpdateIntent(state, reason=exc.message))
        self._write(OrderEventOp(order.client_order_id.value, None, "risk_rejected", "REJECTED", exc.message, now))

    # --- modify and cancel ---------------------------------------------------------------------------------------

    async def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> ManagedOrder:
        """Change a working order; a larger quantity or a new price goes through the risk checks again.

        While the broker confirms, the book counts the larger of the old and the new remaining quantity, so orders
        checked meanwhile see whichever may be in force.
        """
        managed = self._require(client_order_id)
        cid, iid = client_order_id, managed.instrument_id
        asked = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        changes: dict[str, Any] = {k: v for k, v in asked.items() if v is not None}
        if managed.order is not None and changes:
            proposed = replace(managed.order, **changes)
            self.book.set_working(cid, iid, Decimal(0))
            try:
                self.risk.check(proposed, self.book.context(proposed, self.now(), self.kill_switch.state))
            except RiskRejected as exc:
                self.book.set_working(cid, iid, managed.signed_remaining)
                self._event(managed, "modify_rejected", exc.message)
                raise
            new = max(proposed.quantity - managed.state.filled_quantity, Decimal(0))
            signed_new = new if managed.side is OrderSide.BUY else -new
            self.book.set_working(cid, iid, max(managed.signed_remaining, signed_new, key=abs))
        self._event(managed, "modify_requested", None, {"quantity": quantity, "limit": limit_price, "stop": stop_price})
        try:
            report = await self.broker.modify_order(
                cid, quantity=quantity, limit_price=limit_price, stop_price=stop_price
            )
            managed.take_terms(report.quantity, report.limit_price, report.stop_price)
            if report.quantity != managed.state.quantity and not managed.state.is_terminal:
                self._set_state(managed, managed.state.apply_modify(report.quantity, report.ts), event="modified")
            self.on_report(report)
        finally:
            self.book.set_working(cid, iid, managed.signed_remaining)
        return managed

    async def cancel(self, client_order_id: ClientOrderId) -> ManagedOrder:
        """Ask the broker to cancel; the CANCELLED state arrives as a report (a fill may win the race)."""
        managed = self._require(client_order_id)
        if managed.state.is_terminal:
            return managed
        self._event(managed, "cancel_requested", None)
        await self.broker.cancel_order(client_order_id)
        return managed

    async def cancel_all(self) -> list[ManagedOrder]:
        """Cancel every working order the OMS tracks (the kill switch's halt does this)."""
        working = [m for m in self._orders.values() if m.state.is_active]
        for m in working:
            try:
                await self.cancel(m.client_order_id)
            except (BrokerError, ValidationError, ConnectionError) as exc:  # retried after the reconnect
                self._event(m, "cancel_failed", str(exc))
        return working

    def _require(self, client_order_id: ClientOrderId) -> ManagedOrder:
        managed = self._orders.get(client_order_id)
        if managed is None:
            raise NotFound(
                f"no order {client_order_id} is tracked",
                field="client_order_id",
                value=client_order_id.value,
                hint="list orders with `quantdesk orders`",
            )
        return managed

    # --- broker reports ------------------------------------------------------------------------------------------

    def on_report(self, report: BrokerReport) -> None:
        """Apply one broker report (the broker listener); never raises."""
        try:
            if isinstance(report, OrderStatusReport):
                self.apply_status(report)
            elif isinstance(report, FillReport):
                self.apply_fill(report)
            elif isinstance(report, ConnectionReport):
                self._on_connection(report)
            elif isinstance(report, PositionReport) and (self.account is None or report.account == self.account):
                if report.currency is not None:
                    self.book.currencies.setdefault(report.instrument_id, report.currency.code)
                self.book.set_position(report.instrument_id, report.quantity)
        except Exception:
            log.exception("cannot apply broker report %r", report)

    def apply_status(self, report: OrderStatusReport) -> bool:
        """Move a tracked order to the reported status; returns False for an order the OMS does not track."""
        managed = self.find(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:
            self.unknown_reports.append(report)
            return False
        state = as_sent(managed.state, report.ts)
        ids = report.broker_order_id
        if ids.order_id or ids.perm_id:
            known = state.broker_order_id
            perm = ids.perm_id or (known.perm_id if known is not None else 0)
            state = replace(state, broker_order_id=BrokerOrderId(ids.order_id or (known.order_id if known else 0),
                                                                 perm, ids.client_id))  # fmt: skip
            if perm:
                self._by_perm[perm] = managed
        if report.status is not state.status and not (
            report.status is OrderStatus.SUBMITTED and state.status is OrderStatus.PARTIALLY_FILLED
        ):
            try:
                state = state.apply_status(report.status, report.ts)
            except IllegalTransition as exc:
                self._event(managed, "illegal_transition", str(exc))
        if report.reason and (report.status.is_terminal or report.error_code):
            managed.reason, managed.error_code = report.reason, report.error_code
        if state != managed.state:
            self._set_state(managed, state, event=report.status.value.lower())
        return True

    def apply_fill(self, report: FillReport) -> bool:
        """Record an execution once; returns True when it was new."""
        managed = self.find(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:
            self.unknown_reports.append(report)
            return False
        fill = report.to_fill(managed.client_order_id)
        if fill.execution_id in managed.state.execution_ids:
            if report.commission is not None:
                from quantdesk.domain.fills import CommissionReport

                self._write(RecordCommission(CommissionReport(fill.execution_id, report.commission), fill.account))
            return False
        current = as_sent(managed.state, fill.ts)
        try:
            state = current.apply_fill(fill)
        except IllegalTransition as exc:  # e.g. a fill after a forced CANCELLED: the fill is a fact, keep it
            self._event(managed, "late_fill", str(exc))
            state = replace(current, status=OrderStatus.PARTIALLY_FILLED).apply_fill(fill)
        except ValidationError as exc:  # an overfill: the broker's view is authoritative, record and flag it
            self._event(managed, "overfill", str(exc))
            state = replace(current, quantity=current.filled_quantity + fill.quantity).apply_fill(fill)
        self._write(RecordFill(fill, self._clock(), perm_id=report.broker_order_id.perm_id or None))
        self.book.apply_fill(fill)
        self._set_state(managed, state, event="fill")
        crash_point("after_fill")
        return True

    def _on_connection(self, report: ConnectionReport) -> None:
        self.kill_switch.on_connection(report)
        if report.state in (ConnectionState.DISCONNECTED, ConnectionState.RECONNECTING):
            self._was_disconnected = True
        elif report.state is ConnectionState.CONNECTED and self._was_disconnected:
            self._was_disconnected = False
            if self.on_reconnected is not None:
                self.on_reconnected()

    # --- adoption and marking (used by reconciliation) --------------------------------------------------------

    async def load(self, client_order_id: ClientOrderId | None, perm_id: int = 0) -> ManagedOrder | None:
        """Track an order the database knows (a finished one, not loaded at start) by our id or IB's permId."""
        stored = await self.journal.find_intent(client_order_id) if client_order_id is not None else None
        if stored is None and perm_id:
            stored = await self.journal.intent_by_perm_id(perm_id)
        return None if stored is None else self._track_stored(stored)

    def adopt(self, report: OrderStatusReport) -> ManagedOrder:
        """Track an order placed outside quantdesk (by hand in TWS, or by a lost run) under its orderRef or permId."""
        perm = report.broker_order_id.perm_id
        cid = report.client_order_id or ClientOrderId(f"ext-{perm}")
        state = OrderState(cid, report.quantity, report.ts, OrderStatus.PENDING_SUBMIT, report.broker_order_id)
        managed = ManagedOrder(cid, report.instrument_id, report.side, state, source="adopted")
        self._orders[cid] = managed
        if perm:
            self._by_perm[perm] = managed
        self._write(AdoptIntent(report, cid, self.stamp(), run_id=self.run_id))
        self.book.set_working(cid, managed.instrument_id, managed.signed_remaining)
        self.apply_status(replace(report, client_order_id=cid, filled_quantity=Decimal(0)))
        return managed

    def mark(self, managed: ManagedOrder, status: OrderStatus, reason: str) -> None:
        """Force a terminal status the broker cannot report (an order that never reached it, or vanished)."""
        managed.reason = reason
        state = replace(managed.state, status=status, updated_at=max(self.stamp(), managed.state.updated_at))
        self._set_state(managed, state, event="marked")

    # --- state changes -----------------------------------------------------------------------------------------

    def _track_stored(self, intent: StoredIntentView, order: Order | None = None) -> ManagedOrder:
        managed = ManagedOrder(
            intent.client_order_id,
            intent.instrument_id,
            intent.side,
            intent.state,
            order=order or rebuild_order(intent),
            source=getattr(intent, "source", "quantdesk"),
        )
        if intent.state.is_terminal:
            managed.done.set()
        self._orders[intent.client_order_id] = managed
        if intent.state.broker_order_id is not None and intent.state.broker_order_id.perm_id:
            self._by_perm[intent.state.broker_order_id.perm_id] = managed
        self.book.set_working(managed.client_order_id, managed.instrument_id, managed.signed_remaining)
        return managed

    def _set_state(self, managed: ManagedOrder, state: OrderState, *, event: str | None) -> None:
        """Apply a new state; ``event=None`` keeps it in memory only (PENDING_SUBMIT: after a crash reconciliation
        treats it as INITIALIZED anyway, and the acknowledgement that follows is stored with its event)."""
        managed.state = state
        if event is not None:
            self._write(UpdateIntent(state, reason=managed.reason, error_code=managed.error_code))
            self._event(managed, event, managed.reason if state.is_terminal else None)
        self.book.set_working(managed.client_order_id, managed.instrument_id, managed.signed_remaining)
        if state.is_terminal:
            managed.done.set()
        for listener in list(self._listeners):
            try:
                listener(managed)
            except Exception:
                log.exception("order listener failed for %s", managed.client_order_id)

    def _reject(self, managed: ManagedOrder, reason: str, code: int | None) -> None:
        managed.reason, managed.error_code = reason, code
        with contextlib.suppress(IllegalTransition):
            self._set_state(managed, managed.state.apply_status(OrderStatus.REJECTED, self.stamp()), event="rejected")

    def _event(
        self, managed: ManagedOrder, kind: str, message: str | None, payload: dict[str, Any] | None = None
    ) -> None:
        perm = managed.state.broker_order_id.perm_id if managed.state.broker_order_id is not None else None
        self._write(OrderEventOp(managed.client_order_id.value, perm or None, kind, managed.state.status.value,
                                 message, self.stamp(), payload))  # fmt: skip

    def record_risk_event(self, event: RiskEvent) -> None:
        """Persist a risk event (the risk engine's and the kill switch's ``on_event``)."""
        cid = event.client_order_id.value if event.client_order_id is not None else None
        self._write(RiskEventOp(event.ts, event.rule, event.action, event.message, cid, event.limit, event.actual))

    def _write(self, op: Any) -> None:
        """Queue a journal write without waiting; failures are logged (the broker remains the source of truth)."""
        self.journal.post(op)
