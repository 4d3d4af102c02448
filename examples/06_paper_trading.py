"""06 - Paper trading through the OMS: buy at the market, rest a limit order, modify it, cancel it, close.

    python examples/06_paper_trading.py [--symbol AAPL] [--quantity 10] [--port 7497]

Plain synchronous code, as in a script or a notebook: ``SyncIBBroker`` reads the account and the quotes, and every
order goes through ``SyncTradingSession``, quantdesk's order manager on the facade's loop: the pre-trade risk
rules, an intent stored in the database *before* the order is sent, and IB's reports driving its state. With
``--port`` that is your database (``database.url``); against the simulator, the one in ``<data_dir>/examples/``
(``--data-dir``), so the simulated account's orders never mix with your records. Our client order id travels to
IB as ``orderRef``. This example refuses live ports and live (non-``D``) accounts.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from _common import add_data_dir, errors_in_one_line, parse_args, refuse_live, trading_settings

from quantdesk.brokers.ib import SyncIBBroker
from quantdesk.config import Settings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.oms import ManagedOrder
from quantdesk.services.sync_session import SyncTradingSession

TIMEOUT = 30.0  # seconds to wait for a fill or a cancel


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", default="AAPL", help="a US stock (default: %(default)s)")
    parser.add_argument("--quantity", type=int, default=10, help="shares to trade (default: %(default)s)")
    add_data_dir(parser)


def show(order: ManagedOrder) -> None:
    """An OMS listener: one line per state change."""
    s = order.state
    print(f"  order {order.client_order_id}: {s.status.value} "
          f"({s.filled_quantity.normalize():f}/{s.quantity.normalize():f} filled)")  # fmt: skip


def until_done(trading: SyncTradingSession, order: Order) -> OrderStatus:
    if not trading.wait([order], TIMEOUT):
        raise SystemExit(f"order {order.client_order_id} still working after {TIMEOUT:g} s (is the market open?)")
    managed = trading.order(order)
    assert managed is not None
    return managed.state.status


def run(settings: Settings, symbol: str, quantity: int) -> None:
    stock = Stock(symbol)
    with SyncIBBroker(settings.ib) as ib:
        refuse_live(settings.ib.port, [str(a) for a in ib.managed_accounts()])
        account = ib.managed_accounts()[0]
        with SyncTradingSession(settings, ib, account=str(account)) as trading:
            trading.add_listener(show)

            print(f"1. buy {quantity} {symbol} at the market ({account})")
            buy = Order.market(stock, "BUY", quantity, account=account)
            trading.submit(buy)
            until_done(trading, buy)

            quote = ib.quote(stock)
            low = stock.round_to_tick(quote.bid * Decimal("0.97"))  # inside the 5 % price band of the risk rules
            print(f"2. rest a buy limit at {low} (the bid is {quote.bid}), move it, then cancel it")
            limit = Order.limit(stock, "BUY", quantity, low, tif=TimeInForce.GTC, account=account)
            trading.submit(limit)
            higher = stock.round_to_tick(quote.bid * Decimal("0.98"))
            moved = trading.modify(limit, limit_price=higher)
            print(f"  modified: limit price now {moved.order.limit_price if moved.order else higher}")
            trading.cancel(limit)
            until_done(trading, limit)

            print(f"3. sell {quantity} {symbol} at the market to close")
            sell = Order.market(stock, "SELL", quantity, account=account)
            trading.submit(sell)
            until_done(trading, sell)

        held = sum((p.quantity for p in ib.positions(account) if p.instrument_id == stock.id), Decimal(0))
        where = settings.paths.data_dir
        print(f"done: {symbol} position now {held.normalize():f}; every order and fill is in the database "
              f"(quantdesk --set paths.data_dir={where} orders --status all, … fills)")  # fmt: skip


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], options)
    with trading_settings(args) as settings:
        run(settings, args.symbol, args.quantity)


if __name__ == "__main__":
    with errors_in_one_line():
        main()
