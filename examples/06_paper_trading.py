"""06 - Paper trading: buy at the market, rest a limit order, modify it, cancel it, and close the position.

    python examples/06_paper_trading.py [--symbol AAPL] [--quantity 10] [--port 7497]

Every order carries quantdesk's client order id to IB (as ``orderRef``); the broker reports each status change and
each execution to its listeners. This example refuses live ports and live (non-``D``) accounts.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal

from _common import errors_in_one_line, ib_settings, parse_args, refuse_live

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport
from quantdesk.brokers.ib import IBBroker
from quantdesk.config import IBSettings
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order

TIMEOUT = 30.0  # seconds to wait for a fill or a cancel


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", default="AAPL", help="a US stock (default: %(default)s)")
    parser.add_argument("--quantity", type=int, default=10, help="shares to trade (default: %(default)s)")


class Orders:
    """Prints every report and lets the script wait for an order's status."""

    def __init__(self) -> None:
        self.status: dict[ClientOrderId, OrderStatus] = {}
        self.changed = asyncio.Event()

    def __call__(self, report: BrokerReport) -> None:  # a broker listener
        if isinstance(report, OrderStatusReport) and report.client_order_id is not None:
            if self.status.get(report.client_order_id) is not report.status:
                print(f"  order {report.client_order_id}: {report.status.value} "
                      f"({report.filled_quantity.normalize():f}/{report.quantity.normalize():f} filled)")  # fmt: skip
            self.status[report.client_order_id] = report.status
            self.changed.set()
        elif isinstance(report, FillReport) and report.commission is not None:  # sent again with its commission
            print(f"  fill  {report.side.value} {report.quantity.normalize():f} @ {report.price} "
                  f"(commission {report.commission.amount} {report.commission.currency.code})")  # fmt: skip

    async def wait(self, cid: ClientOrderId, *wanted: OrderStatus) -> OrderStatus:
        async def reached() -> OrderStatus:
            while (status := self.status.get(cid)) not in wanted:
                self.changed.clear()
                await self.changed.wait()
            assert status is not None
            return status

        try:
            return await asyncio.wait_for(reached(), TIMEOUT)
        except TimeoutError:
            raise SystemExit(f"order {cid} did not reach {[s.value for s in wanted]} within {TIMEOUT:g} s "
                             "(is the market open?)") from None  # fmt: skip


async def run(settings: IBSettings, symbol: str, quantity: int) -> None:
    stock = Stock(symbol)
    async with IBBroker(settings) as broker:
        accounts = [str(a) for a in await broker.managed_accounts()]
        refuse_live(settings.port, accounts)
        account = (await broker.managed_accounts())[0]
        orders = Orders()
        broker.add_listener(orders)

        print(f"1. buy {quantity} {symbol} at the market ({account})")
        buy = Order.market(stock, "BUY", quantity, account=account)
        await broker.place_order(buy)
        await orders.wait(buy.client_order_id, OrderStatus.FILLED)

        quote = await broker.quote(stock)
        low = stock.round_to_tick(quote.bid * Decimal("0.95"))
        print(f"2. rest a buy limit at {low} (the bid is {quote.bid}), move it, then cancel it")
        limit = Order.limit(stock, "BUY", quantity, low, tif=TimeInForce.GTC, account=account)
        await broker.place_order(limit)
        await orders.wait(limit.client_order_id, OrderStatus.SUBMITTED)
        higher = stock.round_to_tick(quote.bid * Decimal("0.96"))
        moved = await broker.modify_order(limit.client_order_id, limit_price=higher)
        print(f"  modified: limit price now {moved.limit_price}")
        await broker.cancel_order(limit.client_order_id)
        await orders.wait(limit.client_order_id, OrderStatus.CANCELLED)

        print(f"3. sell {quantity} {symbol} at the market to close")
        sell = Order.market(stock, "SELL", quantity, account=account)
        await broker.place_order(sell)
        await orders.wait(sell.client_order_id, OrderStatus.FILLED)

        held = sum((p.quantity for p in await broker.positions(account) if p.instrument_id == stock.id), Decimal(0))
        ours = {buy.client_order_id, sell.client_order_id}
        fills = [f for f in await broker.executions() if f.client_order_id in ours]
        print(f"done: {len(fills)} execution(s) today for these orders, {symbol} position now {held.normalize():f}")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], options)
    with ib_settings(args) as settings:
        asyncio.run(run(settings, args.symbol, args.quantity))


if __name__ == "__main__":
    with errors_in_one_line():
        main()
