"""End to end: a client capped at server version 176 trades through the gateway beside a client at 178.

``ib_async.Client.MaxClientVersion`` caps what the client offers in its handshake (``v157..176``), so the gateway
agrees 176 with it and must answer in 176 layouts: ``openOrder``/``completedOrder`` with ``faProfile`` and
``execDetails`` without ``pendingPriceRevision``. The master client (id 0, at 178) sees the same orders, so every
message of one order arrives in both layouts; the raw fields each client's decoder was given are recorded.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from ib_async import IB, LimitOrder, MarketOrder
from ib_async.decoder import Decoder
from test_gateway_orders_support import HOST, ORDERS, quote, stock, until

OLD, NEW = 176, 178


async def _connect(port: int, client_id: int, max_version: int) -> tuple[IB, dict[str, list[list[str]]]]:
    """A client offering at most ``max_version``, and the raw messages its decoder reads, by message id."""
    ib = IB()
    ib.client.MaxClientVersion = max_version
    seen: dict[str, list[list[str]]] = defaultdict(list)
    interpret = ib.client.decoder.interpret

    def recording(fields: list[str]) -> None:
        seen[fields[0]].append(list(fields))
        interpret(fields)

    ib.client.decoder.interpret = recording  # type: ignore[method-assign]
    await ib.connectAsync(HOST, port, clientId=client_id, timeout=5, raiseSyncErrors=True)
    return ib, seen


def _redecode(messages: list[list[str]], version: int) -> dict[str, Any]:
    """Each openOrder decoded afresh by ib_async's Decoder at ``version`` (a new client keeps every field)."""
    ib = IB()
    decoder = Decoder(ib.wrapper, version)
    for fields in messages:
        decoder.interpret(list(fields))
    return {t.order.orderRef: t.order for t in ib.wrapper.trades.values()}


def _by_ref(messages: list[list[str]]) -> dict[str, list[str]]:
    """openOrder messages by orderRef (field 23 in both layouts: faProfile comes later), the last of each."""
    return {m[23]: m for m in messages}


def test_a_client_capped_at_176_gets_176_layouts(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS, client_id=None) as (gw, _unused):
            master, master_seen = await _connect(gw.port, 0, NEW)
            old, old_seen = await _connect(gw.port, 5, OLD)
            try:
                assert (old.client.serverVersion(), master.client.serverVersion()) == (OLD, NEW)
                assert (gw.sessions[5].server_version, gw.sessions[0].server_version) == (OLD, NEW)
                aapl = await stock(old)

                limit = round(quote(gw).bid - 5, 2)
                resting = old.placeOrder(aapl, LimitOrder("BUY", 3, limit, tif="GTC", orderRef="qd-rest"))
                await until(lambda: resting.orderStatus.status == "Submitted", what="the resting order")
                filled = old.placeOrder(aapl, MarketOrder("BUY", 7, orderRef="qd-fill"))
                await asyncio.wait_for(filled.filledEvent, 3)
                await until(lambda: filled.fills and filled.fills[-1].commissionReport.commission > 0)

                account = gw.accounts.ids[0]
                for seen, version in ((old_seen, OLD), (master_seen, NEW)):
                    decoded = _redecode(seen["5"], version)
                    rest, fill_order = decoded["qd-rest"], decoded["qd-fill"]
                    assert (rest.permId, fill_order.permId) == (resting.order.permId, filled.order.permId)
                    assert (rest.account, rest.clientId, rest.tif, rest.lmtPrice) == (account, 5, "GTC", limit)
                    assert (rest.totalQuantity, rest.orderType, rest.action) == (3.0, "LMT", "BUY")
                    assert (fill_order.account, fill_order.orderType, fill_order.totalQuantity) == (account, "MKT", 7)
                    assert (rest.faProfile, rest.modelCode, rest.outsideRth) == ("", "", False)
                [fill] = filled.fills
                assert (fill.execution.shares, fill.execution.side, fill.execution.orderRef) == (7.0, "BOT", "qd-fill")
                assert fill.execution.pendingPriceRevision is False
                assert fill.commissionReport.execId == fill.execution.execId
                assert filled.orderStatus.status == "Filled"

                state = await asyncio.wait_for(old.whatIfOrderAsync(aapl, MarketOrder("SELL", 10)), 3)
                assert float(state.initMarginChange) != 0.0
                assert (state.commission > 0, state.commissionCurrency) == (True, "USD")

                opened = await asyncio.wait_for(old.reqOpenOrdersAsync(), 3)
                assert [t.order.orderRef for t in opened] == ["qd-rest"]
                executions = await asyncio.wait_for(old.reqExecutionsAsync(), 3)
                assert [f.execution.orderRef for f in executions] == ["qd-fill"]
                assert executions[0].execution.execId == fill.execution.execId
                completed = await asyncio.wait_for(old.reqCompletedOrdersAsync(False), 3)
                assert [(t.order.orderRef, t.orderStatus.status) for t in completed] == [("qd-fill", "Filled")]
                assert completed[0].order.filledQuantity == 7.0
                await until(lambda: len(master.fills()) == 1, what="the master's copy of the fill")

                # the same messages, in each client's layout: 176 carries faProfile and no pendingPriceRevision
                old_open, new_open = _by_ref(old_seen["5"]), _by_ref(master_seen["5"])
                assert set(old_open) == {"qd-rest", "qd-fill", ""}, "the two orders and the what-if"
                assert set(new_open) == {"qd-rest", "qd-fill"}, "the master sees the orders, not the what-if"
                for ref, fields in new_open.items():
                    assert len(old_open[ref]) == len(fields) + 1, "openOrder at 176 has faProfile"
                assert [len(m) for m in old_seen["11"]] == [31, 31], "the live fill and the requested one"
                assert [len(m) for m in master_seen["11"]] == [32]
                assert [len(m) for m in old_seen["101"]] == [97]
                assert [len(m) for m in old_seen["59"]] == [8, 8]
                assert len(old_open[""]) == len(old_open["qd-fill"]), "the what-if is in the 176 layout too"
            finally:
                old.disconnect()
                master.disconnect()

    asyncio.run(main())
