"""Which way an order or fill trades."""

from __future__ import annotations

from enum import Enum

__all__ = ["OrderSide"]


class OrderSide(Enum):
    """Buy or sell; IB writes these as ``BUY``/``SELL`` on orders and ``BOT``/``SLD`` on executions."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign a fill applies to a position."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        """The side that closes a position opened by this one."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY

    @classmethod
    def parse(cls, text: str) -> OrderSide:
        """Accept BUY/SELL, BOT/SLD (IB executions) and lower case."""
        from quantdesk.errors import ValidationError

        t = text.strip().upper()
        if t in ("BUY", "BOT", "B"):
            return cls.BUY
        if t in ("SELL", "SLD", "S"):
            return cls.SELL
        raise ValidationError(f"unknown side {text!r}", field="side", value=text, hint="use BUY or SELL")
