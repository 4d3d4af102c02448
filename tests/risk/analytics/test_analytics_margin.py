"""Margin utilisation levels at the configured thresholds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quantdesk.config import Settings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.errors import ValidationError
from quantdesk.risk.analytics import MarginLevel, margin_status, margin_status_from_settings

TS = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def snap(net: float, maint: float, gross: float = 0.0) -> AccountSnapshot:
    return AccountSnapshot.of("DU1234567", TS, net, maintenance_margin=maint, gross_position_value=gross)


@pytest.mark.parametrize(
    ("maint", "level"),
    [
        (0, MarginLevel.OK),
        (49_999, MarginLevel.OK),
        (50_000, MarginLevel.WARNING),  # thresholds are inclusive
        (79_999, MarginLevel.WARNING),
        (80_000, MarginLevel.CRITICAL),
        (150_000, MarginLevel.CRITICAL),
    ],
)
def test_levels_at_the_default_thresholds(maint: float, level: MarginLevel) -> None:
    status = margin_status(snap(100_000, maint))
    assert status.level is level
    assert status.utilisation == pytest.approx(maint / 100_000)


def test_the_message_names_the_utilisation_and_the_threshold() -> None:
    status = margin_status(snap(200_000, 130_000, gross=400_000), warning_pct=0.6, critical_pct=0.9)
    assert status.level is MarginLevel.WARNING
    assert "65.0%" in status.message
    assert "warning threshold 60%" in status.message
    assert status.leverage == pytest.approx(2.0)
    assert status.cushion == pytest.approx(0.35)
    doc = status.to_dict()
    assert doc["level"] == "warning"
    assert doc["warning_pct"] == 0.6


def test_thresholds_come_from_the_risk_settings() -> None:
    cfg = Settings(risk={"margin_warning_pct": 0.2, "margin_critical_pct": 0.3})
    assert margin_status_from_settings(snap(100_000, 25_000), cfg.risk).level is MarginLevel.WARNING
    assert margin_status_from_settings(snap(100_000, 30_000), cfg.risk).level is MarginLevel.CRITICAL
    assert margin_status_from_settings(snap(100_000, 25_000), Settings().risk).level is MarginLevel.OK


def test_an_account_in_deficit_is_critical() -> None:
    status = margin_status(snap(-5_000, 1_000))
    assert status.level is MarginLevel.CRITICAL
    assert status.utilisation is None
    assert "deficit" in status.message
    empty = margin_status(snap(0, 0))
    assert empty.level is MarginLevel.OK


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        margin_status(snap(1, 0), warning_pct=0.9, critical_pct=0.5)
    assert exc.value.field == "risk.margin_warning_pct"
    with pytest.raises(ValidationError) as exc:
        margin_status(snap(1, 0), warning_pct=0.5, critical_pct=1.5)
    assert exc.value.field == "risk.margin_critical_pct"
