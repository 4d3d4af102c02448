"""02 - Account summary of every managed account: net liquidation, cash, buying power and margin.

    python examples/02_account.py [--port 7497]

One login may manage several accounts (advisors, family accounts): each has its own summary.
"""

from __future__ import annotations

from _common import errors_in_one_line, ib_settings, parse_args

from quantdesk.brokers.ib import SyncIBBroker


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with ib_settings(args) as settings, SyncIBBroker(settings) as ib:
        for account in ib.managed_accounts():  # one login may manage several accounts
            s = ib.account_summary(account)
            print(f"account {account} ({s.base_currency.code})")
            print(f"  net liquidation   {s.net_liquidation.amount:>16,.2f}")
            for currency, amount in s.cash.items():
                print(f"  cash {currency.code:<12} {amount:>16,.2f}")
            print(f"  buying power      {s.buying_power.amount:>16,.2f}")
            print(f"  initial margin    {s.initial_margin.amount:>16,.2f}")
            print(f"  maintenance margin{s.maintenance_margin.amount:>16,.2f}")
            print(f"  excess liquidity  {s.excess_liquidity.amount:>16,.2f}")


if __name__ == "__main__":
    with errors_in_one_line():
        main()
