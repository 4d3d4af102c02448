"""The OMS journal: durable writes in a writer thread, grouped so concurrent submissions share one commit.

Every write is an operation (``InsertIntent``, ``UpdateIntent``, ``RecordFill``, …; the OMS's store port defines
them in :mod:`quantdesk.oms.store_ops`) handed to :meth:`Journal.submit` (wait for it) or :meth:`Journal.post` (do
not); the writer thread takes everything queued, applies it inside **one transaction** (:mod:`journal_writes`: one
statement per kind) and commits (group commit), then resolves each waiting operation's future. So a caller that
awaits :meth:`Journal.write` knows its row is durable, and N concurrent orders cost one commit instead of N — that
is how PostgreSQL, ~540 commits/s here, carries thousands of orders a second without turning off ``fsync`` or
``synchronous_commit``. The waiters of one commit are woken with one call into their event loop, not one each: every
cross-thread wake-up costs a GIL hand-over, which at hundreds of waiters per commit was the writer thread's largest
cost.

If a grouped transaction fails, the operations are retried one transaction each, so one bad row fails only its own
caller. Idempotency holds inside the database: an intent is inserted once per ``ClientOrderId`` (the same content
again is reported as not created; different content raises ``DuplicateIntent``), a fill once per account and
execution id.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from quantdesk.oms.store_ops import (
    JournalClosed,
    JournalOp,
    OrderEventOp,
)
from quantdesk.persistence.journal_writes import apply_ops

__all__ = ["Journal"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Item:
    op: JournalOp
    # asyncio's (write), concurrent's (submit, write_sync), or None: fire and forget (a failure is logged)
    future: asyncio.Future[Any] | Future[Any] | None = None


# --- the journal ---------------------------------------------------------------------------------------------------


class Journal:
    """A writer thread that applies operations in order, many per transaction; see the module docstring."""

    def __init__(self, engine: Engine, *, max_batch: int = 1000, name: str = "quantdesk-journal") -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self._conn: Connection | None = None  # the writer thread's own
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self.commits = 0
        self.operations = 0

    @property
    def engine(self) -> Engine:
        """The database the journal writes to."""
        return self._engine

    def submit(self, op: JournalOp) -> Future[Any]:
        """Queue ``op``; the future resolves once it is committed (thread-safe, never blocks)."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        future: Future[Any] = Future()
        self._queue.put(_Item(op, future))
        return future

    def post(self, op: JournalOp) -> None:
        """Queue ``op`` without waiting for it (status updates, events): cheaper than :meth:`submit`; a failure is
        logged, and the broker stays the source of truth that reconciliation replays."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        self._queue.put(_Item(op))

    async def write(self, op: JournalOp) -> Any:
        """Queue ``op`` and wait until it is durable; returns the operation's result."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Item(op, future))
        return await future

    def write_sync(self, op: JournalOp, timeout: float | None = 30.0) -> Any:
        """Blocking form of :meth:`write`, for scripts and the CLI."""
        return self.submit(op).result(timeout)

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self.write(OrderEventOp(None, None, "flush", None, None, _EPOCH))

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    # --- writer thread ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._conn is not None:
                self._conn.close()

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._apply(batch)

    def _apply(self, batch: list[_Item]) -> None:
        try:
            if self._conn is None:  # one connection for the thread's life: no pool checkout and reset per commit
                self._conn = self._engine.connect()
            with self._conn.begin():
                results = apply_ops(self._conn, [i.op for i in batch])
        except Exception:
            self._drop_connection()
            if len(batch) == 1:
                log.exception("journal write failed: %s", type(batch[0].op).__name__)
                self._fail(batch[0], _current_exception())
                return
            log.warning("a grouped journal commit of %d operations failed; retrying one by one", len(batch))
            for item in batch:
                self._apply([item])
            return
        self.commits += 1
        self.operations += len(batch)
        waiting: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for item, result in zip(batch, results, strict=True):
            future = item.future
            if future is None:
                if isinstance(result, BaseException):
                    log.error("journal write %s refused: %s", type(item.op).__name__, result)
            elif isinstance(future, asyncio.Future):
                waiting.setdefault(future.get_loop(), []).append((future, result))
            else:
                _settle(future, result)
        for loop, settled in waiting.items():
            _wake(loop, settled)

    def _drop_connection(self) -> None:
        """After a failure the next batch starts on a fresh connection (it may have been the connection's fault)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.warning("closing the journal's failed connection failed", exc_info=True)

    @staticmethod
    def _fail(item: _Item, exc: BaseException) -> None:
        future = item.future
        if isinstance(future, asyncio.Future):
            _wake(future.get_loop(), [(future, exc)])
        elif future is not None:
            _settle(future, exc)


def _settle(future: asyncio.Future[Any] | Future[Any], result: Any) -> None:
    """Resolve one future with a result or an exception (on the thread that owns it)."""
    if future.done():  # the caller gave up waiting (cancelled); the write stands
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        _settle(future, result)


def _wake(loop: asyncio.AbstractEventLoop, settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """Resolve asyncio futures in their loop, all of them in one call."""
    try:
        loop.call_soon_threadsafe(_settle_all, settled)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug("journal results for a closed event loop dropped (%d)", len(settled))


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _current_exception() -> BaseException:
    import sys

    exc = sys.exc_info()[1]
    return exc if exc is not None else RuntimeError("journal write failed")
