"""The spinner and the progress bar: drawn on a terminal, silent elsewhere, and the optimize command uses one."""

from __future__ import annotations

import io

from rich.console import Console

from quantdesk.cli import portfolio_cmd
from quantdesk.cli.commands import COMMANDS
from quantdesk.cli.progress import steps, working


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=80), buffer


def test_the_spinner_shows_its_message_on_a_terminal_only() -> None:
    screen, buffer = _console(terminal=True)
    with working("optimising", console=screen):
        pass
    assert "optimising" in buffer.getvalue()
    for terminal, enabled in ((False, True), (True, False)):
        screen, buffer = _console(terminal)
        with working("optimising", console=screen, enabled=enabled):
            screen.print("result")
        assert buffer.getvalue() == "result\n"


def test_the_bar_counts_steps_on_a_terminal_only() -> None:
    screen, buffer = _console(terminal=True)
    with steps("backfill AAPL", console=screen) as advance:
        advance(3, 4)
    assert "backfill AAPL" in buffer.getvalue()
    screen, buffer = _console(terminal=False)
    with steps("backfill AAPL", console=screen) as advance:
        advance(3, 4)
    assert buffer.getvalue() == ""


def test_optimize_runs_under_a_spinner() -> None:
    entry = next(e for e in COMMANDS if e.name == "optimize")
    assert entry.busy
    callback = entry.load().callback
    assert callback is not None
    wrapped = callback
    while hasattr(wrapped, "__wrapped__") and wrapped is not portfolio_cmd.optimize:
        wrapped = wrapped.__wrapped__
    assert wrapped is portfolio_cmd.optimize
    assert callback is not portfolio_cmd.optimize
