"""Position and account snapshots: what the broker (or the database's own ledger) held at a time, and the account's
equity history the daily-loss and drawdown limits are measured against."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Engine, Float, cast, func, select
from sqlalchemy.orm import Session

from quantdesk.brokers.base import PositionReport
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.values import USD, Currency
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import AccountSnapshotRow, PositionSnapshotRow
from quantdesk.persistence.repositories._common import dumps, loads, utc

__all__ = ["PositionLine", "PositionSnapshot", "SnapshotRepository", "SnapshotSource"]


class SnapshotSource(StrEnum):
    """Whose view a position snapshot is: the broker's report, or the database's ledger of fills."""

    BROKER = "broker"
    DATABASE = "database"


@dataclass(frozen=True, slots=True)
class PositionLine:
    """One position to snapshot: signed quantity and average cost per unit (without multiplier)."""

    account: AccountId | None
    instrument_id: InstrumentId
    quantity: Decimal
    avg_cost: Decimal
    currency: Currency = USD
    market_price: Decimal | None = None
    market_value: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    realised_pnl: Decimal | None = None

    @classmethod
    def from_report(cls, report: PositionReport, currency: Currency | str = USD) -> PositionLine:
        """A line from the broker's ``PositionReport`` (which does not carry the currency)."""
        value = None if report.market_price is None else report.quantity * report.market_price * report.multiplier
        return cls(
            account=report.account,
            instrument_id=report.instrument_id,
            quantity=report.quantity,
            avg_cost=report.average_cost,
            currency=Currency.of(currency),
            market_price=report.market_price,
            market_value=value,
        )


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One stored position line with its time and source."""

    ts: datetime
    source: str
    account: AccountId | None
    instrument_id: InstrumentId
    quantity: Decimal
    avg_cost: Decimal
    currency: Currency
    market_price: Decimal | None
    market_value: Decimal | None
    unrealised_pnl: Decimal | None
    realised_pnl: Decimal | None


def _to_position(row: PositionSnapshotRow) -> PositionSnapshot:
    return PositionSnapshot(
        ts=row.ts,
        source=row.source,
        account=AccountId(row.account_id) if row.account_id else None,
        instrument_id=InstrumentId(row.instrument_id),
        quantity=row.quantity,
        avg_cost=row.avg_cost,
        currency=Currency(row.currency),
        market_price=row.market_price,
        market_value=row.market_value,
        unrealised_pnl=row.unrealised_pnl,
        realised_pnl=row.realised_pnl,
    )


def _to_account(row: AccountSnapshotRow) -> AccountSnapshot:
    extra = loads(row.values_json) or {}
    cash = extra.get("cash")
    excess = extra.get("excess_liquidity")
    return AccountSnapshot.of(
        row.account_id,
        row.ts,
        row.net_liquidation,
        base_currency=row.currency,
        cash={str(k): Decimal(str(v)) for k, v in cash.items()} if isinstance(cash, dict) else None,
        buying_power=row.buying_power or 0,
        initial_margin=row.initial_margin or 0,
        maintenance_margin=row.maintenance_margin or 0,
        excess_liquidity=None if excess is None else Decimal(str(excess)),
        gross_position_value=Decimal(str(extra.get("gross_position_value", 0))),
    )


def _source(source: SnapshotSource | str) -> str:
    try:
        return SnapshotSource(source).value
    except ValueError:
        raise ValidationError(
            f"unknown snapshot source {source!r}", field="source", value=source, hint="use broker or database"
        ) from None


class SnapshotRepository:
    """Position and account snapshots."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- positions -----------------------------------------------------------------------------------------------

    def save_positions(
        self, lines: Iterable[PositionLine], ts: datetime, *, source: SnapshotSource | str = SnapshotSource.BROKER
    ) -> int:
        """Store one snapshot (all lines at ``ts``); returns the number of lines. Flat instruments are simply absent."""
        kind, at = _source(source), utc(ts)
        rows = [
            PositionSnapshotRow(
                ts=at,
                account_id=None if line.account is None else str(line.account),
                instrument_id=str(line.instrument_id),
                quantity=line.quantity,
                avg_cost=line.avg_cost,
                currency=line.currency.code,
                market_price=line.market_price,
                market_value=line.market_value,
                unrealised_pnl=line.unrealised_pnl,
                realised_pnl=line.realised_pnl,
                source=kind,
            )
            for line in lines
        ]
        with Session(self._engine) as session, session.begin():
            session.add_all(rows)
        return len(rows)

    def latest_positions(
        self, account: AccountId | str | None = None, *, source: SnapshotSource | str = SnapshotSource.BROKER
    ) -> list[PositionSnapshot]:
        """The most recent snapshot of each account (or of ``account``), by account and instrument."""
        c = PositionSnapshotRow
        kind = _source(source)
        latest = select(c.account_id, func.max(c.ts)).where(c.source == kind).group_by(c.account_id)
        if account is not None:
            latest = latest.where(c.account_id == str(account))
        out: list[PositionSnapshot] = []
        with Session(self._engine) as session:
            for acct, ts in session.execute(latest).all():
                where = c.account_id.is_(None) if acct is None else c.account_id == acct
                rows = session.scalars(select(c).where(where, c.source == kind, c.ts == ts).order_by(c.instrument_id))
                out.extend(_to_position(r) for r in rows)
        return sorted(out, key=lambda p: ("" if p.account is None else p.account.value, p.instrument_id.value))

    # --- accounts ------------------------------------------------------------------------------------------------

    def save_account(self, snapshot: AccountSnapshot) -> None:
        """Store an account snapshot (net liquidation, cash, buying power, margins and the rest as JSON)."""
        base = snapshot.base_currency
        extra = {
            "excess_liquidity": format(snapshot.excess_liquidity.amount, "f"),
            "gross_position_value": format(snapshot.gross_position_value.amount, "f"),
            "cash": {ccy.code: format(amount, "f") for ccy, amount in snapshot.cash.items()},
        }
        row = AccountSnapshotRow(
            ts=snapshot.ts,
            account_id=snapshot.account.value,
            currency=base.code,
            net_liquidation=snapshot.net_liquidation.amount,
            cash=snapshot.cash.get(base),
            buying_power=snapshot.buying_power.amount,
            initial_margin=snapshot.initial_margin.amount,
            maintenance_margin=snapshot.maintenance_margin.amount,
            values_json=dumps(extra),
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)

    def latest_account(self, account: AccountId | str, *, at: datetime | None = None) -> AccountSnapshot | None:
        """The newest snapshot of ``account`` (at or before ``at`` when given), or ``None``."""
        c = AccountSnapshotRow
        stmt = select(c).where(c.account_id == str(account))
        if at is not None:
            stmt = stmt.where(c.ts <= utc(at, "at"))
        with Session(self._engine) as session:
            row = session.scalars(stmt.order_by(c.ts.desc(), c.id.desc())).first()
            return None if row is None else _to_account(row)

    def day_start_equity(self, account: AccountId | str, day: date) -> Decimal | None:
        """Net liquidation at the start of ``day`` (UTC): its first snapshot that day, else the last one before it."""
        c = AccountSnapshotRow
        start = datetime.combine(day, time(0), tzinfo=UTC)
        mine = c.account_id == str(account)
        with Session(self._engine) as session:
            first = session.scalars(
                select(c.net_liquidation)
                .where(mine, c.ts >= start, c.ts < start + timedelta(days=1))
                .order_by(c.ts, c.id)
            ).first()
            if first is not None:
                return first
            return session.scalars(
                select(c.net_liquidation).where(mine, c.ts < start).order_by(c.ts.desc(), c.id.desc())
            ).first()

    def peak_equity(self, account: AccountId | str, *, since: datetime | None = None) -> Decimal | None:
        """The highest net liquidation recorded for ``account`` (at or after ``since``), or ``None``.

        Ordered through a float cast (SQLite keeps the decimal as text), and the stored exact value is returned.
        """
        c = AccountSnapshotRow
        stmt = select(c.net_liquidation).where(c.account_id == str(account))
        if since is not None:
            stmt = stmt.where(c.ts >= utc(since, "since"))
        with Session(self._engine) as session:
            return session.scalars(stmt.order_by(cast(c.net_liquidation, Float).desc(), c.id).limit(1)).first()

    def daily_returns(self, account: AccountId | str) -> list[float]:
        """Day-over-day returns of the account's net liquidation (the first snapshot of each UTC day), oldest first."""
        c = AccountSnapshotRow
        firsts: dict[date, Decimal] = {}
        stmt = select(c.ts, c.net_liquidation).where(c.account_id == str(account)).order_by(c.ts, c.id)
        with Session(self._engine) as session:
            for ts, nlv in session.execute(stmt):
                firsts.setdefault(ts.date(), Decimal(nlv))
        values = list(firsts.values())
        return [float(b / a - 1) for a, b in itertools.pairwise(values) if a > 0]
