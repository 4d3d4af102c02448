"""One simulated venue, two adapters: the same orders give the same fills, figures and refusals on both.

The same sequence (a market order, a limit that rests and then fills, a stop, an order refused for margin, one
refused by the price band, a modify, a cancel and a what-if) goes to ``SimulatedBroker`` and, through
``IBBroker``/``ib_async`` over a real socket, to the gateway simulator. The gateway's market is frozen; every step
moves its clock and feeds the simulated broker the very quote the gateway matches against, again until it fills
nothing more (the gateway's pump matches its frozen quote on every tick, and each pass offers the quote's size
afresh), so both venues see the same prices at the same time. Wire figures are floats: money is compared to the
cent. A second test caps fills by the quote's size and sends a bracket.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.brokers.base import Broker, FillReport
from quantdesk.brokers.ib import IBBroker
from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.config import IBSettings
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import OrderRejected
from quantdesk.execution import FixedHours, MatchingConfig
from quantdesk.gateway import ContractQuery, GatewayConfig, GatewayServer

AAPL = Stock("AAPL")
CASH = 100_000
STEP = 3900.0  # 65 minutes of trading time
CENT = Decimal("0.01")
MAX_DEVIATION = 0.5
GTC = TimeInForce.GTC


@pytest.fixture(autouse=True)
def _order_errors(ib_errors: Any) -> None:
    """IB reports rejects (201) and cancels (202) as errors, which ``ib_async`` logs: the sequence causes both."""
    ib_errors.allow(r"Error 20[12], reqId \d+: Order (rejected|Canceled)")
    ib_errors.allow(r"Error 321, reqId \d+: Error validating request")


@dataclass
class Venues:
    """The gateway and the simulated broker, driven in step."""

    gw: GatewayServer
    ib: IBBroker
    sim: SimulatedBroker
    pumped_at: float = float("-inf")
    reported: dict[str, dict[str, FillReport]] = field(default_factory=lambda: {"sim": {}, "ib": {}})

    def listen(self) -> None:
        """Keep every broker's fill reports by execution id (IB's come again once the commission is known)."""
        for name, broker in (("sim", self.sim), ("ib", self.ib)):
            seen = self.reported[name]

            def on_report(report: object, seen: dict[str, FillReport] = seen) -> None:
                if isinstance(report, FillReport):
                    seen[report.execution_id.value] = report

            broker.add_listener(on_report)

    def quote_at(self, tt: float) -> Quote:
        spec = self.gw.catalog.resolve(ContractQuery(symbol="AAPL", sec_type="STK", currency="USD"))
        assert spec is not None
        q = self.gw.market.quote(spec, tt)
        ts = self.gw.calendar.to_datetime(tt)
        return Quote(AAPL.id, ts, Decimal(repr(q.bid)), Decimal(repr(q.ask)), Decimal(q.bid_size), Decimal(q.ask_size))

    async def step_to(self, tt: float) -> Quote:
        """Move both markets to trading time ``tt``: the gateway's clock (then wait for its pump), the quote fed."""
        self.gw.clock.set(tt)
        assert await wait_for(lambda: self.pumped_at >= tt), "the gateway's pump stalled"
        quote = self.quote_at(tt)
        for _ in range(100):  # the gateway's pump matches its (frozen) quote on every tick: so does this feed
            if not self.sim.feed_quote(quote):
                break
        await asyncio.sleep(0.05)  # let the gateway's replies reach IBBroker
        return quote

    async def both(self, call: Callable[[Broker], Awaitable[Any]]) -> tuple[Any, Any]:
        return await call(self.sim), await call(self.ib)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def fills(reports: list[FillReport], cid: ClientOrderId) -> list[tuple[Decimal, Decimal, Decimal | None]]:
    return [
        (f.quantity, f.price, None if f.commission is None else f.commission.amount)
        for f in reports
        if f.client_order_id == cid
    ]


async def same_fills(venues: Venues, cid: ClientOrderId) -> list[tuple[Decimal, Decimal, Decimal | None]]:
    """The simulated broker's fills of ``cid``, once the gateway's (commissions included) are the same."""
    expected = fills(list(venues.reported["sim"].values()), cid)
    got: list[tuple[Decimal, Decimal, Decimal | None]] = []
    for _ in range(200):
        got = fills(list(venues.reported["ib"].values()), cid)
        if len(got) >= len(expected) and all(c is not None for _, _, c in got):
            break
        await asyncio.sleep(0.02)
    assert expected == got, f"{cid}: simulated {expected} != gateway {got}"
    return expected


async def settled(venues: Venues, cid: ClientOrderId, status: OrderStatus) -> tuple[Any, Any]:
    """Both brokers' reports of ``cid`` once the IB side shows ``status``."""
    for _ in range(200):
        ib = await venues.ib.order_status(cid)
        if ib.status is status:
            break
        await asyncio.sleep(0.02)
    return await venues.both(lambda b: b.order_status(cid))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


async def assert_same_accounts(venues: Venues) -> None:
    # the gateway pushes account values when they change by a fill (IB also every few minutes): push them now,
    # marked at the current quote, as the periodic update would
    for account in venues.gw.accounts.ids:
        venues.gw.publish_account(account)
    await asyncio.sleep(0.1)
    sim, ib = await venues.both(lambda b: b.account_summary())
    for name in ("net_liquidation", "buying_power", "initial_margin", "maintenance_margin", "excess_liquidity"):
        a, b = getattr(sim, name), getattr(ib, name)
        assert cents(a.amount) == cents(b.amount), f"{name}: simulated {a} != gateway {b}"
    assert cents(sim.cash[sim.base_currency]) == cents(ib.cash[ib.base_currency])
    sim_pos, ib_pos = await venues.both(lambda b: b.positions())
    assert {(p.quantity, cents(p.average_cost)) for p in sim_pos} == {
        (p.quantity, cents(p.average_cost)) for p in ib_pos
    }


def margin_figures(reason: str | None) -> list[str]:
    """The two money figures of a margin refusal (equity with loan value after, initial margin after)."""
    return re.findall(r"\d+\.\d\d", reason or "")


async def run_sequence(venues: Venues) -> None:
    tt = venues.gw.clock.now_tt()
    q0 = await venues.step_to(tt)
    account = (await venues.ib.managed_accounts())[0]
    sim_account = (await venues.sim.managed_accounts())[0]
    assert account == sim_account

    # look ahead: the lowest ask and the lowest bid of the coming steps
    ahead = [venues.quote_at(tt + k * STEP) for k in range(1, 13)]
    low_ask = min(q.ask for q in ahead)
    assert low_ask < q0.bid, "the replay must fall below the first bid for the resting limit to fill"

    # 1. a market order fills at the ask
    buy = Order.market(AAPL, "BUY", 100, client_order_id=ClientOrderId("par-mkt"), tif=GTC)
    await venues.both(lambda b: b.place_order(buy))
    await venues.step_to(tt)  # the simulated broker fills on the next data, the gateway on the quote it has
    await settled(venues, buy.client_order_id, OrderStatus.FILLED)
    assert (await same_fills(venues, buy.client_order_id))[0][1] == q0.ask
    await assert_same_accounts(venues)

    # 2. a limit rests at the coming low, a second one is modified then cancelled, a stop waits below the market
    rest = Order.limit(AAPL, "BUY", 50, low_ask, client_order_id=ClientOrderId("par-lmt"), tif=GTC)
    other = Order.limit(
        AAPL, "BUY", 30, cents(q0.bid * Decimal("0.9")), client_order_id=ClientOrderId("par-mod"), tif=GTC
    )
    stop = Order.stop(
        AAPL, "SELL", 40, cents(low_ask + (q0.bid - low_ask) / 2), client_order_id=ClientOrderId("par-stp"), tif=GTC
    )
    for order in (rest, other, stop):
        sim_r, ib_r = await venues.both(lambda b, o=order: b.place_order(o))
        assert not sim_r.status.is_terminal
        assert not ib_r.status.is_terminal
    await asyncio.sleep(0.1)
    new_price = cents(q0.bid * Decimal("0.85"))
    await venues.sim.modify_order(other.client_order_id, quantity=Decimal(20), limit_price=new_price)
    await venues.ib.modify_order(other.client_order_id, quantity=Decimal(20), limit_price=new_price)
    await asyncio.sleep(0.1)
    sim_m, ib_m = await venues.both(lambda b: b.order_status(other.client_order_id))
    assert (sim_m.quantity, sim_m.limit_price) == (ib_m.quantity, ib_m.limit_price) == (Decimal(20), new_price)
    too_far = cents(q0.bid * Decimal("0.3"))
    for broker in (venues.sim, venues.ib):
        with pytest.raises(OrderRejected, match="away from the market price"):
            await broker.modify_order(other.client_order_id, limit_price=too_far)
    refusals = []
    for broker in (venues.sim, venues.ib):
        with pytest.raises(OrderRejected) as refused:
            await broker.modify_order(other.client_order_id, quantity=Decimal(5_000))
        refusals.append(margin_figures(str(refused.value)))
    assert refusals[0] == refusals[1] != [], "the margin check refuses the same modify with the same figures"
    sim_m, ib_m = await venues.both(lambda b: b.order_status(other.client_order_id))
    assert sim_m.limit_price == ib_m.limit_price == new_price  # a refused modify leaves the order as it was
    assert sim_m.quantity == ib_m.quantity == Decimal(20)
    await venues.both(lambda b: b.cancel_order(other.client_order_id))
    sim_c, ib_c = await settled(venues, other.client_order_id, OrderStatus.CANCELLED)
    assert sim_c.status is ib_c.status is OrderStatus.CANCELLED

    # 3. a what-if of a large buy: the same margins and commission
    big = Order.market(AAPL, "BUY", 300, client_order_id=ClientOrderId("par-whatif"), tif=GTC)
    sim_w, ib_w = await venues.both(lambda b: b.what_if(big))
    assert cents(sim_w.init_margin_change) == cents(ib_w.init_margin_change)
    assert cents(sim_w.maint_margin_change) == cents(ib_w.maint_margin_change)
    assert cents(sim_w.equity_with_loan_after) == cents(ib_w.equity_with_loan_after)
    assert sim_w.commission.amount == ib_w.commission.amount
    assert sim_w.warning is None
    assert ib_w.warning is None
    for name, order, refused in (
        (
            "limit sell",
            Order.limit(AAPL, "SELL", 250, cents(q0.ask * Decimal("1.05")), client_order_id=ClientOrderId("w1")),
            False,
        ),
        ("beyond the margin", Order.market(AAPL, "BUY", 10_000, client_order_id=ClientOrderId("w2")), True),
    ):
        sim_w, ib_w = await venues.both(lambda b, o=order: b.what_if(o))
        for field_name in ("init_margin_change", "maint_margin_change", "equity_with_loan_after"):
            a, b = getattr(sim_w, field_name), getattr(ib_w, field_name)
            assert cents(a) == cents(b), f"what-if of a {name}: {field_name} {a} != {b}"
        assert sim_w.commission.amount == ib_w.commission.amount, name
        assert (sim_w.warning is not None) is (ib_w.warning is not None) is refused, name

    # 4. refusals: an order too big for the margin, a limit price too far from the market
    huge = Order.market(AAPL, "BUY", 10_000, client_order_id=ClientOrderId("par-margin"), tif=GTC)
    sim_r, ib_r = await venues.both(lambda b: b.place_order(huge))
    sim_r, ib_r = await settled(venues, huge.client_order_id, OrderStatus.REJECTED)
    assert sim_r.status is ib_r.status is OrderStatus.REJECTED
    assert sim_r.error_code == ib_r.error_code == 201
    assert margin_figures(sim_r.reason) == margin_figures(ib_r.reason) != []
    far = Order.limit(
        AAPL, "BUY", 10, cents(q0.bid * Decimal("0.3")), client_order_id=ClientOrderId("par-band"), tif=GTC
    )
    await venues.both(lambda b: b.place_order(far))
    sim_r, ib_r = await settled(venues, far.client_order_id, OrderStatus.REJECTED)
    assert sim_r.status is ib_r.status is OrderStatus.REJECTED
    assert sim_r.error_code == ib_r.error_code == 201
    assert "away from the market price" in (sim_r.reason or "")
    assert "away from the market price" in (ib_r.reason or "")

    # 5. the market falls: the stop triggers and sells, the limit fills
    for k in range(1, 13):
        await venues.step_to(tt + k * STEP)
    for order in (rest, stop):
        sim_s, ib_s = await settled(venues, order.client_order_id, OrderStatus.FILLED)
        assert sim_s.status is ib_s.status is OrderStatus.FILLED, order.client_order_id
    for order in (rest, stop):
        assert await same_fills(venues, order.client_order_id)
    await assert_same_accounts(venues)

    # 6. a short sale beyond the position, then trailing and stop orders on the short, over three more sessions
    tt += 12 * STEP
    q1 = venues.quote_at(tt)
    short = Order.market(AAPL, "SELL", 200, client_order_id=ClientOrderId("par-short"), tif=GTC)
    await venues.both(lambda b: b.place_order(short))
    await venues.step_to(tt)
    await settled(venues, short.client_order_id, OrderStatus.FILLED)
    assert await same_fills(venues, short.client_order_id)
    await assert_same_accounts(venues)
    tick = AAPL.tick_size
    later = [
        Order.trailing_stop(
            AAPL, "BUY", 30, trailing_amount=cents(q1.ask * Decimal("0.01")),
            client_order_id=ClientOrderId("par-trail"), tif=GTC,
        ),
        Order.stop_limit(
            AAPL, "BUY", 20, cents(q1.ask * Decimal("1.01")), cents(q1.ask * Decimal("1.02")),
            client_order_id=ClientOrderId("par-stplmt"), tif=GTC,
        ),
        Order.trailing_stop_limit(
            AAPL, "BUY", 10, limit_offset=tick * 5, trailing_percent=Decimal("0.5"),
            client_order_id=ClientOrderId("par-traillmt"), tif=GTC,
        ),
    ]  # fmt: skip
    for order in later:
        await venues.both(lambda b, o=order: b.place_order(o))
    await asyncio.sleep(0.1)
    for k in range(1, 19):
        await venues.step_to(tt + k * STEP)
    await asyncio.sleep(0.1)
    for order in later:
        sim_s, ib_s = await settled(venues, order.client_order_id, OrderStatus.FILLED)
        assert (sim_s.status, sim_s.filled_quantity) == (ib_s.status, ib_s.filled_quantity), order.client_order_id
        assert await same_fills(venues, order.client_order_id), f"{order.client_order_id} should have filled"
    await assert_same_accounts(venues)


@contextlib.asynccontextmanager
async def in_step(*, respect_quote_size: bool = False) -> AsyncIterator[Venues]:
    """A frozen gateway with ``IBBroker`` connected, and a simulated broker configured as the gateway's venue."""
    config = GatewayConfig(
        speed=0,
        tick_interval=0.01,
        seed=1,
        cash=CASH,
        respect_quote_size=respect_quote_size,
        max_price_deviation=MAX_DEVIATION,
    )
    async with GatewayServer(config) as gw:
        ib = IBBroker(IBSettings(port=gw.port, connect_timeout=3.0, request_timeout=5.0), backoff_base=0.05)
        sim = SimulatedBroker(
            {config.accounts[0]: CASH},
            start=gw.clock.now(),
            calendar=FixedHours.us_equities(),
            matching=MatchingConfig(respect_quote_size=respect_quote_size),
            max_price_deviation=MAX_DEVIATION,
        )
        venues = Venues(gw, ib, sim)

        def on_pump(tt: float) -> None:
            venues.pumped_at = tt

        remove = gw.add_pump_hook(on_pump)
        venues.listen()
        await ib.connect()
        await sim.connect()
        try:
            yield venues
        finally:
            remove()
            await ib.close()


def test_the_simulated_broker_and_the_gateway_agree() -> None:
    async def main() -> None:
        async with in_step() as venues:
            await run_sequence(venues)

    asyncio.run(main())


def test_partial_fills_and_a_bracket_agree() -> None:
    """Quote sizes cap each fill; a bracket's exits wait for its entry, then one of them closes the position."""

    async def main() -> None:
        async with in_step(respect_quote_size=True) as venues:
            tt = venues.gw.clock.now_tt()
            await venues.step_to(tt)
            big = Order.market(AAPL, "BUY", 1_000, client_order_id=ClientOrderId("par-big"), tif=GTC)
            await venues.both(lambda b: b.place_order(big))
            await venues.step_to(tt)
            for k in range(1, 7):
                await venues.step_to(tt + k * STEP)
            sim_s, ib_s = await venues.both(lambda b: b.order_status(big.client_order_id))
            assert (sim_s.status, sim_s.filled_quantity) == (ib_s.status, ib_s.filled_quantity)
            assert len(await same_fills(venues, big.client_order_id)) > 1, "the quote sizes split the order"
            await assert_same_accounts(venues)

            tt += 6 * STEP
            q1 = venues.quote_at(tt)
            bracket = Bracket.build(
                AAPL, "BUY", 100, q1.ask, cents(q1.ask * Decimal("1.01")), cents(q1.ask * Decimal("0.99")),
                tif=GTC,
            )  # fmt: skip
            await venues.both(lambda b: b.place_order_list(bracket))
            await venues.step_to(tt)
            for k in range(1, 25):
                await venues.step_to(tt + k * STEP)
            expected = (OrderStatus.FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED)  # the profit taken
            for order, status in zip(bracket.orders, expected, strict=True):
                cid = order.client_order_id
                sim_s, ib_s = await settled(venues, cid, status)
                assert sim_s.status is ib_s.status is status, cid
                assert sim_s.filled_quantity == ib_s.filled_quantity, cid
                await same_fills(venues, cid)
            await assert_same_accounts(venues)

    asyncio.run(main())
