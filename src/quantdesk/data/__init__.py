"""Market data: the bar frame schema, bar sources (the S&P 500 sample, CSV/Parquet files), the Parquet bar store
and exchange calendars.

Import from here; the modules behind may move. Calendars load ``exchange_calendars`` on first use only.
"""

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
