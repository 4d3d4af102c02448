"""Holdings: what an account holds (signed quantity per symbol, cash), read from any ``Broker`` or from a file.

Files: a CSV ``symbol,quantity[,price]`` with the cash as a ``CASH,<amount>`` row, or a JSON document
``{"cash": 10000, "currency": "USD", "account": "DU1", "positions": {"AAPL": 10}}``. Brokers: cash and the stocks
in the account's base currency (other positions are listed in ``Holdings.excluded`` and left out).
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Instrument, Stock
from quantdesk.domain.targets import AssetKey
from quantdesk.domain.values import USD, ZERO, Currency, Numeric, to_decimal
from quantdesk.errors import DataError, QuantdeskError

if TYPE_CHECKING:
    from quantdesk.brokers.base import Broker

__all__ = [
    "CASH_SYMBOL",
    "Holdings",
    "load_holdings_file",
    "load_target_file",
    "quotes_from_broker",
    "snapshot_from_broker",
    "symbol_of",
]

CASH_SYMBOL = "CASH"
"""The symbol of the cash row in a positions CSV."""

_ASSET_CODES = frozenset(a.value for a in AssetClass)


def symbol_of(key: AssetKey) -> str:
    """The symbol a weight or position is keyed by: ``AAPL.STK.SMART.USD`` → ``AAPL``; other keys unchanged."""
    text = key.value if isinstance(key, InstrumentId) else key
    parts = text.rsplit(".", 3)
    return parts[0] if len(parts) == 4 and parts[1] == "STK" else text


@dataclass(frozen=True, slots=True)
class Holdings:
    """An account's book: signed quantity per symbol and cash in ``currency``.

    ``marks`` are prices known with the positions (the broker's market price, a file's price column), used when
    the caller gives no price; ``instruments`` the contracts the positions are in; ``excluded`` says which
    positions were left out of the rebalance (other asset classes or currencies) and why.
    """

    positions: Mapping[str, Decimal]
    cash: Decimal
    currency: Currency = USD
    account: AccountId | None = None
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()
    ts: datetime | None = None

    def __post_init__(self) -> None:
        clean = {}
        for sym, qty in self.positions.items():
            q = to_decimal(qty, f"positions[{sym}]")
            if q != 0:
                clean[symbol_of(sym)] = q
        object.__setattr__(self, "positions", MappingProxyType(clean))
        object.__setattr__(self, "cash", to_decimal(self.cash, "cash"))
        object.__setattr__(self, "currency", Currency.of(self.currency))
        marks = {symbol_of(k): to_decimal(v, f"marks[{k}]") for k, v in self.marks.items()}
        object.__setattr__(self, "marks", MappingProxyType(marks))
        object.__setattr__(self, "instruments", MappingProxyType(dict(self.instruments)))

    @classmethod
    def of(
        cls, positions: Mapping[str, Numeric], cash: Numeric, *, currency: Currency | str = USD, **kw: Any
    ) -> Holdings:
        """Build from plain numbers: ``Holdings.of({"AAPL": 10}, cash=5000)``."""
        qty = {k: to_decimal(v, f"positions[{k}]") for k, v in positions.items()}
        return cls(qty, to_decimal(cash, "cash"), Currency.of(currency), **kw)


async def snapshot_from_broker(broker: Broker, account: AccountId | str | None = None) -> Holdings:
    """Cash and stock positions of ``account`` (the default one when None) in its base currency, from any broker."""
    acct = AccountId(account) if isinstance(account, str) else account
    summary = await broker.account_summary(acct)
    ccy = summary.base_currency
    if summary.cash:
        cash = summary.cash_balance(ccy)
    else:
        cash = summary.net_liquidation.amount - summary.gross_position_value.amount
    positions: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    instruments: dict[str, Instrument] = {}
    excluded: list[str] = []
    for report in await broker.positions(summary.account):
        if report.quantity == 0:
            continue
        parts = report.instrument_id.value.rsplit(".", 3)
        if len(parts) != 4 or parts[1] != "STK" or parts[3] != ccy.code:
            excluded.append(f"{report.instrument_id} left out: only {ccy.code} stocks are rebalanced")
            continue
        sym = parts[0]
        positions[sym] = positions.get(sym, ZERO) + report.quantity
        instruments[sym] = Stock(sym, exchange=parts[2], currency=ccy)
        if report.market_price is not None and report.market_price > 0:
            marks[sym] = report.market_price
    return Holdings(
        positions, cash, ccy, summary.account, marks, instruments, tuple(excluded), ts=summary.ts.astimezone(UTC)
    )


async def quotes_from_broker(
    broker: Broker, instruments: Iterable[Instrument], *, missing_ok: bool = False
) -> dict[str, Decimal]:
    """Mid prices (bid + ask) / 2 by symbol, requested concurrently; with ``missing_ok`` a symbol whose quote fails
    (``QuantdeskError``: no market data, market closed) is left out instead of raising."""
    insts = list(instruments)
    quotes = await asyncio.gather(*(broker.quote(i) for i in insts), return_exceptions=True)
    out: dict[str, Decimal] = {}
    for inst, quote in zip(insts, quotes, strict=True):
        if isinstance(quote, BaseException):
            if missing_ok and isinstance(quote, QuantdeskError):
                continue
            raise quote
        out[inst.symbol] = quote.mid
    return out


@dataclass(frozen=True, slots=True)
class _PositionsFile:
    """What a positions file says, before any rule of its use: quantities (zeros kept), prices, cash, currency."""

    quantities: dict[str, Decimal]
    marks: dict[str, Decimal]
    cash: Any
    currency: str
    account: str | None
    repeated: tuple[str, ...] = ()


def _read_positions_file(path: Path | str, currency: str, option: str) -> _PositionsFile:
    """Parse a CSV (``symbol,quantity[,price]``, cash as a ``CASH`` row) or a JSON positions file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no such file: {p}", field=option, value=str(p), hint="pass a CSV or JSON file")
    rows: list[dict[str, Any]]
    file_cash: Any = None
    account: str | None = None
    if p.suffix.lower() == ".json":
        try:
            doc = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{p.name} is not valid JSON: {exc}", field=option, value=str(p)) from None
        if not isinstance(doc, dict):
            raise DataError(f"{p.name} must hold an object", field=option, hint='{"cash": …, "positions": …}')
        file_cash, currency, account = doc.get("cash"), doc.get("currency", currency), doc.get("account")
        raw = doc.get("positions", {})
        rows = [{"symbol": k, "quantity": v} for k, v in raw.items()] if isinstance(raw, dict) else list(raw)
    else:
        with p.open(newline="") as fh:
            reader = csv.DictReader(fh)
            fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
            if not {"symbol", "quantity"} <= fields:
                raise DataError(
                    f"{p.name} needs the columns symbol,quantity (got {', '.join(sorted(fields))})",
                    field=option,
                    hint="first line: symbol,quantity[,price]; cash as a row CASH,<amount>",
                )
            rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in reader]
    quantities: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    repeated: list[str] = []
    for n, row in enumerate(rows, start=2):
        sym = str(row.get("symbol", "")).strip()
        where = f"{option} line {n}" if p.suffix.lower() != ".json" else f"positions[{sym or n}]"
        if not sym:
            raise DataError("a row has no symbol", field=where, hint="fill the symbol column")
        if sym.upper() == CASH_SYMBOL:
            file_cash = row.get("quantity")
            continue
        if sym in quantities:
            repeated.append(sym)
        quantities[sym] = quantities.get(sym, ZERO) + to_decimal(row.get("quantity", ""), f"{where} quantity")
        if row.get("price") not in (None, ""):
            marks[sym] = to_decimal(row["price"], f"{where} price")
    return _PositionsFile(quantities, marks, file_cash, str(currency), account, tuple(repeated))


def load_holdings_file(
    path: Path | str, *, cash: Numeric | None = None, currency: str = "USD", option: str = "positions_file"
) -> Holdings:
    """Holdings from a CSV (``symbol,quantity[,price]``, cash as a ``CASH`` row) or a JSON file.

    JSON: ``{"cash": 10000, "currency": "USD", "account": "DU1", "positions": {"AAPL": 10}}`` (positions may
    also be a list of ``{"symbol", "quantity", "price"}``). ``cash`` overrides the file's cash. Errors name
    ``option``, the setting or command-line option the path came from.
    """
    parsed = _read_positions_file(path, currency, option)
    if parsed.repeated:
        raise DataError(
            f"{Path(path).name} lists {', '.join(dict.fromkeys(parsed.repeated))} more than once",
            field=option,
            value=str(path),
            hint="keep one row per symbol, with the whole quantity held",
        )
    chosen = cash if cash is not None else parsed.cash
    if chosen is None:
        raise DataError(
            f"{Path(path).name} gives no cash amount",
            field="cash",
            hint="add a row CASH,<amount> (CSV), a 'cash' key (JSON) or pass --cash",
        )
    acct = AccountId(parsed.account) if parsed.account else None
    return Holdings.of(parsed.quantities, chosen, currency=parsed.currency, account=acct, marks=parsed.marks)


def load_target_file(
    path: Path | str, held: Iterable[InstrumentId], *, currency: str = "USD", option: str = "target"
) -> dict[InstrumentId, Decimal]:
    """Target quantities per instrument from a positions file (the format ``load_holdings_file`` reads; no cash).

    A bare symbol means the ``held`` stock of that symbol when there is one, else the SMART-routed stock in the
    file's currency; a full instrument id (``ES.FUT.CME.USD.20250321``) is taken as it is. A quantity of zero
    stays in the target: the position should be flat.
    """
    parsed = _read_positions_file(path, currency, option)
    stocks = {symbol_of(iid): iid for iid in held if symbol_of(iid) != iid.value}
    out: dict[InstrumentId, Decimal] = {}
    for key, qty in parsed.quantities.items():
        parts = key.split(".")
        if len(parts) >= 4 and parts[1] in _ASSET_CODES:
            iid = InstrumentId(key)
        elif key in stocks:
            iid = stocks[key]
        else:
            iid = Stock(key, currency=Currency.of(parsed.currency)).id
        out[iid] = out.get(iid, ZERO) + qty
    return out
