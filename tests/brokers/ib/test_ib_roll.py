"""The futures roll: a pure function of a chain, a date and (optionally) volume or open interest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from quantdesk.brokers.ib.chains import RollRule, active_contract, roll_date
from quantdesk.domain.instruments import Future
from quantdesk.errors import NotFound, ValidationError


def es(expiry: date) -> Future:
    return Future("ES", expiry, exchange="CME", multiplier=Decimal(50), tick_size=Decimal("0.25"))


H5, M5, U5 = es(date(2025, 3, 21)), es(date(2025, 6, 20)), es(date(2025, 9, 19))
CHAIN = [U5, H5, M5]  # any order


def test_the_front_contract_until_the_roll_date() -> None:
    assert active_contract(CHAIN, date(2025, 1, 2)) == H5
    assert roll_date(H5) == date(2025, 3, 14)  # five business days before Friday 21 March
    assert active_contract(CHAIN, date(2025, 3, 13)) == H5
    assert active_contract(CHAIN, date(2025, 3, 14)) == M5
    assert active_contract(CHAIN, date(2025, 3, 21)) == M5  # expiry day: never hold it
    assert active_contract(CHAIN, date(2025, 6, 13)) == U5


def test_the_rule_is_configurable() -> None:
    assert roll_date(H5, RollRule(days_before_expiry=0)) == H5.expiry
    assert active_contract(CHAIN, date(2025, 3, 20), RollRule(days_before_expiry=0)) == H5
    assert roll_date(H5, RollRule(days_before_expiry=10)) == date(2025, 3, 7)
    with pytest.raises(ValidationError):
        RollRule(days_before_expiry=-1)


def test_activity_rolls_earlier_but_never_later() -> None:
    quiet = {H5.id: Decimal(900_000), M5.id: Decimal(100_000)}
    moved = {H5.id: Decimal(300_000), M5.id: Decimal(800_000)}
    assert active_contract(CHAIN, date(2025, 3, 10), volume=quiet) == H5
    assert active_contract(CHAIN, date(2025, 3, 10), volume=moved) == M5
    assert active_contract(CHAIN, date(2025, 3, 10), volume=quiet, open_interest=moved) == M5  # OI preferred
    assert active_contract(CHAIN, date(2025, 3, 17), volume=quiet) == M5  # the calendar rule still applies
    assert active_contract(CHAIN, date(2025, 3, 10), RollRule(use_activity=False), volume=moved) == H5


def test_the_last_contract_and_an_exhausted_chain() -> None:
    assert active_contract([U5], date(2025, 9, 18)) == U5
    with pytest.raises(NotFound, match="no contract of the chain expires after"):
        active_contract(CHAIN, date(2025, 9, 19))
