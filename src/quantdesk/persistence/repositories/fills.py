"""Fills: each execution recorded exactly once per account (keyed by account and execution id), commissions on the
same row, and the ledger's positions (net signed quantity from the fills).

Recording a fill again is ignored and reported (``FillRecord.created is False``); the unique constraint on
``fills (account_key, execution_id)`` (``account_key``: the account, ``''`` for none) makes this hold under
concurrent writers too. Two accounts may report the same execution id (two simulators, two logins): each is its own
fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.domain.fills import CommissionReport, Fill, Liquidity
from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency, Money
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import FillRow
from quantdesk.persistence.repositories._common import not_found

__all__ = [
    "FillRecord",
    "FillRepository",
    "LedgerKey",
    "fill_from_row",
    "ledger_positions",
    "net_positions",
    "recorded_fills",
    "same_fill",
]

LedgerKey = tuple[AccountId | None, InstrumentId]
"""A ledger position's key: the account (``None`` for fills without one) and the instrument."""


@dataclass(frozen=True, slots=True)
class FillRecord:
    """The result of recording a fill: the stored fill and whether this call recorded it (False: a duplicate)."""

    fill: Fill
    created: bool


def fill_from_row(row: FillRow) -> Fill:
    """The domain ``Fill`` of a ``fills`` row."""
    return Fill(
        execution_id=ExecutionId(row.execution_id),
        client_order_id=ClientOrderId(row.client_order_id),
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        quantity=row.quantity,
        price=row.price,
        ts=row.ts,
        currency=Currency(row.currency),
        multiplier=row.multiplier,
        commission=Money(row.commission, Currency(row.commission_currency)),
        account=AccountId(row.account_id) if row.account_id else None,
        liquidity=Liquidity[row.liquidity] if row.liquidity else None,
    )


def account_key(account: AccountId | str | None) -> str:
    """The ``fills.account_key`` of an account: its id, ``''`` for none."""
    return str(account) if account else ""


def same_fill(account: AccountId | str | None, execution_id: ExecutionId | str) -> ColumnElement[bool]:
    """The ``WHERE`` clause of one fill's key: its account (none is a key of its own) and execution id."""
    return (FillRow.account_key == account_key(account)) & (FillRow.execution_id == str(execution_id))


def _one_fill(session: Session, execution_id: ExecutionId | str, account: AccountId | str | None) -> FillRow | None:
    """The row of ``execution_id`` for ``account``; with ``account=None`` the only row of that id, whichever account."""
    if account is not None:
        return session.scalars(select(FillRow).where(same_fill(account, execution_id))).one_or_none()
    rows = session.scalars(select(FillRow).where(FillRow.execution_id == str(execution_id))).all()
    if len(rows) > 1:
        raise ValidationError(
            f"execution {execution_id} is recorded for {len(rows)} accounts",
            field="account",
            value=None,
            hint="name the account whose fill you mean",
        )
    return rows[0] if rows else None


class FillRepository:
    """Fills keyed by (account, execution id): each one is recorded exactly once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, fill: Fill, recorded_at: datetime, *, perm_id: int | None = None) -> FillRecord:
        """Store ``fill`` unless its account's execution id is stored already (then return the stored one,
        ``created=False``)."""
        existing = self._exact(fill)
        if existing is not None:
            return FillRecord(existing, created=False)
        row = FillRow(
            execution_id=str(fill.execution_id),
            client_order_id=str(fill.client_order_id),
            perm_id=perm_id,
            account_id=str(fill.account) if fill.account else None,
            account_key=account_key(fill.account),
            instrument_id=str(fill.instrument_id),
            side=fill.side.value,
            quantity=fill.quantity,
            price=fill.price,
            currency=fill.currency.code,
            multiplier=fill.multiplier,
            commission=fill.commission.amount,
            commission_currency=fill.commission.currency.code,
            realised_pnl=None,
            liquidity=fill.liquidity.name if fill.liquidity else None,
            ts=fill.ts,
            recorded_at=recorded_at,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError:  # a concurrent writer recorded it first
            existing = self._exact(fill)
            if existing is None:
                raise
            return FillRecord(existing, created=False)
        return FillRecord(fill, created=True)

    def apply_commission(self, report: CommissionReport, account: AccountId | str | None = None) -> Fill:
        """Put IB's commission report on the fill it belongs to (of ``account``; when None, the only fill of that
        execution id); idempotent: the report replaces, never adds."""
        with Session(self._engine) as session, session.begin():
            row = _one_fill(session, report.execution_id, account)
            if row is None:
                raise not_found(
                    "fill for this commission report",
                    "execution_id",
                    report.execution_id,
                    "record the fill before its commission report",
                )
            row.commission = report.commission.amount
            row.commission_currency = report.commission.currency.code
            row.realised_pnl = report.realised_pnl
            session.flush()
            return fill_from_row(row)

    def find(self, execution_id: ExecutionId | str, account: AccountId | str | None = None) -> Fill | None:
        """The stored fill of ``account`` (when None: the only fill of that execution id), or ``None``."""
        with Session(self._engine) as session:
            row = _one_fill(session, execution_id, account)
            return None if row is None else fill_from_row(row)

    def _exact(self, fill: Fill) -> Fill | None:
        with Session(self._engine) as session:
            row = session.scalars(select(FillRow).where(same_fill(fill.account, fill.execution_id))).one_or_none()
            return None if row is None else fill_from_row(row)

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]:
        """Every fill of one order, in time order."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(FillRow).where(FillRow.client_order_id == str(client_order_id)).order_by(FillRow.ts, FillRow.id)
            ).all()
            return [fill_from_row(r) for r in rows]

    def execution_ids(self, account: AccountId | str | None = None, since: datetime | None = None) -> set[ExecutionId]:
        """The execution ids recorded for ``account`` (every account when None; at or after ``since`` when given)."""
        stmt = select(FillRow.execution_id)
        if account is not None:
            stmt = stmt.where(FillRow.account_id == str(account))
        if since is not None:
            stmt = stmt.where(FillRow.ts >= since)
        with Session(self._engine) as session:
            return {ExecutionId(e) for e in session.scalars(stmt)}


def recorded_fills(
    engine: Engine, keys: Iterable[tuple[AccountId | str | None, ExecutionId | str]]
) -> set[tuple[str | None, str]]:
    """Which of ``keys`` (account, execution id) are recorded, as ``(account or None, execution id)`` strings."""
    wanted = {(str(a) if a else None, str(e)) for a, e in keys}
    found: set[tuple[str | None, str]] = set()
    ids = sorted({e for _, e in wanted})
    with Session(engine) as session:
        for start in range(0, len(ids), 500):
            stmt = select(FillRow.account_key, FillRow.execution_id).where(
                FillRow.execution_id.in_(ids[start : start + 500])
            )
            found.update((a or None, e) for a, e in session.execute(stmt))
    return found & wanted


def ledger_positions(engine: Engine, account: AccountId | str | None = None) -> dict[LedgerKey, Decimal]:
    """Net signed quantity per (account, instrument) from every recorded fill (BUY +, SELL −); flat ones are left out.

    Summed in Python, not SQL: on SQLite the quantities are exact decimal text that ``SUM`` would turn into floats.
    """
    stmt = select(FillRow.account_id, FillRow.instrument_id, FillRow.side, FillRow.quantity)
    if account is not None:
        stmt = stmt.where(FillRow.account_id == str(account))
    totals: dict[tuple[str | None, str], Decimal] = {}
    with Session(engine) as session:
        for acct, instrument, side, quantity in session.execute(stmt):
            key = (acct, instrument)
            totals[key] = totals.get(key, Decimal(0)) + quantity * OrderSide(side).sign
    return {
        (AccountId(a) if a else None, InstrumentId(i)): Decimal(format(q.normalize(), "f"))
        for (a, i), q in sorted(totals.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
        if q != 0
    }


def net_positions(engine: Engine, account: AccountId | str | None = None) -> dict[str, Decimal]:
    """Net signed quantity per instrument id from the recorded fills of ``account`` (all accounts when None)."""
    totals: dict[str, Decimal] = {}
    for (_, iid), qty in ledger_positions(engine, account).items():
        totals[iid.value] = totals.get(iid.value, Decimal(0)) + qty
    return {k: v for k, v in totals.items() if v != 0}
