"""Participation caps: an order above ``risk.max_participation_pct`` of the average daily volume goes out in slices.

The whole order is risk-checked first; then children ``<id>.1``, ``<id>.2``, … go through the ordinary submit path
one per ``risk.participation_interval``, each with its own risk check and intent. A child is stored only when its
turn comes, so a halt or a crash stops the rest and nothing that was not due is ever stored or sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, RiskRejected, ValidationError

if TYPE_CHECKING:
    from quantdesk.oms.managed import ManagedOrder
    from quantdesk.oms.manager import OrderManager

__all__ = ["ParticipationSlicer"]

log = logging.getLogger(__name__)


class ParticipationSlicer:
    """Sends large orders of one ``OrderManager`` as timed children; ``tasks`` holds the ones still sending."""

    def __init__(self, manager: OrderManager) -> None:
        self.manager = manager
        self.tasks: dict[ClientOrderId, asyncio.Task[None]] = {}

    async def submit(self, order: Order, price: Decimal | None, sizes: list[Decimal]) -> ManagedOrder:
        """Check the whole order, send the first child now and schedule the others; returns the first child."""
        manager = self.manager
        now = manager.now()
        if price is not None:
            manager.book.set_price(order.instrument.id, price)
        try:
            manager.risk.check(order, manager.book.context(order, now, manager.kill_switch.state))
        except RiskRejected as exc:
            manager.record_rejection(order, now, exc)
            raise
        parent = order.client_order_id
        children = [
            replace(order, quantity=q, client_order_id=ClientOrderId(f"{parent.value}.{i}"))
            for i, q in enumerate(sizes, start=1)
        ]
        interval = manager.risk.settings.participation_interval
        manager.log_event(
            parent,
            "sliced",
            f"{len(children)} children of at most {max(sizes)} every {interval:g} s",
            {"children": [c.client_order_id.value for c in children]},
        )
        first = await manager.submit(children[0], price=price, list_id=parent.value)
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
                await self.manager.submit(child, price=price, list_id=parent.value)
            except (RiskRejected, BrokerError, ValidationError) as exc:
                log.warning("slicing of %s stopped at %s: %s", parent, child.client_order_id, exc)
                self.manager.log_event(parent, "slicing_stopped", str(exc))
                return

    def cancel_all(self) -> None:
        """Stop sending the children not sent yet (the ones sent stay working)."""
        for task in list(self.tasks.values()):
            task.cancel()
