"""Slippage: how much worse than the quoted or touched price a simulated execution gets.

Slippage is always adverse (a buy pays more, a sell receives less) and never crosses a limit: the engine clamps
the slipped price to the order's limit, so a limit order never fills worse than its limit. Prices are exact
``Decimal`` and are not rounded to the tick (the adjustment is usually a fraction of a tick). Auction fills
(market/limit-on-open and -on-close) take no slippage: everyone in the auction gets the one auction price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import ZERO, Numeric, to_non_negative
from quantdesk.errors import ValidationError

__all__ = ["FixedBps", "NoSlippage", "SlippageModel", "SpreadShare"]

_BPS = Decimal(10_000)


@runtime_checkable
class SlippageModel(Protocol):
    """Turns the raw execution price into the price the simulated fill gets."""

    def adjust(self, side: OrderSide, price: Decimal, spread: Decimal | None) -> Decimal:
        """The slipped price for ``side`` at raw ``price``; ``spread`` is the quote's spread, None for bars/trades."""
        ...


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Fills at the raw price (the default)."""

    def adjust(self, side: OrderSide, price: Decimal, spread: Decimal | None) -> Decimal:
        """Return ``price`` unchanged."""
        return price


def _adverse(side: OrderSide, price: Decimal, amount: Decimal) -> Decimal:
    result = price + amount if side is OrderSide.BUY else price - amount
    return result if result > 0 else price


@dataclass(frozen=True, slots=True)
class FixedBps:
    """A fixed number of basis points of the price against the order: 5 bps on a buy at 100 fills at 100.05."""

    bps: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "bps", to_non_negative(self.bps, "bps"))

    @classmethod
    def of(cls, bps: Numeric) -> FixedBps:
        """Build from any numeric."""
        return cls(to_non_negative(bps, "bps"))

    def adjust(self, side: OrderSide, price: Decimal, spread: Decimal | None) -> Decimal:
        """Move ``price`` by ``bps`` against the order (never below zero)."""
        return _adverse(side, price, price * self.bps / _BPS)


@dataclass(frozen=True, slots=True)
class SpreadShare:
    """A share of the quoted spread against the order (0.5 = half the spread beyond the ask/bid).

    Bars and trades carry no spread: there ``fallback_bps`` applies instead (default none).
    """

    share: Decimal
    fallback_bps: Decimal = ZERO

    def __post_init__(self) -> None:
        share = to_non_negative(self.share, "share")
        if share > 1:
            raise ValidationError(
                f"must lie in [0, 1], got {share}", field="share", value=share, hint="pass e.g. 0.5 for half the spread"
            )
        object.__setattr__(self, "share", share)
        object.__setattr__(self, "fallback_bps", to_non_negative(self.fallback_bps, "fallback_bps"))

    def adjust(self, side: OrderSide, price: Decimal, spread: Decimal | None) -> Decimal:
        """Move ``price`` by ``share`` × spread against the order (``fallback_bps`` when there is no spread)."""
        amount = price * self.fallback_bps / _BPS if spread is None else spread * self.share
        return _adverse(side, price, amount)
