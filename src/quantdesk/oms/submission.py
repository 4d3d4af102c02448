"""The submission path: validate → risk → durable intent → rate limit → broker, for single orders and order lists.

Idempotent on the ``ClientOrderId``: an order whose id is known returns its state and sends nothing; the same order
submitted again while its first submission runs shares that one's outcome. An order above the participation cap
goes to the :class:`~quantdesk.oms.slicing.ParticipationSlicer`, which sends its children back through this path
by way of :class:`SlicingHost` (the slicer never sees the manager).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import Broker, BrokerReport
from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, ConnectionLost, OrderRejected, RiskRejected, ValidationError
from quantdesk.oms.book import Book
from quantdesk.oms.fault_points import crash_point
from quantdesk.oms.managed import ManagedOrder
from quantdesk.oms.order_changes import Refused, Sending
from quantdesk.oms.slicing import ParticipationSlicer
from quantdesk.oms.store_ops import InsertIntent, OrderEventOp, UpdateIntent
from quantdesk.oms.stores import OrderStore
from quantdesk.oms.tracking import OrderTracker
from quantdesk.risk.engine import RiskEngine
from quantdesk.risk.kill_switch import KillSwitch
from quantdesk.risk.participation import needs_slicing, slice_quantity
from quantdesk.risk.throttle import OrderRateLimiter

__all__ = ["OrderSubmission", "SlicingHost"]

log = logging.getLogger(__name__)

KnownIntent = Callable[[Order], Awaitable[ManagedOrder]]
"""Loads and tracks the stored intent of an order whose id the database already holds (from an earlier run)."""


class OrderSubmission:
    """Admits and sends orders for one broker connection; ``slicer`` sends the ones above the participation cap."""

    def __init__(
        self,
        broker: Broker,
        journal: OrderStore,
        tracker: OrderTracker,
        book: Book,
        *,
        risk: RiskEngine,
        kill_switch: KillSwitch,
        rate_limiter: OrderRateLimiter | None,
        run_id: str | None,
        now: Callable[[], datetime],
        stamp: Callable[[], datetime],
        on_report: Callable[[BrokerReport], None],
        known_intent: KnownIntent,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.tracker = tracker
        self.book = book
        self.risk = risk
        self.kill_switch = kill_switch
        self.rate_limiter = rate_limiter
        self.run_id = run_id
        self.now = now
        self.stamp = stamp
        self.on_report = on_report
        self.known_intent = known_intent
        self._submitting: dict[ClientOrderId, asyncio.Future[ManagedOrder]] = {}  # first submissions under way
        self.slicer = ParticipationSlicer(SlicingHost(self))

    def is_submitting(self, client_order_id: ClientOrderId) -> bool:
        """True while the first submission of this order runs (checked, stored, not yet acknowledged)."""
        return client_order_id in self._submitting

    async def submit(self, order: Order, *, price: Decimal | None = None, list_id: str | None = None) -> ManagedOrder:
        """Validate, check risk, persist the intent, send; returns the order as acknowledged by the broker.

        ``price`` is the reference price for notional checks when the book has none for the instrument (a market
        order needs one). Raises ``RiskRejected`` naming the rule, ``ValidationError`` for a reused id. The same
        order submitted again while its first submission is still under way waits for that one and shares its
        outcome: only the first ever sends.
        """
        cid = order.client_order_id
        existing = self.tracker.get(cid)
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
        managed = await self.admit(order, price=price, list_id=list_id)
        if managed.state.status is not OrderStatus.INITIALIZED:
            return managed  # known to the database already: never sent twice
        await self._send(managed, order)
        return managed

    async def submit_list(
        self, order_list: OrderList, *, prices: Mapping[InstrumentId, Decimal] | None = None
    ) -> list[ManagedOrder]:
        """Check and persist every order of a bracket / OCA / OTO list, then send the list as one unit."""
        prices = prices or {}
        list_id = order_list.orders[0].client_order_id.value
        by_id = {o.client_order_id: o for o in order_list.orders}
        admitted: list[ManagedOrder] = []
        for order in order_list.orders:
            parent = by_id.get(order.link.parent_client_order_id) if order.link.parent_client_order_id else None
            if parent is None:
                admitted.append(await self.admit(order, price=prices.get(order.instrument.id), list_id=list_id))
                continue
            siblings = [m.client_order_id for m in admitted if m.order is not None
                        and m.order.link.parent_client_order_id == parent.client_order_id]  # fmt: skip
            with self.book.assuming(parent.instrument.id, parent.signed_quantity, [parent.client_order_id, *siblings]):
                admitted.append(await self.admit(order, price=prices.get(order.instrument.id), list_id=list_id))
        fresh = [m for m in admitted if m.state.status is OrderStatus.INITIALIZED]
        if len(fresh) != len(admitted):
            return admitted  # partly known: the list was sent before, reconciliation owns it
        await self._throttle()
        for m in admitted:
            self.tracker.apply(m, Sending(self.stamp()))
        crash_point("after_intent")
        try:
            reports = await self.broker.place_order_list(order_list)
        except ConnectionLost as exc:
            for m in admitted:
                self.tracker.event(m, "send_unknown", str(exc))
            raise
        crash_point("after_send")
        for report in reports:
            self.on_report(report)
        return admitted

    async def admit(self, order: Order, *, price: Decimal | None, list_id: str | None) -> ManagedOrder:
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
            return await self.known_intent(order)
        managed = ManagedOrder(order.client_order_id, order.instrument.id, order.side, OrderState.new(
            order.client_order_id, order.quantity, stamp), order=order)  # fmt: skip
        return self.tracker.track(managed, counted=True)

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
        self.tracker.apply(managed, Sending(self.stamp()))
        try:
            report = await self.broker.place_order(order)
        except (ConnectionLost, ConnectionError) as exc:  # it may have left: reconciliation after the reconnect decides
            self.tracker.event(managed, "send_unknown", str(exc))
            raise
        except OrderRejected as exc:
            self.tracker.apply(managed, Refused(str(exc), exc.code, self.stamp()))
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

    def record_rejection(self, order: Order, now: datetime, exc: RiskRejected) -> None:
        """Store a refused order as a REJECTED intent with the rule's message, and its event."""
        self.tracker.write(InsertIntent(order, now, run_id=self.run_id))
        state = OrderState.new(order.client_order_id, order.quantity, now).apply_status(OrderStatus.REJECTED, now)
        self.tracker.write(UpdateIntent(state, reason=exc.message))
        self.tracker.write(
            OrderEventOp(order.client_order_id.value, None, "risk_rejected", "REJECTED", exc.message, now)
        )


class SlicingHost:
    """The ``ExecutionHost`` the slicer works through: the submission path, the book's volumes, the broker's bars."""

    def __init__(self, submission: OrderSubmission) -> None:
        self._submission = submission

    @property
    def settings(self) -> RiskSettings:
        """The risk engine's settings."""
        return self._submission.risk.settings

    def now(self) -> datetime:
        """The broker's time."""
        return self._submission.now()

    def get(self, client_order_id: ClientOrderId) -> ManagedOrder | None:
        """The tracked order, or None."""
        return self._submission.tracker.get(client_order_id)

    def check_parent(self, order: Order, price: Decimal | None) -> None:
        """Risk-check the whole order (at ``price`` when given); a refusal is stored as a REJECTED intent."""
        s = self._submission
        now = s.now()
        if price is not None:
            s.book.set_price(order.instrument.id, price)
        try:
            s.risk.check(order, s.book.context(order, now, s.kill_switch.state))
        except RiskRejected as exc:
            s.record_rejection(order, now, exc)
            raise

    async def submit_child(self, child: Order, *, price: Decimal | None, parent: ClientOrderId) -> ManagedOrder:
        """Submit one child through the ordinary path, in the parent's list (so it is never sliced again)."""
        return await self._submission.submit(child, price=price, list_id=parent.value)

    def log_event(self, cid: ClientOrderId, kind: str, message: str, payload: dict[str, Any] | None = None) -> None:
        """Append a line to an order's event log."""
        self._submission.tracker.log_event(cid, kind, message, payload)

    async def daily_bars(self, instrument: Instrument, start: datetime, end: datetime) -> Sequence[Bar]:
        """The broker's daily bars."""
        return await self._submission.broker.historical_bars(instrument, BarSize.DAY_1, start, end)

    @property
    def volumes(self) -> Mapping[InstrumentId, Decimal]:
        """The book's average daily volumes."""
        return self._submission.book.average_daily_volume

    def learn_volumes(self, volumes: Mapping[InstrumentId, Decimal]) -> None:
        """Keep the volumes in the book."""
        self._submission.book.set_average_daily_volumes(volumes)
