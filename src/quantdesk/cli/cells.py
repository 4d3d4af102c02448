"""How values read in a table cell: symbols for instrument ids, prices at the instrument's tick, money in cents,
quantities without useless decimals, times in UTC.

Only the tables round; ``--json`` and ``--csv`` keep the exact values (see ``quantdesk.services.orders``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instrument_ids import split_instrument_id
from quantdesk.domain.market import BarSize

__all__ = [
    "bar_size_words",
    "decimals_of",
    "float_prices",
    "instrument_label",
    "money",
    "number",
    "order_status",
    "plural",
    "price",
    "quantity",
    "tick_of",
    "utc",
    "volume",
]

_DEFAULT_TICK = Decimal("0.01")
_UNITS = {"secs": "second", "min": "minute", "mins": "minute", "hour": "hour", "hours": "hour"}
_PERIODIC = {BarSize.DAY_1: "daily", BarSize.WEEK_1: "weekly", BarSize.MONTH_1: "monthly"}
_FLOAT_PLACES = 4  # a float price off the tick grid (adjusted history) shows this many decimals
_SHORT_STATUS = {
    "PARTIALLY_FILLED": "PART-FILLED",
    "PENDING_SUBMIT": "PENDING",
    "PENDING_CANCEL": "CANCELLING",
    "PENDING_REPLACE": "REPLACING",
}


def instrument_label(instrument_id: str | None, *, full: bool = False) -> str:
    """What a trader reads: ``UNH`` for ``UNH.STK.SMART.USD``, ``ES 20250321`` for a future, ``EUR.USD`` for forex.

    With ``full`` (``--wide``) the id itself; an id that is not quantdesk's shape is shown as it is.
    """
    if instrument_id is None:
        return ""
    parts = None if full else split_instrument_id(instrument_id)
    if parts is None:
        return instrument_id
    if parts.asset_class is AssetClass.FOREX:
        return f"{parts.symbol}.{parts.currency}"
    return f"{parts.symbol} {parts.suffix.replace('.', ' ', 1)}" if parts.suffix else parts.symbol


def tick_of(instrument_id: str | None) -> Decimal:
    """The price tick of an instrument id's asset class (0.01 for shares, 0.00005 for forex, …)."""
    parts = None if instrument_id is None else split_instrument_id(instrument_id)
    return _DEFAULT_TICK if parts is None else parts.tick


def decimals_of(value: Decimal) -> int:
    """How many decimals ``value`` needs (``178.70`` needs one, ``5`` none)."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _fixed(value: Decimal, places: int) -> str:
    try:
        return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,f}"
    except InvalidOperation:  # more digits than the context holds: show it as it is
        return f"{value:,f}"


def price(value: Decimal | None, instrument_id: str | None, *, average: bool = False) -> str:
    """A price at the tick's decimals (``178.70``); an exact price that needs more keeps them, an average is rounded."""
    if value is None:
        return ""
    places = decimals_of(tick_of(instrument_id))
    return _fixed(value, places if average else max(places, decimals_of(value)))


def money(value: Decimal | None, currency: str | None = None) -> str:
    """An amount in cents, with its currency when given: ``2.00 USD``, ``-1,234.50``."""
    if value is None:
        return ""
    text = _fixed(value, 2)
    return f"{text} {currency}" if currency else text


def quantity(value: Decimal | None) -> str:
    """A quantity without useless decimals: ``1,000,000``, ``0.5``."""
    if value is None:
        return ""
    return _fixed(value, decimals_of(value))


def order_status(status: str, *, full: bool = False) -> str:
    """An order status as a narrow column reads it (``PART-FILLED``); with ``full`` the stored name."""
    return status if full else _SHORT_STATUS.get(status, status)


def utc(ts: datetime | None, *, seconds: bool = True) -> str:
    """A time in UTC without the offset (the column header says UTC): ``2026-12-01 14:30:05``."""
    if ts is None:
        return ""
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 bar``, ``2 bars``, ``1,000 bars`` (``words`` for an irregular plural)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def bar_size_words(bar_size: BarSize | str) -> str:
    """A bar size in words: ``30-minute``, ``1-hour``, ``daily``; an unknown spelling is shown as it is."""
    try:
        size = bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)
    except ValueError:
        return str(bar_size)
    if size in _PERIODIC:
        return _PERIODIC[size]
    n, unit = size.value.split(" ")
    return f"{n}-{_UNITS[unit]}"


def float_prices(values: list[float | None], instrument: str | None = None) -> list[str]:
    """A column of float prices at one scale: the tick's decimals when every price is on it, else 4."""
    places = decimals_of(tick_of(instrument))
    step = 10**places
    on_tick = all(v is None or abs(v * step - round(v * step)) < 1e-6 for v in values)
    scale = places if on_tick else max(places, _FLOAT_PLACES)
    return ["" if v is None else f"{v:,.{scale}f}" for v in values]


def number(text: object) -> str:
    """A quantity given as text (a JSON document's ``"930700.000000000000"``) without useless decimals; other text
    as it is, None as blank."""
    if text is None:
        return ""
    try:
        return quantity(Decimal(str(text)))
    except (InvalidOperation, ValueError):
        return str(text)


def volume(value: float | None) -> str:
    """A volume without useless decimals: ``1,000,000``, ``0.25`` (crypto)."""
    if value is None or value != value:
        return ""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.8f}".rstrip("0")
