"""Market data: the bar frame schema, bar sources (the S&P 500 sample, CSV/Parquet files), the Parquet bar store
and exchange calendars.

Import from here; the modules behind may move. Each name is imported on first use (calendars load
``exchange_calendars`` only then), so listing the bar store does not load pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdesk.data.bar_store import BarStore, instrument_key
    from quantdesk.data.calendars import (
        EXCHANGE_CALENDARS,
        calendar_name,
        get_calendar,
        is_open,
        is_session,
        next_session,
        session_open_close,
        sessions,
        supported_exchanges,
    )
    from quantdesk.data.catalog import CatalogEntry
    from quantdesk.data.schema import (
        ADJUSTED,
        BAR_COLUMNS,
        INDEX_NAME,
        PRICE_COLUMNS,
        TimeBound,
        empty_bars,
        is_daily_or_longer,
        parse_bound,
        slice_bars,
        validate_bars,
    )
    from quantdesk.data.sources import (
        SAMPLE_SOURCE_NAME,
        BarSource,
        FileSource,
        SampleSource,
        available_sources,
        bars_from_closes,
        detect_format,
        get_source,
        load_sample_prices,
        read_bar_file,
        register_source,
        sample_symbols,
        unregister_source,
    )

__all__ = [
    "ADJUSTED",
    "BAR_COLUMNS",
    "EXCHANGE_CALENDARS",
    "INDEX_NAME",
    "PRICE_COLUMNS",
    "SAMPLE_SOURCE_NAME",
    "BarSource",
    "BarStore",
    "CatalogEntry",
    "FileSource",
    "SampleSource",
    "TimeBound",
    "available_sources",
    "bars_from_closes",
    "calendar_name",
    "detect_format",
    "empty_bars",
    "get_calendar",
    "get_source",
    "instrument_key",
    "is_daily_or_longer",
    "is_open",
    "is_session",
    "load_sample_prices",
    "next_session",
    "parse_bound",
    "read_bar_file",
    "register_source",
    "sample_symbols",
    "session_open_close",
    "sessions",
    "slice_bars",
    "supported_exchanges",
    "unregister_source",
    "validate_bars",
]

_WHERE: dict[str, str] = {
    "BarStore": "quantdesk.data.bar_store",
    "instrument_key": "quantdesk.data.bar_store",
    "EXCHANGE_CALENDARS": "quantdesk.data.calendars",
    "calendar_name": "quantdesk.data.calendars",
    "get_calendar": "quantdesk.data.calendars",
    "is_open": "quantdesk.data.calendars",
    "is_session": "quantdesk.data.calendars",
    "next_session": "quantdesk.data.calendars",
    "session_open_close": "quantdesk.data.calendars",
    "sessions": "quantdesk.data.calendars",
    "supported_exchanges": "quantdesk.data.calendars",
    "CatalogEntry": "quantdesk.data.catalog",
    "ADJUSTED": "quantdesk.data.schema",
    "BAR_COLUMNS": "quantdesk.data.schema",
    "INDEX_NAME": "quantdesk.data.schema",
    "PRICE_COLUMNS": "quantdesk.data.schema",
    "TimeBound": "quantdesk.data.schema",
    "empty_bars": "quantdesk.data.schema",
    "is_daily_or_longer": "quantdesk.data.schema",
    "parse_bound": "quantdesk.data.schema",
    "slice_bars": "quantdesk.data.schema",
    "validate_bars": "quantdesk.data.schema",
    "BarSource": "quantdesk.data.sources",
    "FileSource": "quantdesk.data.sources",
    "SAMPLE_SOURCE_NAME": "quantdesk.data.sources",
    "SampleSource": "quantdesk.data.sources",
    "available_sources": "quantdesk.data.sources",
    "bars_from_closes": "quantdesk.data.sources",
    "detect_format": "quantdesk.data.sources",
    "get_source": "quantdesk.data.sources",
    "load_sample_prices": "quantdesk.data.sources",
    "read_bar_file": "quantdesk.data.sources",
    "register_source": "quantdesk.data.sources",
    "sample_symbols": "quantdesk.data.sources",
    "unregister_source": "quantdesk.data.sources",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
