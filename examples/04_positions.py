"""04 - Positions of every account, valued at the current quotes.

    python examples/04_positions.py [--port 7497]

The in-process simulator starts with a few positions in its first account so there is something to show.
"""

from __future__ import annotations

from decimal import Decimal

from _common import errors_in_one_line, ib_settings, parse_args

from quantdesk.brokers.ib import SyncIBBroker
from quantdesk.domain.instruments import Stock
from quantdesk.gateway import ContractQuery, GatewayServer

SEED_POSITIONS = {"AAPL": (100, 150.0), "MSFT": (40, 300.0), "KO": (-50, 60.0)}  # quantity, average cost


def seed(gateway: GatewayServer) -> None:
    """Give the simulator's first account a few holdings (only without --port)."""
    account = gateway.accounts.ids[0]
    for symbol, (quantity, cost) in SEED_POSITIONS.items():
        spec = gateway.catalog.resolve(ContractQuery(symbol=symbol, sec_type="STK", currency="USD"))
        assert spec is not None
        gateway.accounts.set_position(account, spec.con_id, quantity, cost)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with ib_settings(args, setup=seed) as settings, SyncIBBroker(settings) as ib:
        positions = ib.positions()  # every account; pass an account id for one
        if not positions:
            print("no positions")
        print(f"{'account':<11}{'instrument':<22}{'quantity':>10}{'avg cost':>12}{'price':>10}{'unrealized':>13}")
        for p in positions:
            symbol = p.instrument_id.value.split(".")[0]
            stock = p.instrument_id.value.endswith(".STK.SMART.USD")  # value US stocks; other kinds show no price
            price = ib.quote(Stock(symbol)).mid if stock else None
            pnl = "" if price is None else f"{(price - p.average_cost) * p.quantity * p.multiplier:,.2f}"
            shown = "" if price is None else f"{price:.2f}"
            qty = f"{p.quantity.normalize():f}"
            print(f"{p.account!s:<11}{p.instrument_id!s:<22}{qty:>10}{p.average_cost:>12.2f}{shown:>10}{pnl:>13}")
        total = sum((abs(p.quantity) for p in positions), Decimal(0))
        print(f"{len(positions)} position(s), {total:.0f} shares or contracts in all")


if __name__ == "__main__":
    with errors_in_one_line():
        main()
