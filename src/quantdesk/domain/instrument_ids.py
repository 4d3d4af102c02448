"""Reading an instrument id (``SYMBOL.SECTYPE.EXCHANGE.CURRENCY[.suffix]``) back: its parts and its asset class's tick.

Stored orders and fills carry only the id; tables and JSON use this to show a symbol and round to the tick.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cache

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Instrument

__all__ = ["IdParts", "class_tick", "split_instrument_id"]

_SEC_TYPES = {a.value: a for a in AssetClass}
_DEFAULT_TICK = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class IdParts:
    """The parts of an instrument id: ``BRK.B.STK.SMART.USD`` is symbol ``BRK.B``, STOCK, SMART, USD, no suffix."""

    symbol: str
    asset_class: AssetClass
    exchange: str
    currency: str
    suffix: str  # expiry, strike and right, … joined by dots; empty for a share

    @property
    def tick(self) -> Decimal:
        """The default price tick of this asset class (a particular contract may have a finer one)."""
        return class_tick(self.asset_class)


def split_instrument_id(instrument_id: str) -> IdParts | None:
    """The parts of an id, or None when it is not quantdesk's shape (symbols may hold dots)."""
    parts = instrument_id.split(".")
    for i in range(1, len(parts) - 2):
        kind = _SEC_TYPES.get(parts[i])
        if kind is not None and len(parts[i + 2]) == 3 and parts[i + 2].isalpha():
            return IdParts(".".join(parts[:i]), kind, parts[i + 1], parts[i + 2], ".".join(parts[i + 3 :]))
    return None


@cache
def _class_ticks() -> dict[AssetClass, Decimal]:
    ticks: dict[AssetClass, Decimal] = {}
    pending: list[type[Instrument]] = [Instrument]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        kind = cls.__dict__.get("_asset_class")
        if isinstance(kind, AssetClass):
            tick = next(f.default for f in fields(cls) if f.name == "tick_size")
            ticks[kind] = tick if isinstance(tick, Decimal) else _DEFAULT_TICK
    return ticks


def class_tick(asset_class: AssetClass) -> Decimal:
    """The default tick of an asset class, as its instrument class declares it (0.01 shares, 0.00005 forex, …)."""
    return _class_ticks().get(asset_class, _DEFAULT_TICK)
