"""Opening a broker for a command: IB at ``settings.ib``, or the in-process gateway simulator with the IB adapter.

Every shell that talks to a broker (``rebalance``, ``reconcile``, ``cancel``, ``kill-switch``, the risk report, the
demo, later the API) opens it here, so the simulator's paper account, its bar store and the adapter's settings are
chosen in one place. The IB adapter and the gateway are imported only when a broker is opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from quantdesk.brokers.base import Broker
from quantdesk.config import Settings
from quantdesk.errors import ConfigError

__all__ = ["BrokerKind", "open_broker"]

BrokerKind = Literal["gateway", "ib", "file"]


@contextlib.asynccontextmanager
async def open_broker(kind: BrokerKind, settings: Settings) -> AsyncIterator[Broker]:
    """A connected broker: ``ib`` at ``settings.ib``, or ``gateway``, an in-process TWS simulator on a free port
    with the IB adapter connected to it (one paper account, ``settings.ib.account`` when set, whose cash,
    positions, orders and executions are kept in ``<data_dir>/gateway/<account>.json`` between runs; the bars
    and contracts fetched from it in ``<data_dir>/gateway/``, labelled ``gateway-sim``)."""
    from quantdesk.brokers.ib import IBBroker

    if kind == "ib":
        broker = IBBroker.from_settings(settings)
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.disconnect()
        return
    if kind != "gateway":
        raise ConfigError(f"no broker connection for {kind!r}", field="broker", value=kind, hint="use gateway or ib")
    from quantdesk.gateway import DEFAULT_ACCOUNTS, GatewayConfig, GatewayServer
    from quantdesk.services.sandbox import SIMULATED_BAR_SOURCE, gateway_data_dir

    account = settings.ib.account or DEFAULT_ACCOUNTS[0]
    # The simulated paper account lives on between runs (like a real one), so the database and it stay in step.
    # Its bars and contract ids stay beside it, labelled as simulated: they never reach the user's bar store.
    sim_dir = gateway_data_dir(settings.paths.data_dir)
    async with GatewayServer(GatewayConfig(port=0, accounts=(account,), state_file=sim_dir / f"{account}.json")) as gw:
        ib_settings = settings.ib.model_copy(update={"host": "127.0.0.1", "port": gw.port, "account": account})
        broker = IBBroker(ib_settings, data_dir=sim_dir, bar_source=SIMULATED_BAR_SOURCE)
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.disconnect()
