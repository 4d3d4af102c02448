"""A reconciliation break: one difference between target, broker and database, and what was done about it (a value
the OMS's store keeps and ``quantdesk reconcile`` shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RESOLUTIONS", "Break"]

RESOLUTIONS = ("applied", "adopted", "marked", "reported")
"""What reconciliation may do about a break: apply the broker's view, adopt the order, mark the intent, or report."""


@dataclass(frozen=True, slots=True)
class Break:
    """One difference between target, broker and database, and what reconciliation did about it."""

    kind: str
    message: str
    resolution: str
    account: str | None = None
    instrument_id: str | None = None
    client_order_id: str | None = None
    perm_id: int | None = None
    target: str | None = None
    broker: str | None = None
    database: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__slots__}
