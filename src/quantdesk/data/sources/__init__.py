"""Bar sources: the ``BarSource`` interface, its registry, the bundled S&P 500 sample and user files.

Registered by default: ``sample:sp500`` (:class:`SampleSource`). File sources need a path and a symbol, so they
are built directly: ``FileSource("prices.csv", "AAPL")``.
"""

from quantdesk.data.sources.base import (
    BarSource,
    available_sources,
    get_source,
    register_source,
    unregister_source,
)
from quantdesk.data.sources.files import FileFormat, FileSource, detect_format, read_bar_file
from quantdesk.data.sources.sample import (
    SAMPLE_SOURCE_NAME,
    SAMPLE_VOLUME,
    SampleSource,
    bars_from_closes,
    load_sample_prices,
    sample_symbols,
)

__all__ = [
    "SAMPLE_SOURCE_NAME",
    "SAMPLE_VOLUME",
    "BarSource",
    "FileFormat",
    "FileSource",
    "SampleSource",
    "available_sources",
    "bars_from_closes",
    "detect_format",
    "get_source",
    "load_sample_prices",
    "read_bar_file",
    "register_source",
    "sample_symbols",
    "unregister_source",
]

register_source(SAMPLE_SOURCE_NAME, SampleSource, replace=True)
