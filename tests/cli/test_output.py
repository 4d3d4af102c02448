"""``Output.table`` at a narrow terminal: no value split across lines, the least important columns left out."""

from __future__ import annotations

import pytest

from quantdesk.cli import output
from quantdesk.cli.output import Col, Output

LONG_ID = "qd-20261201-000000001"
ROWS = [["2026-12-01 14:30:05", "UNH", "BUY", "1,000,000", "178.73", LONG_ID, "momentum-long", "DU1234567"]]
COLS = [
    Col("time (UTC)"),
    Col("symbol"),
    Col("side"),
    Col("qty"),
    Col("price"),
    Col("client order id", drop=2),
    Col("strategy", drop=3),
    Col("account", drop=1),
]


def render(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int, **kw: object) -> str:
    monkeypatch.setattr(output.console, "_width", width)
    Output(False, **kw).table("t", COLS, ROWS)  # type: ignore[arg-type]
    return capsys.readouterr().out


def test_at_80_columns_every_value_stays_whole_and_the_least_important_go(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = render(capsys, monkeypatch, 80, wide_flag="--wide")
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for value in ("2026-12-01 14:30:05", "1,000,000", "178.73", "DU1234567"):
        assert any(value in line for line in lines), value
    assert LONG_ID not in text
    assert "momentum-long" not in text
    assert "hidden at 80 columns: client order id, strategy (--wide shows them)" in text


def test_a_wide_terminal_shows_every_column_and_no_note(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = render(capsys, monkeypatch, 200)
    assert LONG_ID in text
    assert "momentum-long" in text
    assert "hidden" not in text


def test_wide_keeps_every_column_however_narrow(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = render(capsys, monkeypatch, 40, wide=True)
    row = next(line for line in text.splitlines() if "UNH" in line)
    assert LONG_ID in row
    assert "momentum-long" in row
    assert "DU1234567" in row


def test_without_drop_columns_the_rightmost_give_way_never_a_split_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "_width", 30)
    Output(False).table("t", ["instrument", "note"], [["UNH.STK.SMART.USD", "a-long-unbreakable-value"]])
    text = capsys.readouterr().out
    assert "UNH.STK.SMART.USD" in text
    assert "a-long" not in text
    assert "hidden at 30 columns: note (--json has them)" in " ".join(text.split())  # the note is prose: it may wrap


def test_an_empty_table_is_its_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    Output(False).table("orders", COLS, [], empty="no orders for account DU1")
    assert capsys.readouterr().out == "no orders for account DU1\n"


def test_numbers_are_right_aligned(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.console, "_width", 80)
    Output(False).table("t", ["sym", "quantity"], [["A", "5"], ["B", "1,000,000"]])
    rows = capsys.readouterr().out.splitlines()
    assert any(line.endswith("        5") for line in rows)


def test_a_message_wraps_between_words_instead_of_giving_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "_width", 40)
    message = "the broker reported 60 shares that the database never saw"
    Output(False).table("breaks", ["instrument", "message"], [["UNH.STK.SMART.USD", message]])
    text = capsys.readouterr().out
    assert any("UNH.STK.SMART.USD" in line for line in text.splitlines())
    assert " ".join(w for line in text.splitlines()[3:] for w in line.split()[1 if "UNH" in line else 0 :]) == message
    assert "hidden" not in text


def test_blank_columns_give_way_first_and_unsaid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "_width", 40)
    Output(False).table("t", ["instrument", "target", "broker", "database"], [["UNH.STK.SMART.USD", "", "60", "40"]])
    text = capsys.readouterr().out
    assert "target" not in text
    assert "database" in text
    assert "hidden" not in text
    Output(False).table("t", ["a", "target"], [["x", ""]])  # room enough: the blank column stays
    assert "target" in capsys.readouterr().out


def test_a_table_without_rows_renders_its_header(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second demo with nothing to trade printed an empty plan and crashed in the width computation."""
    monkeypatch.setattr(output.console, "_width", 80)
    Output(False).table("t", COLS, [])
    assert "symbol" in capsys.readouterr().out
