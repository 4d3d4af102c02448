"""The OMS book keeps gross values as running totals: after any sequence of changes they equal a fresh sum.

Two of the instruments are in EUR and GBP, valued in the USD base at whatever rates the account reported last; an
instrument whose currency has no rate stays out of the sums and is named in the risk context.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.trading_state import TradingState
from quantdesk.oms.book import Book

CURRENCIES = ["USD", "USD", "EUR", "GBP"]
IIDS = [InstrumentId(f"S{i}.STK.SMART.{c}") for i, c in enumerate(CURRENCIES)]
T = datetime(2025, 3, 3, 15, tzinfo=UTC)

qty = st.integers(-500, 500).map(Decimal)
price = st.integers(1, 10_000).map(lambda c: Decimal(c) / 100)
step = st.one_of(
    st.tuples(st.just("price"), st.sampled_from(IIDS), price),
    st.tuples(st.just("working"), st.sampled_from(IIDS), qty, st.integers(0, 5)),
    st.tuples(st.just("fill"), st.sampled_from(IIDS), st.integers(1, 300).map(Decimal), st.booleans(), price),
    st.tuples(st.just("position"), st.sampled_from(IIDS), qty),
    st.tuples(
        st.just("rates"), st.dictionaries(st.sampled_from(["EUR", "GBP"]), st.sampled_from(["0.9", "1.1", "1.27"]))
    ),
)


def rate(book: Book, iid: InstrumentId) -> Decimal | None:
    ccy = book.currencies[iid]
    return Decimal(1) if ccy == "USD" else book.exchange_rates.get(ccy)


def fresh_sum(quantities: dict[InstrumentId, Decimal], book: Book) -> Decimal:
    return sum(
        (abs(q) * book.last_prices[i] * book.multipliers.get(i, Decimal(1)) * r for i, q in quantities.items()
         if i in book.last_prices and (r := rate(book, i)) is not None),
        Decimal(0),
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=40))
def test_running_gross_values_equal_a_fresh_sum(steps: list[tuple[object, ...]]) -> None:
    book = Book(base_currency="USD", currencies=dict(zip(IIDS, CURRENCIES, strict=True)))
    for n, s in enumerate(steps):
        match s:
            case ("price", iid, p):
                book.set_price(iid, p)  # type: ignore[arg-type]
            case ("working", iid, q, k):
                book.set_working(ClientOrderId(f"o{k}"), iid, q)  # type: ignore[arg-type]
            case ("fill", iid, q, buy, p):
                side = OrderSide.BUY if buy else OrderSide.SELL
                book.apply_fill(Fill(ExecutionId(f"e{n}"), ClientOrderId("f"), iid, side, q, p, T))  # type: ignore[arg-type]
            case ("position", iid, q):
                book.set_position(iid, q)  # type: ignore[arg-type]
            case ("rates", rates):
                book.set_exchange_rates("USD", {c: Decimal(r) for c, r in rates.items()})  # type: ignore[attr-defined]
        assert book.gross_exposure() == fresh_sum(book.positions, book)
        assert book.working_gross() == fresh_sum(book.working, book)
        held = book.positions.keys() | book.working.keys()
        expected = {i: book.currencies[i] for i in held if rate(book, i) is None}
        ctx = book.context(Order.limit(Stock("S0"), "BUY", 1, 1), T, TradingState.ACTIVE)
        assert dict(ctx.unconverted) == expected


def test_setting_an_unchanged_working_quantity_moves_nothing() -> None:
    book = Book()
    book.set_price(InstrumentId("AAPL.STK.SMART.USD"), Decimal(100))
    book.set_working(ClientOrderId("same-1"), InstrumentId("AAPL.STK.SMART.USD"), Decimal(5))
    before = (dict(book.working), book.working_gross())
    book.set_working(ClientOrderId("same-1"), InstrumentId("AAPL.STK.SMART.USD"), Decimal(5))
    assert (dict(book.working), book.working_gross()) == before == ({InstrumentId("AAPL.STK.SMART.USD"): 5}, 500)
    book.set_working(ClientOrderId("same-1"), InstrumentId("AAPL.STK.SMART.USD"), Decimal(0))
    assert (dict(book.working), book.working_gross()) == ({}, 0)
