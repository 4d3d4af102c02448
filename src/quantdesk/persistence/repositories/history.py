"""The trade history behind ``quantdesk history``: every fill with the position it left and the P&L it realised.

P&L is **average cost**, exactly as ``quantdesk.domain.positions.Position`` computes it (the same code runs): a
closing fill realises ``(price − average cost) × closed quantity × multiplier``, gross of commissions; commissions
are totalled apart, per currency, since IB may charge them in another currency than the trade's. Positions are
built per (account, instrument) from *all* fills before ``until`` that match account, symbol and strategy, so a
window (``since``) or side filter changes what is shown, never the P&L of what is shown. With a strategy filter the
books are that strategy's own fills (its attribution), not the account's whole position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.positions import Position
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency
from quantdesk.persistence.models import FillRow
from quantdesk.persistence.repositories._common import plain, plain_or_none
from quantdesk.persistence.repositories.queries import FillJoinRow, QueryFilter, fills_statement

__all__ = ["PNL_METHOD", "CurrencyTotals", "InstrumentTotals", "TradeHistory", "TradeRow", "query_trade_history"]

PNL_METHOD = "average-cost"

_BookKey = tuple[str | None, str, str, Decimal]  # account, instrument, currency, multiplier


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One fill in the history: the trade, the position after it, and the P&L it realised (zero when opening)."""

    ts: datetime
    execution_id: str
    account: str | None
    instrument_id: str
    side: str
    quantity: Decimal
    price: Decimal
    currency: str
    multiplier: Decimal
    commission: Decimal
    commission_currency: str
    closed_quantity: Decimal
    realised_pnl: Decimal
    position: Decimal
    average_cost: Decimal
    strategy: str | None
    client_order_id: str
    order_type: str | None
    source: str | None
    broker_realised_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class InstrumentTotals:
    """Totals of the shown fills of one instrument in one account: volume, realised P&L and commissions.

    ``net_pnl`` is realised P&L minus commissions when every commission is in the trade currency, else ``None``.
    """

    account: str | None
    instrument_id: str
    currency: str
    fills: int
    bought: Decimal
    sold: Decimal
    realised_pnl: Decimal
    commissions: dict[str, Decimal] = field(hash=False)
    net_pnl: Decimal | None
    position: Decimal


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """Realised P&L (of trades in this currency) and commissions (charged in it), over every shown fill."""

    currency: str
    fills: int
    realised_pnl: Decimal
    commissions: Decimal
    net_pnl: Decimal


@dataclass(frozen=True, slots=True)
class TradeHistory:
    """The shown trades (oldest first), their totals per instrument and per currency, and the P&L method."""

    trades: list[TradeRow]
    instruments: list[InstrumentTotals]
    currencies: list[CurrencyTotals]
    method: str = PNL_METHOD


def _fill(r: FillRow) -> Fill:
    """The fill without its commission: commissions are totalled apart (they may be in another currency)."""
    return Fill(
        ExecutionId(r.execution_id),
        ClientOrderId(r.client_order_id),
        InstrumentId(r.instrument_id),
        OrderSide(r.side),
        r.quantity,
        r.price,
        r.ts,
        Currency(r.currency),
        r.multiplier,
    )


def _replay(rows: list[FillJoinRow]) -> list[TradeRow]:
    books: dict[_BookKey, Position] = {}
    out: list[TradeRow] = []
    for r, strategy, order_type, source in rows:
        key = (r.account_id, r.instrument_id, r.currency, plain(r.multiplier))
        before = books.get(key) or Position.flat(r.instrument_id, r.currency, r.multiplier)
        fill = _fill(r)
        after = before.apply(fill)
        books[key] = after
        closing = before.quantity != 0 and (before.quantity > 0) != (fill.side is OrderSide.BUY)
        out.append(
            TradeRow(
                ts=r.ts,
                execution_id=r.execution_id,
                account=r.account_id,
                instrument_id=r.instrument_id,
                side=r.side,
                quantity=plain(r.quantity),
                price=plain(r.price),
                currency=r.currency,
                multiplier=plain(r.multiplier),
                commission=plain(r.commission),
                commission_currency=r.commission_currency,
                closed_quantity=plain(min(fill.quantity, abs(before.quantity))) if closing else Decimal(0),
                realised_pnl=plain(after.realised_pnl.amount - before.realised_pnl.amount),
                position=plain(after.quantity),
                average_cost=plain(after.average_cost),
                strategy=strategy,
                client_order_id=r.client_order_id,
                order_type=order_type,
                source=source,
                broker_realised_pnl=plain_or_none(r.realised_pnl),
            )
        )
    return out


def _instrument_totals(trades: list[TradeRow]) -> list[InstrumentTotals]:
    groups: dict[tuple[str, str, str], list[TradeRow]] = {}
    for t in trades:
        groups.setdefault((t.account or "", t.instrument_id, t.currency), []).append(t)
    out = []
    for (_, instrument, currency), rows in sorted(groups.items()):
        commissions: dict[str, Decimal] = {}
        for t in rows:
            commissions[t.commission_currency] = commissions.get(t.commission_currency, Decimal(0)) + t.commission
        realised = sum((t.realised_pnl for t in rows), Decimal(0))
        foreign = any(ccy != currency and amount != 0 for ccy, amount in commissions.items())
        out.append(
            InstrumentTotals(
                account=rows[0].account,
                instrument_id=instrument,
                currency=currency,
                fills=len(rows),
                bought=plain(sum((t.quantity for t in rows if t.side == OrderSide.BUY.value), Decimal(0))),
                sold=plain(sum((t.quantity for t in rows if t.side == OrderSide.SELL.value), Decimal(0))),
                realised_pnl=plain(realised),
                commissions={k: plain(v) for k, v in sorted(commissions.items())},
                net_pnl=None if foreign else plain(realised - commissions.get(currency, Decimal(0))),
                position=rows[-1].position,
            )
        )
    return out


def _currency_totals(trades: list[TradeRow]) -> list[CurrencyTotals]:
    fills: dict[str, int] = {}
    realised: dict[str, Decimal] = {}
    commissions: dict[str, Decimal] = {}
    for t in trades:
        fills[t.currency] = fills.get(t.currency, 0) + 1
        realised[t.currency] = realised.get(t.currency, Decimal(0)) + t.realised_pnl
        commissions[t.commission_currency] = commissions.get(t.commission_currency, Decimal(0)) + t.commission
    return [
        CurrencyTotals(
            currency=ccy,
            fills=fills.get(ccy, 0),
            realised_pnl=plain(realised.get(ccy, Decimal(0))),
            commissions=plain(commissions.get(ccy, Decimal(0))),
            net_pnl=plain(realised.get(ccy, Decimal(0)) - commissions.get(ccy, Decimal(0))),
        )
        for ccy in sorted(set(realised) | set(commissions))
    ]


def query_trade_history(engine: Engine, where: QueryFilter) -> TradeHistory:
    """The trade history for ``where`` (see the module docstring for how P&L and filters interact)."""
    f = FillRow
    with Session(engine) as session:
        stmt = fills_statement(where, window=False).order_by(f.ts, f.id)
        rows: list[FillJoinRow] = [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]
    trades = [
        t
        for t in _replay(rows)
        if (where.since is None or t.ts >= where.since) and (where.side is None or t.side == where.side.value)
    ]
    if where.limit is not None:
        trades = trades[-where.limit :]
    return TradeHistory(trades, _instrument_totals(trades), _currency_totals(trades))
