"""The gateway's record of every order and execution: what IB ids they carry and where they stand.

The matching engine (``quantdesk.execution``) decides fills; this book keeps what TWS keeps besides: the order as
the client sent it (wire fields), its owner and ids, the IB status string, cumulative fills and the executions.
Orders are keyed by ``(clientId, orderId)`` — IB's order ids are per client id — and by ``permId``. permIds and
execIds come from the venue's id sequences (:class:`~quantdesk.execution.ids.VenueIds`) and are unique across
gateway instances and restarts, as IB's are: each book starts from a random permId and a random execId prefix,
both kept in the state file, and its counters only move forward. A held order
(``transmit=0``) waits here, outside the engine, until the order that transmits its list arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.execution.ids import FIRST_PERM_ID, VenueIds
from quantdesk.execution.venue import VenueOrder
from quantdesk.gateway.contracts import ContractSpec
from quantdesk.gateway.order_wire import WireContract, WireOrder

__all__ = ["DONE_STATUSES", "FIRST_PERM_ID", "ExecutionRecord", "GatewayOrder", "GatewayOrderBook"]

DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass(slots=True, eq=False)
class GatewayOrder:
    """The wire-side view of one order the gateway accepted (or holds): owner, wire terms, IB ids and status.

    ``contract`` is the contract as replies carry it (the catalogue's fields); ``order`` the latest terms the client
    sent, with ``client_id`` and ``perm_id`` filled in; ``status`` IB's status text. What has filled is the venue's:
    ``venue_order`` is the order's :class:`~quantdesk.execution.venue.VenueOrder` once it entered the matching
    engine, and ``filled``/``notional`` add its state to ``engine_offset``/``notional_offset``, what had filled
    before the current engine took the order over (a restored order works only its remainder there). ``active`` is
    False while a child waits for its parent; ``withhold_status`` is set by the "withhold orderStatus" fault.
    ``domain`` (the engine's order while it is held), ``venue_order`` and ``encoded`` (the last ``openOrder``
    encoding) are runtime only and never saved.
    """

    client_id: int
    order_id: int
    perm_id: int
    con_id: int
    account: str
    contract: WireContract
    order: WireOrder
    status: str = "PendingSubmit"
    held: bool = False
    active: bool = True
    last_fill_price: float = 0.0
    engine_offset: float = 0.0
    notional_offset: float = 0.0
    parent_perm_id: int = 0
    oca_key: str | None = None
    why_held: str = ""
    withhold_status: bool = False
    completed_time: str = ""
    completed_status: str = ""
    domain: Order | None = None
    venue_order: VenueOrder | None = None
    encoded: tuple[WireOrder, list[str], int] | None = None

    @property
    def key(self) -> tuple[int, int]:
        """``(clientId, orderId)``."""
        return self.client_id, self.order_id

    @property
    def cid(self) -> ClientOrderId:
        """The id the matching engine knows the order by (from the permId)."""
        return ClientOrderId(f"p{self.perm_id}")

    @property
    def filled(self) -> float:
        """What has filled: before the current engine, and in it (the venue's state of the order)."""
        state = None if self.venue_order is None else self.venue_order.state
        return self.engine_offset + (0.0 if state is None else float(state.filled_quantity))

    @property
    def notional(self) -> float:
        """The value of what has filled (quantity × price, without the multiplier)."""
        state = None if self.venue_order is None else self.venue_order.state
        return self.notional_offset + (0.0 if state is None else float(state.filled_notional))

    @property
    def total(self) -> float:
        """The order's total quantity."""
        return float(self.order.total_quantity or 0.0)

    @property
    def remaining(self) -> float:
        """What is left to fill (0 once the order is done)."""
        return 0.0 if self.is_done else max(self.total - self.filled, 0.0)

    @property
    def avg_price(self) -> float:
        """The average fill price (0 before the first fill)."""
        return self.notional / self.filled if self.filled else 0.0

    @property
    def is_done(self) -> bool:
        """Filled or cancelled: nothing more can happen to it."""
        return self.status in DONE_STATUSES

    @property
    def parent_id(self) -> int:
        """The parent's order id (0 without a parent)."""
        return self.order.parent_id or 0


@dataclass(slots=True)
class ExecutionRecord:
    """One fill as ``execDetails`` and ``commissionReport`` report it."""

    exec_id: str
    perm_id: int
    client_id: int
    order_id: int
    account: str
    con_id: int
    side: str
    shares: float
    price: float
    time: datetime
    cum_qty: float
    avg_price: float
    order_ref: str
    exchange: str
    liquidity: int
    commission: float
    currency: str
    realized_pnl: float | None = None

    @classmethod
    def of_fill(cls, record: GatewayOrder, fill: Fill, exec_id: str, spec: ContractSpec | None) -> ExecutionRecord:
        """The execution of ``fill`` of ``record`` (counted in it already), on the contract's primary exchange."""
        venue = record.contract.exchange
        if spec is not None and venue == "SMART":
            venue = spec.primary_exchange or spec.exchange
        return cls(
            exec_id=exec_id,
            perm_id=record.perm_id,
            client_id=record.client_id,
            order_id=record.order_id,
            account=record.account,
            con_id=record.con_id,
            side="BOT" if fill.side is OrderSide.BUY else "SLD",
            shares=float(fill.quantity),
            price=float(fill.price),
            time=fill.ts,
            cum_qty=record.filled,
            avg_price=record.avg_price,
            order_ref=record.order.order_ref,
            exchange=venue,
            liquidity=fill.liquidity.value if fill.liquidity is not None else 0,
            commission=float(fill.commission.amount),
            currency=fill.commission.currency.code,
        )


@dataclass(slots=True)
class GatewayOrderBook:
    """Every order and execution of the gateway, with the id counters that must survive a restart."""

    ids: VenueIds = field(default_factory=VenueIds)
    by_key: dict[tuple[int, int], GatewayOrder] = field(default_factory=dict)
    by_perm: dict[int, GatewayOrder] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    executions: list[ExecutionRecord] = field(default_factory=list)
    live: dict[int, set[int]] = field(default_factory=dict)

    @property
    def next_perm_id(self) -> int:
        """The next permId this book hands out."""
        return self.ids.perm.next

    @next_perm_id.setter
    def next_perm_id(self, value: int) -> None:
        self.ids.perm.next = value

    @property
    def next_exec(self) -> int:
        """The counter of the next execId."""
        return self.ids.exec_ids.sequence.next

    @next_exec.setter
    def next_exec(self, value: int) -> None:
        self.ids.exec_ids.sequence.next = value

    @property
    def exec_prefix(self) -> int:
        """This instance's execId prefix."""
        return self.ids.exec_ids.prefix

    @exec_prefix.setter
    def exec_prefix(self, value: int) -> None:
        self.ids.exec_ids.prefix = value

    def new_perm_id(self) -> int:
        """A server-wide unique permId."""
        return self.ids.new_perm_id()

    def new_exec_id(self) -> str:
        """A unique execId in IB's dotted form: this instance's prefix, then its counter."""
        return self.ids.new_exec_id()

    def add(self, record: GatewayOrder) -> None:
        """Register an order (replacing an earlier, finished one with the same key)."""
        self.by_key[record.key] = record
        self.by_perm[record.perm_id] = record
        if record.parent_perm_id:
            self.children.setdefault(record.parent_perm_id, []).append(record.perm_id)

    def discard(self, record: GatewayOrder) -> None:
        """Forget an order the engine refused (its id may be used again)."""
        if self.by_key.get(record.key) is record:
            del self.by_key[record.key]
        self.by_perm.pop(record.perm_id, None)
        siblings = self.children.get(record.parent_perm_id)
        if siblings and record.perm_id in siblings:
            siblings.remove(record.perm_id)
        self.set_working(record, False)

    def get(self, client_id: int, order_id: int) -> GatewayOrder | None:
        """The order a client knows by ``order_id``."""
        return self.by_key.get((client_id, order_id))

    def by_cid(self, cid: ClientOrderId) -> GatewayOrder | None:
        """The order the matching engine calls ``cid``."""
        text = cid.value
        return self.by_perm.get(int(text[1:])) if text.startswith("p") and text[1:].isdigit() else None

    def children_of(self, record: GatewayOrder) -> list[GatewayOrder]:
        """The orders that name ``record`` as their parent, in arrival order."""
        return [self.by_perm[p] for p in self.children.get(record.perm_id, ()) if p in self.by_perm]

    def set_working(self, record: GatewayOrder, working: bool) -> None:
        """Track whether ``record`` works in the engine (the pump quotes only contracts with working orders)."""
        perms = self.live.get(record.con_id)
        if working:
            self.live.setdefault(record.con_id, set()).add(record.perm_id)
        elif perms is not None:
            perms.discard(record.perm_id)
            if not perms:
                del self.live[record.con_id]

    def working_con_ids(self) -> list[int]:
        """Contracts with orders working in the engine."""
        return list(self.live)

    def orders(self) -> Iterator[GatewayOrder]:
        """Every order, in permId order."""
        return iter(sorted(self.by_perm.values(), key=lambda r: r.perm_id))

    def open_orders(self, client_ids: Iterable[int] | None = None) -> list[GatewayOrder]:
        """Transmitted orders that are not done, of the given clients (all when ``None``), in permId order."""
        wanted = None if client_ids is None else set(client_ids)
        return [r for r in self.orders() if not r.is_done and not r.held and (wanted is None or r.client_id in wanted)]
