"""The live-trading policy every shell applies before an order leaves: paper unless the config says live *and*
the command confirms it.

Live needs all three: ``mode = "live"``, ``live.confirm`` holding the phrase, and the shell's own confirmation
(the CLI's ``--live`` answered with yes; an API's explicit flag). The in-process gateway is a paper simulator, so
a live configuration may not send to it, and a paper-mode order may not go to a live (non-``D…``) account. The CLI,
the demo and the API call these functions instead of repeating the rules; errors keep the CLI's field names
(``--live``, ``--broker``), which ``config.ensure_trading_mode`` already uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from quantdesk.config import Mode, Settings, ensure_trading_mode
from quantdesk.domain.identifiers import AccountId
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed

__all__ = ["check_account", "live_accounts_seen", "live_warnings", "order_mode", "trading_mode"]

_LIVE_SEEN = re.compile(r"(\S+) \(LIVE\)")


def trading_mode(settings: Settings, *, live: bool, broker: str | None = None) -> Mode:
    """The mode an order command trades in, or the error that says why it may not trade.

    ``broker`` is where the orders go (``gateway``: the in-process paper simulator, refused in live mode). In live
    mode a config without ``live.confirm`` is refused first (naming it), then a command without ``live``; with a
    paper config ``live`` is refused (the config, not the flag, decides the mode).
    """
    if broker == "gateway" and settings.is_live:
        raise ConfigError(
            "the in-process gateway is a paper simulator, but the configuration is in live mode",
            field="--broker",
            hint="use --broker ib for live trading, or a paper configuration",
        )
    if settings.is_live:
        if not settings.live.confirmed:
            ensure_trading_mode(settings, False)  # raises, naming live.confirm
        if not live:
            raise LiveTradingNotConfirmed(
                "the configuration is in live mode: sending orders needs --live as well",
                field="--live",
                value=False,
                hint="pass --live and answer yes at the prompt, or use a paper configuration",
            )
    return ensure_trading_mode(settings, live)  # refuses --live with a paper configuration


def check_account(settings: Settings, mode: Mode, account: AccountId | None) -> None:
    """Refuse a paper-mode order for a live account (paper accounts start with ``D``)."""
    if mode == "paper" and account is not None and not account.is_paper:
        raise ConfigError(
            f"account {account} looks like a live account, but the configuration is in paper mode",
            field="mode",
            value=settings.mode,
            hint="use a paper account (DU…), or configure and confirm live trading",
        )


def order_mode(settings: Settings, confirm_live: bool, account: AccountId | None) -> Mode:
    """The mode orders for ``account`` go out in: ``ensure_trading_mode`` decides, then :func:`check_account`."""
    mode = ensure_trading_mode(settings, confirm_live)
    check_account(settings, mode, account)
    return mode


def live_accounts_seen(details: Iterable[str]) -> list[str]:
    """The accounts marked ``(LIVE)`` in a connection check's details (``quantdesk validate``'s accounts line)."""
    return [account.rstrip(",") for detail in details for account in _LIVE_SEEN.findall(detail)]


def live_warnings(settings: Settings, port: int, live_accounts: Iterable[str] = ()) -> list[str]:
    """What ``config validate`` would flag for this port and account, plus each live account IB reported while
    the config is in paper mode: a paper configuration pointed at a live session."""
    checked = settings.model_copy(update={"ib": settings.ib.model_copy(update={"port": port})})
    out = [w for w in checked.warnings() if w.startswith(("ib.port", "ib.account", "mode is live but ib.port"))]
    if not settings.is_live:
        out.extend(
            f"IB is logged in to the live account {account} but mode is paper: log in to a paper account (DU…), "
            'or set mode = "live" to trade live'
            for account in live_accounts
        )
    return out
