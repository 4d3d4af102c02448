from __future__ import annotations

import pytest

from quantdesk.errors import (
    BrokerError,
    ConfigError,
    ConnectionLost,
    DataError,
    IllegalTransition,
    LiveTradingNotConfirmed,
    NotFound,
    OrderRejected,
    QuantdeskError,
    RiskRejected,
    ValidationError,
)


@pytest.mark.parametrize(
    "cls",
    [
        ConfigError,
        ValidationError,
        DataError,
        RiskRejected,
        BrokerError,
        ConnectionLost,
        NotFound,
        IllegalTransition,
        LiveTradingNotConfirmed,
        OrderRejected,
    ],
)
def test_every_error_is_a_quantdesk_error(cls: type[QuantdeskError]) -> None:
    assert issubclass(cls, QuantdeskError)


def test_str_names_field_and_fix() -> None:
    err = ValidationError("must be greater than zero, got -5", field="quantity", value=-5, hint="pass a positive value")
    assert str(err) == "quantity: must be greater than zero, got -5 (fix: pass a positive value)"
    assert err.to_dict() == {
        "error": "ValidationError",
        "message": "must be greater than zero, got -5",
        "field": "quantity",
        "value": "-5",
        "hint": "pass a positive value",
    }


def test_broker_error_keeps_code() -> None:
    err = OrderRejected("order rejected: insufficient buying power", code=201, field="quantity")
    assert err.code == 201
    assert isinstance(err, BrokerError)
    assert "insufficient buying power" in str(err)


def test_validation_error_is_a_value_error_for_callers_that_expect_one() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise ValidationError("bad")
