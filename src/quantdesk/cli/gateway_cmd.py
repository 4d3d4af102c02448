"""``quantdesk gateway``: run the TWS-API gateway simulator in the foreground.

Any TWS API client (``ib_async``, the IB adapter of quantdesk, IB's own ``ibapi``) connects to it as to IB Gateway's
paper port. It prints a one-line banner, logs each client that connects or leaves, reads control commands on its
standard input (``help`` lists them: ``drop``, ``1100``/``1101``/``1102``, ``reject-next``, ``withhold-status``,
``restart``, …) and stops cleanly on Ctrl-C or SIGTERM, saving its state file. It listens on loopback unless
``--host`` says otherwise.

Until the command is registered in ``quantdesk.cli.commands`` it also runs as ``python -m
quantdesk.cli.gateway_cmd``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from quantdesk.errors import ConfigError, ValidationError

__all__ = ["gateway"]

_DEFAULT_ACCOUNTS = "DU1234567,DU7654321"


def _accounts(text: str) -> tuple[str, ...]:
    ids = tuple(a.strip() for a in text.split(",") if a.strip())
    if not ids:
        raise ValidationError("no account ids given", field="--accounts", value=text, hint="e.g. DU1234567,DU7654321")
    return ids


def _echo(line: str) -> None:
    typer.echo(line)
    sys.stdout.flush()


def gateway(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (loopback unless you mean otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (IB Gateway paper: 4002; 0 picks a free one).")] = 4002,
    accounts: Annotated[str, typer.Option(help="Managed account ids, comma separated.")] = _DEFAULT_ACCOUNTS,
    cash: Annotated[float, typer.Option(help="Starting cash of every account.")] = 1_000_000.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second (0 freezes the market).")] = 60.0,
    state: Annotated[
        Path | None, typer.Option(help="JSON state file: accounts, orders and executions survive restarts.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the replayed intraday prices.")] = 7,
) -> None:
    """Run the TWS-API gateway simulator in the foreground (Ctrl-C stops it and saves the state)."""
    from quantdesk.cli.context import state_from
    from quantdesk.gateway.config import GatewayConfig
    from quantdesk.gateway.control import run_foreground

    verbose = state_from(ctx).verbose
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    logging.getLogger("quantdesk.gateway.clients").setLevel(logging.INFO)
    config = GatewayConfig(
        host=host,
        port=port,
        accounts=_accounts(accounts),
        cash=cash,
        speed=speed,
        seed=seed,
        state_file=state,
    )
    try:
        asyncio.run(run_foreground(config, echo=_echo))
    except OSError as exc:
        raise _listen_error(exc, host, port) from None


def _listen_error(exc: OSError, host: str, port: int) -> ConfigError | OSError:
    """The reason the gateway could not listen, naming the flag to change; other errors pass unchanged."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} on {host} is in use (IB Gateway, TWS or another quantdesk gateway)",
            field="--port",
            value=port,
            hint="stop what listens there, or pick another port (--port 0 picks a free one)",
        )
    if exc.errno == errno.EACCES:
        return ConfigError(
            f"not allowed to listen on port {port}", field="--port", value=port, hint="use a port above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return ConfigError(
            f"cannot listen on {host}: {exc.strerror or exc}",
            field="--host",
            value=host,
            hint="use an address of this machine, e.g. 127.0.0.1 (loopback) or 0.0.0.0 (every interface)",
        )
    return exc


def _standalone() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(gateway)
    return app


if __name__ == "__main__":
    _standalone()()
