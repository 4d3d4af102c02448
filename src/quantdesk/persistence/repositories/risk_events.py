"""Risk events: every rejection, warning, reduction and halt the risk engine (and the kill switch) decided."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.persistence.models import RiskEventRow
from quantdesk.persistence.repositories._common import newest, utc

__all__ = ["RiskEvent", "RiskEventRepository"]


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One risk decision: the rule, what was done (rejected | halted | reduced | warned …), limit and actual value."""

    id: int
    ts: datetime
    rule: str
    action: str
    message: str
    client_order_id: ClientOrderId | None
    limit: str | None
    actual: str | None


def _to_event(row: RiskEventRow) -> RiskEvent:
    return RiskEvent(
        id=row.id,
        ts=row.ts,
        rule=row.rule,
        action=row.action,
        message=row.message,
        client_order_id=ClientOrderId(row.client_order_id) if row.client_order_id else None,
        limit=row.limit_value,
        actual=row.actual_value,
    )


def _text(value: str | Decimal | int | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format(value, "f") if isinstance(value, Decimal) else str(value)


class RiskEventRepository:
    """The risk event log."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self,
        ts: datetime,
        rule: str,
        action: str,
        message: str,
        *,
        client_order_id: ClientOrderId | str | None = None,
        limit: str | Decimal | int | None = None,
        actual: str | Decimal | int | None = None,
    ) -> RiskEvent:
        """Append one risk event; ``limit`` and ``actual`` are stored as text (decimals exactly)."""
        row = RiskEventRow(
            ts=utc(ts),
            rule=rule,
            action=action,
            message=message,
            client_order_id=None if client_order_id is None else str(client_order_id),
            limit_value=_text(limit),
            actual_value=_text(actual),
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _to_event(row)

    def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[RiskEvent]:
        """Events in ``[since, until)`` (of one rule or action when given), oldest first; ``limit`` keeps the newest."""
        c = RiskEventRow
        stmt = select(c)
        if since is not None:
            stmt = stmt.where(c.ts >= utc(since, "since"))
        if until is not None:
            stmt = stmt.where(c.ts < utc(until, "until"))
        if rule is not None:
            stmt = stmt.where(c.rule == rule)
        if action is not None:
            stmt = stmt.where(c.action == action)
        stmt = newest(stmt, limit, c.ts, c.id)
        with Session(self._engine) as session:
            rows = builtins.list(session.scalars(stmt))
        if limit is not None:
            rows.reverse()
        return [_to_event(r) for r in rows]
