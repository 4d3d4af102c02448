"""The registry of sub-commands: names and one-line help here, implementations imported only when a command runs.

Listing the commands (``quantdesk --help``) or running one imports nothing but that command's module, so start-up
does not pay for alembic, pandas or skfolio that another command needs.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer vendors click: its commands are these classes, not click's
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command, get_group

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "register"]


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A sub-command known by name and summary; ``target`` (``module:attribute``) is imported when it runs."""

    name: str
    target: str
    summary: str
    busy: str | None = None  # a spinner with this text while the command works (on a terminal, without --json)

    def load(self) -> click.Command:
        """Import the implementation and build its click command (a group for a ``typer.Typer``)."""
        module_name, _, attribute = self.target.partition(":")
        obj: Any = getattr(importlib.import_module(module_name), attribute)
        command: click.Command
        if isinstance(obj, typer.Typer):
            command = get_group(obj)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(obj)
            command = get_command(single)
        command.name = self.name
        if self.busy is not None and command.callback is not None:
            command.callback = _with_spinner(command.callback, self.busy)
        return command

    def placeholder(self) -> click.Command:
        """A stand-in that only lists the command in help and completion; resolving it loads the real one."""
        return _Placeholder(self)


def _with_spinner(callback: Any, message: str) -> Any:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        from quantdesk.cli.progress import working

        with working(message, enabled=not kwargs.get("json_", False)):
            return callback(*args, **kwargs)

    return run


class _Placeholder(TyperCommand):
    def __init__(self, entry: LazyCommand) -> None:
        super().__init__(name=entry.name, help=entry.summary)
        self.entry = entry


COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "config",
        "quantdesk.cli.config_cmd:app",
        "Show, validate and create the configuration (file + environment + QUANTDESK__* variables + --set).",
    ),
    LazyCommand(
        "data",
        "quantdesk.cli.data_cmd:app",
        "Market data in the local bar store: list it, import CSV/Parquet files, show a series, load the sample.",
    ),
    LazyCommand(
        "db",
        "quantdesk.cli.db_cmd:app",
        "Create and migrate the database (SQLite in the data directory by default, or PostgreSQL).",
    ),
    LazyCommand(
        "demo",
        "quantdesk.cli.demo_cmd:demo",
        "Run the demo: sample data → optimisation → in-process IB gateway → rebalance plan → paper trades.",
    ),
    LazyCommand(
        "gateway",
        "quantdesk.cli.gateway_cmd:gateway",
        "Run the TWS-API gateway simulator in the foreground (Ctrl-C stops it and saves the state).",
    ),
    LazyCommand(
        "validate",
        "quantdesk.cli.validate_cmd:validate",
        "Check connection, accounts, account summary, positions, a quote and a day of bars (✓/✗ with the fix).",
    ),
    LazyCommand(
        "optimize",
        "quantdesk.cli.portfolio_cmd:optimize",
        "Optimise a universe and print the weights and the portfolio's statistics (nothing is traded).",
        busy="optimising (loading skfolio, estimating, solving)…",
    ),
    LazyCommand(
        "rebalance",
        "quantdesk.cli.portfolio_cmd:rebalance",
        "Optimise, then show the trades that move the account to the target; send them only with --execute.",
    ),
    LazyCommand(
        "reconcile",
        "quantdesk.cli.trading_cmd:reconcile",
        "Compare the database with the broker (orders, fills, positions), per account; apply what it can and list "
        "every break.",
    ),
    LazyCommand(
        "kill-switch",
        "quantdesk.cli.trading_cmd:kill_switch_app",
        "The trading state: ACTIVE, REDUCING (only risk-reducing orders) or HALTED (nothing; working orders "
        "cancelled). It is stored in the database and survives restarts.",
    ),
    LazyCommand(
        "orders",
        "quantdesk.cli.orders_cmd:orders",
        "List orders from the database: working ones by default, or finished ones, or all.",
    ),
    LazyCommand(
        "fills",
        "quantdesk.cli.orders_cmd:fills",
        "List executions from the database with their commissions, oldest first.",
    ),
    LazyCommand(
        "history",
        "quantdesk.cli.orders_cmd:history",
        "Trade history: every fill with the position it left and the P&L it realised (average cost), and totals.",
    ),
    LazyCommand(
        "cancel",
        "quantdesk.cli.cancel_cmd:cancel",
        "Cancel one working order, or every one with --all; prints what was cancelled.",
    ),
    LazyCommand(
        "risk",
        "quantdesk.cli.risk_cmd:risk",
        "Show VaR/CVaR (historical, parametric, Monte Carlo), per-position risk, margin and exposure.",
    ),
)


class LazyGroup(TyperGroup):
    """The top-level group: every entry of ``COMMANDS`` is a placeholder until it is the command being run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in COMMANDS:
            self.commands.setdefault(entry.name, entry.placeholder())

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as click does, then swap a placeholder for the imported command."""
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Placeholder):
            command = self.commands[name] = command.entry.load()
        return name, command, rest


def register(app: typer.Typer) -> None:
    """Make ``app`` list every sub-command and import a command's module only when that command runs."""
    app.info.cls = LazyGroup
