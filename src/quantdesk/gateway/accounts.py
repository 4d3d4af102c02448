"""The gateway's accounts as IB reports them, kept in the simulated venue's Decimal ledger.

Every account is a venue :class:`~quantdesk.execution.ledger.Ledger` (cash in the account's currency, one domain
``Position`` per conId); the order desk books the engine's fills into it through :meth:`AccountBook.book` (and
tests and faults through :meth:`AccountBook.apply_fill` or :meth:`AccountBook.set_position`), and every change is
pushed to subscribers through the listeners. Positions are kept per unit *including* the multiplier (IB's average
cost), so a holding needs no contract to be booked. Valuation: one base currency, every position valued at the
model's last price times the multiplier; margin from the venue's one :class:`~quantdesk.execution.margin.MarginPolicy`
(Reg-T-like rates per security type), so account values, the margin check and what-if agree with the simulated
broker. ``BuyingPower`` is the policy's day-trading figure (4 × available funds under Reg-T).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantdesk.atomic_files import atomic_write_json
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.positions import Position
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import ZERO, Currency, Money, Numeric, to_decimal
from quantdesk.errors import NotFound, ValidationError
from quantdesk.execution.ledger import Ledger
from quantdesk.execution.margin import Exposure, MarginCheck, MarginPolicy, Valuation, value_exposures

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

MARGIN_RATES: Mapping[str, tuple[Decimal, Decimal]] = {
    kind.value: rates for kind, rates in MarginPolicy.reg_t().rates.items()
}
"""security type -> (initial, maintenance) margin: the venue's one table (``execution.margin.REG_T_RATES``)."""
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _key(con_id: int) -> InstrumentId:
    return InstrumentId(f"CONID.{con_id}")


def _dec(value: Numeric) -> Decimal:
    return to_decimal(value, "amount")


class Holding:
    """A live view of one position: signed quantity, average cost per unit *including* the multiplier, and the
    realized P&L net of commissions."""

    __slots__ = ("_ledger", "con_id")

    def __init__(self, ledger: Ledger, con_id: int) -> None:
        self._ledger, self.con_id = ledger, con_id

    @property
    def _position(self) -> Position:
        return self._ledger.positions[_key(self.con_id)]

    @property
    def quantity(self) -> Decimal:
        """The signed quantity held."""
        return self._position.quantity

    @property
    def avg_cost(self) -> Decimal:
        """The average cost per unit, multiplier included (0 when flat)."""
        return self._position.average_cost

    @property
    def realized_pnl(self) -> Decimal:
        """Realized P&L minus commissions so far."""
        return self._position.realised_pnl_net.amount

    def __repr__(self) -> str:
        return f"Holding({self.con_id}, {self.quantity}, {self.avg_cost}, {self.realized_pnl})"


class Account:
    """One account: a venue ledger with cash in the account's currency and one position per conId."""

    __slots__ = ("ledger",)

    def __init__(self, account_id: str, cash: Numeric, currency: str = "USD") -> None:
        ccy = Currency.of(currency)
        self.ledger = Ledger(AccountId(account_id), ccy, {ccy: _dec(cash)})

    @property
    def account_id(self) -> str:
        """The account code."""
        return self.ledger.account.value

    @property
    def currency(self) -> str:
        """The account's (base) currency code."""
        return self.ledger.base.code

    @property
    def cash(self) -> Decimal:
        """Cash in the account's currency."""
        return self.ledger.cash.get(self.ledger.base, ZERO)

    @cash.setter
    def cash(self, value: Numeric) -> None:
        self.ledger.cash[self.ledger.base] = _dec(value)

    @property
    def holdings(self) -> dict[int, Holding]:
        """Every position by conId (closed ones included, with quantity 0), as live views."""
        return {
            int(iid.value.split(".")[1]): Holding(self.ledger, int(iid.value.split(".")[1]))
            for iid in self.ledger.positions
        }

    @property
    def realized_pnl(self) -> Decimal:
        """The realized P&L of every position, net of commissions."""
        return sum((p.realised_pnl_net.amount for p in self.ledger.positions.values()), ZERO)


@dataclass(frozen=True, slots=True)
class ValueLine:
    """One account value: tag, text value and currency (``""`` for unitless tags, ``BASE`` for the base ledger)."""

    tag: str
    value: str
    currency: str


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """What ``updatePortfolio`` reports for one holding (wire figures: floats)."""

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


def _money(v: Decimal) -> str:
    return f"{v:.2f}"


PriceOf = Callable[[int], float]
InfoOf = Callable[[int], InstrumentInfo]


def _price(price_of: PriceOf, con_id: int) -> Decimal:
    px = price_of(con_id)
    return ZERO if math.isnan(px) else Decimal(repr(float(px)))


class AccountBook:
    """All accounts of the gateway, keyed by account id, in the order given, under one margin policy."""

    def __init__(self, cash: Mapping[str, float], currency: str = "USD", policy: MarginPolicy | None = None) -> None:
        if not cash:
            raise ValidationError("at least one account is needed", field="accounts", hint="pass DU… account ids")
        self.currency = currency
        self.policy = policy or MarginPolicy.reg_t()
        self.accounts: dict[str, Account] = {a: Account(a, c, currency) for a, c in cash.items()}
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

    def set_cash(self, account_id: str, cash: Numeric) -> None:
        """Overwrite an account's cash balance."""
        self.get(account_id).cash = cash
        self._changed(account_id, None)

    def set_position(self, account_id: str, con_id: int, quantity: Numeric, avg_cost: Numeric) -> Holding:
        """Overwrite a holding (quantity 0 keeps it, flat, with its realized P&L)."""
        ledger = self.get(account_id).ledger
        qty = _dec(quantity)
        current = ledger.positions.get(_key(con_id)) or Position.flat(_key(con_id), ledger.base)
        ledger.positions[_key(con_id)] = replace(
            current, quantity=qty, cost_basis=qty * _dec(avg_cost) if qty else ZERO
        )
        self._changed(account_id, con_id)
        return Holding(ledger, con_id)

    def apply_fill(
        self,
        account_id: str,
        con_id: int,
        quantity: Numeric,
        price: Numeric,
        multiplier: Numeric = 1,
        commission: Numeric = 0,
        ts: datetime = _EPOCH,
    ) -> Decimal:
        """Book a fill of signed ``quantity`` at ``price``; returns the P&L it realized (before commission)."""
        ledger = self.get(account_id).ledger
        qty, fee = _dec(quantity), _dec(commission)
        before = ledger.positions.get(_key(con_id))
        if qty == 0:
            return ZERO
        fill = Fill(
            ExecutionId("booked"),
            ClientOrderId("booked"),
            _key(con_id),
            OrderSide.BUY if qty > 0 else OrderSide.SELL,
            abs(qty),
            _dec(price) * _dec(multiplier),
            ts,
            currency=ledger.base,
            commission=Money(fee, ledger.base),
        )
        position = ledger.apply(fill)
        self._changed(account_id, con_id)
        gross_before = ZERO if before is None else before.realised_pnl.amount
        return position.realised_pnl.amount - gross_before

    def book(self, account_id: str, con_id: int, fill: Fill) -> Decimal:
        """Book one of the engine's fills (exact Decimals); returns the P&L it realized (before commission)."""
        signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
        return self.apply_fill(account_id, con_id, signed, fill.price, fill.multiplier, fill.commission.amount, fill.ts)

    # --- valuation -------------------------------------------------------------------------------------------

    def portfolio(self, account_id: str, price_of: PriceOf, info_of: InfoOf) -> list[PortfolioLine]:
        """One line per holding (including closed ones, with quantity 0, until the book forgets them)."""
        out = []
        for h in self.get(account_id).holdings.values():
            px = _price(price_of, h.con_id)
            mv = h.quantity * px * _dec(info_of(h.con_id).multiplier)
            unrealized = mv - h.quantity * h.avg_cost
            out.append(
                PortfolioLine(
                    h.con_id, float(h.quantity), float(px), float(mv), float(h.avg_cost), float(unrealized),
                    float(h.realized_pnl),
                )
            )  # fmt: skip
        return out

    def valuation(
        self,
        account_id: str,
        price_of: PriceOf,
        info_of: InfoOf,
        trade: tuple[int, Decimal, Decimal, Decimal] | None = None,
    ) -> Valuation:
        """The account's figures now, or after ``trade`` = (conId, signed quantity, price, commission)."""
        acct = self.get(account_id)
        cash = acct.cash
        held = {h.con_id: h.quantity for h in acct.holdings.values()}
        prices: dict[int, Decimal] = {}
        if trade is not None:
            con_id, signed, price, commission = trade
            cash -= signed * price * _dec(info_of(con_id).multiplier) + commission
            held[con_id] = held.get(con_id, ZERO) + signed
            prices[con_id] = price
        exposures = []
        for con_id, quantity in held.items():
            info = info_of(con_id)
            price = prices[con_id] if con_id in prices else _price(price_of, con_id)
            exposures.append(Exposure(quantity * price * _dec(info.multiplier), info.sec_type))
        return value_exposures(cash, exposures, self.policy)

    def assess(
        self,
        account_id: str,
        trade: tuple[int, Decimal, Decimal, Decimal],
        price_of: PriceOf,
        info_of: InfoOf,
        commission: Money,
    ) -> MarginCheck:
        """The venue's margin decision on ``trade`` (see :meth:`valuation`) in this account."""
        con_id, signed = trade[0], trade[1]
        holding = self.get(account_id).ledger.positions.get(_key(con_id))
        return MarginCheck.decide(
            self.valuation(account_id, price_of, info_of),
            self.valuation(account_id, price_of, info_of, trade),
            commission,
            held=ZERO if holding is None else holding.quantity,
            signed_quantity=signed,
            short_selling=self.policy.short_selling,
            account=account_id,
            base=self.currency,
            label=f"conId {con_id}",
        )

    def values(self, account_id: str, price_of: PriceOf, info_of: InfoOf) -> dict[str, ValueLine]:
        """The summary tags of one account, by tag name (see :data:`SUMMARY_TAGS`)."""
        acct = self.get(account_id)
        v = self.valuation(account_id, price_of, info_of)
        net, gross, init, maint = v.net_liquidation, v.gross_position_value, v.initial_margin, v.maintenance_margin
        available, excess = v.available_funds(), v.excess_liquidity()
        buying_power = self.policy.buying_power(v)
        figures: dict[str, Decimal | str] = {
            "AccountType": "INDIVIDUAL", "NetLiquidation": net, "TotalCashValue": acct.cash, "SettledCash": acct.cash,
            "AccruedCash": ZERO, "BuyingPower": buying_power, "EquityWithLoanValue": net,
            "PreviousDayEquityWithLoanValue": net, "GrossPositionValue": gross, "RegTEquity": net, "RegTMargin": init,
            "SMA": max(net - init, ZERO), "InitMarginReq": init, "MaintMarginReq": maint, "AvailableFunds": available,
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

    def ledger(self, account_id: str, price_of: PriceOf, info_of: InfoOf) -> list[ValueLine]:
        """The ``$LEDGER`` tags, once for ``BASE`` and once for the account's currency."""
        acct = self.get(account_id)
        stock = unrealized = market = ZERO
        for h in acct.holdings.values():
            info = info_of(h.con_id)
            mv = h.quantity * _price(price_of, h.con_id) * _dec(info.multiplier)
            market += mv
            unrealized += mv - h.quantity * h.avg_cost
            if info.sec_type == "STK":
                stock += mv
        figures = {
            "CashBalance": _money(acct.cash), "TotalCashBalance": _money(acct.cash),
            "NetLiquidationByCurrency": _money(acct.cash + market), "StockMarketValue": _money(stock),
            "FuturesPNL": "0.00", "UnrealizedPnL": _money(unrealized), "RealizedPnL": _money(acct.realized_pnl),
            "ExchangeRate": "1.00",
        }  # fmt: skip
        return [ValueLine(t, v, c) for c in ("BASE", acct.currency) for t, v in figures.items()]

    def update_values(self, account_id: str, price_of: PriceOf, info_of: InfoOf) -> list[ValueLine]:
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
        """A JSON-ready snapshot of every account (numbers as JSON floats, the state file's format)."""
        return {
            a.account_id: {
                "cash": float(a.cash),
                "currency": a.currency,
                "realized_pnl": float(a.realized_pnl),
                "holdings": [
                    {
                        "con_id": h.con_id,
                        "quantity": float(h.quantity),
                        "avg_cost": float(h.avg_cost),
                        "realized_pnl": float(h.realized_pnl),
                    }
                    for h in a.holdings.values()
                ],
            }
            for a in self.accounts.values()
        }

    def load_json(self, data: Mapping[str, Any]) -> None:
        """Restore accounts from :meth:`to_json` output (accounts it does not name keep their state)."""
        for account_id, raw in data.items():
            acct = Account(account_id, raw["cash"], str(raw.get("currency", self.currency)))
            for h in raw.get("holdings", []):
                iid, qty = _key(int(h["con_id"])), _dec(h["quantity"])
                ccy = acct.ledger.base
                acct.ledger.positions[iid] = Position(
                    iid, ccy, quantity=qty, cost_basis=qty * _dec(h["avg_cost"]) if qty else ZERO,
                    realised_pnl=Money(_dec(h.get("realized_pnl", 0)), ccy),
                )  # fmt: skip
            self.accounts[account_id] = acct


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
