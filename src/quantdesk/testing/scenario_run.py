"""What every conformance scenario does: open a report tape, start flat, place orders and wait for outcomes.

``scenario_run(h)`` is the context every scenario runs in: it listens to the broker with a ``ReportTape``, picks the
account, cancels the instrument's working orders and closes its position, and removes the listener at the end.
``ScenarioRun.until`` is the one waiting loop: check, let reports arrive, drive the market one step, repeat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.testing.broker_harness import BrokerHarness, ReportTape

__all__ = ["WORKING", "ScenarioRun", "check_fills", "scenario_run"]

BUY, SELL = OrderSide.BUY, OrderSide.SELL
WORKING = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED})
"""The statuses of an order that is at the broker and may still fill."""


@dataclass(slots=True)
class ScenarioRun:
    """One scenario's view: the harness, its report tape and the account traded, with the steps scenarios share."""

    h: BrokerHarness
    tape: ReportTape
    account: AccountId

    @property
    def qty(self) -> Decimal:
        """The size of ordinary orders."""
        return self.h.features.quantity

    async def price(self) -> Decimal:
        """The instrument's current midpoint."""
        quote = await self.h.broker.quote(self.h.instrument)
        return (quote.bid + quote.ask) / 2

    def down(self, price: Decimal) -> Decimal:
        """``price`` rounded down to the tick (at least one tick)."""
        return max(self.h.instrument.round_to_tick(price, ROUND_FLOOR), self.h.instrument.tick_size)

    def up(self, price: Decimal) -> Decimal:
        """``price`` rounded up to the tick."""
        return self.h.instrument.round_to_tick(price, ROUND_CEILING)

    def market(self, side: OrderSide, quantity: Decimal | None = None, tif: TimeInForce = TimeInForce.DAY) -> Order:
        """A market order of the harness account (``quantity`` defaults to ``qty``)."""
        return Order.market(self.h.instrument, side, quantity or self.qty, tif=tif, account=self.account)

    def limit(self, side: OrderSide, price: Decimal) -> Order:
        """A GTC limit order of ``qty``."""
        return Order.limit(self.h.instrument, side, self.qty, price, tif=TimeInForce.GTC, account=self.account)

    def stop(self, side: OrderSide, price: Decimal) -> Order:
        """A GTC stop order of ``qty``."""
        return Order.stop(self.h.instrument, side, self.qty, price, tif=TimeInForce.GTC, account=self.account)

    async def place(self, order: Order) -> OrderStatusReport:
        """Place ``order`` and put its acknowledgement on the tape."""
        ack = await self.h.broker.place_order(order)
        assert ack.client_order_id == order.client_order_id, f"ack for {ack.client_order_id}, not {order}"
        self.tape.record_ack(ack)
        return ack

    async def until(self, predicate: Callable[[], bool], what: str, *, drive: bool = True) -> None:
        """Wait for ``predicate``, driving the market up to ``max_steps`` times when ``drive``."""
        f = self.h.features
        steps = f.max_steps if drive else 0
        for step in range(steps + 1):
            if predicate() or await self.h.wait_for(predicate, f.settle_timeout if drive else f.timeout):
                return
            if step < steps:
                await self.h.drive_market(1)
        raise AssertionError(f"{what} did not happen" + (f" within {steps} market steps" if drive else ""))

    async def filled(self, order: Order) -> None:
        """Drive the market until ``order`` is FILLED with executions adding up to its quantity."""
        cid = order.client_order_id
        await self.until(lambda: self.tape.is_filled(cid, order.quantity), f"fill of {order}")

    async def status(self, cid: ClientOrderId, wanted: frozenset[OrderStatus], *, drive: bool = False) -> None:
        """Wait (driving the market when ``drive``) until the order's reported status is one of ``wanted``."""
        await self.until(
            lambda: self.tape.status(cid) in wanted, f"{sorted(s.value for s in wanted)} of {cid}", drive=drive
        )

    async def working(self, *orders: Order) -> None:
        """Wait until each order is working, and check that none filled at once."""
        for order in orders:
            await self.status(order.client_order_id, WORKING)
            assert self.tape.filled(order.client_order_id) == 0, (
                f"{order} filled at once: {self.tape.describe(order.client_order_id)}"
            )

    async def position(self) -> Decimal:
        """The broker's position in the instrument, for the harness account."""
        reports = await self.h.broker.positions(self.account)
        iid = self.h.instrument.id
        return sum((p.quantity for p in reports if p.instrument_id == iid), Decimal(0))

    async def expect_position(self, expected: Decimal) -> None:
        """Assert the position reaches ``expected`` (waiting for a position report if it lags)."""
        iid = self.h.instrument.id
        if await self.position() != expected:
            await self.h.wait_for(lambda: self.tape.position(self.account, iid) == expected, self.h.features.timeout)
        held = await self.position()
        assert held == expected, f"position in {iid} is {held}, expected {expected}"

    async def open_ids(self) -> set[ClientOrderId | None]:
        """The client order ids of the broker's open orders."""
        return {r.client_order_id for r in await self.h.broker.open_orders()}

    async def flatten(self) -> None:
        """Cancel the working orders of the instrument and close its position."""
        iid = self.h.instrument.id
        working = [r for r in await self.h.broker.open_orders() if r.instrument_id == iid]
        if working:
            await self.h.broker.cancel_all_orders()
            ids = {r.client_order_id for r in working if r.client_order_id is not None}

            def done() -> bool:
                return all(s is not None and s.is_terminal for s in map(self.tape.status, ids))

            await self.h.wait_for(done, self.h.features.timeout)
            left = [r for r in await self.h.broker.open_orders() if r.instrument_id == iid]
            assert not left, f"the global cancel left {len(left)} order(s) of {iid} working"
        held = await self.position()
        if held:
            close = self.market(SELL if held > 0 else BUY, abs(held), TimeInForce.GTC)  # may take several steps
            await self.place(close)
            await self.filled(close)
        await self.expect_position(Decimal(0))


@asynccontextmanager
async def scenario_run(h: BrokerHarness) -> AsyncIterator[ScenarioRun]:
    """Listen with a fresh tape, resolve the account, start flat; remove the listener at the end."""
    tape = ReportTape()
    remove = h.broker.add_listener(tape)
    try:
        account = h.account or (await h.broker.managed_accounts())[0]
        run = ScenarioRun(h, tape, account)
        await run.flatten()
        yield run
    finally:
        remove()


def check_fills(run: ScenarioRun, order: Order) -> None:
    """Assert the order's executions add up to its quantity, on its side, instrument and account."""
    fills = run.tape.fills(order.client_order_id)
    assert fills, f"no execution reported for {order}"
    assert sum(f.quantity for f in fills) == order.quantity, run.tape.describe(order.client_order_id)
    for f in fills:
        assert f.side is order.side, f"{f} does not match {order}"
        assert f.instrument_id == order.instrument.id, f"{f} does not match {order}"
        assert f.account in (None, run.account), f"{f} booked to {f.account}, not {run.account}"
