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
  the table refuses is logged as an event, never applied. Every change goes through ``ManagedOrder.apply``; the
  changes the table refuses but the broker's facts require (marks, late fills, overfills) are the domain's named
  forced changes.

``OrderManager`` is the one face of the OMS; the work is split by concern into modules it composes, each with no
knowledge of the manager: ``tracking`` (the tracked orders and the recording of their changes), ``submission``
(the order path, order lists and the host the participation slicer works through), ``reports`` (broker reports,
adoption, marks) and ``amendments`` (modify, cancel). What reads the database stays here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import Broker, BrokerReport, FillReport, OrderStatusReport
from quantdesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, RiskRejected
from quantdesk.oms.amendments import OrderAmendments
from quantdesk.oms.book import Book
from quantdesk.oms.managed import ManagedOrder, OrderListener, start_of_day
from quantdesk.oms.reports import ReportHandler
from quantdesk.oms.slicing import ParticipationSlicer
from quantdesk.oms.store_ops import RiskEventOp
from quantdesk.oms.stores import OrderStore
from quantdesk.oms.submission import OrderSubmission
from quantdesk.oms.tracking import OrderTracker
from quantdesk.risk.engine import RiskEngine
from quantdesk.risk.events import RiskEvent
from quantdesk.risk.kill_switch import KillSwitch
from quantdesk.risk.throttle import OrderRateLimiter

__all__ = ["ManagedOrder", "OrderListener", "OrderManager"]  # ManagedOrder and OrderListener from oms.managed

log = logging.getLogger(__name__)


class OrderManager:
    """The OMS for one broker connection and one database; see the module docstring for its guarantees."""

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
        self._remove_listener: Callable[[], None] | None = None
        self.tracker = OrderTracker(journal, self.book, self.stamp)
        self.reports = ReportHandler(
            self.tracker, self.book, kill_switch, account=account, run_id=run_id, stamp=self.stamp
        )
        self.submission = OrderSubmission(
            broker, journal, self.tracker, self.book, risk=risk, kill_switch=kill_switch, rate_limiter=rate_limiter,
            run_id=run_id, now=self.now, stamp=self.stamp, on_report=self.on_report, known_intent=self._known_intent,
        )  # fmt: skip
        self.amendments = OrderAmendments(
            broker, self.tracker, self.book, risk=risk, kill_switch=kill_switch, now=self.now, on_report=self.on_report
        )

    @property
    def slicer(self) -> ParticipationSlicer:
        """The participation slicer of this OMS's large orders."""
        return self.submission.slicer

    @property
    def unknown_reports(self) -> list[BrokerReport]:
        """Reports for orders the OMS does not track (reconciliation adopts or loads them)."""
        return self.reports.unknown_reports

    @property
    def on_reconnected(self) -> Callable[[], None] | None:
        """Called when the broker connection is back after a loss (the session reconciles then)."""
        return self.reports.on_reconnected

    @on_reconnected.setter
    def on_reconnected(self, hook: Callable[[], None] | None) -> None:
        self.reports.on_reconnected = hook

    # --- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the active intents, listen to the broker and take the clock, positions and account value from it."""
        for intent in await self.journal.active_intents():
            self.tracker.track_stored(intent)
        trades_today = await self.journal.orders_since(start_of_day(self._clock()))
        self.book.set_trades_today(trades_today, self._clock().date())
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
        self.book.take_account(
            positions={p.instrument_id: p.quantity for p in positions},
            net_liquidation=summary.net_liquidation.amount,
            base_currency=summary.base_currency.code,
            exchange_rates={c.code: r for c, r in summary.exchange_rates.items()},
            multipliers={p.instrument_id: p.multiplier for p in positions},
            currencies={p.instrument_id: p.currency.code for p in positions if p.currency is not None},
            prices={p.instrument_id: p.market_price for p in positions if p.market_price is not None},
        )

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
        return self.tracker.add_listener(listener)

    def get(self, client_order_id: ClientOrderId) -> ManagedOrder | None:
        """The tracked order, or None."""
        return self.tracker.get(client_order_id)

    def find(self, client_order_id: ClientOrderId | None, perm_id: int = 0) -> ManagedOrder | None:
        """The tracked order by our id, else by IB's permId."""
        return self.tracker.find(client_order_id, perm_id)

    def orders(self) -> list[ManagedOrder]:
        """Every tracked order, oldest first."""
        return self.tracker.orders()

    def open_orders(self) -> list[ManagedOrder]:
        """Tracked orders that are not terminal."""
        return self.tracker.open_orders()

    def is_submitting(self, client_order_id: ClientOrderId) -> bool:
        """True while the first submission of this order runs (checked, stored, not yet acknowledged)."""
        return self.submission.is_submitting(client_order_id)

    async def wait_terminal(self, cids: Iterable[ClientOrderId], timeout: float) -> bool:
        """Wait until every order in ``cids`` is terminal; False on timeout."""
        return await self.tracker.wait_terminal(cids, timeout)

    @property
    def slices(self) -> dict[ClientOrderId, asyncio.Task[None]]:
        """Sliced orders still sending children, by the parent's id."""
        return self.slicer.tasks

    # --- submitting, modifying, cancelling ------------------------------------------------------------------------

    async def submit(self, order: Order, *, price: Decimal | None = None, list_id: str | None = None) -> ManagedOrder:
        """Validate, check risk, persist the intent, send; returns the order as acknowledged by the broker.

        ``price`` is the reference price for notional checks when the book has none for the instrument (a market
        order needs one). Raises ``RiskRejected`` naming the rule, ``ValidationError`` for a reused id. The same
        order submitted again while its first submission is still under way waits for that one and shares its
        outcome: only the first ever sends. An order above the participation cap is sliced (``slicer``).
        """
        return await self.submission.submit(order, price=price, list_id=list_id)

    async def submit_list(
        self, order_list: OrderList, *, prices: Mapping[InstrumentId, Decimal] | None = None
    ) -> list[ManagedOrder]:
        """Check and persist every order of a bracket / OCA / OTO list, then send the list as one unit."""
        return await self.submission.submit_list(order_list, prices=prices)

    async def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> ManagedOrder:
        """Change a working order; a larger quantity or a new price goes through the risk checks again."""
        return await self.amendments.modify(
            client_order_id, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )

    async def cancel(self, client_order_id: ClientOrderId) -> ManagedOrder:
        """Ask the broker to cancel; the CANCELLED state arrives as a report (a fill may win the race)."""
        return await self.amendments.cancel(client_order_id)

    async def cancel_all(self) -> list[ManagedOrder]:
        """Cancel every working order the OMS tracks (the kill switch's halt does this)."""
        return await self.amendments.cancel_all()

    # --- broker reports, adoption and marking ---------------------------------------------------------------------

    def on_report(self, report: BrokerReport) -> None:
        """Apply one broker report (the broker listener); never raises."""
        self.reports.on_report(report)

    def apply_status(self, report: OrderStatusReport) -> bool:
        """Move a tracked order to the reported status; returns False for an order the OMS does not track."""
        return self.reports.apply_status(report)

    def apply_fill(self, report: FillReport) -> bool:
        """Record an execution once; returns True when it was new."""
        return self.reports.apply_fill(report)

    def adopt(self, report: OrderStatusReport) -> ManagedOrder:
        """Track an order placed outside quantdesk (by hand in TWS, or by a lost run) under its orderRef or permId."""
        return self.reports.adopt(report)

    def mark(self, managed: ManagedOrder, status: OrderStatus, reason: str) -> None:
        """Force a terminal status the broker cannot report (an order that never reached it, or vanished)."""
        self.reports.mark(managed, status, reason)

    async def load(self, client_order_id: ClientOrderId | None, perm_id: int = 0) -> ManagedOrder | None:
        """Track an order the database knows (a finished one, not loaded at start) by our id or IB's permId."""
        stored = await self.journal.find_intent(client_order_id) if client_order_id is not None else None
        if stored is None and perm_id:
            stored = await self.journal.intent_by_perm_id(perm_id)
        return None if stored is None else self.tracker.track_stored(stored)

    async def _known_intent(self, order: Order) -> ManagedOrder:
        """The intent an earlier run stored under ``order``'s id, tracked with ``order``'s terms."""
        stored = await self.journal.get_intent(order.client_order_id)
        return self.tracker.track_stored(stored, order)

    # --- event logs ------------------------------------------------------------------------------------------

    def log_event(self, cid: ClientOrderId, kind: str, message: str, payload: dict[str, Any] | None = None) -> None:
        """Append a line to an order's event log (also for an order that has no intent of its own)."""
        self.tracker.log_event(cid, kind, message, payload)

    def record_rejection(self, order: Order, now: datetime, exc: RiskRejected) -> None:
        """Store a refused order as a REJECTED intent with the rule's message, and its event."""
        self.submission.record_rejection(order, now, exc)

    def record_risk_event(self, event: RiskEvent) -> None:
        """Persist a risk event (the risk engine's and the kill switch's ``on_event``)."""
        cid = event.client_order_id.value if event.client_order_id is not None else None
        self.tracker.write(RiskEventOp(event.ts, event.rule, event.action, event.message, cid, event.limit,
                                       event.actual))  # fmt: skip
