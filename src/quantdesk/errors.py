"""The one exception hierarchy of quantdesk.

Every error a user can see names the offending ``field`` (a config key, a column, an order attribute) and a
``hint`` that says how to fix it, so that the CLI and the API can print one specific line instead of a traceback.
This module is a leaf: it imports nothing of quantdesk, so ``domain`` may raise these errors and stay pure.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BrokerError",
    "ConfigError",
    "ConnectionLost",
    "DataError",
    "IllegalTransition",
    "LiveTradingNotConfirmed",
    "NotFound",
    "OrderRejected",
    "QuantdeskError",
    "RiskRejected",
    "ValidationError",
]


class QuantdeskError(Exception):
    """Base of every quantdesk error: a message, the offending field, its value and a hint for the fix."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.hint = hint

    def __str__(self) -> str:
        parts = []
        if self.field:
            parts.append(f"{self.field}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f" (fix: {self.hint})")
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for ``--json`` output and API error bodies."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "field": self.field,
            "value": None if self.value is None else repr(self.value),
            "hint": self.hint,
        }


class ValidationError(QuantdeskError, ValueError):
    """A value object or request was built from invalid input (negative quantity, NaN price, …)."""


class IllegalTransition(ValidationError):
    """An order was asked to move to a state that the transition table does not allow from its current one."""


class ConfigError(QuantdeskError):
    """The configuration (file, environment variables, overrides) is malformed or inconsistent."""


class LiveTradingNotConfirmed(ConfigError):
    """Live trading was requested without the explicit confirmation that money-moving modes require."""


class DataError(QuantdeskError):
    """Market data is missing, malformed or inconsistent (unsorted, duplicate, NaN, high < low, …)."""


class NotFound(QuantdeskError, LookupError):
    """A named thing (symbol, dataset, account, order) does not exist."""


class RiskRejected(QuantdeskError):
    """A pre-trade risk rule refused an order; ``field`` names the rule, ``value`` the offending value.

    ``rule`` (defaults to ``field``) and ``limit`` (the limit as text) are set by the risk engine.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        hint: str | None = None,
        rule: str | None = None,
        limit: str | None = None,
    ) -> None:
        super().__init__(message, field=field if field is not None else rule, value=value, hint=hint)
        self.rule = rule if rule is not None else field
        self.limit = limit

    def __str__(self) -> str:
        text = super().__str__()
        if self.field and self.message.startswith(f"{self.field}:"):
            return text[len(self.field) + 2 :]  # the message names the rule already
        return text

    def to_dict(self) -> dict[str, Any]:
        """The base description plus the rule and its limit."""
        return {**super().to_dict(), "rule": self.rule, "limit": self.limit}


class BrokerError(QuantdeskError):
    """The broker refused or failed a request; ``code`` carries the broker's own error code when it has one."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        field: str | None = None,
        value: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, field=field, value=value, hint=hint)
        self.code = code


class OrderRejected(BrokerError):
    """The broker rejected an order (IB error 201 and friends)."""


class ConnectionLost(BrokerError):
    """The connection to the broker is down or could not be established."""
