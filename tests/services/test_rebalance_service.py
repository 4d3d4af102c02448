"""The rebalance use case (``services.rebalance``): dry run, paper execution through the OMS, the live
confirmation callback, orders still working counted by the next run, and a run with nothing to trade."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal

import pytest
from market_support import Market

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.config import LIVE_CONFIRMATION_PHRASE, Settings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import RebalancePlan, TargetWeights
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed
from quantdesk.portfolio.rebalance import RebalanceResult
from quantdesk.services.execution import ExecutionProgress
from quantdesk.services.rebalance import RebalanceRun, rebalance

D = Decimal
ACCOUNT = "DU1234567"
TARGET = TargetWeights.of({"AAPL": 0.05, "MSFT": 0.08, "JPM": 0.02})
LIVE = Settings.model_validate({"mode": "live", "live": {"confirm": LIVE_CONFIRMATION_PHRASE}})


async def holding_aapl() -> tuple[SimulatedBroker, Market]:
    """150 AAPL (15,000 of 100,000: above the 10 % cap, so the plan sells some) and a quote for every symbol."""
    broker = SimulatedBroker({ACCOUNT: 100_000})
    await broker.connect()
    market = Market(broker)
    market.tick()
    await broker.place_order(Order.market(Stock("AAPL"), OrderSide.BUY, 150))
    market.tick()
    return broker, market


class Shell:
    """What a shell supplies: it records the plan shown, answers the confirmation, and times the sending."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.shown: list[tuple[RebalanceResult, dict[str, Decimal]]] = []
        self.asked: list[RebalancePlan] = []
        self.sent: list[int] = []

    def on_plan(self, result: RebalanceResult, pending: Mapping[str, Decimal]) -> None:
        self.shown.append((result, dict(pending)))

    async def confirm(self, plan: RebalancePlan) -> bool:
        self.asked.append(plan)
        return self.answer

    @contextlib.asynccontextmanager
    async def sending(self, plan: RebalancePlan, progress: ExecutionProgress) -> AsyncIterator[None]:
        assert progress.planned == []  # entered before the first order goes out
        yield
        self.sent.append(len(progress.sent))


async def run_with(broker: SimulatedBroker, settings: Settings, shell: Shell, **kwargs: object) -> RebalanceRun:
    return await rebalance(
        broker,
        settings,
        TARGET,
        confirm=shell.confirm,
        on_plan=shell.on_plan,
        sending=shell.sending,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_dry_run_plans_shows_and_sends_nothing() -> None:
    async def main() -> None:
        broker, _ = await holding_aapl()
        shell = Shell()
        run = await run_with(broker, Settings(), shell)
        assert not run.executed
        assert run.execution is None
        assert not run.on_target
        assert [t.instrument for t in run.plan.trades] == ["AAPL", "MSFT", "JPM"]
        assert len(shell.shown) == 1
        assert shell.shown[0][1] == {}
        assert shell.asked == []
        assert shell.sent == []
        assert await broker.open_orders() == []
        assert len(await broker.executions()) == 1  # only the set-up buy

    asyncio.run(main())


def test_an_execution_goes_through_the_oms_sells_first_and_reports_positions_after() -> None:
    async def main() -> None:
        broker, market = await holding_aapl()
        shell = Shell()
        async with market.running():
            run = await run_with(broker, Settings(), shell, execute=True, timeout=10)
        assert run.mode == "paper"
        assert run.executed
        assert not run.declined
        assert shell.asked == []  # paper: no confirmation asked
        assert shell.sent == [3]
        done = run.execution
        assert done is not None
        assert done.outcome == "done", done.to_dict()
        assert [r.side for r in done.reports] == [OrderSide.SELL, OrderSide.BUY, OrderSide.BUY]
        assert all(r.client_order_id is not None for r in done.reports)  # every order carries an OMS intent id
        held = {p.instrument_id.value.split(".")[0]: p.quantity for p in run.positions_after or []}
        assert held == {t.instrument: t.target_quantity for t in run.plan.trades}

        again = await run_with(broker, Settings(), Shell(), execute=True, timeout=10)
        assert again.on_target
        assert again.execution is not None
        assert again.execution.reports == []
        assert again.execution.outcome == "done"

    asyncio.run(main())


def test_orders_still_working_are_counted_by_the_next_run() -> None:
    async def main() -> None:
        broker, _ = await holding_aapl()
        first = await run_with(broker, Settings(), Shell(), execute=True, timeout=0.1)  # no market: the sell waits
        assert first.execution is not None
        assert first.execution.outcome == "working"
        sold = next(t for t in first.plan.trades if t.instrument == "AAPL")
        shell = Shell()
        second = await run_with(broker, Settings(), shell, execute=False)
        assert next(t.instrument for t in second.plan.trades) == "AAPL"  # a dry run does not count working orders
        shell = Shell()
        third = await run_with(broker, Settings(), shell, execute=True, timeout=0.1)
        assert third.pending == {"AAPL": -abs(sold.quantity)}
        assert shell.shown[0][1] == third.pending
        assert "AAPL" not in [t.instrument for t in third.plan.trades]  # the working sell is not ordered twice
        working = [r for r in await broker.open_orders() if r.status is OrderStatus.SUBMITTED]
        assert len([r for r in working if r.instrument_id == Stock("AAPL").id]) == 1

    asyncio.run(main())


def test_live_sends_only_when_the_shell_confirms() -> None:
    async def main() -> None:
        broker, market = await holding_aapl()
        declined = Shell(answer=False)
        run = await run_with(broker, LIVE, declined, execute=True, live=True, timeout=5)
        assert run.mode == "live"
        assert run.declined
        assert run.execution is None
        assert len(declined.asked) == 1
        assert declined.sent == []
        assert await broker.open_orders() == []
        silent = await rebalance(broker, LIVE, TARGET, execute=True, live=True)  # no callback: declined
        assert silent.declined
        assert len(await broker.executions()) == 1
        yes = Shell(answer=True)
        async with market.running():
            sent = await run_with(broker, LIVE, yes, execute=True, live=True, timeout=10)
        assert sent.execution is not None
        assert sent.execution.mode == "live"
        assert sent.execution.outcome == "done"

    asyncio.run(main())


def test_the_live_policy_refuses_before_anything_is_planned() -> None:
    async def main() -> None:
        broker, _ = await holding_aapl()
        shell = Shell()
        with pytest.raises(ConfigError, match="--live"):  # --live with a paper configuration
            await run_with(broker, Settings(), shell, execute=True, live=True)
        with pytest.raises(LiveTradingNotConfirmed) as no_flag:  # a live configuration without --live
            await run_with(broker, LIVE, shell, execute=True)
        assert no_flag.value.field == "--live"
        unconfirmed = Settings.model_validate({"mode": "live"})
        with pytest.raises(LiveTradingNotConfirmed) as no_phrase:
            await run_with(broker, unconfirmed, shell, execute=True, live=True)
        assert no_phrase.value.field == "live.confirm"
        assert shell.shown == []

    asyncio.run(main())
