"""Accounts, cash and positions, and the account values IB reports for them.

Plain mutable dataclasses: the order handling updates them through :meth:`AccountBook.apply_fill` (or
:meth:`AccountBook.set_position`) and then calls the server's ``publish_*`` methods so subscribers see the change.
Valuation is deliberately simple: one base currency, every position valued at the model's last price times the
multiplier, Reg-T-like margin rates per security type. Average costs include the multiplier, as IB reports them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.atomic_files import atomic_write_json
from quantdesk.errors import NotFound, ValidationError

__all__ = [
    "LEDGER_TAGS",
    "MARGIN_RATES",
    "SUMMARY_TAGS",
    "Account",
    "AccountBook",
    "Holding",
    "InstrumentInfo",
    "PortfolioLine",
    "ValueLine",
    "cash_by_account",
    "load_state",
    "save_state",
]

# security type -> (initial, maintenance) margin as a fraction of gross market value
MARGIN_RATES: dict[str, tuple[float, float]] = {
    "STK": (0.50, 0.25),
    "OPT": (1.00, 1.00),
    "FUT": (0.06, 0.05),
    "CASH": (0.03, 0.025),
}
SUMMARY_TAGS = (
    "AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash", "BuyingPower",
    "EquityWithLoanValue", "PreviousDayEquityWithLoanValue", "GrossPositionValue", "RegTEquity", "RegTMargin", "SMA",
    "InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity", "Cushion", "FullInitMarginReq",
    "FullMaintMarginReq", "FullAvailableFunds", "FullExcessLiquidity", "LookAheadNextChange",
    "LookAheadInitMarginReq", "LookAheadMaintMarginReq", "LookAheadAvailableFunds", "LookAheadExcessLiquidity",
    "HighestSeverity", "DayTradesRemaining", "DayTradesRemainingT+1", "DayTradesRemainingT+2",
    "DayTradesRemainingT+3", "DayTradesRemainingT+4", "Leverage",
)  # fmt: skip
LEDGER_TAGS = (
    "CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "StockMarketValue", "FuturesPNL",
    "UnrealizedPnL", "RealizedPnL", "ExchangeRate",
)  # fmt: skip
_UNITLESS = frozenset(
    {"AccountType", "Cushion", "Leverage", "LookAheadNextChange", "HighestSeverity"}
    | {t for t in SUMMARY_TAGS if t.startswith("DayTradesRemaining")}
)


@dataclass(slots=True)
class Holding:
    """A position in one contract: signed quantity, average cost per unit *including* the multiplier."""

    con_id: int
    quantity: float
    avg_cost: float
    realized_pnl: float = 0.0


@dataclass(slots=True)
class Account:
    """One account: cash in the base currency, holdings by conId and the realized P&L so far."""

    account_id: str
    cash: float
    currency: str = "USD"
    holdings: dict[int, Holding] = field(default_factory=dict)
    realized_pnl: float = 0.0


@dataclass(frozen=True, slots=True)
class ValueLine:
    """One account value: tag, text value and currency (``""`` for unitless tags, ``BASE`` for the base ledger)."""

    tag: str
    value: str
    currency: str


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """What ``updatePortfolio`` reports for one holding."""

    con_id: int
    quantity: float
    market_price: float
    market_value: float
    avg_cost: float
    unrealized_pnl: float
    realized_pnl: float


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """What valuation needs to know about a contract."""

    sec_type: str
    multiplier: float


def _money(v: float) -> str:
    return f"{v:.2f}"


class AccountBook:
    """All accounts of the gateway, keyed by account id, in the order given."""

    def __init__(self, cash: Mapping[str, float], currency: str = "USD") -> None:
        if not cash:
            raise ValidationError("at least one account is needed", field="accounts", hint="pass DU… account ids")
        self.currency = currency
        self.accounts: dict[str, Account] = {a: Account(a, float(c), currency) for a, c in cash.items()}
        self._listeners: list[Callable[[str, int | None], None]] = []

    @property
    def ids(self) -> list[str]:
        """Account ids in their configured order."""
        return list(self.accounts)

    def get(self, account_id: str) -> Account:
        """One account; raises :class:`NotFound` for an unknown id."""
        try:
            return self.accounts[account_id]
        except KeyError:
            raise NotFound(
                f"unknown account {account_id!r}", field="account", value=account_id, hint=f"one of {self.ids}"
            ) from None

    def on_change(self, listener: Callable[[str, int | None], None]) -> None:
        """Call ``listener(account_id, con_id or None)`` after every change made through this book."""
        self._listeners.append(listener)

    def _changed(self, account_id: str, con_id: int | None) -> None:
        for listener in list(self._listeners):
            listener(account_id, con_id)

    def set_cash(self, account_id: str, cash: float) -> None:
        """Overwrite an account's cash balance."""
        self.get(account_id).cash = float(cash)
        self._changed(account_id, None)

    def set_position(self, account_id: str, con_id: int, quantity: float, avg_cost: float) -> Holding:
        """Overwrite a holding (quantity 0 removes it but keeps its realized P&L on the account)."""
        acct = self.get(account_id)
        holding = acct.holdings.get(con_id) or Holding(con_id, 0.0, 0.0)
        holding.quantity, holding.avg_cost = float(quantity), float(avg_cost) if quantity else 0.0
        acct.holdings[con_id] = holding
        self._changed(account_id, con_id)
        return holding

    def apply_fill(
        self,
        account_id: str,
        con_id: int,
        quantity: float,
        price: float,
        multiplier: float = 1.0,
        commission: float = 0.0,
    ) -> float:
        """Book a fill of signed ``quantity`` at ``price``; returns the P&L it realized (before commission)."""
        acct = self.get(account_id)
        h = acct.holdings.get(con_id) or Holding(con_id, 0.0, 0.0)
        unit_cost = price * multiplier
        realized = 0.0
        if h.quantity == 0 or (h.quantity > 0) == (quantity > 0):
            total = h.quantity + quantity
            h.avg_cost = (h.avg_cost * h.quantity + unit_cost * quantity) / total if total else 0.0
            h.quantity = total
        else:
            closed = min(abs(quantity), abs(h.quantity))
            sign = 1.0 if h.quantity > 0 else -1.0
            realized = closed * sign * (unit_cost - h.avg_cost)
            h.quantity += quantity
            if h.quantity == 0:
                h.avg_cost = 0.0
            elif (h.quantity > 0) != (sign > 0):
                h.avg_cost = unit_cost
        h.realized_pnl += realized - commission
        acct.realized_pnl += realized - commission
        acct.cash -= quantity * unit_cost + commission
        acct.holdings[con_id] = h
        self._changed(account_id, con_id)
        return realized

    # --- valuation -------------------------------------------------------------------------------------------

    def portfolio(
        self, account_id: str, price_of: Callable[[int], float], info_of: Callable[[int], InstrumentInfo]
    ) -> list[PortfolioLine]:
        """One line per holding (including closed ones, with quantity 0, until the book forgets them)."""
        out = []
        for h in self.get(account_id).holdings.values():
            info = info_of(h.con_id)
            px = price_of(h.con_id)
            px = 0.0 if math.isnan(px) else px
            mv = h.quantity * px * info.multiplier
            out.append(
                PortfolioLine(h.con_id, h.quantity, px, mv, h.avg_cost, mv - h.quantity * h.avg_cost, h.realized_pnl)
            )
        return out

    def values(
        self, account_id: str, price_of: Callable[[int], float], info_of: Callable[[int], InstrumentInfo]
    ) -> dict[str, ValueLine]:
        """The summary tags of one account, by tag name (see :data:`SUMMARY_TAGS`)."""
        acct = self.get(account_id)
        lines = self.portfolio(account_id, price_of, info_of)
        gross = sum(abs(p.market_value) for p in lines)
        sum(p.market_value for p in lines if info_of(p.con_id).sec_type == "STK")
        init = maint = 0.0
        for p in lines:
            rate_init, rate_maint = MARGIN_RATES.get(info_of(p.con_id).sec_type, (0.5, 0.25))
            init += abs(p.market_value) * rate_init
            maint += abs(p.market_value) * rate_maint
        net = acct.cash + sum(p.market_value for p in lines)
        available, excess = net - init, net - maint
        figures: dict[str, float | str] = {
            "AccountType": "INDIVIDUAL", "NetLiquidation": net, "TotalCashValue": acct.cash, "SettledCash": acct.cash,
            "AccruedCash": 0.0, "BuyingPower": max(available, 0.0) * 4, "EquityWithLoanValue": net,
            "PreviousDayEquityWithLoanValue": net, "GrossPositionValue": gross, "RegTEquity": net, "RegTMargin": init,
            "SMA": max(net - init, 0.0), "InitMarginReq": init, "MaintMarginReq": maint, "AvailableFunds": available,
            "ExcessLiquidity": excess, "Cushion": f"{excess / net:.6f}" if net else "0",
            "FullInitMarginReq": init, "FullMaintMarginReq": maint, "FullAvailableFunds": available,
            "FullExcessLiquidity": excess, "LookAheadNextChange": "0", "LookAheadInitMarginReq": init,
            "LookAheadMaintMarginReq": maint, "LookAheadAvailableFunds": available,
            "LookAheadExcessLiquidity": excess, "HighestSeverity": "0",
            "Leverage": f"{gross / net:.4f}" if net else "0",
        }  # fmt: skip
        for tag in SUMMARY_TAGS:
            if tag.startswith("DayTradesRemaining"):
                figures[tag] = "-1"
        return {
            tag: ValueLine(tag, v if isinstance(v, str) else _money(v), "" if tag in _UNITLESS else acct.currency)
            for tag, v in figures.items()
        }

    def ledger(
        self, account_id: str, price_of: Callable[[int], float], info_of: Callable[[int], InstrumentInfo]
    ) -> list[ValueLine]:
        """The ``$LEDGER`` tags, once for ``BASE`` and once for the account's currency."""
        acct = self.get(account_id)
        lines = self.portfolio(account_id, price_of, info_of)
        stock = sum(p.market_value for p in lines if info_of(p.con_id).sec_type == "STK")
        unrealized = sum(p.unrealized_pnl for p in lines)
        net = acct.cash + sum(p.market_value for p in lines)
        figures = {
            "CashBalance": _money(acct.cash), "TotalCashBalance": _money(acct.cash),
            "NetLiquidationByCurrency": _money(net), "StockMarketValue": _money(stock), "FuturesPNL": "0.00",
            "UnrealizedPnL": _money(unrealized), "RealizedPnL": _money(acct.realized_pnl), "ExchangeRate": "1.00",
        }  # fmt: skip
        return [ValueLine(t, v, c) for c in ("BASE", acct.currency) for t, v in figures.items()]

    def update_values(
        self, account_id: str, price_of: Callable[[int], float], info_of: Callable[[int], InstrumentInfo]
    ) -> list[ValueLine]:
        """Everything ``reqAccountUpdates`` reports: identity tags, the summary tags and the ledger."""
        acct = self.get(account_id)
        head = [
            ValueLine("AccountCode", account_id, ""),
            ValueLine("AccountReady", "true", ""),
            ValueLine("Currency", acct.currency, acct.currency),
            ValueLine("RealCurrency", acct.currency, acct.currency),
        ]
        return (
            head
            + list(self.values(account_id, price_of, info_of).values())
            + self.ledger(account_id, price_of, info_of)
        )

    # --- persistence -----------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready snapshot of every account."""
        return {
            a.account_id: {
                "cash": a.cash,
                "currency": a.currency,
                "realized_pnl": a.realized_pnl,
                "holdings": [
                    {"con_id": h.con_id, "quantity": h.quantity, "avg_cost": h.avg_cost, "realized_pnl": h.realized_pnl}
                    for h in a.holdings.values()
                ],
            }
            for a in self.accounts.values()
        }

    def load_json(self, data: Mapping[str, Any]) -> None:
        """Restore accounts from :meth:`to_json` output (accounts it does not name keep their state)."""
        for account_id, raw in data.items():
            acct = self.accounts.setdefault(account_id, Account(account_id, 0.0, self.currency))
            acct.cash = float(raw["cash"])
            acct.currency = str(raw.get("currency", self.currency))
            acct.realized_pnl = float(raw.get("realized_pnl", 0.0))
            acct.holdings = {
                int(h["con_id"]): Holding(
                    int(h["con_id"]), float(h["quantity"]), float(h["avg_cost"]), float(h.get("realized_pnl", 0.0))
                )
                for h in raw.get("holdings", [])
            }


def save_state(path: Path, state: Mapping[str, Any]) -> None:
    """Write a JSON state file atomically and durably (temp file, fsync, rename)."""
    atomic_write_json(path, dict(state), indent=2)


def load_state(path: Path) -> dict[str, Any]:
    """Read a JSON state file (an empty dict when it does not exist)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValidationError("state file must hold a JSON object", field="state_file", value=str(path))
    return data


def cash_by_account(accounts: Iterable[str], cash: float | Mapping[str, float]) -> dict[str, float]:
    """Expand ``cash`` (one amount for all, or per account) over the account ids."""
    ids = list(accounts)
    if isinstance(cash, Mapping):
        missing = [a for a in ids if a not in cash]
        if missing:
            raise ValidationError(
                f"no cash given for {missing}", field="cash", value=dict(cash), hint="give every account an amount"
            )
        return {a: float(cash[a]) for a in ids}
    return dict.fromkeys(ids, float(cash))
