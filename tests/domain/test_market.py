from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick, require_utc
from quantdesk.errors import ValidationError

TS = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_bar_sizes_parse_every_spelling() -> None:
    for member in BarSize:
        assert BarSize.parse(member.value) is member
        assert BarSize.parse(member.slug) is member
        assert BarSize.parse(member.name) is member
    assert BarSize.MIN_5.duration == timedelta(minutes=5)
    assert BarSize.SEC_30.slug == "30s"
    assert BarSize.DAY_1.slug == "1day"
    with pytest.raises(ValidationError, match="unknown bar size") as info:
        BarSize.parse("7 mins")
    assert info.value.field == "bar_size"


def test_slugs_are_unique() -> None:
    assert len({m.slug for m in BarSize}) == len(BarSize)


def test_bar_validation() -> None:
    bar = Bar.of("AAPL", "1 day", TS, 10, 12, 9, 11, 1000)
    assert bar.close == Decimal(11)
    with pytest.raises(ValidationError, match="below low") as info:
        Bar.of("AAPL", "1 day", TS, 10, 8, 9, 9, 0)
    assert info.value.field == "high"
    with pytest.raises(ValidationError, match="outside") as info:
        Bar.of("AAPL", "1 day", TS, 13, 12, 9, 11, 0)
    assert info.value.field == "open"
    with pytest.raises(ValidationError) as info:
        Bar.of("AAPL", "1 day", TS, 10, 12, 9, float("nan"), 0)
    assert info.value.field == "close"
    with pytest.raises(ValidationError) as info:
        Bar.of("AAPL", "1 day", TS, 10, 12, 9, 11, -1)
    assert info.value.field == "volume"


def test_timestamps_must_be_aware_and_become_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert require_utc(datetime(2024, 1, 2, 9, 30, tzinfo=eastern)) == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone-aware") as info:
        TradeTick(Bar.of("X", "1 min", TS, 1, 1, 1, 1).instrument_id, datetime(2024, 1, 2), Decimal(1), Decimal(1))
    assert info.value.field == "ts"


def test_quote_rejects_crossed_book_and_computes_mid() -> None:
    iid = Bar.of("AAPL", "1 min", TS, 1, 1, 1, 1).instrument_id
    q = Quote(iid, TS, Decimal("99.98"), Decimal("100.02"), Decimal(300), Decimal(200))
    assert q.mid == Decimal("100.00")
    assert q.spread == Decimal("0.04")
    with pytest.raises(ValidationError, match="crossed") as info:
        Quote(iid, TS, Decimal("100.03"), Decimal("100.02"))
    assert info.value.field == "bid"
