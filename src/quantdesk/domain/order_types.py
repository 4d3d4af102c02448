"""Order vocabulary: order types, time in force, OCA types, the links between orders and factory options."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TypedDict

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.errors import ValidationError

__all__ = ["OcaType", "OrderLink", "OrderOptions", "OrderType", "TimeInForce", "TimedOrderOptions"]


class OrderType(Enum):
    """How an order prices; values are IB's ``orderType`` strings (market-on-open is MARKET with tif OPG)."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAILING_STOP = "TRAIL"
    TRAILING_STOP_LIMIT = "TRAIL LIMIT"
    MARKET_ON_CLOSE = "MOC"
    LIMIT_ON_CLOSE = "LOC"

    @property
    def label(self) -> str:
        """A readable name such as ``stop-limit``."""
        return self.name.lower().replace("_", "-")

    @property
    def is_trailing(self) -> bool:
        """True for trailing stop and trailing stop-limit."""
        return self in (OrderType.TRAILING_STOP, OrderType.TRAILING_STOP_LIMIT)

    @classmethod
    def parse(cls, text: OrderType | str) -> OrderType:
        """Accept an ``OrderType``, IB's string (``STP LMT``) or the name (``stop_limit``)."""
        if isinstance(text, OrderType):
            return text
        t = text.strip().upper() if isinstance(text, str) else ""
        for member in cls:
            if t in (member.value, member.name, member.name.replace("_", "-"), member.name.replace("_", " ")):
                return member
        raise ValidationError(
            f"unknown order type {text!r}",
            field="order_type",
            value=text,
            hint="use one of " + ", ".join(m.value for m in cls),
        )


class TimeInForce(Enum):
    """How long an order stays working; values are IB's ``tif`` strings."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"
    OPG = "OPG"

    @classmethod
    def parse(cls, text: TimeInForce | str) -> TimeInForce:
        """Accept a ``TimeInForce`` or its code in any case."""
        if isinstance(text, TimeInForce):
            return text
        t = text.strip().upper() if isinstance(text, str) else ""
        if t in cls.__members__:
            return cls[t]
        raise ValidationError(
            f"unknown time in force {text!r}", field="tif", value=text, hint="use one of " + ", ".join(cls.__members__)
        )


class OcaType(Enum):
    """What IB does to the rest of a one-cancels-all group when one order fills (IB ``ocaType``)."""

    CANCEL_WITH_BLOCK = 1
    REDUCE_WITH_BLOCK = 2
    REDUCE_NON_BLOCK = 3

    @classmethod
    def parse(cls, value: OcaType | int | str) -> OcaType:
        """Accept an ``OcaType``, IB's number (1, 2, 3) or the name."""
        if isinstance(value, OcaType):
            return value
        for member in cls:
            if value in (member.value, str(member.value), member.name) or str(value).upper() == member.name:
                return member
        raise ValidationError(
            f"unknown OCA type {value!r}", field="oca_type", value=value, hint="use 1 (cancel), 2 or 3 (reduce)"
        )

    @property
    def description(self) -> str:
        """IB's wording of the behaviour."""
        return {
            OcaType.CANCEL_WITH_BLOCK: "cancel all remaining orders with block",
            OcaType.REDUCE_WITH_BLOCK: "proportionally reduce with block",
            OcaType.REDUCE_NON_BLOCK: "proportionally reduce, no block",
        }[self]


_OCA_GROUP = re.compile(r"^\S{1,128}$")


@dataclass(frozen=True, slots=True)
class OrderLink:
    """An order's ties to others: parent order, OCA group and type, and IB's ``transmit`` flag."""

    parent_client_order_id: ClientOrderId | None = None
    oca_group: str | None = None
    oca_type: OcaType | None = None
    transmit: bool = True

    def __post_init__(self) -> None:
        parent = self.parent_client_order_id
        if isinstance(parent, str):
            object.__setattr__(self, "parent_client_order_id", ClientOrderId(parent))
        if self.oca_group is not None and not (isinstance(self.oca_group, str) and _OCA_GROUP.match(self.oca_group)):
            raise ValidationError(
                f"is not a valid OCA group name: {self.oca_group!r}",
                field="oca_group",
                value=self.oca_group,
                hint="use 1-128 characters without spaces, e.g. exit-aapl",
            )
        if self.oca_type is not None:
            object.__setattr__(self, "oca_type", OcaType.parse(self.oca_type))
        if self.oca_type is not None and self.oca_group is None:
            raise ValidationError(
                f"oca_type {self.oca_type.name} is set without an oca_group",
                field="oca_type",
                value=self.oca_type,
                hint="set oca_group too, or drop oca_type",
            )
        if self.oca_group is not None and self.oca_type is None:
            object.__setattr__(self, "oca_type", OcaType.CANCEL_WITH_BLOCK)
        if not isinstance(self.transmit, bool):
            raise ValidationError(
                f"must be True or False, got {self.transmit!r}",
                field="transmit",
                value=self.transmit,
                hint="pass a bool",
            )

    @property
    def is_standalone(self) -> bool:
        """True when the order has no parent, no OCA group and transmits at once."""
        return self == OrderLink()


class OrderOptions(TypedDict, total=False):
    """Keyword options every ``Order`` factory accepts."""

    client_order_id: ClientOrderId
    account: AccountId | None
    strategy_id: StrategyId | None
    outside_rth: bool
    hidden: bool
    all_or_none: bool
    discretionary_amount: Decimal | None
    link: OrderLink


class TimedOrderOptions(OrderOptions, total=False):
    """``OrderOptions`` plus the time in force, for factories whose order type allows a choice."""

    tif: TimeInForce
    good_till: datetime | None
