"""The registry of sub-command groups: each concern has its own module exposing a ``typer.Typer`` or a function."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach every sub-command to ``app``."""
    from quantdesk.cli import (
        cancel_cmd,
        config_cmd,
        data_cmd,
        db_cmd,
        demo_cmd,
        gateway_cmd,
        orders_cmd,
        portfolio_cmd,
        risk_cmd,
        trading_cmd,
        validate_cmd,
    )

    app.add_typer(config_cmd.app, name="config")
    app.add_typer(data_cmd.app, name="data")
    app.add_typer(db_cmd.app, name="db")
    app.command("demo")(demo_cmd.demo)
    app.command("gateway")(gateway_cmd.gateway)
    app.command("validate")(validate_cmd.validate)
    app.command("optimize")(portfolio_cmd.optimize)
    app.command("rebalance")(portfolio_cmd.rebalance)
    app.command("reconcile")(trading_cmd.reconcile)
    app.add_typer(trading_cmd.kill_switch_app, name="kill-switch")
    app.command("orders")(orders_cmd.orders)
    app.command("fills")(orders_cmd.fills)
    app.command("history")(orders_cmd.history)
    app.command("risk")(risk_cmd.risk)
    app.command("cancel")(cancel_cmd.cancel)
