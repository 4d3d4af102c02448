"""Market data values: bar sizes, OHLCV bars, quotes and trade ticks (UTC timestamps, exact prices)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.values import Numeric, to_decimal, to_non_negative, to_positive
from quantdesk.errors import ValidationError

__all__ = ["Bar", "BarSize", "Quote", "TradeTick", "require_utc"]


def require_utc(ts: datetime, field: str = "ts") -> datetime:
    """Require a timezone-aware timestamp and return it converted to UTC."""
    if not isinstance(ts, datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        raise ValidationError(
            f"must be a timezone-aware datetime, got {ts!r}",
            field=field,
            value=ts,
            hint="pass datetime(..., tzinfo=timezone.utc)",
        )

    return ts.astimezone(UTC)


class BarSize(Enum):
    """The bar sizes IB serves, named as IB writes them (``barSizeSetting``)."""

    SEC_1 = "1 secs"
    SEC_5 = "5 secs"
    SEC_10 = "10 secs"
    SEC_15 = "15 secs"
    SEC_30 = "30 secs"
    MIN_1 = "1 min"
    MIN_2 = "2 mins"
    MIN_3 = "3 mins"
    MIN_5 = "5 mins"
    MIN_10 = "10 mins"
    MIN_15 = "15 mins"
    MIN_20 = "20 mins"
    MIN_30 = "30 mins"
    HOUR_1 = "1 hour"
    HOUR_2 = "2 hours"
    HOUR_3 = "3 hours"
    HOUR_4 = "4 hours"
    HOUR_8 = "8 hours"
    DAY_1 = "1 day"
    WEEK_1 = "1 week"
    MONTH_1 = "1 month"

    @property
    def slug(self) -> str:
        """A file-system friendly name such as ``1min`` or ``1day``."""
        return self.value.replace(" ", "").replace("secs", "s").replace("mins", "min").replace("hours", "h")

    @property
    def duration(self) -> timedelta:
        """Nominal length; a month counts as 30 days and a day as 24 hours (sessions are the calendar's job)."""
        n_str, unit = self.value.split(" ")
        n = int(n_str)
        unit = unit.rstrip("s")
        return {
            "sec": timedelta(seconds=n),
            "min": timedelta(minutes=n),
            "hour": timedelta(hours=n),
            "day": timedelta(days=n),
            "week": timedelta(weeks=n),
            "month": timedelta(days=30 * n),
        }[unit]

    @classmethod
    def parse(cls, text: str) -> BarSize:
        """Accept IB's spelling (``1 min``), the slug (``1min``) or the enum name (``MIN_1``)."""
        t = text.strip()
        for member in cls:
            if t in (member.value, member.slug, member.name) or t.lower() in (member.value, member.slug):
                return member
        raise ValidationError(
            f"unknown bar size {text!r}",
            field="bar_size",
            value=text,
            hint="use one of " + ", ".join(m.slug for m in cls),
        )


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar that *starts* at ``ts`` (UTC) and lasts ``bar_size``."""

    instrument_id: InstrumentId
    bar_size: BarSize
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        for name in ("open", "high", "low", "close"):
            object.__setattr__(self, name, to_positive(getattr(self, name), name))
        object.__setattr__(self, "volume", to_non_negative(self.volume, "volume"))
        if self.high < self.low:
            raise ValidationError(
                f"high {self.high} is below low {self.low}", field="high", value=self.high, hint="swap or fix the bar"
            )
        for name in ("open", "close"):
            v = getattr(self, name)
            if not self.low <= v <= self.high:
                raise ValidationError(
                    f"{name} {v} lies outside [low {self.low}, high {self.high}]",
                    field=name,
                    value=v,
                    hint="open and close must lie between low and high",
                )

    @classmethod
    def of(
        cls,
        instrument_id: InstrumentId | str,
        bar_size: BarSize | str,
        ts: datetime,
        open: Numeric,
        high: Numeric,
        low: Numeric,
        close: Numeric,
        volume: Numeric = 0,
    ) -> Bar:
        """Build from plain values, converting and validating each."""
        iid = instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
        size = bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)
        return cls(
            iid,
            size,
            ts,
            to_decimal(open, "open"),
            to_decimal(high, "high"),
            to_decimal(low, "low"),
            to_decimal(close, "close"),
            to_decimal(volume, "volume"),
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book: best bid and ask with sizes; a crossed book (bid > ask) is rejected."""

    instrument_id: InstrumentId
    ts: datetime
    bid: Decimal
    ask: Decimal
    bid_size: Decimal = Decimal(0)
    ask_size: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "bid", to_positive(self.bid, "bid"))
        object.__setattr__(self, "ask", to_positive(self.ask, "ask"))
        object.__setattr__(self, "bid_size", to_non_negative(self.bid_size, "bid_size"))
        object.__setattr__(self, "ask_size", to_non_negative(self.ask_size, "ask_size"))
        if self.bid > self.ask:
            raise ValidationError(
                f"bid {self.bid} is above ask {self.ask} (crossed quote)",
                field="bid",
                value=self.bid,
                hint="a quote needs bid <= ask",
            )

    @property
    def mid(self) -> Decimal:
        """Midpoint of bid and ask."""
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        """Ask minus bid."""
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class TradeTick:
    """One reported trade (last price and size)."""

    instrument_id: InstrumentId
    ts: datetime
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "price", to_positive(self.price, "price"))
        object.__setattr__(self, "size", to_non_negative(self.size, "size"))
