"""IB error codes as data: every code the notes list is classified, with the adapter's action."""

from __future__ import annotations

import pytest

from quantdesk.brokers.ib.error_codes import (
    CODES,
    ErrorAction,
    ErrorClass,
    ErrorStats,
    classify,
    is_order_terminal,
    keeps_order_live,
)

# Every code of the IB notes (section 5, "Error-code classes") and the class it must have.
NOTES = {
    ErrorClass.CONNECTIVITY: [1100, 1101, 1102, 1300, 2103, 2105, 2157, 2110],
    ErrorClass.INFO: [2104, 2106, 2158, 2107, 2108, 2119],
    ErrorClass.WARNING: [2100, 2101, 2102, 2137, 399, 404, 10167, 165, 10349],
    ErrorClass.REQUEST: [162, 200, 300, 320, 321, 322, 354, 366, 10089, 10090, 10091, 10182, 10197, 101],
    ErrorClass.ORDER: [103, 104, 110, 135, 161, 201, 202, 203, 434, 10147, 10148],
    ErrorClass.CLIENT: [326, 100, 502, 504],
}


@pytest.mark.parametrize(("kind", "code"), [(k, c) for k, codes in NOTES.items() for c in codes])
def test_every_listed_code_is_in_the_table_with_its_class(kind: ErrorClass, code: int) -> None:
    assert code in CODES
    assert classify(code).kind is kind
    assert classify(code).meaning


def test_actions_of_the_codes_that_matter() -> None:
    assert classify(1101).action is ErrorAction.RESUBSCRIBE
    assert classify(1102).action is ErrorAction.CONNECTIVITY_RESTORED
    assert classify(1100).action is ErrorAction.CONNECTIVITY_LOST
    assert classify(326).action is ErrorAction.FAIL_CONNECT
    assert classify(201).action is ErrorAction.REJECT_ORDER
    assert classify(202).action is ErrorAction.CANCEL_CONFIRMED
    assert classify(10349).action is ErrorAction.KEEP_ORDER_LIVE
    assert classify(2104).action is ErrorAction.IGNORE
    assert classify(10167).action is ErrorAction.USE_DELAYED
    assert classify(200).fix.startswith("check symbol")


def test_the_message_refines_162_and_321() -> None:
    pacing = "Historical Market Data Service error message:Historical data request pacing violation"
    assert classify(162, pacing).action is ErrorAction.PACING
    assert classify(162, "HMDS query returned no data: AAPL@SMART Trades").action is ErrorAction.NO_DATA
    assert classify(162, "Historical Market Data Service error message:Time length exceed max.").action is (
        ErrorAction.END_REQUEST
    )
    read_only = classify(
        321, "Error validating request:-'bW' : cause - The API interface is currently in Read-Only mode."
    )
    assert "Read-Only API" in read_only.fix


def test_unknown_codes_fall_back_by_range() -> None:
    assert classify(2199).kind is ErrorClass.WARNING
    assert classify(1234).kind is ErrorClass.CONNECTIVITY
    assert classify(99999).kind is ErrorClass.REQUEST


def test_only_rejects_and_cancel_acks_end_an_order() -> None:
    assert is_order_terminal(201)
    assert is_order_terminal(202)
    for code in (10349, 399, 404, 2109, 10148, 161, 104, 2104, 1102):
        assert keeps_order_live(code), code


def test_error_statistics() -> None:
    stats = ErrorStats()
    for code in (2104, 2106, 200, 200, 1100):
        stats.record(code, f"message {code}")
    assert stats.total == 5
    assert stats.by_code[200] == 2
    assert stats.by_class[ErrorClass.INFO] == 2
    snap = stats.snapshot()
    assert snap["by_class"] == {"connectivity": 1, "info": 2, "request": 2}
    assert snap["last_message"]["1100"] == "message 1100"
