"""The broker conformance suite against ``SimulatedBroker``, on the real AAPL daily bars of the S&P 500 sample.

Two harnesses: a Reg-T margin account with every feature, and a cash account whose capability table lacks
trailing stop-limits (so the "unsupported" rejection and the short-selling skip are exercised). A third part
checks that the suite fails brokers that break the contract, so a green run means something.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.brokers.base import Broker, FillReport
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.data.sources.sample import SampleSource
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Instrument, Stock
from quantdesk.domain.market import Bar, BarSize
from quantdesk.domain.order_types import OrderType
from quantdesk.errors import NotFound
from quantdesk.execution import ExchangeSessions, MatchingConfig
from quantdesk.execution.margin import MarginPolicy
from quantdesk.testing import SCENARIOS, BrokerHarness, HarnessFeatures, ScenarioSkipped, run_scenario

AAPL = Stock("AAPL")
ACCOUNT = AccountId("DU1234567")
FEATURES = HarnessFeatures(quantity=Decimal(10), partial_fill_quantity=Decimal(25_000), auctions=True, max_steps=250)
NO_TRAILING_LIMIT = BrokerCapabilities(
    name="simulated-cash",
    order_types=frozenset(OrderType) - {OrderType.TRAILING_STOP_LIMIT},
    short_selling=False,
)


@functools.lru_cache(maxsize=1)
def sample_bars() -> tuple[Bar, ...]:
    """AAPL daily bars from 2019 on, exactly as the sample source derives them from real closes."""
    frame = SampleSource().load("AAPL", start="2019-01-01")["AAPL"]
    rows = frame[["open", "high", "low", "close", "volume"]].itertuples(index=True, name=None)
    return tuple(Bar.of(AAPL.id, BarSize.DAY_1, ts.to_pydatetime(), o, h, lo, c, v) for ts, o, h, lo, c, v in rows)


class SimulatedHarness:
    """Drives a ``SimulatedBroker`` with the sample's daily bars, one bar per step."""

    def __init__(self, broker: SimulatedBroker, features: HarnessFeatures = FEATURES) -> None:
        self._broker = broker
        self._features = features
        self._bars = iter(sample_bars())
        self.steps = 0

    @classmethod
    async def create(
        cls,
        *,
        broker_type: type[SimulatedBroker] = SimulatedBroker,
        margin: MarginPolicy | None = None,
        capabilities: BrokerCapabilities | None = None,
        features: HarnessFeatures = FEATURES,
    ) -> SimulatedHarness:
        broker = broker_type(
            {ACCOUNT: 10_000_000},
            matching=MatchingConfig(max_volume_participation=Decimal("0.01")),
            calendar=ExchangeSessions("XNYS"),
            margin=margin,
            capabilities=capabilities,
        )
        await broker.connect()
        harness = cls(broker, features)
        await harness.drive_market()
        return harness

    @property
    def broker(self) -> Broker:
        return self._broker

    @property
    def instrument(self) -> Instrument:
        return AAPL

    @property
    def account(self) -> AccountId | None:
        return ACCOUNT

    @property
    def features(self) -> HarnessFeatures:
        return self._features

    async def drive_market(self, steps: int = 1) -> None:
        for _ in range(steps):
            bar = next(self._bars, None)
            assert bar is not None, "the sample ran out of bars"
            self._broker.feed_bar(bar)
            self.steps += 1

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        for _ in range(3):  # reports are synchronous: nothing arrives later
            if predicate():
                return True
            await asyncio.sleep(0)
        return predicate()


def run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coro)
    except ScenarioSkipped as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_margin_account_passes(name: str) -> None:
    async def main() -> None:
        harness = await SimulatedHarness.create()
        assert isinstance(harness, BrokerHarness)
        await SCENARIOS[name](harness)

    run(main())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_cash_account_without_trailing_limits_passes(name: str) -> None:
    async def main() -> None:
        harness = await SimulatedHarness.create(margin=MarginPolicy.cash_account(), capabilities=NO_TRAILING_LIMIT)
        await SCENARIOS[name](harness)

    run(main())


def test_a_shared_harness_runs_every_scenario_in_turn() -> None:
    """Scenarios start flat themselves, so one broker can run the whole suite (as one gateway session would)."""

    async def main() -> list[str]:
        harness = await SimulatedHarness.create()
        skipped = []
        for name in SCENARIOS:
            try:
                await run_scenario(harness, name)
            except ScenarioSkipped:
                skipped.append(name)
        assert harness.steps < 1000, "the scenarios should not need years of data"
        return skipped

    assert asyncio.run(main()) == ["reject_unsupported"]  # the default capability table supports everything


def test_scenarios_skip_what_the_harness_cannot_do() -> None:
    bare = HarnessFeatures(auctions=False, partial_fill_quantity=None, short_selling=False, buying_power_rejects=False)

    async def main(name: str) -> None:
        await run_scenario(await SimulatedHarness.create(features=bare), name)

    for name in ("market_on_close", "market_on_open", "partial_fills", "reverse_position"):
        with pytest.raises(ScenarioSkipped):
            asyncio.run(main(name))
    with pytest.raises(ScenarioSkipped, match="supports every feature"):
        asyncio.run(main("reject_unsupported"))
    with pytest.raises(ScenarioSkipped, match="buying power"):
        asyncio.run(main("reject_insufficient_buying_power"))
    with pytest.raises(NotFound, match="no conformance scenario"):
        asyncio.run(main("no_such_scenario"))


# --- the suite fails brokers that break the contract --------------------------------------------------------------


class ListsExecutionsTwice(SimulatedBroker):
    async def executions(self, since: Any = None) -> list[FillReport]:
        found = await super().executions(since)
        return found + found[-1:]


class IgnoresCancels(SimulatedBroker):
    async def cancel_order(self, client_order_id: ClientOrderId) -> None:
        return None

    async def cancel_all_orders(self) -> None:
        return None


class ForgetsPositions(SimulatedBroker):
    async def positions(self, account: AccountId | None = None) -> list[Any]:
        return []


class AcceptsBeyondBuyingPower(SimulatedBroker):
    """Reports a thousandth of its real figures, so orders beyond the buying power it shows are accepted."""

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        real = await super().account_summary(account)
        return replace(
            real,
            buying_power=real.buying_power * Decimal("0.001"),
            net_liquidation=real.net_liquidation * Decimal("0.001"),
        )


@pytest.mark.parametrize(
    ("broker_type", "scenario"),
    [
        (ListsExecutionsTwice, "executions_since"),
        (IgnoresCancels, "cancel_order"),
        (IgnoresCancels, "cancel_all_orders"),
        (ForgetsPositions, "long_from_zero"),
        (ForgetsPositions, "reverse_position"),
        (AcceptsBeyondBuyingPower, "reject_insufficient_buying_power"),
    ],
)
def test_the_suite_fails_a_broken_broker(broker_type: type[SimulatedBroker], scenario: str) -> None:
    quick = HarnessFeatures(partial_fill_quantity=Decimal(25_000), auctions=True, max_steps=20, timeout=0.01)

    async def main() -> None:
        await run_scenario(await SimulatedHarness.create(broker_type=broker_type, features=quick), scenario)

    with pytest.raises(AssertionError):
        asyncio.run(main())


def test_the_suite_and_the_simulated_broker_import_neither_pytest_nor_ib_async() -> None:
    code = (
        "import sys, quantdesk.testing, quantdesk.brokers.simulated; "
        "bad = {'pytest', 'ib_async'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
