"""Reconciliation breaks: each difference between the database and the broker, and how it was resolved.

``target``, ``broker`` and ``database`` hold what was wanted, what the broker says and what the database said (text,
or a mapping stored as JSON). ``kind`` is open-ended text (``BreakKind`` lists the known ones); ``resolution`` is one
of ``BreakResolution``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantdesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import ReconciliationBreakRow
from quantdesk.persistence.repositories._common import newest, text_or_json, utc

__all__ = ["BreakKind", "BreakResolution", "ReconciliationBreak", "ReconciliationBreakRepository"]


class BreakKind(StrEnum):
    """The differences reconciliation knows how to name."""

    MISSING_AT_BROKER = "missing_at_broker"
    UNKNOWN_AT_BROKER_ADOPTED = "unknown_at_broker_adopted"
    FILL_MISSING = "fill_missing"
    STATUS_MISMATCH = "status_mismatch"
    POSITION_MISMATCH = "position_mismatch"
    QUANTITY_MISMATCH = "quantity_mismatch"


class BreakResolution(StrEnum):
    """What was done: the broker's view applied, the order adopted, the intent marked, or only reported."""

    APPLIED = "applied"
    ADOPTED = "adopted"
    MARKED = "marked"
    REPORTED = "reported"


@dataclass(frozen=True, slots=True)
class ReconciliationBreak:
    """One recorded break."""

    id: int
    ts: datetime
    kind: str
    resolution: BreakResolution
    message: str
    run_id: str | None
    account: AccountId | None
    instrument_id: InstrumentId | None
    client_order_id: ClientOrderId | None
    perm_id: int | None
    target: str | None
    broker: str | None
    database: str | None


def _to_break(row: ReconciliationBreakRow) -> ReconciliationBreak:
    return ReconciliationBreak(
        id=row.id,
        ts=row.ts,
        kind=row.kind,
        resolution=BreakResolution(row.resolution),
        message=row.message,
        run_id=row.run_id,
        account=AccountId(row.account_id) if row.account_id else None,
        instrument_id=InstrumentId(row.instrument_id) if row.instrument_id else None,
        client_order_id=ClientOrderId(row.client_order_id) if row.client_order_id else None,
        perm_id=row.perm_id,
        target=row.target,
        broker=row.broker,
        database=row.database,
    )


class ReconciliationBreakRepository:
    """The log of reconciliation breaks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self,
        ts: datetime,
        kind: BreakKind | str,
        resolution: BreakResolution | str,
        message: str,
        *,
        run_id: str | None = None,
        account: AccountId | str | None = None,
        instrument_id: InstrumentId | str | None = None,
        client_order_id: ClientOrderId | str | None = None,
        perm_id: int | None = None,
        target: str | Mapping[str, Any] | None = None,
        broker: str | Mapping[str, Any] | None = None,
        database: str | Mapping[str, Any] | None = None,
    ) -> ReconciliationBreak:
        """Record one break with what was done about it."""
        try:
            outcome = BreakResolution(resolution)
        except ValueError:
            raise ValidationError(
                f"unknown resolution {resolution!r}",
                field="resolution",
                value=resolution,
                hint="use " + ", ".join(r.value for r in BreakResolution),
            ) from None
        name = str(kind)
        if not name or len(name) > 32:
            raise ValidationError(
                f"must be 1-32 characters, got {name!r}", field="kind", value=name, hint="use a BreakKind value"
            )
        row = ReconciliationBreakRow(
            ts=utc(ts),
            run_id=run_id,
            kind=name,
            account_id=None if account is None else str(account),
            instrument_id=None if instrument_id is None else str(instrument_id),
            client_order_id=None if client_order_id is None else str(client_order_id),
            perm_id=perm_id or None,
            target=text_or_json(target),
            broker=text_or_json(broker),
            database=text_or_json(database),
            resolution=outcome.value,
            message=message,
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _to_break(row)

    def list(
        self,
        *,
        since: datetime | None = None,
        kind: BreakKind | str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[ReconciliationBreak]:
        """Breaks at or after ``since`` (of one kind or run when given), oldest first; ``limit`` keeps the newest."""
        c = ReconciliationBreakRow
        stmt = select(c)
        if since is not None:
            stmt = stmt.where(c.ts >= utc(since, "since"))
        if kind is not None:
            stmt = stmt.where(c.kind == str(kind))
        if run_id is not None:
            stmt = stmt.where(c.run_id == run_id)
        stmt = newest(stmt, limit, c.ts, c.id)
        with Session(self._engine) as session:
            rows = builtins.list(session.scalars(stmt))
        if limit is not None:
            rows.reverse()
        return [_to_break(r) for r in rows]
