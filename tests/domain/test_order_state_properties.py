"""Properties of the forced transitions of ``OrderState``: ``take_fill`` (a reported execution is a fact: late fills
and overfills are applied and named) and ``mark`` (a terminal status the broker cannot report), over random states
and random fills."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId, ExecutionId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import TERMINAL_STATES, ForcedChange, OrderState, OrderStatus
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError

CID = ClientOrderId("c1")
AAPL = Stock("AAPL")
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
TERMINAL = sorted(TERMINAL_STATES, key=lambda s: s.value)
LIVE = [s for s in OrderStatus if s not in TERMINAL_STATES]
# statuses a fill may find without forcing anything (INITIALIZED and REJECTED force a late fill)
TAKES_FILLS = [s for s in OrderStatus if s not in (OrderStatus.INITIALIZED, OrderStatus.REJECTED)]

quantities = st.integers(1, 10_000).map(lambda n: Decimal(n) / 4)  # quarters: fractional, exact
prices = st.integers(1, 50_000).map(lambda n: Decimal(n) / 100)
seconds = st.integers(-3600, 3600)
ANY_STATUS = st.sampled_from(OrderStatus)


@st.composite
def states(draw: st.DrawFn, status: st.SearchStrategy[OrderStatus] = ANY_STATUS) -> OrderState:
    """Any consistent state: filled in [0, quantity], notional at some average price, earlier executions e-*."""
    quantity = draw(quantities)
    filled = draw(st.integers(0, int(quantity * 4)).map(lambda n: Decimal(n) / 4))
    notional = filled * draw(prices)
    earlier = tuple(ExecutionId(f"e-{i}") for i in range(draw(st.integers(0, 3)))) if filled else ()
    return OrderState(CID, quantity, T0, draw(status), None, filled, notional, earlier)


@st.composite
def fills(draw: st.DrawFn, execution_id: str = "x1") -> Fill:
    """A new execution of the order (its id unlike any of ``states``)."""
    side = draw(st.sampled_from(OrderSide))
    ts = T0 + timedelta(seconds=draw(seconds))
    return Fill(ExecutionId(execution_id), CID, AAPL.id, side, draw(quantities), draw(prices), ts)


@st.composite
def distinct_fills(draw: st.DrawFn) -> list[Fill]:
    return [draw(fills(f"x{i}")) for i in range(draw(st.integers(1, 6)))]


# --- take_fill -----------------------------------------------------------------------------------------------------


@given(states(), fills())
def test_a_new_fill_is_always_applied_in_full(before: OrderState, fill: Fill) -> None:
    after = before.take_fill(fill).state
    assert after.filled_quantity == before.filled_quantity + fill.quantity
    assert after.filled_notional == before.filled_notional + fill.quantity * fill.price
    assert after.execution_ids == (*before.execution_ids, fill.execution_id)
    assert after.remaining == after.quantity - after.filled_quantity >= 0
    assert after.updated_at == max(before.updated_at, fill.ts)
    assert after.avg_fill_price == after.filled_notional / after.filled_quantity


@given(states(), fills())
def test_the_quantity_grows_only_by_a_named_overfill_and_exactly_to_what_filled(before: OrderState, fill: Fill) -> None:
    outcome = before.take_fill(fill)
    named = [change for change, _ in outcome.forced]
    overfills = before.filled_quantity + fill.quantity > before.quantity
    assert (ForcedChange.OVERFILL in named) == overfills
    assert outcome.state.quantity == (outcome.state.filled_quantity if overfills else before.quantity)
    assert named.count(ForcedChange.OVERFILL) <= 1
    assert all(message for _, message in outcome.forced)  # each names the refusal that forced it


@given(states(st.sampled_from(TERMINAL)), fills())
def test_a_terminal_order_stays_terminal_unless_a_late_fill_reopens_it(before: OrderState, fill: Fill) -> None:
    outcome = before.take_fill(fill)
    named = [change for change, _ in outcome.forced]
    if ForcedChange.LATE_FILL in named:
        assert before.status is OrderStatus.REJECTED  # the one terminal status that takes no fill
        assert outcome.state.status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
    else:
        assert outcome.state.status is before.status


@given(states(st.sampled_from(TAKES_FILLS)), fills())
def test_a_status_that_takes_fills_is_never_forced_by_a_late_fill(before: OrderState, fill: Fill) -> None:
    named = [change for change, _ in before.take_fill(fill).forced]
    assert ForcedChange.LATE_FILL not in named


@given(states(st.sampled_from(LIVE)), fills())
def test_a_live_order_ends_filled_exactly_when_the_fills_reach_its_quantity(before: OrderState, fill: Fill) -> None:
    after = before.take_fill(fill).state
    if after.filled_quantity == after.quantity:
        assert after.status is OrderStatus.FILLED
    else:
        assert after.status is OrderStatus.PARTIALLY_FILLED


@given(states(), fills())
def test_an_execution_taken_twice_counts_once_and_forces_nothing(before: OrderState, fill: Fill) -> None:
    once = before.take_fill(fill).state
    again = once.take_fill(fill)
    assert again.state == once
    assert again.forced == ()


@given(states(st.sampled_from(LIVE)), distinct_fills(), st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_fills_in_any_order_reach_the_same_end(before: OrderState, batch: list[Fill], rnd: random.Random) -> None:
    def take_all(order: list[Fill]) -> OrderState:
        state = before
        for fill in order:
            state = state.take_fill(fill).state
        return state

    shuffled = list(batch)
    rnd.shuffle(shuffled)
    first, second = take_all(batch), take_all(shuffled)
    total = before.filled_quantity + sum((f.quantity for f in batch), Decimal(0))
    assert first.filled_quantity == second.filled_quantity == total
    assert first.filled_notional == second.filled_notional
    assert first.quantity == second.quantity == max(before.quantity, total)
    assert set(first.execution_ids) == set(second.execution_ids)
    assert first.status is second.status
    assert first.updated_at == second.updated_at


@given(states(), fills())
def test_another_orders_fill_is_refused_not_forced(before: OrderState, fill: Fill) -> None:
    other = Fill(fill.execution_id, ClientOrderId("c2"), fill.instrument_id, fill.side, fill.quantity, fill.price,
                 fill.ts)  # fmt: skip
    with pytest.raises(ValidationError, match="belongs to order"):
        before.take_fill(other)


# --- mark ----------------------------------------------------------------------------------------------------------


@given(states(), st.sampled_from(TERMINAL), seconds)
def test_a_mark_sets_any_terminal_status_from_any_status_and_keeps_the_fills(
    before: OrderState, status: OrderStatus, offset: int
) -> None:
    ts = T0 + timedelta(seconds=offset)
    after = before.mark(status, ts)
    assert after.status is status
    assert (after.quantity, after.filled_quantity, after.filled_notional, after.execution_ids) == (
        before.quantity, before.filled_quantity, before.filled_notional, before.execution_ids,
    )  # fmt: skip
    assert after.updated_at == max(before.updated_at, ts)
    assert after.mark(status, ts) == after  # marking again changes nothing


@given(states(), st.sampled_from(LIVE))
def test_a_mark_never_sets_a_live_status(before: OrderState, status: OrderStatus) -> None:
    with pytest.raises(ValidationError, match="a mark sets a terminal status"):
        before.mark(status, T0)
