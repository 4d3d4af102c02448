"""Run a gateway in the foreground and steer it with one-line text commands (the ``quantdesk gateway`` command).

The commands script the faults of :class:`~quantdesk.gateway.faults.Faults` from outside the process. ``quantdesk
gateway`` reads them from its standard input, one per line; from Python call :func:`execute`.

=========================  ====================================================================================
command                    effect
=========================  ====================================================================================
``drop [CLIENT]``          cut one client's socket, or every client's
``1100 [CLIENT]``          send error 1100 (connectivity between IB and TWS lost) to one client or all
``1101 [CLIENT]``          send 1101 (restored, data lost: the client must resubscribe)
``1102 [CLIENT]``          send 1102 (restored, data maintained)
``delay MS [CLIENT]``      hold every reply MS milliseconds (``delay 0`` ends it)
``reject-next [REASON]``   reject the next order with error 201 and REASON
``withhold-status [N]``    withhold every orderStatus of the next N orders (default 1): fills arrive only as
                           executions
``restart [SECONDS]``      save the state, drop every client, stay away SECONDS (default 0), listen again
``save``                   write the state file now
``status``                 clients, working orders and executions on one line
``stop``                   stop the gateway (as Ctrl-C does)
``help``                   this list
=========================  ====================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from quantdesk.gateway.config import GatewayConfig
from quantdesk.gateway.order_handlers import desk_of
from quantdesk.gateway.server import GatewayServer

__all__ = ["COMMANDS", "banner", "execute", "run_foreground"]

COMMANDS = (
    "drop [CLIENT] | 1100 [CLIENT] | 1101 [CLIENT] | 1102 [CLIENT] | delay MS [CLIENT] | reject-next [REASON] | "
    "withhold-status [N] | restart [SECONDS] | save | status | stop | help"
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _client(args: list[str]) -> int | None:
    return int(args[0]) if args else None


def _status(server: GatewayServer) -> str:
    desk = desk_of(server)
    clients = ",".join(str(c) for c in sorted(server.sessions)) or "none"
    working = len(desk.book.open_orders())
    return f"clients {clients}; working orders {working}; executions {len(desk.book.executions)}"


async def execute(server: GatewayServer, line: str, stop: asyncio.Event | None = None) -> str:
    """Run one control command on ``server``; returns the one-line answer (``error: …`` for a bad command)."""
    words = line.split()
    if not words:
        return ""
    name, args = words[0].lower(), words[1:]
    faults = server.faults
    try:
        if name == "drop":
            return f"dropped {faults.drop(_client(args))} client(s)"
        if name in ("1100", "1101", "1102"):
            return f"sent {name} to {faults.notify(int(name), _client(args))} client(s)"
        if name == "delay":
            faults.delay(float(args[0]), _client(args[1:]))
            return f"replies delayed {float(args[0]):g} ms"
        if name == "reject-next":
            faults.arm("reject_next_order", reason=" ".join(args) or "rejected by the control command")
            return "the next order will be rejected"
        if name == "withhold-status":
            times = int(args[0]) if args else 1
            faults.arm("withhold_order_status", times=times)
            return f"orderStatus withheld for the next {times} order(s)"
        if name == "restart":
            downtime = float(args[0]) if args else 0.0
            await faults.restart(downtime)
            return f"restarted on port {server.port}"
        if name == "save":
            server.save_state()
            return f"state saved to {server.config.state_file}" if server.config.state_file else "no state file"
        if name == "status":
            return _status(server)
        if name in ("stop", "quit", "exit"):
            if stop is not None:
                stop.set()
            return "stopping"
        if name == "help":
            return COMMANDS
    except (ValueError, IndexError) as exc:
        return f"error: {line.strip()!r}: {exc} (commands: {COMMANDS})"
    return f"error: unknown command {name!r} (commands: {COMMANDS})"


def banner(server: GatewayServer) -> str:
    """The one-line start banner: where it listens, accounts, speed and state file."""
    cfg = server.config
    state = str(cfg.state_file) if cfg.state_file else "none (nothing saved)"
    return (
        f"quantdesk gateway listening on {cfg.host}:{server.port} | accounts {','.join(server.accounts.ids)} | "
        f"speed {cfg.speed:g}x | state {state} | type 'help' for control commands, Ctrl-C to stop"
    )


def _read_lines(stream: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Thread body: forward lines of ``stream`` to ``queue`` (None at end of input)."""
    with contextlib.suppress(Exception):
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
    with contextlib.suppress(RuntimeError):  # the loop may already be closed
        loop.call_soon_threadsafe(queue.put_nowait, None)


async def _serve_commands(
    server: GatewayServer, stream: TextIO, echo: Callable[[str], None], stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(stream, loop, queue), name="gateway-control", daemon=True).start()
    while (line := await queue.get()) is not None:
        answer = await execute(server, line, stop)
        if answer:
            echo(answer)


async def run_foreground(
    config: GatewayConfig,
    *,
    echo: Callable[[str], None] = print,
    commands: TextIO | None = sys.stdin,
    stop: asyncio.Event | None = None,
) -> GatewayServer:
    """Serve until SIGINT/SIGTERM (or ``stop``), reading control commands from ``commands``; then stop cleanly,
    saving the state file. Prints the banner (and a warning when it listens beyond loopback) through ``echo``."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with GatewayServer(config) as server:
            echo(banner(server))
            if config.host not in _LOOPBACK:
                echo(f"warning: listening on {config.host}: other machines can connect and trade")
            reader = loop.create_task(_serve_commands(server, commands, echo, stop)) if commands else None
            await stop.wait()
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        saved = f"; state saved to {config.state_file}" if config.state_file else ""
        echo(f"gateway stopped{saved}")
        return server
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
