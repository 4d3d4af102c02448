"""Participation caps: an order above ``risk.max_participation_pct`` of the average daily volume goes out in slices.

The whole order is risk-checked first; then children ``<id>.1``, ``<id>.2``, … go through the ordinary submit path
one per ``risk.participation_interval``, each with its own risk check and intent. A child is stored only when its
turn comes, so a halt or a crash stops the rest and nothing that was not due is ever stored or sent. The slicer
remembers each parent's children, so the same parent submitted again returns its first child instead of slicing
twice, and a caller can wait for the whole family (:meth:`ParticipationSlicer.wait`).

The ADV comes from the broker's daily bars (:func:`learn_adv`, ``risk.adv_days`` sessions), learned once per
instrument and session before a batch of orders; an instrument whose volume the broker cannot give is not sliced,
and the warning says so.

The slicer is an execution algorithm: it knows nothing of the order manager, only the narrow ``ExecutionHost``
protocol (settings, a clock, risk-checking a parent, submitting a child, the event log, daily bars and the volumes
learned), so TWAP or VWAP schedules can sit beside it on the same protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, QuantdeskError, RiskRejected, ValidationError
from quantdesk.oms.managed import ManagedOrder

__all__ = ["ExecutionHost", "ParticipationSlicer", "learn_adv"]

log = logging.getLogger(__name__)


class ExecutionHost(Protocol):
    """What an execution algorithm needs of the OMS: no more, so it never calls back into the manager."""

    @property
    def settings(self) -> RiskSettings:
        """The risk settings (participation cap, interval, ADV window)."""
        ...

    def now(self) -> datetime:
        """The broker's time."""
        ...

    def get(self, client_order_id: ClientOrderId) -> ManagedOrder | None:
        """The tracked order (a child once submitted), or None."""
        ...

    def check_parent(self, order: Order, price: Decimal | None) -> None:
        """Risk-check the whole order before slicing it; a refusal is recorded and raised as ``RiskRejected``."""
        ...

    async def submit_child(self, child: Order, *, price: Decimal | None, parent: ClientOrderId) -> ManagedOrder:
        """Submit one child through the ordinary path (its own risk check and intent), as part of ``parent``."""
        ...

    def log_event(self, cid: ClientOrderId, kind: str, message: str, payload: dict[str, Any] | None = None) -> None:
        """Append a line to an order's event log."""
        ...

    async def daily_bars(self, instrument: Instrument, start: datetime, end: datetime) -> Sequence[Bar]:
        """The broker's daily bars of ``instrument`` starting in ``[start, end)``."""
        ...

    @property
    def volumes(self) -> Mapping[InstrumentId, Decimal]:
        """The average daily volumes known."""
        ...

    def learn_volumes(self, volumes: Mapping[InstrumentId, Decimal]) -> None:
        """Keep these average daily volumes."""
        ...


class ParticipationSlicer:
    """Sends large orders through an ``ExecutionHost`` as timed children; ``tasks`` holds the ones still sending."""

    def __init__(self, host: ExecutionHost) -> None:
        self.host = host
        self.tasks: dict[ClientOrderId, asyncio.Task[None]] = {}
        self.children: dict[ClientOrderId, list[Order]] = {}

    def family(self, cid: ClientOrderId) -> list[ClientOrderId]:
        """The children of a sliced parent (sent or not yet), else ``[cid]`` itself."""
        children = self.children.get(cid)
        return [cid] if children is None else [c.client_order_id for c in children]

    def unsent(self, cid: ClientOrderId) -> list[Order]:
        """The children of a sliced parent not sent (yet, or ever: slicing stopped or the session closed)."""
        return [c for c in self.children.get(cid, ()) if self.host.get(c.client_order_id) is None]

    async def wait(self, parents: Iterable[ClientOrderId], timeout: float) -> bool:
        """Wait until every one of ``parents`` has sent its last child (or stopped); False on timeout."""
        pending = [t for p in parents if (t := self.tasks.get(p)) is not None]
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still

    def schedule(self, parents: Iterable[ClientOrderId]) -> float:
        """Seconds the slices of ``parents`` still need at most (the longest remaining schedule)."""
        interval = self.host.settings.participation_interval
        return max((len(self.unsent(p)) * interval for p in parents), default=0.0)

    async def submit(self, order: Order, price: Decimal | None, sizes: list[Decimal]) -> ManagedOrder:
        """Check the whole order, send the first child now and schedule the others; returns the first child."""
        host = self.host
        known = self.children.get(order.client_order_id)
        if known is not None and (first_known := host.get(known[0].client_order_id)) is not None:
            return first_known
        host.check_parent(order, price)
        parent = order.client_order_id
        children = [
            replace(order, quantity=q, client_order_id=ClientOrderId(f"{parent.value}.{i}"))
            for i, q in enumerate(sizes, start=1)
        ]
        self.children[parent] = children
        interval = host.settings.participation_interval
        host.log_event(
            parent,
            "sliced",
            f"{len(children)} children of at most {max(sizes)} every {interval:g} s",
            {"children": [c.client_order_id.value for c in children]},
        )
        first = await host.submit_child(children[0], price=price, parent=parent)
        if len(children) > 1:
            task = asyncio.get_running_loop().create_task(self._send_rest(parent, children[1:], interval, price))
            self.tasks[parent] = task
            task.add_done_callback(lambda _: self.tasks.pop(parent, None))
        return first

    async def _send_rest(
        self, parent: ClientOrderId, children: list[Order], interval: float, price: Decimal | None
    ) -> None:
        for child in children:
            await asyncio.sleep(interval)
            try:
                await self.host.submit_child(child, price=price, parent=parent)
            except (RiskRejected, BrokerError, ValidationError) as exc:
                log.warning("slicing of %s stopped at %s: %s", parent, child.client_order_id, exc)
                self.host.log_event(parent, "slicing_stopped", str(exc))
                return

    def cancel_all(self) -> None:
        """Stop sending the children not sent yet (the ones sent stay working)."""
        for task in list(self.tasks.values()):
            task.cancel()

    async def learn_adv(self, instruments: Iterable[Instrument]) -> dict[InstrumentId, Decimal]:
        """Average daily volume of the last ``risk.adv_days`` daily bars, for the instruments without one yet.

        Requested concurrently from the host's daily bars and kept by the host; returns what it learned. Does
        nothing when the participation rule is disabled. An instrument without volume (an error, no bars, a forex
        pair) is left out with a warning: it will not be sliced.
        """
        host = self.host
        settings = host.settings
        if not settings.rule_enabled("participation"):
            return {}
        wanted = {i.id: i for i in instruments if i.id not in host.volumes}
        if not wanted:
            return {}
        end = host.now()
        start = end - timedelta(days=settings.adv_days * 7 // 5 + 10)  # weekends and holidays
        results = await asyncio.gather(
            *(host.daily_bars(inst, start, end) for inst in wanted.values()), return_exceptions=True
        )
        learned: dict[InstrumentId, Decimal] = {}
        for (iid, inst), result in zip(wanted.items(), results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, QuantdeskError | TimeoutError):
                    raise result
                log.warning("no average daily volume for %s (%s): its orders will not be sliced", inst, result)
                continue
            complete = [b for b in result if b.ts + BarSize.DAY_1.duration <= end]  # not today's partial session
            volumes = [b.volume for b in complete[-settings.adv_days :] if b.volume > 0]
            if not volumes:
                log.warning("no daily volume for %s from the broker: its orders will not be sliced", inst)
                continue
            learned[iid] = sum(volumes, Decimal(0)) / len(volumes)
        host.learn_volumes(learned)
        return learned


class Sliced(Protocol):
    """Anything that slices through a ``ParticipationSlicer`` (the ``OrderManager``)."""

    @property
    def slicer(self) -> ParticipationSlicer:
        """The slicer of its orders."""
        ...


async def learn_adv(oms: Sliced, instruments: Iterable[Instrument]) -> dict[InstrumentId, Decimal]:
    """Learn the average daily volumes of ``instruments`` for ``oms``'s slicer (``ParticipationSlicer.learn_adv``)."""
    return await oms.slicer.learn_adv(instruments)
