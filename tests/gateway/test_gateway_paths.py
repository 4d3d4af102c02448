"""The price model without a socket: the Brownian bridge, bars of every size and their consistency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.market import BarSize
from quantdesk.gateway import GatewayConfig, GatewayServer
from quantdesk.gateway.clock import NEW_YORK, SESSION_SECONDS
from quantdesk.gateway.history import parse_duration, parse_end, window_start
from quantdesk.gateway.paths import aggregate, bridge_path, day_rng
from quantdesk.gateway.sample import load_sample_closes

REPLAY = date(2020, 3, 20)


@pytest.fixture(scope="module")
def gw() -> GatewayServer:
    return GatewayServer(GatewayConfig(speed=0, replay_from=REPLAY))


def _row(gw: GatewayServer, sample_day: date) -> int:
    return load_sample_closes().row_of(sample_day)


# --- the bridge ----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1.0, 500.0),
    st.floats(-0.2, 0.2),
    st.floats(0.0, 0.1),
    st.floats(0.0, 0.1),
    st.integers(0, 2**31),
    st.sampled_from([10, 390, 23_400]),
)
def test_bridge_hits_open_high_low_close(o: float, ret: float, up: float, down: float, seed: int, n: int) -> None:
    c = o * (1 + ret)
    h, lo = max(o, c) * (1 + up), min(o, c) * (1 - down)
    path = bridge_path(o, h, lo, c, np.random.default_rng(seed), n)
    assert len(path) == n + 1
    assert (path[0], path[-1], path.max(), path.min()) == (o, c, h, lo)


def test_bridge_is_seeded_and_flat_days_are_flat() -> None:
    a = bridge_path(10.0, 12.0, 9.0, 11.0, day_rng(7, "AAPL", 100), 1000)
    b = bridge_path(10.0, 12.0, 9.0, 11.0, day_rng(7, "AAPL", 100), 1000)
    c = bridge_path(10.0, 12.0, 9.0, 11.0, day_rng(8, "AAPL", 100), 1000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(bridge_path(5.0, 5.0, 5.0, 5.0, day_rng(1, "X", 1), 100) == 5.0)
    with pytest.raises(ValueError, match="inconsistent"):
        bridge_path(10.0, 9.0, 8.0, 11.0, day_rng(1, "X", 1), 100)


def test_aggregate_bars_agree_with_the_path() -> None:
    path = bridge_path(100.0, 103.0, 99.0, 101.0, day_rng(1, "T", 1), 600)
    bars = aggregate(path, np.arange(0, 601, 60), 6000)
    assert len(bars) == 10
    assert bars.open[0] == 100.0
    assert bars.close[-1] == 101.0
    assert bars.high.max() == 103.0
    assert bars.low.min() == 99.0
    assert np.array_equal(bars.close[:-1], bars.open[1:])
    assert bars.volume.sum() == 6000
    assert np.all((bars.low <= bars.wap) & (bars.wap <= bars.high))
    partial = aggregate(path, np.array([0, 60, 60]), 6000)
    assert partial.open[-1] == partial.close[-1] == path[60]


# --- bars from the server's model ----------------------------------------------------------------------------


def test_daily_bars_are_the_sample(gw: GatewayServer) -> None:
    sample = load_sample_closes()
    aapl = gw.catalog.get(265598)
    assert aapl is not None
    r0, r1 = _row(gw, date(2020, 3, 2)), _row(gw, date(2020, 3, 13))
    bars = gw.history.bars(aapl, r0 * SESSION_SECONDS, (r1 + 1) * SESSION_SECONDS, BarSize.DAY_1, "TRADES")
    closes = sample.column("AAPL")
    assert [b.bar.close for b in bars] == [float(closes[r]) for r in range(r0, r1 + 1)]
    assert [b.bar.open for b in bars] == [float(closes[r - 1]) for r in range(r0, r1 + 1)]
    assert [b.bar.date for b in bars] == [f"{gw.calendar.date_of(r):%Y%m%d}" for r in range(r0, r1 + 1)]
    assert all(b.bar.high == max(b.bar.open, b.bar.close) and b.bar.volume == 2e7 for b in bars)


INTRADAY = [s for s in BarSize if s.duration < timedelta(days=1)]


@pytest.mark.parametrize("size", INTRADAY, ids=[s.slug for s in INTRADAY])
def test_intraday_bars_of_every_size_are_consistent_with_the_day(gw: GatewayServer, size: BarSize) -> None:
    spec = gw.catalog.get(265598)
    assert spec is not None
    row = _row(gw, date(2020, 3, 16))
    (day,) = gw.history.bars(spec, row * SESSION_SECONDS, (row + 1) * SESSION_SECONDS, BarSize.DAY_1, "TRADES")
    bars = [b.bar for b in gw.history.bars(spec, row * SESSION_SECONDS, (row + 1) * SESSION_SECONDS, size, "TRADES")]
    length = int(size.duration.total_seconds())
    assert len(bars) == len({(34_200 + s) // length for s in range(SESSION_SECONDS)})
    assert bars[0].open == day.bar.open
    assert bars[-1].close == day.bar.close
    assert max(b.high for b in bars) == day.bar.high
    assert min(b.low for b in bars) == day.bar.low
    assert sum(b.volume for b in bars) == day.bar.volume
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert bars[0].date.startswith(f"{gw.calendar.date_of(row):%Y%m%d} 09:30:00")


def test_five_second_bars_make_the_minute_bars(gw: GatewayServer) -> None:
    spec = gw.catalog.get(272093)
    assert spec is not None
    row = _row(gw, date(2020, 3, 12))
    start, end = row * SESSION_SECONDS + 3600.0, row * SESSION_SECONDS + 7200.0
    fives = [b.bar for b in gw.history.bars(spec, start, end, BarSize.SEC_5, "TRADES")]
    minutes = [b.bar for b in gw.history.bars(spec, start, end, BarSize.MIN_1, "TRADES")]
    assert len(fives) == 720
    assert len(minutes) == 60
    for i, m in enumerate(minutes):
        chunk = fives[12 * i : 12 * i + 12]
        assert (m.open, m.close) == (chunk[0].open, chunk[-1].close)
        assert (m.high, m.low) == (max(b.high for b in chunk), min(b.low for b in chunk))
        assert m.volume == sum(b.volume for b in chunk)


@pytest.mark.parametrize("size", [BarSize.WEEK_1, BarSize.MONTH_1])
def test_weeks_and_months_group_the_days(gw: GatewayServer, size: BarSize) -> None:
    spec = gw.catalog.get(265598)
    assert spec is not None
    r0, r1 = _row(gw, date(2019, 1, 2)), _row(gw, date(2019, 12, 31))
    start, end = r0 * SESSION_SECONDS, (r1 + 1) * SESSION_SECONDS
    days = [b.bar for b in gw.history.bars(spec, start, end, BarSize.DAY_1, "TRADES")]
    groups = [b.bar for b in gw.history.bars(spec, start, end, size, "TRADES")]
    assert days[0].open == groups[0].open
    assert days[-1].close == groups[-1].close
    assert sum(g.volume for g in groups) == sum(d.volume for d in days)
    assert max(g.high for g in groups) == max(d.high for d in days)
    dates = [gw.calendar.date_of(r) for r in range(r0, r1 + 1)]
    keys = {d.isocalendar()[:2] if size is BarSize.WEEK_1 else (d.year, d.month) for d in dates}
    assert len(groups) == len(keys)


@pytest.mark.parametrize("right", ["C", "P"])
def test_option_bars_are_consistent_too(gw: GatewayServer, right: str) -> None:
    opt = next(s for s in gw.catalog.specs if s.sec_type == "OPT" and s.right == right)
    row = gw.calendar.anchor_row - 1
    (day,) = gw.history.bars(opt, row * SESSION_SECONDS, (row + 1) * SESSION_SECONDS, BarSize.DAY_1, "TRADES")
    bars = [b.bar for b in gw.history.bars(opt, row * SESSION_SECONDS, (row + 1) * SESSION_SECONDS, BarSize.MIN_5,
                                           "TRADES")]  # fmt: skip
    assert (bars[0].open, bars[-1].close) == (day.bar.open, day.bar.close)
    assert (max(b.high for b in bars), min(b.low for b in bars)) == (day.bar.high, day.bar.low)


def test_quote_sides_and_what_to_show(gw: GatewayServer) -> None:
    spec = gw.catalog.get(265598)
    assert spec is not None
    row = gw.calendar.anchor_row - 1
    span = (row * SESSION_SECONDS, row * SESSION_SECONDS + 600.0)
    got = {w: [b.bar for b in gw.history.bars(spec, *span, BarSize.MIN_1, w)] for w in ("BID", "MIDPOINT", "ASK")}
    for bid, mid, ask in zip(got["BID"], got["MIDPOINT"], got["ASK"], strict=True):
        assert bid.close < mid.close < ask.close
        assert mid.volume == -1
        assert mid.count == -1
    q = gw.market.quote(spec, row * SESSION_SECONDS + 300.0)
    assert q.bid < q.ask
    assert q.bid <= q.last <= q.ask
    assert round(q.bid / spec.min_tick, 6).is_integer()
    assert round(q.ask / spec.min_tick, 6).is_integer()


def test_no_bar_shows_the_future() -> None:
    gw = GatewayServer(GatewayConfig(speed=0, replay_from=REPLAY))
    spec = gw.catalog.get(265598)
    assert spec is not None
    now = gw.clock.now_tt()
    row = gw.calendar.split(now)[0]
    early = [b.bar for b in gw.history.bars(spec, row * SESSION_SECONDS, now, BarSize.MIN_1, "TRADES")]
    later = [b.bar for b in gw.history.bars(spec, row * SESSION_SECONDS, now + 600, BarSize.MIN_1, "TRADES")]
    assert len(early) == 30
    assert len(later) == 40
    assert early == later[:30]
    (partial,) = gw.history.bars(spec, row * SESSION_SECONDS, now, BarSize.DAY_1, "TRADES")
    assert partial.bar.close == gw.market.price_at(spec, now)
    assert partial.bar.volume < 2e7


# --- request parameters --------------------------------------------------------------------------------------


def test_parse_duration_and_end() -> None:
    assert parse_duration("30 D") == (30, "D")
    assert parse_duration("3600 s") == (3600, "S")
    for bad in ("", "D", "0 D", "5 X", "1.5 D"):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(bad)
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert parse_end("", now) == now
    assert parse_end("20260105 14:00:00 UTC", now) == datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert parse_end("20260105-14:00:00", now) == datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert parse_end("20260105 09:00:00 US/Eastern", now) == datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert parse_end("20260105 09:00:00", now) == datetime(2026, 1, 5, 9, tzinfo=NEW_YORK)
    assert parse_end("20260105", now) == datetime(2026, 1, 5, 23, 59, 59, tzinfo=NEW_YORK)
    for bad in ("2026-01-05", "20260105 25:00:00", "20260105 10:00:00 Mars/Base"):
        with pytest.raises(ValueError, match=r"invalid endDateTime|unknown time zone"):
            parse_end(bad, now)


def test_window_start(gw: GatewayServer) -> None:
    cal = gw.calendar
    end = 100 * SESSION_SECONDS + 3600.0
    assert window_start(cal, end, 60, "S") == end - 60
    assert window_start(cal, end, 1, "D") == 100 * SESSION_SECONDS
    assert window_start(cal, end, 3, "D") == 98 * SESSION_SECONDS
    assert window_start(cal, 100.0 * SESSION_SECONDS, 1, "D") == 99 * SESSION_SECONDS
    week = window_start(cal, end, 1, "W")
    assert cal.to_datetime(week).date() == cal.date_of(100) - timedelta(weeks=1)
    assert window_start(cal, end, 1, "Y") < window_start(cal, end, 1, "M") < week


def test_calendar_maps_rows_to_weekdays(gw: GatewayServer) -> None:
    cal = gw.calendar
    anchor = cal.date_of(cal.anchor_row)
    assert anchor.weekday() < 5
    for row in range(cal.anchor_row - 10, cal.anchor_row + 10):
        d = cal.date_of(row)
        assert d.weekday() < 5
        assert cal.row_of_date(d) == row
        assert cal.to_tt(cal.open_of(row) + timedelta(hours=1)) == row * SESSION_SECONDS + 3600
    saturday = anchor + timedelta(days=(5 - anchor.weekday()) % 7 or 7)
    assert cal.to_tt(datetime.combine(saturday, datetime.min.time(), NEW_YORK)) == cal.to_tt(
        datetime.combine(saturday - timedelta(days=1), datetime.max.time(), NEW_YORK)
    )


@pytest.mark.slow
def test_bundled_file_is_skfolios_dataset() -> None:
    from skfolio.datasets import load_sp500_dataset

    df = load_sp500_dataset()
    ours = load_sample_closes()
    assert ours.tickers == tuple(df.columns)
    assert ours.dates == tuple(ts.date() for ts in df.index)
    assert np.array_equal(ours.closes, df.to_numpy())
