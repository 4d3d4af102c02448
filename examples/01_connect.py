"""01 - Connect to TWS / IB Gateway (or the in-process simulator) and show what the connection knows.

    python examples/01_connect.py                 # the in-process gateway simulator
    python examples/01_connect.py --port 7497     # TWS paper (4002: IB Gateway paper)

quantdesk opens two API connections with their own client ids: one for market data, one for orders and accounts.
"""

from __future__ import annotations

from _common import errors_in_one_line, ib_settings, parse_args

from quantdesk.brokers.ib import SyncIBBroker


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with ib_settings(args) as settings, SyncIBBroker(settings) as ib:  # connects, and disconnects at the end
        report = ib.connection_report()
        print(f"connected to {settings.host}:{settings.port}")
        for role in ("data", "execution"):
            conn = report[role]
            print(f"  {role:<9} client id {conn['client_id']}: {conn['state']}")
        print(f"managed accounts: {', '.join(str(a) for a in ib.managed_accounts())}")
        notices = report["data"]["errors"]["by_code"]  # TWS greets every client with data-farm notices
        print(f"notices received: {', '.join(sorted(notices)) or 'none'}")


if __name__ == "__main__":
    with errors_in_one_line():
        main()
