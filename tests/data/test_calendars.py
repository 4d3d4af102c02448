"""Exchange calendars by IB exchange name: sessions, early closes, holidays, 24h venues."""

from __future__ import annotations

import pandas as pd
import pytest

from quantdesk.data import calendars
from quantdesk.errors import DataError, NotFound, ValidationError


def test_nyse_2024_has_252_sessions() -> None:
    days = calendars.sessions("NYSE", "2024-01-01", "2024-12-31")
    assert len(days) == 252
    assert days[0] == pd.Timestamp("2024-01-02")
    assert days[-1] == pd.Timestamp("2024-12-31")


def test_smart_and_arca_follow_nyse_and_island_follows_nasdaq() -> None:
    assert calendars.calendar_name("smart") == "XNYS"
    assert calendars.calendar_name("ARCA") == "XNYS"
    assert calendars.calendar_name("ISLAND") == "XNAS"
    assert calendars.calendar_name("GLOBEX") == "CMES"
    assert calendars.calendar_name("LSE") == "XLON"
    assert calendars.calendar_name("IDEALPRO") == "24/5"
    assert calendars.calendar_name("PAXOS") == "24/7"
    assert calendars.calendar_name("XTKS") == "XTKS"  # exchange_calendars names pass through
    assert calendars.get_calendar("SMART") is calendars.get_calendar("NYSE")  # cached


def test_day_after_thanksgiving_is_an_early_close() -> None:
    open_, close = calendars.session_open_close("NYSE", "2024-11-29")
    assert open_ == pd.Timestamp("2024-11-29 14:30", tz="UTC")
    assert close == pd.Timestamp("2024-11-29 18:00", tz="UTC")  # 13:00 New York
    assert calendars.is_open("NYSE", pd.Timestamp("2024-11-29 17:59", tz="UTC"))
    assert not calendars.is_open("NYSE", pd.Timestamp("2024-11-29 18:00", tz="UTC"))
    regular = calendars.session_open_close("NYSE", "2024-11-26")
    assert regular[1] == pd.Timestamp("2024-11-26 21:00", tz="UTC")


def test_christmas_is_not_a_session() -> None:
    assert not calendars.is_session("NYSE", "2024-12-25")
    assert calendars.is_session("NYSE", "2024-12-24")
    assert calendars.next_session("NYSE", "2024-12-24") == pd.Timestamp("2024-12-26")
    with pytest.raises(DataError) as info:
        calendars.session_open_close("NYSE", "2024-12-25")
    assert info.value.field == "date"
    assert "2024-12-26" in str(info.value.hint)


def test_forex_is_open_on_a_tuesday_night_but_not_on_saturday() -> None:
    assert calendars.is_open("IDEALPRO", pd.Timestamp("2024-11-26 03:00", tz="UTC"))  # a Tuesday
    assert not calendars.is_open("IDEALPRO", pd.Timestamp("2024-11-30 03:00", tz="UTC"))  # a Saturday
    assert calendars.is_open("PAXOS", pd.Timestamp("2024-11-30 03:00", tz="UTC"))
    assert not calendars.is_open("NYSE", pd.Timestamp("2024-11-26 03:00", tz="UTC"))


def test_sessions_reach_back_to_the_sample_start() -> None:
    assert calendars.is_session("NYSE", "1990-01-02")
    assert len(calendars.sessions("NYSE", "1990-01-01", "1990-01-31")) == 22


def test_cme_session_opens_the_evening_before() -> None:
    open_, close = calendars.session_open_close("CME", "2024-11-26")
    assert open_ == pd.Timestamp("2024-11-25 23:00", tz="UTC")
    assert close == pd.Timestamp("2024-11-26 23:00", tz="UTC")  # exchange_calendars' CMES closes 17:00 Chicago
    assert calendars.is_open("GLOBEX", pd.Timestamp("2024-11-25 23:30", tz="UTC"))


def test_unknown_exchange_lists_supported() -> None:
    with pytest.raises(NotFound) as info:
        calendars.get_calendar("MOON")
    assert info.value.field == "exchange"
    assert "NYSE" in str(info.value.hint)
    assert "IDEALPRO" in str(info.value.hint)


def test_naive_timestamp_is_refused_and_out_of_range_is_a_data_error() -> None:
    with pytest.raises(ValidationError) as info:
        calendars.is_open("NYSE", "2024-11-26 15:00")
    assert info.value.field == "ts"
    with pytest.raises(DataError) as err:
        calendars.sessions("NYSE", "1980-01-01", "1990-02-01")
    assert err.value.field == "start"
