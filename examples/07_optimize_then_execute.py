"""07 - Optimise the S&P 500 sample, plan the rebalance of a paper account, and execute it.

    python examples/07_optimize_then_execute.py [--method max-sharpe] [--dry-run] [--port 7497]

1. Maximum-Sharpe weights on the last five years of the bundled sample (each position capped at the configured
   maximum position size, ``risk.max_position_pct``).
2. The rebalance plan for the account as the broker reports it: whole shares, priced at the current quotes.
3. Paper execution through the IB adapter: sells first, then buys once every sell has filled.

quantdesk's configuration (``quantdesk.toml``, ``QUANTDESK__…`` variables) applies; trading stays in paper mode
unless live trading is configured *and* confirmed, and this example refuses live ports and live accounts anyway.
Against the simulator (no ``--port``) its database and paper accounts live in ``<data_dir>/examples/``
(``--data-dir``), apart from your records, and a second run trades only the drift.
"""

from __future__ import annotations

import argparse
import asyncio

from _common import add_data_dir, errors_in_one_line, parse_args, refuse_live, trading_settings

from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.services.execution import execute_plan
from quantdesk.services.portfolio import last_prices, optimize_universe, plan_from_broker, universe_prices


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="max-sharpe", help="optimisation method (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan without sending orders")
    add_data_dir(parser)


async def run(settings: Settings, method: str, dry_run: bool) -> None:
    # 1. optimise: a pure computation on the sample's daily closes, no broker needed
    prices = universe_prices("sample")
    result = optimize_universe("sample", method, "5y", settings=settings, prices=prices)
    print(f"1. {result.method}: expected return {result.expected_return:.1%}, volatility {result.volatility:.1%}, "
          f"Sharpe {result.sharpe:.2f}")  # fmt: skip
    for symbol, weight in result.weights.sort_values(ascending=False).items():
        if weight > 0.0005:
            print(f"   {symbol:<5} {weight:6.1%}")

    async with IBBroker(settings.ib) as broker:
        account = str((await broker.managed_accounts())[0])
        refuse_live(settings.ib.port, [account])

        # 2. plan: the account's cash and positions at the broker, priced at its quotes (the last close if none)
        planned = await plan_from_broker(
            result.to_target_weights(), broker, settings, account=account, fallback_prices=last_prices(prices)
        )
        plan = planned.plan
        print(f"2. plan for {account}: portfolio {plan.portfolio_value:,.2f} {plan.currency.code}, "
              f"{len(plan.trades)} trades, buys {plan.buy_notional:,.2f}, sells {plan.sell_notional:,.2f}")  # fmt: skip
        for line in planned.lines:
            if line.trade_quantity:
                print(f"   {line.symbol:<5} {line.trade_quantity:+8.0f} @ {line.price:>8.2f}")
        for warning in planned.warnings:
            print(f"   note: {warning}")
        if dry_run:
            print("3. dry run: nothing sent")
            return

        # 3. execute as paper trades, sells before buys
        done = await execute_plan(plan, broker, settings, timeout=60)
        filled = sum(1 for r in done.reports if r.filled_quantity == r.quantity)
        print(f"3. executed in {done.mode} mode: {filled} of {len(done.reports)} orders filled"
              + (f" ({done.reason})" if done.reason else ""))  # fmt: skip
        held = await broker.positions(account)
        shown = ", ".join(f"{p.instrument_id.value.split('.')[0]} {p.quantity:.0f}" for p in held)
        print(f"   positions now: {shown}")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], options)
    with trading_settings(args) as settings:  # the config, connected where the options say
        asyncio.run(run(settings, args.method, args.dry_run))


if __name__ == "__main__":
    with errors_in_one_line():
        main()
