"""``rebalance --execute`` through the real command registry against a gateway simulator in its own thread.

What a script sees: the exit code of each outcome (done, refused by risk, orders left working), and a gateway
restart in each phase of the order path (the daily bars of the participation cap, sending, waiting for fills)
ridden out within the ``ib`` reconnect settings, never sending an order twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.brokers.ib import LoopThread
from quantdesk.cli import commands
from quantdesk.errors import QuantdeskError
from quantdesk.gateway import GatewayConfig, GatewayServer, desk_of
from quantdesk.gateway.clock import NEW_YORK, last_weekday

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
commands.register(app)

D = Decimal
ACCOUNT = "DU1000001"
UNIVERSE = "sample:AAPL,AMD,BAC,CVX,GE,HD,JNJ,JPM,KO,MSFT"
HISTORICAL_DATA, OPEN_ORDER, EXECUTION_DATA = "17", "5", "11"


def previous_weekday_open() -> datetime:
    today = datetime.now(NEW_YORK).date()
    return datetime.combine(last_weekday(today - timedelta(days=1)), dtime(10), NEW_YORK)


class Gateway:
    """A frozen gateway simulator on its own loop: the CLI under test runs ``asyncio.run`` in the test's thread."""

    def __init__(self) -> None:
        self.thread = LoopThread("gateway")
        config = GatewayConfig(accounts=(ACCOUNT,), speed=0, tick_interval=0.05, start=previous_weekday_open())

        async def start() -> GatewayServer:
            return await GatewayServer(config).start()

        self.server = self.thread.run(start())
        self.restarts = 0

    def restart_on(self, message_id: str, *, downtime: float = 0.3, once_it_holds: int = 0) -> None:
        """Restart the gateway the first time it is about to send ``message_id``, withholding it (the request or
        report is cut). With ``once_it_holds``, only once the gateway holds that many orders, and half a second
        later (their acknowledgements reach the client first); every ``message_id`` until then is withheld."""
        state = {"armed": True, "withholding": False}

        def on_send(_session: Any, fields: Sequence[str]) -> bool:
            if state["withholding"] and fields[0] == message_id:
                return False
            if not state["armed"] or fields[0] != message_id:
                return True
            if once_it_holds and len(list(desk_of(self.server).book.orders())) < once_it_holds:
                return True
            state["armed"], state["withholding"] = False, True
            self.restarts += 1
            loop = asyncio.get_running_loop()
            loop.call_later(0.5 if once_it_holds else 0.0, self._restart, downtime, state)
            return False

        self.thread.run(self._add_filter(on_send))

    def _restart(self, downtime: float, state: dict[str, bool]) -> None:
        async def restart() -> None:
            await self.server.faults.restart(downtime)
            state["withholding"] = False

        asyncio.get_running_loop().create_task(restart())

    async def _add_filter(self, send_filter: Callable[[Any, Sequence[str]], bool]) -> None:
        self.server.faults.add_send_filter(send_filter)

    def order_refs(self) -> list[str]:
        async def refs() -> list[str]:
            return [r.order.order_ref for r in desk_of(self.server).book.orders()]

        return self.thread.run(refs())

    def stop(self) -> None:
        self.thread.run(self.server.stop())
        self.thread.stop()


@pytest.fixture
def gateway(ib_errors: Any) -> Iterator[Gateway]:
    ib_errors.allow_drops()
    ib_errors.allow_refused()
    gw = Gateway()
    try:
        yield gw
    finally:
        gw.stop()


def rebalance(gw: Gateway, *extra: str, sets: Sequence[str] = ()) -> Any:
    args = ["--set", f"ib.port={gw.server.port}", "--set", f"ib.account={ACCOUNT}", "--set", "ib.connect_timeout=3",
            "--set", "ib.reconnect_max_attempts=5"]  # fmt: skip
    for item in sets:
        args += ["--set", item]
    cmd = ["rebalance", "--method", "equal-weight", "-u", UNIVERSE, "--broker", "ib", "--execute", *extra]
    return CliRunner().invoke(app, [*args, *cmd], env={"COLUMNS": "80"})


def document(result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# --- exit codes ------------------------------------------------------------------------------------------------


def test_every_order_filled_exits_0(gateway: Gateway) -> None:
    result = rebalance(gateway, "--timeout", "20")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "every order filled" in result.stdout


def test_every_order_refused_by_the_kill_switch_exits_3_and_says_so(gateway: Gateway) -> None:
    halted = CliRunner().invoke(app, ["kill-switch", "halt", "--no-cancel", "--reason", "test"])
    assert halted.exit_code == 0, halted.output
    result = rebalance(gateway, "--timeout", "5", "--json")
    assert result.exit_code == 3, (result.output, result.exception)
    doc = document(result)
    assert (doc["exit_code"], doc["execution"]["outcome"]) == (3, "refused")
    assert len(doc["execution"]["rejected"]) == 10
    assert all("HALTED" in r["reason"] for r in doc["execution"]["rejected"])
    assert gateway.order_refs() == []
    text = rebalance(gateway, "--timeout", "5")
    assert text.exit_code == 3
    assert "No order was sent" in text.stdout
    assert "nothing filled: every order was refused or rejected (exit code 3)" in text.stdout


def test_some_orders_refused_and_the_others_filled_exits_4(gateway: Gateway) -> None:
    result = rebalance(gateway, "--timeout", "20", "--json", sets=["risk.restricted_symbols=AAPL"])
    assert result.exit_code == 4, (result.output, result.exception)
    doc = document(result)
    assert doc["execution"]["outcome"] == "partial"
    assert [r["instrument"] for r in doc["execution"]["rejected"]] == ["AAPL.STK.SMART.USD"]
    assert {o["status"] for o in doc["execution"]["orders"]} == {"FILLED"}


def test_orders_still_working_at_the_timeout_exit_5_and_are_listed_with_how_to_cancel_them(gateway: Gateway) -> None:
    # limits at the mid of a frozen market: every buy rests below the ask
    result = rebalance(gateway, "--timeout", "1", sets=["orders.limit_offset_pct=0"])
    assert result.exit_code == 5, (result.output, result.exception)
    refs = gateway.order_refs()
    assert len(refs) == 10
    assert "still working at the broker (10):" in result.stdout
    flat = " ".join(result.stdout.split())
    assert all(ref in flat for ref in refs)  # each order named, so it can be cancelled
    assert "quantdesk cancel --all" in flat
    assert "(exit code 5)" in flat


# --- a restart in each phase ----------------------------------------------------------------------------------


def test_a_restart_while_the_daily_bars_of_the_participation_cap_load_is_ridden_out(gateway: Gateway) -> None:
    gateway.restart_on(HISTORICAL_DATA)
    result = rebalance(gateway, "--timeout", "20", "--json")
    assert gateway.restarts == 1
    assert result.exit_code == 0, (result.output, result.exception)
    doc = document(result)
    assert doc["execution"]["outcome"] == "done", doc["execution"]
    sent = [o["client_order_id"] for o in doc["execution"]["orders"]]
    assert len(sent) == 10
    assert sorted(gateway.order_refs()) == sorted(sent)  # each sent once


def test_a_restart_as_the_first_order_is_acknowledged_never_sends_an_order_twice(gateway: Gateway) -> None:
    gateway.restart_on(OPEN_ORDER)  # the first order reached the gateway; its acknowledgement is cut
    result = rebalance(gateway, "--timeout", "20", "--json")
    assert gateway.restarts == 1
    doc = document(result)
    refs = gateway.order_refs()
    assert len(refs) == len(set(refs))  # nothing sent twice
    # an order written to the socket as it closed never reached the gateway: it is said so, never re-sent
    for o in doc["execution"]["orders"]:
        if o["client_order_id"] in refs:
            assert (o["status"], D(o["filled"])) == ("FILLED", D(o["quantity"])), o
        else:
            assert (o["status"], o["reason"]) == ("CANCELLED", "never reached the broker"), o
    lost = len(doc["execution"]["orders"]) - len(refs)
    assert (result.exit_code, doc["execution"]["outcome"]) == ((4, "partial") if lost else (0, "done"))
    assert len(doc["execution"]["orders"]) == 10


def test_a_restart_while_waiting_for_fills_is_ridden_out_and_every_fill_recorded(gateway: Gateway) -> None:
    gateway.restart_on(EXECUTION_DATA, once_it_holds=10)  # every order is out; the fills from here on are cut
    result = rebalance(gateway, "--timeout", "20", "--json")
    assert gateway.restarts == 1
    assert result.exit_code == 0, (result.output, result.exception)
    doc = document(result)
    assert doc["execution"]["outcome"] == "done", doc["execution"]
    unfilled = [o for o in doc["execution"]["orders"] if D(o["filled"]) != D(o["quantity"])]
    assert not unfilled, [(o["instrument"], o["quantity"], o["filled"], o["status"], o["reason"]) for o in unfilled]
    sent = [o["client_order_id"] for o in doc["execution"]["orders"]]
    assert sorted(gateway.order_refs()) == sorted(sent)


# --- quantdesk cancel -------------------------------------------------------------------------------------------


def cancel(gw: Gateway, *args: str) -> Any:
    sets = ["--set", f"ib.port={gw.server.port}", "--set", f"ib.account={ACCOUNT}"]
    return CliRunner().invoke(app, [*sets, "cancel", "--broker", "ib", *args], env={"COLUMNS": "80"})


def test_cancel_one_order_by_id_or_perm_id_then_all_then_nothing_matches(gateway: Gateway, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled")
    left = rebalance(gateway, "--timeout", "1", "--json", sets=["orders.limit_offset_pct=0"])
    assert left.exit_code == 5, left.output
    orders = document(left)["execution"]["orders"]
    first, second = orders[0], orders[1]

    one = cancel(gateway, first["client_order_id"])
    assert one.exit_code == 0, (one.output, one.exception)
    assert f"cancelled {first['client_order_id']}: CANCELLED" in one.stdout
    by_perm = cancel(gateway, str(second["perm_id"]), "--json")
    assert by_perm.exit_code == 0, (by_perm.output, by_perm.exception)
    assert document(by_perm)["cancelled"] == [{"client_order_id": second["client_order_id"], "status": "CANCELLED"}]

    again = cancel(gateway, first["client_order_id"])
    assert again.exit_code == 3
    assert "has ended already (CANCELLED)" in again.stdout
    rest = cancel(gateway, "--all", "--json")
    assert rest.exit_code == 0, (rest.output, rest.exception)
    assert sorted(c["client_order_id"] for c in document(rest)["cancelled"]) == sorted(
        o["client_order_id"] for o in orders[2:]
    )
    assert {c["status"] for c in document(rest)["cancelled"]} == {"CANCELLED"}
    nothing = cancel(gateway, "rb-nope")
    assert nothing.exit_code == 3
    assert "no order rb-nope" in nothing.stdout


def test_cancel_needs_an_order_or_all_but_not_both() -> None:
    for args in ([], ["rb-1", "--all"]):
        result = CliRunner().invoke(app, ["cancel", *args])
        assert result.exit_code != 0
        assert isinstance(result.exception, QuantdeskError)
        assert "--all" in str(result.exception)
