"""Identifiers: ours (``ClientOrderId``, sent to IB as ``orderRef``) and the broker's (``orderId``, ``permId``)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from quantdesk.errors import ValidationError

__all__ = ["AccountId", "BrokerOrderId", "ClientOrderId", "ExecutionId", "InstrumentId", "StrategyId"]

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")


def _check_token(value: str, field: str, example: str) -> None:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ValidationError(
            f"is not a valid identifier: {value!r}",
            field=field,
            value=value,
            hint=f"use 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit (e.g. {example})",
        )


@dataclass(frozen=True, slots=True, order=True)
class ClientOrderId:
    """Our id for an order, unique across restarts; it travels to IB as ``orderRef`` and keys idempotency."""

    value: str

    def __post_init__(self) -> None:
        _check_token(self.value, "client_order_id", "qd-3f2a9c")

    @classmethod
    def new(cls, prefix: str = "qd") -> ClientOrderId:
        """A fresh random id such as ``qd-5b1e0c8d2f4a4e6b9c7d``."""
        return cls(f"{prefix}-{uuid.uuid4().hex[:20]}")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class BrokerOrderId:
    """The broker's names for an order: IB's per-client ``order_id`` and its global ``perm_id`` (0 until known)."""

    order_id: int
    perm_id: int = 0
    client_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("order_id", "perm_id"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValidationError(
                    f"must be a non-negative integer, got {v!r}", field=name, value=v, hint="pass IB's integer id"
                )


@dataclass(frozen=True, slots=True, order=True)
class ExecutionId:
    """A broker execution id (IB ``execId``); fills are recorded once per execution id."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValidationError(
                "must be a non-empty string", field="exec_id", value=self.value, hint="pass the broker's execId"
            )

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class AccountId:
    """A broker account code such as ``DU1234567`` (paper) or ``U1234567`` (live)."""

    value: str

    def __post_init__(self) -> None:
        _check_token(self.value, "account", "DU1234567")

    @property
    def is_paper(self) -> bool:
        """IB paper accounts start with ``D`` (``DU…``, ``DF…``)."""
        return self.value.startswith("D")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class StrategyId:
    """The name a strategy runs under; orders and fills are attributed to it."""

    value: str

    def __post_init__(self) -> None:
        _check_token(self.value, "strategy_id", "sma-cross")

    def __str__(self) -> str:
        return self.value


_INSTRUMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,95}$")


@dataclass(frozen=True, slots=True, order=True)
class InstrumentId:
    """A stable key for an instrument, e.g. ``AAPL.STK.SMART.USD``; built by ``Instrument.id``."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _INSTRUMENT.match(self.value):
            raise ValidationError(
                f"is not a valid instrument id: {self.value!r}",
                field="instrument_id",
                value=self.value,
                hint="use letters, digits and . _ : / - such as AAPL.STK.SMART.USD",
            )

    def __str__(self) -> str:
        return self.value
