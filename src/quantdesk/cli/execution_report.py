"""What ``rebalance --execute`` prints and exits with: the orders' table, what was not sent, what still works at the
broker and how to cancel it, a status line while waiting for fills, and one exit code per outcome.

Exit codes (``docs/exit-codes.md``): 0 every order filled (or nothing to do), 1 an unexpected error, 2 bad input or
configuration, 3 refused (nothing filled: every order refused by risk or rejected), 4 partly done, 5 timed out with
orders still working at the broker, 6 stopped (the broker went away for longer than the reconnect settings allow),
7 a kill-switch halt stored but its cancels failed, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from enum import IntEnum
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from quantdesk.cli import cells
from quantdesk.cli.output import Output, err_console

if TYPE_CHECKING:
    from quantdesk.config import Mode
    from quantdesk.services.execution import ExecutionProgress, ExecutionResult

__all__ = ["ExitCode", "exit_code", "print_execution", "print_interrupted", "waiting_status"]


class ExitCode(IntEnum):
    """The exit codes of the order commands (``rebalance --execute``, ``cancel``, ``kill-switch halt``)."""

    DONE = 0
    ERROR = 1
    BAD_INPUT = 2
    REFUSED = 3
    PARTIAL = 4
    WORKING = 5
    STOPPED = 6
    CANCEL_FAILED = 7
    INTERRUPTED = 130


_BY_OUTCOME = {
    "done": ExitCode.DONE,
    "refused": ExitCode.REFUSED,
    "partial": ExitCode.PARTIAL,
    "working": ExitCode.WORKING,
    "stopped": ExitCode.STOPPED,
}


def exit_code(done: ExecutionResult) -> ExitCode:
    """The exit code of an execution's outcome."""
    return _BY_OUTCOME[done.outcome]


def _qty(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def print_execution(out: Output, done: ExecutionResult, *, with_exit_code: bool = False) -> None:
    """Print what was sent and how each order ended, what was not sent, and what still works (not in JSON mode)."""
    if out.as_json:
        return
    rows = [
        [
            "" if r.client_order_id is None else r.client_order_id.value,
            cells.instrument_label(r.instrument_id.value),
            r.side.value,
            _qty(r.quantity),
            _qty(r.filled_quantity),
            cells.price(r.avg_fill_price, r.instrument_id.value, average=True),
            r.status.value + (f" ({r.reason})" if r.reason else ""),
        ]
        for r in done.reports
    ]
    if rows:
        columns = ["order", "symbol", "side", "qty", "filled", "avg price", "status"]
        out.table(f"Orders sent ({done.mode})", columns, rows)
    else:
        out.message(f"No order was sent ({done.mode}).")
    for o in done.skipped:
        out.message(f"[yellow]not sent:[/yellow] {o.side.value} {_qty(o.quantity)} {escape(o.instrument.id.value)}")
    for o, why in done.rejected:
        out.message(f"[red]refused by risk:[/red] {o.side.value} {_qty(o.quantity)} {escape(o.instrument.id.value)}: "
                    f"{escape(why)}")  # fmt: skip
    if done.stopped:
        out.message(f"[red]stopped:[/red] {escape(done.stopped)}")
    if done.reason:
        out.message(f"[yellow]{escape(done.reason)}[/yellow]")
    _print_working(out, done)
    out.message(_summary(done, with_exit_code))


def _print_working(out: Output, done: ExecutionResult) -> None:
    working = done.working
    if not working:
        return
    ids = ", ".join(r.client_order_id.value for r in working if r.client_order_id is not None)
    out.message(f"[yellow]still working at the broker ({len(working)}):[/yellow] {escape(ids)}")
    out.message("cancel them with `quantdesk cancel ORDER` (one) or `quantdesk cancel --all`, or let them work")


def _summary(done: ExecutionResult, with_exit_code: bool) -> str:
    code = exit_code(done)
    if code is ExitCode.DONE and not done.reports:
        return "nothing to trade: the account already holds the plan's target quantities"
    text = {
        ExitCode.DONE: "[green]every order filled: the account now holds the plan's target quantities[/green]",
        ExitCode.REFUSED: "[red]nothing filled: every order was refused or rejected[/red]",
        ExitCode.PARTIAL: "[yellow]partly done: not every order of the plan filled (run the rebalance again)[/yellow]",
        ExitCode.WORKING: "[yellow]timed out with orders still working at the broker[/yellow]",
        ExitCode.STOPPED: "[red]stopped before every order was sent: run the rebalance again once the broker is "
        "back (it counts what was sent)[/red]",
    }[code]
    return f"{text} (exit code {int(code)})" if with_exit_code else text


def print_interrupted(progress: ExecutionProgress | None, mode: Mode) -> None:
    """After Ctrl-C: what was sent and what not (to stderr, so a script's stdout stays clean)."""
    if progress is None or not progress.planned:
        err_console.print("[red]interrupted: no order was sent[/red]")
        return
    done = progress.result(mode, "interrupted")
    for r in done.reports:
        cid = "" if r.client_order_id is None else r.client_order_id.value
        err_console.print(f"sent: {escape(cid)} {r.side.value} {_qty(r.quantity)} {r.instrument_id.value} "
                          f"({r.status.value}, filled {_qty(r.filled_quantity)})")  # fmt: skip
    for o in done.skipped:
        err_console.print(f"not sent: {o.side.value} {_qty(o.quantity)} {o.instrument.id.value}")
    working = [r for r in done.working if r.client_order_id is not None]
    err_console.print(
        f"[red]interrupted[/red] while {escape(progress.phase)}: {len(done.reports)} order(s) sent, "
        f"{len(done.skipped)} not sent"
        + (f"; {len(working)} still working (`quantdesk cancel --all` cancels them)" if working else "")
    )


@contextlib.asynccontextmanager
async def waiting_status(out: Output, progress: ExecutionProgress) -> AsyncIterator[None]:
    """A rich status line on stderr while the orders go out and fill: phase, filled / working, seconds left."""
    console = Console(stderr=True)
    if out.as_json or not console.is_terminal:
        yield
        return
    loop = asyncio.get_running_loop()

    def line() -> str:
        reports = progress.reports()
        filled = sum(1 for r in reports if r.status.value == "FILLED")
        working = sum(1 for r in reports if not r.status.is_terminal)
        left = "" if progress.deadline is None else f", {max(progress.deadline - loop.time(), 0):.0f} s left"
        return (f"{progress.phase}: {len(reports)}/{len(progress.planned)} sent, {filled} filled, "
                f"{working} working{left}")  # fmt: skip

    with console.status(line()) as status:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(0.5)
                status.update(line())

        task = loop.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
