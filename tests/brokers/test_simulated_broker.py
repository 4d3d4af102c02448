"""SimulatedBroker: accounting (cash, positions, P&L, margin), pre-trade rejections, reports, ids, data, determinism.

Every amount is worked out by hand: IB fixed charges USD 0.005 a share, at least USD 1.00, at most 1 % of the value,
plus on sales the SEC fee (0.0000278 × value) and the FINRA TAF (0.000166 a share).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from quantdesk.brokers.base import (
    Broker,
    BrokerReport,
    ConnectionReport,
    FillReport,
    OrderStatusReport,
    PositionReport,
)
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.simulated import DEFAULT_ACCOUNT, SimulatedBroker
from quantdesk.data.bar_store import BarStore
from quantdesk.data.sources.sample import SampleSource
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.values import Currency
from quantdesk.errors import BrokerError, ConnectionLost, NotFound, OrderRejected
from quantdesk.execution import MatchingConfig, NoFees
from quantdesk.execution.margin import MarginPolicy

AAPL, MSFT, SAP = Stock("AAPL"), Stock("MSFT"), Stock("SAP", currency="EUR", exchange="IBIS")
T0 = datetime(2024, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)
D = Decimal
T = TypeVar("T")


def day(i: int) -> datetime:
    return T0 + i * DAY


def bar(i: int, o: object, h: object, lo: object, c: object, inst: Stock = AAPL, volume: object = 1_000_000) -> Bar:
    return Bar.of(inst.id, "1 day", day(i), str(o), str(h), str(lo), str(c), str(volume))


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def cid(text: str) -> ClientOrderId:
    return ClientOrderId(text)


async def connected(*args: object, **kwargs: object) -> tuple[SimulatedBroker, list[BrokerReport]]:
    broker = SimulatedBroker(*args, **kwargs)  # type: ignore[arg-type]
    reports: list[BrokerReport] = []
    broker.add_listener(reports.append)
    await broker.connect()
    return broker, reports


def kinds(reports: list[BrokerReport]) -> list[str]:
    out = []
    for r in reports:
        status = f":{r.status.value}" if isinstance(r, OrderStatusReport) else ""
        out.append(type(r).__name__.removesuffix("Report") + status)
    return out


# --- the contract -------------------------------------------------------------------------------------------------


def test_it_is_a_broker_and_starts_with_one_funded_account() -> None:
    async def main() -> None:
        broker, reports = await connected()
        assert isinstance(broker, Broker)
        assert kinds(reports) == ["Connection"]
        assert await broker.managed_accounts() == [DEFAULT_ACCOUNT]
        summary = await broker.account_summary()
        assert summary.net_liquidation.amount == 1_000_000
        assert summary.cash_balance("USD") == 1_000_000
        assert summary.buying_power.amount == 4_000_000  # Reg-T: IB's day-trading figure, 4 × available funds
        assert summary.initial_margin.amount == summary.maintenance_margin.amount == 0
        assert await broker.positions() == []

    run(main())


def test_requests_need_a_connection_but_data_does_not() -> None:
    async def main() -> None:
        broker = SimulatedBroker()
        broker.feed_bar(bar(0, 100, 101, 99, 100))
        with pytest.raises(ConnectionLost) as info:
            await broker.place_order(Order.market(AAPL, "BUY", 1))
        assert info.value.code == 504
        await broker.connect()
        await broker.disconnect()
        with pytest.raises(ConnectionLost):
            await broker.positions()

    run(main())


def test_the_clock_is_the_data_and_orders_before_any_time_are_refused() -> None:
    async def main() -> None:
        broker, _ = await connected()
        assert broker.now is None
        with pytest.raises(BrokerError, match="no time yet"):
            await broker.place_order(Order.limit(AAPL, "BUY", 1, 100))
        broker.feed_bar(bar(0, 100, 101, 99, 100))
        assert broker.now == day(1)  # the bar's end
        later, _ = await connected(start=day(5))
        assert later.now == day(5)

    run(main())


# --- cash, positions, P&L -----------------------------------------------------------------------------------------


def test_a_round_trip_books_cash_commissions_and_realised_pnl() -> None:
    async def main() -> None:
        broker, reports = await connected({"DU1": 100_000})
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        ack = await broker.place_order(Order.market(AAPL, "BUY", 100, client_order_id=cid("b1")))
        assert (ack.status, ack.account, ack.ts) == (OrderStatus.SUBMITTED, AccountId("DU1"), day(1))
        reports.clear()
        broker.feed_bar(bar(1, 100, 112, 99, 110))
        assert kinds(reports) == ["Fill", "OrderStatus:FILLED", "Position"]
        fill, status, position = reports
        assert isinstance(fill, FillReport)
        assert (fill.price, fill.quantity, fill.ts, fill.commission.amount) == (100, 100, day(2), D("1.00"))
        assert isinstance(status, OrderStatusReport)
        assert status.avg_fill_price == 100
        assert isinstance(position, PositionReport)
        assert (position.quantity, position.average_cost, position.market_price) == (100, 100, 110)
        summary = await broker.account_summary()
        assert summary.cash_balance("USD") == D("89999.00")  # 100,000 - 10,000 - 1.00
        assert summary.net_liquidation.amount == D("100999.00")  # marked at the close, 110
        assert summary.gross_position_value.amount == 11_000
        assert (summary.initial_margin.amount, summary.maintenance_margin.amount) == (5_500, 2_750)
        assert summary.buying_power.amount == (D("100999.00") - 5_500) * 4

        await broker.place_order(Order.market(AAPL, "SELL", 100, client_order_id=cid("s1")))
        broker.feed_bar(bar(2, 110, 111, 109, 109))
        # sale at 110: 1.00 + SEC 11,000 × 0.0000278 = 0.3058 + TAF 100 × 0.000166 = 0.0166 → 1.32
        sale = (await broker.executions())[-1]
        assert (sale.price, sale.commission.amount) == (110, D("1.32"))
        summary = await broker.account_summary()
        assert summary.cash_balance("USD") == D("100997.68")  # + 1,000 P&L - 2.32 commissions
        assert summary.net_liquidation.amount == D("100997.68")
        assert summary.initial_margin.amount == 0
        assert await broker.positions() == []
        flat = reports[-1]
        assert isinstance(flat, PositionReport)
        assert flat.quantity == 0

    run(main())


def test_a_short_sale_credits_cash_and_marks_the_liability() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 10_000}, fees=NoFees())
        broker.feed_bar(bar(0, 50, 50, 50, 50))
        await broker.place_order(Order.market(AAPL, "SELL", 100))
        broker.feed_bar(bar(1, 50, 61, 50, 60))
        (position,) = await broker.positions()
        assert (position.quantity, position.average_cost) == (-100, 50)
        summary = await broker.account_summary()
        assert summary.cash_balance("USD") == 15_000
        assert summary.net_liquidation.amount == 9_000  # 15,000 - 100 × 60
        assert summary.initial_margin.amount == 3_000  # 50 % of |−6,000|

    run(main())


def test_positions_without_a_price_are_valued_at_cost_and_other_currencies_convert() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 100_000}, fees=NoFees(), fx_rates={"EUR": "1.10"})
        broker.feed_bar(bar(0, 100, 100, 100, 100, inst=SAP))
        await broker.place_order(Order.market(SAP, "BUY", 10))
        broker.feed_bar(bar(1, 100, 120, 100, 120, inst=SAP))
        summary = await broker.account_summary()
        assert summary.cash_balance("EUR") == -1_000
        assert summary.cash_balance("USD") == 100_000
        assert summary.net_liquidation.amount == D("100220.00")  # 100,000 + (−1,000 + 1,200) × 1.10
        assert summary.exchange_rate("EUR") == D("1.10")
        assert [p.currency for p in await broker.positions()] == [Currency("EUR")]
        broker.set_fx_rate("EUR", "1.20")
        summary = await broker.account_summary()
        assert summary.net_liquidation.amount == D("100240.00")
        assert summary.exchange_rate("EUR") == D("1.20")

    run(main())


def test_an_order_in_a_currency_without_a_rate_or_a_fee_schedule_is_rejected() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 100_000})
        broker.feed_bar(bar(0, 100, 100, 100, 100, inst=SAP))
        ack = await broker.place_order(Order.market(SAP, "BUY", 10))
        assert ack.status is OrderStatus.REJECTED
        assert ack.reason is not None
        assert "IbFixed charges in USD" in ack.reason
        nofx, _ = await connected({"DU1": 100_000}, fees=NoFees())
        nofx.feed_bar(bar(0, 100, 100, 100, 100, inst=SAP))
        ack = await nofx.place_order(Order.market(SAP, "BUY", 10))
        assert ack.reason is not None
        assert "no exchange rate from EUR to USD" in ack.reason

    run(main())


# --- pre-trade rejections -----------------------------------------------------------------------------------------


def test_buying_power_limits_a_reg_t_account_to_twice_its_equity() -> None:
    async def main() -> None:
        broker, reports = await connected({"DU1": 10_000}, fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        ok = await broker.place_order(Order.market(AAPL, "BUY", 200))  # 50 % of 20,000 = 10,000 <= 10,000
        assert ok.status is OrderStatus.SUBMITTED
        too_big = await broker.place_order(Order.market(AAPL, "BUY", 201, client_order_id=cid("big")))
        assert too_big.status is OrderStatus.REJECTED
        assert too_big.error_code == 201
        assert too_big.reason is not None
        assert "insufficient buying power" in too_big.reason
        assert reports[-1] == too_big  # listeners heard it too
        assert [r.client_order_id for r in await broker.open_orders()] == [ok.client_order_id]
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        (position,) = await broker.positions()
        assert position.quantity == 200
        assert (await broker.order_status(cid("big"))).reason == too_big.reason

    run(main())


def test_a_cash_account_spends_only_its_cash_and_cannot_sell_short() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 10_000}, fees=NoFees(), margin=MarginPolicy.cash_account())
        assert not broker.capabilities.short_selling
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        assert (await broker.account_summary()).buying_power.amount == 10_000
        assert (await broker.place_order(Order.market(AAPL, "BUY", 101))).status is OrderStatus.REJECTED
        assert (await broker.place_order(Order.market(AAPL, "BUY", 100))).status is OrderStatus.SUBMITTED
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        short = await broker.place_order(Order.market(AAPL, "SELL", 101))
        assert short.reason is not None
        assert "short selling is not allowed" in short.reason
        assert (await broker.place_order(Order.market(AAPL, "SELL", 100))).status is OrderStatus.SUBMITTED

    run(main())


def test_an_order_reducing_risk_passes_even_when_the_account_is_under_water() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 10_000}, fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 200))
        broker.feed_bar(bar(1, 100, 100, 60, 60))  # equity 2,000, margin 6,000
        summary = await broker.account_summary()
        assert summary.buying_power.amount == 0
        assert (await broker.place_order(Order.market(AAPL, "BUY", 1))).status is OrderStatus.REJECTED
        assert (await broker.place_order(Order.market(AAPL, "SELL", 50))).status is OrderStatus.SUBMITTED

    run(main())


def test_capabilities_unknown_accounts_and_missing_prices_are_rejected_with_reasons() -> None:
    async def main() -> None:
        caps = BrokerCapabilities(name="toy", order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}))
        broker, _ = await connected({"DU1": 10_000}, capabilities=caps, start=T0)
        stop = await broker.place_order(Order.stop(AAPL, "BUY", 1, 100, tif=TimeInForce.GTC))
        assert stop.reason == (
            "order_type: toy does not support stop orders "
            "(fix: change order_type to something toy supports, or route the order to another broker)"
        )
        stranger = await broker.place_order(Order.limit(AAPL, "BUY", 1, 100, account=AccountId("DU9")))
        assert stranger.reason == "unknown account DU9: this login manages DU1"
        blind = await broker.place_order(Order.market(AAPL, "BUY", 1))
        assert blind.reason is not None
        assert blind.reason.startswith("no market price for AAPL.STK.SMART.USD yet")
        priced = await broker.place_order(Order.limit(AAPL, "BUY", 1, 100))  # the limit values it
        assert priced.status is OrderStatus.SUBMITTED

    run(main())


def test_an_order_list_is_rejected_as_a_whole() -> None:
    async def main() -> None:
        broker, reports = await connected({"DU1": 1_000}, fees=NoFees(), margin=MarginPolicy.cash_account())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        bracket = Bracket.build(AAPL, "BUY", 20, None, 120, 90)
        acks = await broker.place_order_list(bracket)
        assert [a.status for a in acks] == [OrderStatus.REJECTED] * 3
        assert acks[0].reason is not None
        assert "insufficient buying power" in acks[0].reason
        assert acks[1].reason == f"rejected with its order list: {acks[0].reason}"
        assert [r.broker_order_id.order_id for r in acks] == [1, 2, 3]
        assert kinds(reports)[-3:] == ["OrderStatus:REJECTED"] * 3
        assert await broker.open_orders() == []

    run(main())


# --- order lifecycle ----------------------------------------------------------------------------------------------


def test_ids_increase_like_ib_and_a_duplicate_client_order_id_raises() -> None:
    async def main() -> None:
        broker, _ = await connected(first_order_id=7, first_perm_id=500, client_id=3, start=T0)
        first = await broker.place_order(Order.limit(AAPL, "BUY", 1, 90, client_order_id=cid("x")))
        rejected = await broker.place_order(Order.market(AAPL, "BUY", 1))  # no price yet
        third = await broker.place_order(Order.limit(AAPL, "BUY", 1, 90))
        ids = [r.broker_order_id for r in (first, rejected, third)]
        assert [(i.order_id, i.perm_id, i.client_id) for i in ids] == [(7, 500, 3), (8, 501, 3), (9, 502, 3)]
        with pytest.raises(BrokerError) as info:
            await broker.place_order(Order.limit(AAPL, "BUY", 5, 80, client_order_id=cid("x")))
        assert info.value.code == 103
        assert (await broker.order_status(cid("x"))).quantity == 1  # the first order is untouched
        with pytest.raises(NotFound):
            await broker.order_status(cid("never"))

    run(main())


def test_modify_changes_a_working_order_and_refusals_raise() -> None:
    async def main() -> None:
        broker, reports = await connected({"DU1": 10_000}, fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.limit(AAPL, "BUY", 10, 90, tif=TimeInForce.GTC, client_order_id=cid("m")))
        report = await broker.modify_order(cid("m"), limit_price=D(99))
        assert (report.limit_price, report.status) == (99, OrderStatus.SUBMITTED)
        assert reports[-1] == report
        with pytest.raises(OrderRejected, match="insufficient buying power"):
            await broker.modify_order(cid("m"), quantity=D(500))
        with pytest.raises(OrderRejected, match="tick grid"):
            await broker.modify_order(cid("m"), limit_price=D("99.001"))
        assert (await broker.order_status(cid("m"))).quantity == 10
        broker.feed_bar(bar(1, 100, 100, 98, 99))
        assert (await broker.executions())[0].price == 99
        with pytest.raises(OrderRejected, match="it is FILLED"):
            await broker.modify_order(cid("m"), limit_price=D(95))

    run(main())


def test_cancel_reports_cancelled_and_a_refused_cancel_repeats_the_status_with_161() -> None:
    async def main() -> None:
        broker, reports = await connected(fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.limit(AAPL, "BUY", 10, 50, tif=TimeInForce.GTC, client_order_id=cid("c")))
        await broker.cancel_order(cid("c"))
        assert kinds(reports)[-1] == "OrderStatus:CANCELLED"
        await broker.cancel_order(cid("c"))
        refused = reports[-1]
        assert isinstance(refused, OrderStatusReport)
        assert (refused.status, refused.error_code) == (OrderStatus.CANCELLED, 161)
        assert refused.reason == "cancel refused: order is already CANCELLED"
        with pytest.raises(NotFound):
            await broker.cancel_order(cid("unknown"))

    run(main())


def test_cancel_all_cancels_a_bracket_parent_and_its_held_children_once() -> None:
    async def main() -> None:
        broker, reports = await connected(fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        bracket = Bracket.build(AAPL, "BUY", 10, 80, 120, 70, tif=TimeInForce.GTC)
        await broker.place_order_list(bracket)
        assert len(await broker.open_orders()) == 3
        reports.clear()
        await broker.cancel_all_orders()
        assert kinds(reports) == ["OrderStatus:CANCELLED"] * 3
        assert await broker.open_orders() == []

    run(main())


def test_each_report_carries_the_status_of_its_own_event() -> None:
    """An IOC partly filled and then cancelled on one bar is reported PARTIALLY_FILLED, then CANCELLED."""

    async def main() -> None:
        config = MatchingConfig(max_volume_participation=D("0.001"))
        broker, reports = await connected(fees=NoFees(), matching=config)
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 5_000, tif=TimeInForce.IOC, client_order_id=cid("i")))
        reports.clear()
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        assert kinds(reports) == ["Fill", "OrderStatus:PARTIALLY_FILLED", "Position", "OrderStatus:CANCELLED"]
        final = await broker.order_status(cid("i"))
        assert (final.status, final.filled_quantity, final.remaining) == (OrderStatus.CANCELLED, 1_000, 0)

    run(main())


def test_day_orders_expire_when_time_passes() -> None:
    async def main() -> None:
        broker, reports = await connected(fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.limit(AAPL, "BUY", 1, 50, client_order_id=cid("d")))
        assert broker.advance_to(day(1) + timedelta(hours=1)) == []
        expired = broker.advance_to(day(2))
        assert kinds(expired) == ["OrderStatus:EXPIRED"]
        assert reports[-1] == expired[0]
        assert broker.now == day(2)

    run(main())


def test_executions_since_and_what_if() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 100_000})
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 10))
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 10))
        broker.feed_bar(bar(2, 100, 100, 100, 100))
        assert [e.ts for e in await broker.executions()] == [day(2), day(3)]
        assert [e.ts for e in await broker.executions(day(3))] == [day(3)]
        assert await broker.executions(day(4)) == []

        preview = await broker.what_if(Order.market(AAPL, "BUY", 100))
        assert (preview.init_margin_change, preview.maint_margin_change) == (5_000, 2_500)
        assert preview.commission is not None
        assert preview.commission.amount == D("1.00")
        assert preview.warning is None
        huge = await broker.what_if(Order.market(AAPL, "BUY", 10_000))
        assert huge.warning is not None
        assert "insufficient buying power" in huge.warning
        assert len(await broker.executions()) == 2  # nothing was placed
        assert await broker.open_orders() == []

    run(main())


# --- accounts and listeners ---------------------------------------------------------------------------------------


def test_accounts_are_kept_apart() -> None:
    async def main() -> None:
        broker, _ = await connected({"DU1": 50_000, "DU2": 20_000}, fees=NoFees())
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 10))  # no account: the first
        await broker.place_order(Order.market(AAPL, "SELL", 5, account=AccountId("DU2")))
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        one, two = AccountId("DU1"), AccountId("DU2")
        assert [(p.account, p.quantity) for p in await broker.positions()] == [(one, 10), (two, -5)]
        assert [p.quantity for p in await broker.positions(two)] == [-5]
        assert (await broker.account_summary(one)).cash_balance("USD") == 49_000
        assert (await broker.account_summary(two)).cash_balance("USD") == 20_500
        assert [e.account for e in await broker.executions()] == [one, two]
        with pytest.raises(NotFound):
            await broker.account_summary(AccountId("DU3"))

    run(main())


def test_listeners_can_leave_and_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        broker, reports = await connected(fees=NoFees())
        seen: list[BrokerReport] = []
        remove = broker.add_listener(seen.append)

        def broken(report: BrokerReport) -> None:
            raise RuntimeError("boom")

        broker.add_listener(broken)
        broker.feed_bar(bar(0, 100, 100, 100, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 1))
        remove()
        remove()  # harmless
        broker.feed_bar(bar(1, 100, 100, 100, 100))
        assert kinds(seen) == ["OrderStatus:SUBMITTED"]
        assert kinds(reports)[-3:] == ["Fill", "OrderStatus:FILLED", "Position"]
        await broker.disconnect()
        assert isinstance(reports[-1], ConnectionReport)

    run(main())
    assert "report listener" in caplog.text


def test_the_same_inputs_give_the_same_reports() -> None:
    async def session() -> list[BrokerReport]:
        broker, reports = await connected(matching=MatchingConfig(max_volume_participation=D("0.01")))
        broker.feed_bar(bar(0, 100, 101, 99, 100))
        await broker.place_order(Order.market(AAPL, "BUY", 15_000, tif=TimeInForce.GTC, client_order_id=cid("a")))
        bracket = Bracket(
            Order.limit(AAPL, "BUY", 50, 99, tif=TimeInForce.GTC, client_order_id=cid("e")),
            Order.limit(AAPL, "SELL", 50, 104, tif=TimeInForce.GTC, client_order_id=cid("tp")),
            Order.stop(AAPL, "SELL", 50, 97, tif=TimeInForce.GTC, client_order_id=cid("sl")),
        )
        await broker.place_order_list(bracket)
        prices = [(100, 103, 98, 102), (102, 105, 101, 104), (104, 104, 96, 97)]
        for i, (o, h, lo, c) in enumerate(prices, start=1):
            broker.feed_bar(bar(i, o, h, lo, c, volume=700_000))
        return reports

    first, second = asyncio.run(session()), asyncio.run(session())
    assert first == second
    fills = [(r.client_order_id, r.quantity) for r in first if isinstance(r, FillReport)]
    assert fills == [(cid("a"), 7_000), (cid("a"), 7_000), (cid("a"), 1_000), (cid("e"), 50), (cid("sl"), 50)]
    assert not any(isinstance(r, OrderStatusReport) and r.status is OrderStatus.REJECTED for r in first)


# --- market data --------------------------------------------------------------------------------------------------


def test_quotes_come_from_the_last_data_and_stream_to_subscribers() -> None:
    async def main() -> None:
        broker, _ = await connected()
        with pytest.raises(NotFound, match="no market data"):
            await broker.quote(AAPL)
        broker.feed_bar(bar(0, 100, 101, 99, 100.5))
        quote = await broker.quote(AAPL)
        assert (quote.bid, quote.ask, quote.ts) == (D("100.5"), D("100.5"), day(1))
        quotes: list[Quote] = []
        trades: list[TradeTick] = []
        sub = await broker.subscribe_quotes(AAPL, quotes.append, trades.append)
        assert quotes == [quote]  # the last quote at once
        real = Quote(AAPL.id, day(1) + timedelta(hours=15), D("100.4"), D("100.6"), D(300), D(200))
        broker.feed_quote(real)
        broker.feed_trade(TradeTick(AAPL.id, day(1) + timedelta(hours=16), D("100.7"), D(100)))
        assert quotes[-1] == real
        assert [t.price for t in trades] == [D("100.7")]
        assert await broker.quote(AAPL) == real  # a trade does not replace a real quote
        await sub.cancel()
        await sub.cancel()
        broker.feed_bar(bar(2, 101, 102, 100, 101))
        assert len(quotes) == 2
        assert (await broker.quote(AAPL)).bid == 101
        with pytest.raises(NotFound):
            await broker.quote(MSFT)

    run(main())


def test_historical_bars_never_show_the_future(tmp_path: Path) -> None:
    frame = SampleSource().load("AAPL", start="2020-01-02", end="2020-01-31")["AAPL"]
    store = BarStore(tmp_path / "bars")
    store.write("AAPL", BarSize.DAY_1, frame, source="sample:sp500")
    fed = bar(0, 1, 1, 1, 1)  # 2024: newer than the store

    async def main() -> None:
        broker, _ = await connected(bar_store=store, bars=[fed], start=datetime(2020, 1, 10, tzinfo=UTC))
        start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
        served = await broker.historical_bars(AAPL, BarSize.DAY_1, start, end)
        assert [b.ts.day for b in served] == [2, 3, 6, 7, 8, 9]  # the 9th ended at now, the 10th has not
        assert served[0].close == D(str(frame["close"].iloc[0]))
        broker.advance_to(datetime(2024, 6, 1, tzinfo=UTC))
        assert (await broker.historical_bars(AAPL, BarSize.DAY_1, start, end))[-1] == fed
        with pytest.raises(BrokerError, match="trade bars only"):
            await broker.historical_bars(AAPL, BarSize.DAY_1, start, end, what_to_show="BID_ASK")

    run(main())
