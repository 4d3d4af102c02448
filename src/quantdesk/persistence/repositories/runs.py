"""Strategies and runs: each backtest, paper or live session is a run (running → finished | crashed).

A run left ``running`` by a process that died is found by ``RunRepository.unfinished()`` at the next start, so the
new process can mark it crashed and reconcile what it left behind.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.domain.identifiers import StrategyId
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import RunRow, StrategyRow
from quantdesk.persistence.repositories._common import newest, not_found, now, text_or_json, utc

__all__ = ["RunMode", "RunRepository", "RunStatus", "StoredRun", "StoredStrategy", "StrategyRepository"]


class RunMode(StrEnum):
    """What kind of session a run is."""

    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


class RunStatus(StrEnum):
    """Where a run is: still running, ended normally, or found dead."""

    RUNNING = "running"
    FINISHED = "finished"
    CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class StoredStrategy:
    """A strategy orders and fills are attributed to."""

    strategy_id: StrategyId
    name: str
    description: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One run as stored; ``config_json`` is the configuration it ran with (masked by the caller)."""

    run_id: str
    mode: RunMode
    status: RunStatus
    strategy_id: StrategyId | None
    started_at: datetime
    ended_at: datetime | None
    config_json: str | None


def _to_strategy(row: StrategyRow) -> StoredStrategy:
    return StoredStrategy(StrategyId(row.strategy_id), row.name, row.description, row.created_at)


def _to_run(row: RunRow) -> StoredRun:
    return StoredRun(
        run_id=row.run_id,
        mode=RunMode(row.mode),
        status=RunStatus(row.status),
        strategy_id=StrategyId(row.strategy_id) if row.strategy_id else None,
        started_at=row.started_at,
        ended_at=row.ended_at,
        config_json=row.config_json,
    )


def _ensure_strategy(
    session: Session, strategy: StrategyId, name: str | None, description: str | None, ts: datetime
) -> StrategyRow:
    row = session.scalars(select(StrategyRow).where(StrategyRow.strategy_id == strategy.value)).one_or_none()
    if row is None:
        row = StrategyRow(
            strategy_id=strategy.value, name=name or strategy.value, description=description, created_at=ts
        )
        session.add(row)
        session.flush()
    else:
        if name is not None:
            row.name = name
        if description is not None:
            row.description = description
    return row


class StrategyRepository:
    """Strategies keyed by ``StrategyId``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure(
        self,
        strategy_id: StrategyId | str,
        *,
        name: str | None = None,
        description: str | None = None,
        ts: datetime | None = None,
    ) -> StoredStrategy:
        """Store the strategy if it is new (named after its id by default); given name and description update it."""
        sid = strategy_id if isinstance(strategy_id, StrategyId) else StrategyId(strategy_id)
        for _attempt in range(2):
            try:
                with Session(self._engine) as session, session.begin():
                    return _to_strategy(_ensure_strategy(session, sid, name, description, ts or now()))
            except IntegrityError:  # created concurrently: the second pass finds it
                continue
        raise RuntimeError(f"could not store strategy {sid}")  # pragma: no cover - two races in a row

    def find(self, strategy_id: StrategyId | str) -> StoredStrategy | None:
        """The stored strategy, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(select(StrategyRow).where(StrategyRow.strategy_id == str(strategy_id))).one_or_none()
            return None if row is None else _to_strategy(row)

    def list(self) -> builtins.list[StoredStrategy]:
        """Every strategy, by id."""
        with Session(self._engine) as session:
            return [_to_strategy(r) for r in session.scalars(select(StrategyRow).order_by(StrategyRow.strategy_id))]


class RunRepository:
    """Runs keyed by ``run_id``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(
        self,
        mode: RunMode | str,
        ts: datetime,
        *,
        strategy_id: StrategyId | str | None = None,
        config: str | Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new running run (storing its strategy first when new) and return its id (``run-<hex>``)."""
        try:
            kind = RunMode(mode)
        except ValueError:
            raise ValidationError(
                f"unknown run mode {mode!r}", field="mode", value=mode, hint="use backtest, paper or live"
            ) from None
        rid = run_id or f"run-{uuid.uuid4().hex[:16]}"
        sid = None if strategy_id is None else StrategyId(str(strategy_id))
        if sid is not None:
            StrategyRepository(self._engine).ensure(sid, ts=ts)
        with Session(self._engine) as session, session.begin():
            session.add(
                RunRow(
                    run_id=rid,
                    strategy_id=None if sid is None else sid.value,
                    mode=kind.value,
                    status=RunStatus.RUNNING.value,
                    started_at=utc(ts),
                    ended_at=None,
                    config_json=text_or_json(config),
                )
            )
        return rid

    def finish(self, run_id: str, ts: datetime) -> StoredRun:
        """Mark the run finished at ``ts``."""
        return self._end(run_id, RunStatus.FINISHED, ts)

    def mark_crashed(self, run_id: str, ts: datetime) -> StoredRun:
        """Mark the run crashed at ``ts`` (found ``running`` after its process died)."""
        return self._end(run_id, RunStatus.CRASHED, ts)

    def _end(self, run_id: str, status: RunStatus, ts: datetime) -> StoredRun:
        with Session(self._engine) as session, session.begin():
            row = session.scalars(select(RunRow).where(RunRow.run_id == run_id)).one_or_none()
            if row is None:
                raise not_found("run", "run_id", run_id, "start the run before ending it")
            row.status, row.ended_at = status.value, utc(ts)
            session.flush()
            return _to_run(row)

    def get(self, run_id: str) -> StoredRun:
        """The stored run; ``NotFound`` when there is none."""
        with Session(self._engine) as session:
            row = session.scalars(select(RunRow).where(RunRow.run_id == run_id)).one_or_none()
            if row is None:
                raise not_found("run", "run_id", run_id, "list runs with RunRepository.list()")
            return _to_run(row)

    def unfinished(self) -> builtins.list[StoredRun]:
        """Runs still marked running (oldest first): the current one, or ones whose process died."""
        return self.list(status=RunStatus.RUNNING)

    def list(self, *, status: RunStatus | str | None = None, limit: int | None = None) -> builtins.list[StoredRun]:
        """Runs (of one status when given), oldest first; ``limit`` keeps the newest."""
        stmt = select(RunRow)
        if status is not None:
            stmt = stmt.where(RunRow.status == RunStatus(status).value)
        stmt = newest(stmt, limit, RunRow.started_at, RunRow.id)
        with Session(self._engine) as session:
            rows = builtins.list(session.scalars(stmt))
        if limit is not None:
            rows.reverse()
        return [_to_run(r) for r in rows]
