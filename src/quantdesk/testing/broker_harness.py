"""What the broker conformance suite needs from the side under test: a ``BrokerHarness`` and its features.

A harness wraps one connected ``Broker`` and a way to make its market move. The suite only ever calls the
``Broker`` protocol and these members, so the same scenarios run against ``SimulatedBroker`` (the harness feeds it
bars), the IB adapter through the gateway simulator (the harness advances the gateway's replay) and any third-party
adapter. ``ReportTape`` is the listener the scenarios observe reports with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from quantdesk.brokers.base import Broker, BrokerReport, FillReport, OrderStatusReport, PositionReport
from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.order_state import OrderStatus
from quantdesk.errors import ValidationError

__all__ = ["BrokerHarness", "HarnessFeatures", "ReportTape", "ScenarioSkipped"]


class ScenarioSkipped(Exception):
    """A scenario cannot run on this broker or harness; the message says why (a pytest wrapper skips on it)."""


@dataclass(frozen=True, slots=True)
class HarnessFeatures:
    """What the harness can do and how patient the scenarios are.

    ``quantity``: the size of ordinary orders. ``partial_fill_quantity``: an order size that the venue fills in
    several executions (None: the partial-fill scenario is skipped). ``auctions``: the market can be driven through
    opening and closing auctions (MOO/MOC scenarios). ``short_selling``: the account may go short (also required of
    ``broker.capabilities``). ``buying_power_rejects``: the venue refuses orders beyond the buying power.
    ``max_steps``: how many ``drive_market`` steps a scenario may take waiting for something to happen.
    ``settle_timeout``: seconds to wait for reports after each step; ``timeout``: seconds to wait for reports that
    need no market move (acknowledgements, cancels, rejections).
    """

    quantity: Decimal = Decimal(10)
    partial_fill_quantity: Decimal | None = None
    auctions: bool = False
    short_selling: bool = True
    buying_power_rejects: bool = True
    max_steps: int = 250
    settle_timeout: float = 0.5
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.quantity <= 0 or self.max_steps < 1:
            raise ValidationError(
                "quantity must be positive and max_steps at least 1",
                field="quantity" if self.quantity <= 0 else "max_steps",
                hint="pass e.g. quantity=Decimal(10), max_steps=250",
            )


@runtime_checkable
class BrokerHarness(Protocol):
    """The test side of the conformance suite, implemented once per broker.

    ``drive_market(steps)`` makes ``steps`` new prices of ``instrument`` reach the broker and lets the broker's
    clock pass them, so that resting orders can trigger and fill and DAY orders can expire; it returns once the
    broker has had them. Between calls the market should stand still as far as the harness can arrange it, so that
    a scenario can observe a resting order. A ``SimulatedBroker`` harness feeds the next bar; an IB harness over the
    gateway simulator advances the gateway's replay by one step of the instrument (and waits until the adapter's
    quote shows the new price). ``wait_for(predicate, timeout)`` lets the broker's reports arrive: it returns True
    as soon as ``predicate()`` holds, False once ``timeout`` seconds have passed (a simulated harness may check
    without waiting, as its reports are synchronous).
    """

    @property
    def broker(self) -> Broker:
        """The connected broker under test."""
        ...

    @property
    def instrument(self) -> Instrument:
        """A liquid instrument whose market the harness drives."""
        ...

    @property
    def account(self) -> AccountId | None:
        """The account to trade (None: the broker's first managed account)."""
        ...

    @property
    def features(self) -> HarnessFeatures:
        """What this harness supports."""
        ...

    async def drive_market(self, steps: int = 1) -> None:
        """Move the market ``steps`` data points forward and let the broker process them."""
        ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (True) or ``timeout`` seconds pass (False)."""
        ...


class ReportTape:
    """A listener that records every report, with look-ups by client order id."""

    def __init__(self) -> None:
        self.reports: list[BrokerReport] = []

    def __call__(self, report: BrokerReport) -> None:
        self.reports.append(report)

    def record_ack(self, report: OrderStatusReport) -> None:
        """Record what ``place_order`` returned, unless newer reports of that order already arrived."""
        if not self.order_reports(report.client_order_id):
            self.reports.append(report)

    def order_reports(self, cid: ClientOrderId | None) -> list[OrderStatusReport]:
        """Every status report of one order, in arrival order."""
        return [r for r in self.reports if isinstance(r, OrderStatusReport) and r.client_order_id == cid]

    def last(self, cid: ClientOrderId) -> OrderStatusReport | None:
        """The latest status report of one order."""
        found = self.order_reports(cid)
        return found[-1] if found else None

    def status(self, cid: ClientOrderId) -> OrderStatus | None:
        """The latest reported status of one order."""
        last = self.last(cid)
        return None if last is None else last.status

    def fills(self, cid: ClientOrderId) -> list[FillReport]:
        """The executions of one order, each execution id once."""
        seen: dict[ExecutionId, FillReport] = {}
        for r in self.reports:
            if isinstance(r, FillReport) and r.client_order_id == cid:
                seen.setdefault(r.execution_id, r)
        return list(seen.values())

    def filled(self, cid: ClientOrderId) -> Decimal:
        """The quantity executed for one order."""
        return sum((f.quantity for f in self.fills(cid)), Decimal(0))

    def is_filled(self, cid: ClientOrderId, quantity: Decimal) -> bool:
        """True once the order is reported FILLED and its executions add up to ``quantity``."""
        return self.status(cid) is OrderStatus.FILLED and self.filled(cid) == quantity

    def position(self, account: AccountId, instrument_id: InstrumentId) -> Decimal | None:
        """The latest reported position quantity (None when no position report arrived)."""
        for r in reversed(self.reports):
            if isinstance(r, PositionReport) and r.account == account and r.instrument_id == instrument_id:
                return r.quantity
        return None

    def describe(self, cid: ClientOrderId) -> str:
        """A one-line account of one order, for assertion messages."""
        last = self.last(cid)
        if last is None:
            return f"{cid}: no report"
        why = f", reason {last.reason!r}" if last.reason else ""
        return f"{cid}: {last.status.value}, filled {self.filled(cid)} of {last.quantity}{why}"
