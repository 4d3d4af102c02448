"""What every example shares: its command-line options and where it connects.

Without ``--port`` an example starts the TWS-API gateway simulator in-process on a free port (two paper accounts,
the S&P 500 sample replayed as a live market) and connects to it, so it runs anywhere, offline. With ``--port`` it
connects to a running TWS or IB Gateway instead: 7497 (TWS paper) or 4002 (IB Gateway paper).

The trading examples keep the simulator's records apart from yours: without ``--port`` their database, bars and the
simulated paper accounts live in ``<data_dir>/examples/`` (``--data-dir`` to choose), never in your own database.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from quantdesk.brokers.ib import LoopThread
from quantdesk.config import IBSettings, Settings, load_settings
from quantdesk.errors import ConfigError, QuantdeskError
from quantdesk.gateway import GatewayConfig, GatewayServer
from quantdesk.services.sandbox import gateway_data_dir, sandbox_settings

LIVE_PORTS = (7496, 4001)  # TWS live, IB Gateway live


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options every example takes (``--host``, ``--port``, ``--client-id``), plus its own ones."""
    # quantdesk turns IB's messages into errors with a fix (and ``broker.on_error``); ib_async would also print each
    # of them, informational ones included, as an ERROR line
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="TWS / IB Gateway host (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=None, help="TWS / IB Gateway port, e.g. 7497 or 4002; omit it to use the "
        "in-process gateway simulator",
    )  # fmt: skip
    parser.add_argument(
        "--client-id", type=int, default=10, help="client id for market data; orders use the next one (default: 10)"
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``: where a trading example keeps the simulator's records (the database of your config with
    ``--port``)."""
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="without --port: where the simulated accounts and their "
        "database live (default: <data_dir>/examples)",
    )  # fmt: skip


@contextlib.contextmanager
def trading_settings(args: argparse.Namespace) -> Iterator[Settings]:
    """quantdesk's settings connected where ``args`` say. With ``--port``: your configuration and its database, as
    any trading run. Without: a simulator whose paper accounts are kept (like real ones) in a data directory of their
    own, next to the database that records their orders, so runs stay in step and never touch your records."""
    settings = load_settings()
    if args.port is not None and args.data_dir is not None:
        raise ConfigError(
            "is for the simulator's records; with --port the orders go to your configured database",
            field="--data-dir",
            value=str(args.data_dir),
            hint="omit --data-dir with --port (or set database.url), or omit --port to trade the simulator",
        )
    if args.port is not None:
        with ib_settings(args) as ib:
            yield settings.model_copy(update={"ib": ib})
        return
    sandbox = sandbox_settings(settings, "examples", args.data_dir)
    state = gateway_data_dir(sandbox.paths.data_dir) / "accounts.json"
    with ib_settings(args, state_file=state) as ib:
        print(f"(simulated records in {sandbox.paths.data_dir}; your own database is not touched)")
        yield sandbox.model_copy(update={"ib": ib})


@contextlib.contextmanager
def ib_settings(
    args: argparse.Namespace,
    *,
    setup: Callable[[GatewayServer], None] | None = None,
    state_file: Path | None = None,
) -> Iterator[IBSettings]:
    """Connection settings for ``args``; without ``--port``, for a gateway simulator started here (and stopped
    again afterwards), prepared by ``setup`` if given, its accounts loaded from and saved to ``state_file``."""
    if args.port is not None:
        yield IBSettings(
            host=args.host, port=args.port, client_id_data=args.client_id, client_id_execution=args.client_id + 1
        )
        return
    # The simulator runs on its own event loop in a background thread, like a TWS next door.
    thread = LoopThread("gateway")
    gateway = thread.run(GatewayServer(GatewayConfig(port=0, state_file=state_file)).start())
    if setup is not None:
        thread.call(setup, gateway)
    print(f"(in-process gateway simulator on 127.0.0.1:{gateway.port}; pass --port to use TWS or IB Gateway)")
    try:
        yield IBSettings(port=gateway.port, client_id_data=args.client_id, client_id_execution=args.client_id + 1)
    finally:
        thread.run(gateway.stop())
        thread.stop()


def refuse_live(port: int, accounts: list[str]) -> None:
    """Stop an example that trades when it would trade a live account (paper accounts start with ``D``)."""
    live = [a for a in accounts if not a.upper().startswith("D")]
    if port in LIVE_PORTS or live:
        raise SystemExit(
            f"refusing to trade: port {port} / account(s) {', '.join(live) or accounts} look live. "
            "These examples only trade paper accounts (TWS 7497, IB Gateway 4002)."
        )


@contextlib.contextmanager
def errors_in_one_line() -> Iterator[None]:
    """Print quantdesk's errors (what went wrong, and the fix) as one line and exit 1, without a traceback."""
    try:
        yield
    except QuantdeskError as exc:
        raise SystemExit(f"error: {exc}") from None
