"""Portfolio services: plans from files and from a broker, and plans executed on the simulated broker."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from market_support import T0, Market

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.config import LIVE_CONFIRMATION_PHRASE, Settings
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar, BarSize
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import RebalancePlan, TargetWeights
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed, NotFound
from quantdesk.services import brokers, execution
from quantdesk.services import portfolio as svc

D = Decimal
ACCOUNT = "DU1234567"


async def broker_holding(shares: dict[str, int], cash: int = 100_000) -> tuple[SimulatedBroker, Market]:
    broker = SimulatedBroker({ACCOUNT: cash})
    await broker.connect()
    market = Market(broker)
    market.tick()
    for sym, qty in shares.items():
        await broker.place_order(Order.market(Stock(sym), OrderSide.BUY, qty))
    market.tick()
    return broker, market


async def positions(broker: SimulatedBroker) -> dict[str, Decimal]:
    return {p.instrument_id.value.split(".")[0]: p.quantity for p in await broker.positions() if p.quantity}


def test_plan_from_broker_then_execute_sells_first_and_reaches_the_plan() -> None:
    async def main() -> None:
        broker, market = await broker_holding({"AAPL": 150})  # 15,000 of AAPL: above the 10 % cap
        target = TargetWeights.of({"AAPL": 0.05, "MSFT": 0.08, "JPM": 0.02})
        result = await svc.plan_from_broker(target, broker, Settings())
        plan = result.plan
        assert plan.account == AccountId(ACCOUNT)
        assert [t.side for t in plan.orders_in_execution_order] == [OrderSide.SELL, OrderSide.BUY, OrderSide.BUY]
        placed: list[tuple[str, list[OrderStatus]]] = []
        original = broker.place_order

        async def spy(order: Order) -> object:
            earlier = [r.status for r in await broker.open_orders()]
            placed.append((order.side.value, earlier))
            return await original(order)

        broker.place_order = spy  # type: ignore[method-assign]
        async with market.running():
            done = await execution.execute_plan(plan, broker, Settings(), timeout=10, poll_interval=0.02)
        assert done.mode == "paper"
        assert done.complete, done.to_dict()
        assert [side for side, _ in placed] == ["SELL", "BUY", "BUY"]
        assert placed[1][1] == []  # the sell had filled (nothing working) before the first buy went out
        held = await positions(broker)
        assert held == {t.instrument: t.target_quantity for t in plan.trades}
        assert all(r.status is OrderStatus.FILLED for r in done.reports)
        assert done.to_dict()["orders"][0]["side"] == "SELL"

    asyncio.run(main())


async def broker_with_msft_volume() -> tuple[SimulatedBroker, Market]:
    """MSFT trades 280.8 million shares a day: 10 % of one 0.05 s interval is 60 shares."""
    days = [
        Bar(Stock("MSFT").id, BarSize.DAY_1, T0 - timedelta(days=d), D(50), D(50), D(50), D(50), D(280_800_000))
        for d in range(30, 0, -1)
    ]
    broker = SimulatedBroker({ACCOUNT: 100_000}, bars=days)
    await broker.connect()
    market = Market(broker)
    market.tick()
    return broker, market


def test_an_order_above_the_participation_cap_goes_out_in_slices_sized_by_the_brokers_volume() -> None:
    async def main() -> None:
        broker, market = await broker_with_msft_volume()
        plan = (await svc.plan_from_broker(TargetWeights.of({"MSFT": 0.08, "JPM": 0.02}), broker, Settings())).plan
        cfg = Settings.model_validate({"risk": {"participation_interval": 0.05}})
        async with market.running():
            done = await execution.execute_plan(plan, broker, cfg, timeout=10)
        assert done.complete, done.to_dict()
        by_symbol = [(r.instrument_id.value.split(".")[0], r.quantity, r.status) for r in done.reports]
        assert by_symbol == [
            ("MSFT", D(60), OrderStatus.FILLED),
            ("MSFT", D(60), OrderStatus.FILLED),
            ("MSFT", D(40), OrderStatus.FILLED),
            ("JPM", D(100), OrderStatus.FILLED),  # no daily bars: no ADV, so not sliced
        ]
        ids = [r.client_order_id.value for r in done.reports[:3]]
        assert ids == [f"{ids[0][:-2]}.{i}" for i in (1, 2, 3)]
        assert await positions(broker) == {"MSFT": D(160), "JPM": D(100)}

    asyncio.run(main())


def test_slices_that_were_never_sent_are_reported_as_skipped() -> None:
    async def main() -> None:
        broker, market = await broker_with_msft_volume()
        plan = (await svc.plan_from_broker(TargetWeights.of({"MSFT": 0.08}), broker, Settings())).plan
        cfg = Settings.model_validate({"risk": {"participation_interval": 0.05, "max_trades_per_day": 1}})
        async with market.running():
            done = await execution.execute_plan(plan, broker, cfg, timeout=5)
        assert not done.complete
        assert [(r.quantity, r.status) for r in done.reports] == [(D(60), OrderStatus.FILLED)]
        assert [o.quantity for o in done.skipped] == [D(60), D(40)]  # the second slice hit max_trades_per_day
        assert "2 slice(s) not sent" in (done.reason or "")

    asyncio.run(main())


def test_buys_are_held_back_while_a_sell_is_still_working() -> None:
    async def main() -> None:
        broker, _ = await broker_holding({"AAPL": 150})
        target = TargetWeights.of({"AAPL": 0.05, "MSFT": 0.05})
        plan = (await svc.plan_from_broker(target, broker, Settings())).plan
        done = await execution.execute_plan(
            plan, broker, Settings(), timeout=0.1, poll_interval=0.02
        )  # no market: no fill
        assert not done.complete
        assert [r.status for r in done.reports] == [OrderStatus.SUBMITTED]
        assert [o.instrument.symbol for o in done.skipped] == ["MSFT"]
        assert "buys held back" in (done.reason or "")

    asyncio.run(main())


def test_live_needs_confirmation_and_paper_refuses_a_live_account() -> None:
    plan = RebalancePlan(T0, (), D(1000), D(1000), account=AccountId("U7654321"))

    async def main() -> None:
        broker = SimulatedBroker({ACCOUNT: 1000})
        await broker.connect()
        with pytest.raises(LiveTradingNotConfirmed):
            await execution.execute_plan(plan, broker, Settings.model_validate({"mode": "live"}))
        with pytest.raises(ConfigError, match="live account"):
            await execution.execute_plan(plan, broker, Settings())
        with pytest.raises(ConfigError, match="--live"):
            await execution.execute_plan(plan, broker, Settings(), confirm_live=True)
        with pytest.raises(LiveTradingNotConfirmed):  # --live alone: live.confirm is needed too
            await execution.execute_plan(plan, broker, Settings.model_validate({"mode": "live"}), confirm_live=True)
        confirmed = Settings.model_validate({"mode": "live", "live": {"confirm": LIVE_CONFIRMATION_PHRASE}})
        with pytest.raises(LiveTradingNotConfirmed):  # live.confirm alone: --live is needed too
            await execution.execute_plan(plan, broker, confirmed)
        live = await execution.execute_plan(plan, broker, confirmed, confirm_live=True)
        assert live.mode == "live"
        assert live.reports == []
        assert live.complete

    asyncio.run(main())


def test_plan_from_file_uses_config_and_options(tmp_path: Path) -> None:
    f = tmp_path / "positions.csv"
    f.write_text("symbol,quantity\nAAPL,30\nCASH,7000\n")
    target = TargetWeights.of({"AAPL": 0.3, "MSFT": 0.5})
    result = svc.plan_from_file(target, f, {"AAPL": 100, "MSFT": 50}, Settings())
    assert result.line("AAPL").target_quantity == 10  # the config's 10 % max position
    assert result.line("MSFT").target_quantity == 19  # 20 at the buy limit (50 + 0.1 %) would pass 1,000
    loose = Settings.model_validate({"risk": {"max_position_pct": 1.0}})
    opts = svc.RebalanceOptions(band=D("0.05"), cash_buffer=D("0.02"))
    result = svc.plan_from_file(target, f, {"AAPL": 100, "MSFT": 50}, loose, options=opts)
    assert result.line("AAPL").target_quantity == 30  # drift 0.6 pp inside the 5 pp band
    assert result.line("MSFT").target_quantity == 98  # 0.5 × 10,000 × 0.98 / 50
    assert result.cash_reserve == 200


def test_universe_prices_and_last_prices(tmp_path: Path) -> None:
    sample = svc.universe_prices("sample")
    assert sample.shape[1] == 20
    two = svc.universe_prices("sample:AAPL, MSFT")
    assert list(two.columns) == ["AAPL", "MSFT"]
    last = svc.last_prices(two)
    assert set(last) == {"AAPL", "MSFT"}
    assert all(p == p.quantize(D("0.01")) for p in last.values())
    f = tmp_path / "closes.csv"
    pd.DataFrame({"X": [1.0, 2.0], "Y": [3.0, 4.5]}, index=["2024-01-02", "2024-01-03"]).to_csv(f)
    assert svc.last_prices(svc.universe_prices(str(f))) == {"X": D("2.00"), "Y": D("4.50")}
    with pytest.raises(NotFound) as exc:
        svc.universe_prices("nasdaq100")
    assert exc.value.field == "universe"


def test_execute_against_the_gateway_twice_positions_equal_each_plan() -> None:
    """The in-process TWS simulator with the IB adapter: buy into a target, then rebalance to another (sells first)."""

    async def main() -> None:
        cfg = Settings()
        async with brokers.open_broker("gateway", cfg) as broker:
            for weights in ({"AAPL": 0.05, "MSFT": 0.05}, {"MSFT": 0.08, "JPM": 0.04}):
                result = await svc.plan_from_broker(TargetWeights.of(weights), broker, cfg)
                assert result.plan.account is not None
                assert result.plan.account.is_paper
                done = await execution.execute_plan(result.plan, broker, cfg, timeout=30)
                assert done.complete, done.to_dict()
                held = await svc.snapshot_from_broker(broker)
                want = {ln.symbol: ln.target_quantity for ln in result.lines if ln.target_quantity}
                assert dict(held.positions) == want
            assert [r.side for r in done.reports] == [OrderSide.SELL, OrderSide.BUY, OrderSide.BUY]  # AAPL out first

    asyncio.run(main())


def test_the_in_process_gateway_keeps_its_bars_beside_its_account_labelled_simulated() -> None:
    """The adapter on the simulator stores what it fetches (daily bars for the ADV) under ``<data_dir>/gateway``
    as ``gateway-sim``: the user's own bar store never receives simulator bars."""
    from quantdesk.data.bar_store import BarStore

    async def main() -> None:
        cfg = Settings()
        async with brokers.open_broker("gateway", cfg) as broker:
            end = (await broker.quote(Stock("AAPL"))).ts
            bars = await broker.historical_bars(Stock("AAPL"), BarSize.DAY_1, end - timedelta(days=20), end)
            assert bars
        data_dir = Path(cfg.paths.data_dir)
        assert not (data_dir / "bars").exists()
        sim = BarStore.in_data_dir(data_dir / "gateway")
        assert {e.source for e in sim.list()} == {"gateway-sim"}

    asyncio.run(main())
