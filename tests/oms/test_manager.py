"""The OMS on the simulated broker, on the in-memory stores, SQLite and PostgreSQL (the ``desk`` fixture): intent
before send, idempotency, fills once, risk, kill switch, modify and cancel, and reconciliation after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from oms_support import ACCOUNT, Desk

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport
from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.trading_state import TradingState
from quantdesk.errors import RiskRejected, ValidationError
from quantdesk.execution import NoFees

D = Decimal
AAPL = Stock("AAPL")
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York: the market is open


class Market:
    """Feeds a two-cent-wide quote for AAPL at 100 to the simulated broker."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self.broker, self.ts = broker, T0

    def tick(self, mid: Decimal = Decimal(100)) -> None:
        self.ts += timedelta(seconds=1)
        self.broker.feed_quote(Quote(AAPL.id, self.ts, mid - D("0.01"), mid + D("0.01")))


class Spy(SimulatedBroker):
    """The simulated broker, counting what it was sent and checking the intent was durable before each send."""

    def __init__(self, desk: Desk) -> None:
        super().__init__({ACCOUNT: 1_000_000})
        self.desk = desk
        self.sent: list[ClientOrderId] = []
        self.intent_seen_before_send: list[bool] = []

    async def place_order(self, order: Order) -> OrderStatusReport:
        self.intent_seen_before_send.append(await self.desk.has_intent(order.client_order_id))
        self.sent.append(order.client_order_id)
        return await super().place_order(order)


async def connected(desk: Desk) -> tuple[Spy, Market]:
    broker = Spy(desk)
    await broker.connect()
    market = Market(broker)
    market.tick()
    return broker, market


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())


def test_an_order_is_persisted_before_it_is_sent_and_its_fill_recorded_once(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        async with desk.session(broker) as session:
            order = Order.market(AAPL, OrderSide.BUY, 100, account=ACCOUNT)
            managed = await session.manager.submit(order, price=D("100"))
            market.tick()
            assert await session.manager.wait_terminal([order.client_order_id], 5)
            assert managed.state.status is OrderStatus.FILLED
        assert broker.intent_seen_before_send == [True]
        intents = desk.read().intents()
        assert [(cid, status) for cid, status, _, _ in intents] == [(order.client_order_id.value, "FILLED")]
        fills = desk.read().fills()
        assert len(fills) == 1
        assert fills[0].quantity == D(100)

    run(main)


def test_submitting_the_same_order_twice_sends_it_once_even_after_a_restart(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        order = Order.limit(AAPL, OrderSide.BUY, 10, D("97"), account=ACCOUNT)
        async with desk.session(broker) as session:
            first = await session.manager.submit(order)
            again = await session.manager.submit(order)
            assert first is again
        async with desk.session(broker) as session:  # a restart: a new OMS, same database
            resumed = await session.manager.submit(order)
            assert resumed.state.status is OrderStatus.SUBMITTED
        assert broker.sent == [order.client_order_id]
        market.tick()

    run(main)


def test_orders_checked_while_others_are_being_stored_count_them(desk: Desk) -> None:
    async def main() -> None:
        broker, _ = await connected(desk)
        async with desk.session(broker, max_trades_per_day=4) as session:
            # net liquidation 1,000,000: at most 10 % = 1,000 AAPL at 100; three 400s submitted at once
            big = [Order.limit(AAPL, OrderSide.BUY, 400, D("99.5"), account=ACCOUNT) for _ in range(3)]
            results = await asyncio.gather(*(session.manager.submit(o, price=D(100)) for o in big),
                                           return_exceptions=True)  # fmt: skip
            assert [type(r).__name__ for r in results] == ["ManagedOrder", "ManagedOrder", "RiskRejected"]
            assert results[2].rule == "max_position"  # type: ignore[union-attr]
            small = [Order.limit(AAPL, OrderSide.BUY, 1, D("99.5"), account=ACCOUNT) for _ in range(3)]
            results = await asyncio.gather(*(session.manager.submit(o, price=D(100)) for o in small),
                                           return_exceptions=True)  # fmt: skip
            assert [getattr(r, "rule", None) for r in results] == [None, None, "max_trades_per_day"]
        assert len(broker.sent) == 4

    run(main)


def test_an_order_checked_while_a_larger_quantity_is_being_confirmed_counts_it(desk: Desk) -> None:
    async def main() -> None:
        broker, _ = await connected(desk)
        original = broker.modify_order

        async def slow_modify(*args: Any, **kw: Any) -> Any:
            await asyncio.sleep(0.05)  # the round trip to the broker
            return await original(*args, **kw)

        broker.modify_order = slow_modify  # type: ignore[method-assign]
        async with desk.session(broker) as session:
            first = Order.limit(AAPL, OrderSide.BUY, 400, D("99.5"), account=ACCOUNT)
            await session.manager.submit(first, price=D(100))
            other = Order.limit(AAPL, OrderSide.BUY, 400, D("99.5"), account=ACCOUNT)  # 800 + 400 > 1,000
            modified, refused = await asyncio.gather(
                session.manager.modify(first.client_order_id, quantity=D(800)),
                session.manager.submit(other, price=D(100)),
                return_exceptions=True,
            )
            assert modified.state.quantity == D(800)  # type: ignore[union-attr]
            assert isinstance(refused, RiskRejected)
            assert refused.rule == "max_position"
            assert session.manager.book.working[AAPL.id] == D(800)

    run(main)


def test_the_same_order_submitted_twice_at_once_is_sent_once(desk: Desk) -> None:
    async def main() -> None:
        broker, _ = await connected(desk)
        async with desk.session(broker) as session:
            order = Order.limit(AAPL, OrderSide.BUY, 10, D("99.5"), account=ACCOUNT)
            first, second = await asyncio.gather(session.manager.submit(order), session.manager.submit(order))
            assert first is second
            assert first.state.status is OrderStatus.SUBMITTED
            refused = Order.limit(AAPL, OrderSide.BUY, 10, D("150"), account=ACCOUNT)  # outside the price band
            results = await asyncio.gather(session.manager.submit(refused), session.manager.submit(refused),
                                           return_exceptions=True)  # fmt: skip
            assert [type(r) for r in results] == [RiskRejected, RiskRejected]
        assert broker.sent == [order.client_order_id]

    run(main)


def test_a_reused_client_order_id_with_other_terms_is_refused(desk: Desk) -> None:
    async def main() -> None:
        broker, _ = await connected(desk)
        order = Order.limit(AAPL, OrderSide.BUY, 10, D("97"), account=ACCOUNT)
        other = Order.limit(AAPL, OrderSide.BUY, 20, D("97"), account=ACCOUNT, client_order_id=order.client_order_id)
        async with desk.session(broker) as session:
            await session.manager.submit(order)
            with pytest.raises(ValidationError, match="in use by another order"):
                await session.manager.submit(other)
        async with desk.session(broker) as session:
            session.manager.tracker._orders.clear()  # forget the memory: the database alone must refuse it
            with pytest.raises(ValidationError, match="stored already for another order"):
                await session.manager.submit(other)
        assert broker.sent == [order.client_order_id]

    run(main)


def test_a_risk_rejection_names_the_rule_and_is_recorded_but_never_sent(desk: Desk) -> None:
    async def main() -> None:
        broker, _ = await connected(desk)
        async with desk.session(broker, max_order_notional=5_000) as session:
            order = Order.market(AAPL, OrderSide.BUY, 100, account=ACCOUNT)
            with pytest.raises(RiskRejected, match="max_order_notional") as caught:
                await session.manager.submit(order, price=D("100"))
            assert "5,000" in str(caught.value)
            assert "10,000" in str(caught.value)
            await session.manager.flush()
        assert broker.sent == []
        intents = desk.read().intents()
        assert [(status, "max_order_notional" in (reason or "")) for _, status, reason, _ in intents] == [
            ("REJECTED", True)
        ]
        events = desk.read().risk_events()
        assert any(rule == "max_order_notional" and action == "rejected" for _, rule, action, *_ in events)

    run(main)


def test_risk_values_an_order_in_another_currency_at_the_accounts_exchange_rate(desk: Desk) -> None:
    sap = Stock("SAP", exchange="IBIS", currency="EUR")

    async def attempt(fx_rates: dict[str, str]) -> RiskRejected:
        broker = SimulatedBroker({ACCOUNT: 1_000_000}, fees=NoFees(), fx_rates=fx_rates)
        await broker.connect()
        broker.feed_quote(Quote(sap.id, T0, D("99.99"), D("100.01")))
        async with desk.session(broker, max_order_notional=10_000) as session:
            order = Order.limit(sap, OrderSide.BUY, 90, D(100), account=ACCOUNT)  # 9,000 EUR: under 10,000 at par
            with pytest.raises(RiskRejected) as caught:
                await session.manager.submit(order, price=D(100))
        assert await broker.open_orders() == []
        return caught.value

    async def main() -> None:
        converted = await attempt({"EUR": "1.25"})
        assert converted.rule == "max_order_notional"
        assert "order notional 11,250.00 USD (9,000.00 EUR at 1.25) is above the limit 10,000.00 USD" in str(converted)
        unrated = await attempt({})
        assert unrated.value == "no EUR/USD rate"
        assert "no exchange rate from EUR to USD" in str(unrated)

    run(main)


def test_halting_cancels_working_orders_refuses_new_ones_and_survives_a_restart(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        resting = Order.limit(AAPL, OrderSide.BUY, 10, D("97"), account=ACCOUNT)
        async with desk.session(broker) as session:
            await session.manager.submit(resting)
            session.kill_switch.halt("test: manual halt")
            market.tick()
            assert await session.manager.wait_terminal([resting.client_order_id], 5)
            assert session.manager.get(resting.client_order_id).state.status is OrderStatus.CANCELLED  # type: ignore[union-attr]
        async with desk.session(broker) as session:
            assert session.kill_switch.state is TradingState.HALTED
            with pytest.raises(RiskRejected, match="HALTED"):
                await session.manager.submit(Order.market(AAPL, OrderSide.BUY, 1, account=ACCOUNT), price=D("100"))
            session.kill_switch.resume("test: resume")
            await session.manager.submit(Order.market(AAPL, OrderSide.BUY, 1, account=ACCOUNT), price=D("100"))
        assert len(broker.sent) == 2

    run(main)


def test_modify_and_cancel_move_the_order_through_its_states(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        order = Order.limit(AAPL, OrderSide.BUY, 10, D("97"), account=ACCOUNT)
        async with desk.session(broker) as session:
            m = await session.manager.submit(order)
            await session.manager.modify(order.client_order_id, quantity=D(20))
            assert m.state.quantity == D(20)
            await session.manager.cancel(order.client_order_id)
            market.tick()
            assert await session.manager.wait_terminal([order.client_order_id], 5)
            assert m.state.status is OrderStatus.CANCELLED
            with pytest.raises(RiskRejected, match="price_band"):
                await session.manager.submit(Order.limit(AAPL, OrderSide.BUY, 1, D("150"), account=ACCOUNT))

    run(main)


def test_reconciliation_adopts_outside_orders_applies_missed_fills_and_closes_unsent_intents(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        async with desk.session(broker) as session:
            working = await session.manager.submit(Order.limit(AAPL, OrderSide.BUY, 5, D("99.5"), account=ACCOUNT))
        # While quantdesk is down: someone trades by hand, and the working order fills.
        by_hand = Order.market(AAPL, OrderSide.BUY, 7, account=ACCOUNT)
        await SimulatedBroker.place_order(broker, by_hand)
        market.tick(D("99"))
        market.tick(D("99"))
        async with desk.session(broker) as session:
            recon = session.reconciliation
            kinds = sorted(b.kind for b in recon.breaks)
            assert "unknown_at_broker_adopted" in kinds, recon.to_dict()
            assert "fill_missing" in kinds, recon.to_dict()
            assert session.manager.get(working.client_order_id).state.status is OrderStatus.FILLED  # type: ignore[union-attr]
            adopted = session.manager.get(by_hand.client_order_id)
            assert adopted is not None
            assert adopted.source == "adopted"
            await session.manager.flush()
            stored = await session.kernel.stores.orders.ledger_positions(ACCOUNT)
            ledger = {instrument.value: quantity for (_, instrument), quantity in stored.items()}
            held = {p.instrument_id.value: p.quantity for p in await broker.positions()}
            assert ledger == held == {AAPL.id.value: D(12)}
            assert recon.count("position_mismatch") == 0

    run(main)


def test_a_fill_reported_twice_is_recorded_once(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        seen: list[BrokerReport] = []
        broker.add_listener(seen.append)
        async with desk.session(broker) as session:
            order = Order.market(AAPL, OrderSide.BUY, 3, account=ACCOUNT)
            await session.manager.submit(order, price=D("100"))
            market.tick()
            assert await session.manager.wait_terminal([order.client_order_id], 5)
            for report in [r for r in seen if isinstance(r, FillReport)]:
                assert not session.manager.apply_fill(report)
            await session.manager.flush()
        assert len(desk.read().fills()) == 1

    run(main)


def test_a_bracket_is_checked_stored_and_sent_as_one_list(desk: Desk) -> None:
    from quantdesk.domain.order_lists import Bracket

    async def main() -> None:
        broker, market = await connected(desk)
        bracket = Bracket.build(AAPL, OrderSide.BUY, 10, D("99.5"), D("102"), D("98"), account=ACCOUNT)
        async with desk.session(broker) as session:
            managed = await session.manager.submit_list(bracket)
            assert [m.state.status for m in managed] == [OrderStatus.SUBMITTED] * 3
            market.tick(D("99"))  # the entry fills; the exits rest
            assert await session.manager.wait_terminal([bracket.orders[0].client_order_id], 5)
            await session.manager.flush()
        intents = desk.read().intents()
        assert {list_id for *_, list_id in intents} == {bracket.orders[0].client_order_id.value}
        assert len(intents) == 3

    run(main)


def test_an_order_above_the_participation_cap_is_sent_in_slices(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        async with desk.session(broker, max_participation_pct=0.1, participation_interval=0.05) as session:
            # cap per interval = 10 % x ADV x 0.05 s / 23,400 s = 10 shares
            session.manager.book.set_average_daily_volumes({AAPL.id: D(46_800_000)})
            order = Order.market(AAPL, OrderSide.BUY, 35, account=ACCOUNT)
            first = await session.manager.submit(order, price=D("100"))
            assert first.client_order_id.value == f"{order.client_order_id.value}.1"
            prefix = order.client_order_id.value
            children: list[Any] = []
            for _ in range(200):
                market.tick()
                await asyncio.sleep(0.02)
                children = [m for m in session.manager.orders() if m.client_order_id.value.startswith(prefix)]
                if not session.manager.slices and all(m.state.is_terminal for m in children):
                    break
            assert [m.state.quantity for m in children] == [D(10), D(10), D(10), D(5)]
            assert all(m.state.status is OrderStatus.FILLED for m in children)
        assert len(broker.sent) == 4

    run(main)


def test_a_sliced_order_submitted_again_is_not_sliced_twice(desk: Desk) -> None:
    async def main() -> None:
        broker, market = await connected(desk)
        async with desk.session(broker, max_participation_pct=0.1, participation_interval=0.3) as session:
            manager = session.manager
            manager.book.set_average_daily_volumes({AAPL.id: D(7_800_000)})  # 10 shares a slice
            order = Order.market(AAPL, OrderSide.BUY, 25, account=ACCOUNT)
            first = await manager.submit(order, price=D("100"))
            again = await manager.submit(order, price=D("100"))
            assert again is first
            family = manager.slicer.family(order.client_order_id)
            assert [c.value for c in family] == [f"{order.client_order_id.value}.{i}" for i in (1, 2, 3)]
            assert manager.slicer.schedule([order.client_order_id]) == pytest.approx(0.6)  # two children to go

            async def ticking() -> None:
                while True:
                    market.tick()
                    await asyncio.sleep(0.01)

            ticker = asyncio.create_task(ticking())
            assert await manager.slicer.wait([order.client_order_id], 5)
            assert await manager.wait_terminal(family, 5)
            ticker.cancel()
            assert [manager.get(c).state.quantity for c in family] == [D(10), D(10), D(5)]  # type: ignore[union-attr]
        assert len(broker.sent) == 3

    run(main)


def test_the_adv_is_learned_from_the_brokers_daily_bars(desk: Desk) -> None:
    from quantdesk.domain.market import Bar, BarSize
    from quantdesk.errors import BrokerError
    from quantdesk.oms.slicing import learn_adv

    msft, jpm = Stock("MSFT"), Stock("JPM")
    days = [
        Bar(AAPL.id, BarSize.DAY_1, T0 - timedelta(days=d), D(100), D(100), D(100), D(100), D(1_000_000 * d))
        for d in range(25, 0, -1)
    ]

    async def main() -> None:
        broker = SimulatedBroker({ACCOUNT: 1_000_000}, bars=days)
        await broker.connect()
        broker.feed_quote(Quote(AAPL.id, T0, D("99.99"), D("100.01")))
        original = broker.historical_bars

        async def failing_for_jpm(instrument: Any, *args: Any, **kw: Any) -> Any:
            if instrument.symbol == "JPM":
                raise BrokerError("no market data permissions for JPM", field="instrument", value="JPM")
            return await original(instrument, *args, **kw)

        broker.historical_bars = failing_for_jpm  # type: ignore[method-assign]
        async with desk.session(broker, adv_days=20) as session:
            learned = await learn_adv(session.manager, [AAPL, msft, jpm])
            assert learned == {AAPL.id: D(10_500_000)}  # the last 20 bars: 20 .. 1 million, mean 10.5 million
            assert session.manager.book.average_daily_volume == learned
            assert await learn_adv(session.manager, [AAPL]) == {}  # known: not asked again
        async with desk.session(broker, disabled_rules=["participation"]) as session:
            assert await learn_adv(session.manager, [AAPL]) == {}
            assert session.manager.book.average_daily_volume == {}

    run(main)


def test_a_falling_probabilistic_sharpe_ratio_moves_the_kill_switch_to_reducing(desk: Desk) -> None:
    async def seed() -> None:  # thirty days of steady losses, ending where the simulated account stands today
        for day in range(30):
            nlv = D(1_000_000) * D("1.002") ** (30 - day) * (D("0.9995") if day % 5 == 0 else D(1))  # no drawdown halt
            await desk.record_equity(T0 - timedelta(days=40 - day), nlv)
        assert len(await desk.read().stores.equity.daily_returns(ACCOUNT)) == 29

    run(seed)

    async def main() -> None:
        broker, _ = await connected(desk)
        async with desk.session(broker, monitor_interval=0.02) as session:
            for _ in range(100):
                if session.kill_switch.state is TradingState.REDUCING:
                    break
                await asyncio.sleep(0.02)
            assert session.kill_switch.state is TradingState.REDUCING
            assert "psr" in session.kill_switch.status.reason.lower()

    run(main)
