"""The venue's id sequences: order ids, permIds and execution ids, as IB hands them out.

``IdSequence`` counts forward from a start (order ids per client, permIds). ``ExecIds`` makes IB's dotted execIds
from an instance prefix and a counter. A venue that must stay unique across instances and restarts (the gateway)
starts its permIds at a random point of ``[1e9, 2e9)`` and its execIds at a random 32-bit prefix, keeps both in
its state file, and only moves them forward; a deterministic venue (the simulated broker) starts where it is told.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

__all__ = ["FIRST_PERM_ID", "ExecIds", "IdSequence", "VenueIds", "random_exec_prefix", "random_perm_start"]

FIRST_PERM_ID = 1_000_000_000
"""The lowest random permId start: ten digits like IB's, below 2**31 for a billion orders."""


def random_perm_start() -> int:
    """A random start in [1e9, 2e9): two instances collide only if their ranges of issued ids overlap."""
    return FIRST_PERM_ID + secrets.randbelow(1_000_000_000)


def random_exec_prefix() -> int:
    """A random 32-bit execId prefix (never 0, so it always reads as an instance's mark)."""
    return secrets.randbelow(0xFFFFFFFF) + 1


@dataclass(slots=True)
class IdSequence:
    """Increasing integer ids from ``next``."""

    next: int = 1

    def take(self) -> int:
        """The next id (the sequence moves past it)."""
        value = self.next
        self.next += 1
        return value

    def move_past(self, used: int) -> None:
        """Make sure the sequence never hands out ``used`` or anything below it again."""
        self.next = max(self.next, used + 1)


@dataclass(slots=True)
class ExecIds:
    """IB-style execIds: this instance's prefix, then its counter (``0000abcd.00000001.01.01``)."""

    prefix: int = field(default_factory=random_exec_prefix)
    sequence: IdSequence = field(default_factory=IdSequence)

    def take(self) -> str:
        """A unique execId."""
        return f"{self.prefix:08x}.{self.sequence.take():08x}.01.01"


@dataclass(slots=True)
class VenueIds:
    """Every id sequence of one venue: permIds, execIds and the order ids of each client id."""

    perm: IdSequence = field(default_factory=lambda: IdSequence(random_perm_start()))
    exec_ids: ExecIds = field(default_factory=ExecIds)
    order: dict[int, IdSequence] = field(default_factory=dict)

    def new_perm_id(self) -> int:
        """A venue-wide unique permId."""
        return self.perm.take()

    def new_exec_id(self) -> str:
        """A venue-wide unique execId."""
        return self.exec_ids.take()

    def order_ids(self, client_id: int, first: int = 1) -> IdSequence:
        """The order-id sequence of ``client_id`` (IB keeps one per client id)."""
        return self.order.setdefault(client_id, IdSequence(first))
