"""Participation slicing: children within the cap, in whole lots, summing exactly to the order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.errors import ValidationError
from quantdesk.risk import needs_slicing, participation_cap, participation_schedule, slice_quantity

D = Decimal
LOTS = st.sampled_from([D(1), D(100), D("0.01"), D("0.0001")])


def test_hand_worked_schedule() -> None:
    # ADV 2,340,000 shares, 10% per minute of a 6.5 h session: 0.1 × 2,340,000 × 60 / 23,400 = 600 a minute
    assert participation_cap(D(2_340_000), 0.1, 60) == 600
    assert participation_schedule(D(1_500), D(2_340_000), 0.1, 60) == [600, 600, 300]
    assert participation_schedule(D(1_200), D(2_340_000), 0.1, 60) == [600, 600]
    assert participation_schedule(D(600), D(2_340_000), 0.1, 60) == [600]  # within the cap: as it is
    assert participation_schedule(D(5), D(2_340_000), 0.1, 60) == [5]


def test_the_cap_rounds_down_to_lots_and_is_at_least_one_lot() -> None:
    assert participation_cap(D(2_340_000), 0.1, 60, lot=D(100)) == 600
    assert participation_cap(D(2_000_000), 0.1, 60, lot=D(100)) == 500  # 512.8 → 500
    assert participation_cap(D(1_000), 0.1, 60, lot=D(100)) == 100  # 0.26 shares → one lot
    assert participation_schedule(D(300), D(1_000), 0.1, 60, lot=D(100)) == [100, 100, 100]


def test_settings_drive_needs_slicing_and_slice_quantity() -> None:
    s = RiskSettings()  # 10% over 60 s intervals
    assert needs_slicing(D(601), D(2_340_000), s)
    assert not needs_slicing(D(600), D(2_340_000), s)
    assert not needs_slicing(D(10**9), None, s)  # no volume known: nothing to slice against
    assert not needs_slicing(D(10**9), D(0), s)
    assert not needs_slicing(D(10**9), D(2_340_000), RiskSettings(disabled_rules=["participation"]))
    assert slice_quantity(D(1_500), D(2_340_000), s) == [600, 600, 300]
    assert slice_quantity(D(1_500), None, s) == [D(1_500)]
    assert slice_quantity(D(1_500), D(2_340_000), RiskSettings(max_participation_pct=0.5)) == [D(1_500)]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="lot size"):
        participation_schedule(D(150), D(10_000), 0.1, 60, lot=D(100))
    with pytest.raises(ValidationError) as info:
        participation_schedule(D(100), D(0), 0.1, 60)
    assert info.value.field == "adv"
    with pytest.raises(ValidationError, match="fraction"):
        participation_cap(D(100), 1.5, 60)
    with pytest.raises(ValidationError, match="children"):
        participation_schedule(D(1_000_000), D(1), 0.1, 60)
    with pytest.raises(ValidationError):
        participation_schedule(D("NaN"), D(1_000), 0.1, 60)


@settings(max_examples=300, deadline=None)
@given(
    lots=st.integers(1, 50_000),
    lot=LOTS,
    adv=st.decimals(min_value=1, max_value=10**8, places=0),
    pct=st.floats(0.001, 1.0),
    interval=st.floats(1.0, 3_600.0),
)
def test_children_sum_to_the_order_stay_under_the_cap_in_whole_lots(
    lots: int, lot: D, adv: D, pct: float, interval: float
) -> None:
    quantity = lot * lots
    cap = participation_cap(adv, pct, interval, lot=lot)
    if quantity / cap > 10_000:  # too many children: refused, never truncated
        with pytest.raises(ValidationError, match="children"):
            participation_schedule(quantity, adv, pct, interval, lot=lot)
        return
    children = participation_schedule(quantity, adv, pct, interval, lot=lot)
    assert sum(children) == quantity
    assert all(c > 0 and c % lot == 0 for c in children)
    assert all(c <= cap for c in children)
    assert cap == lot or cap <= D(repr(pct)) * adv * D(repr(interval)) / 23_400
    assert all(c == cap for c in children[:-1])
    assert len(children) == 1 or quantity > cap
