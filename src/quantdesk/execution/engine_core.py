"""The engine's inner workings: its state and how one data point is matched along its price path.

``EngineCore`` is private to ``quantdesk.execution``: ``MatchingEngine`` (in ``matching``) owns one and adds the
public requests and data entry points. A ``Pass`` is one data point of one instrument. Its path has stages — the
first point (a bar's open, a quote, a trade), then a bar's three legs — and within a stage every participating
order's next action is queued by where on the path it happens (ties: submission order). Acting may trigger a stop
(it is queued again at the same spot), fill (at most once per order per pass), activate children (who join the
pass at that spot) or cancel/reduce OCA siblings (at once with block; at the end of the pass without).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from heapq import heappop, heappush
from typing import Any, TypeVar

from quantdesk.domain.events import (
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderPartiallyFilled,
)
from quantdesk.domain.fills import Fill, Liquidity
from quantdesk.domain.identifiers import ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import ZERO, Money, to_positive
from quantdesk.errors import ValidationError
from quantdesk.execution.contingent import OcaGroupState, allowance, reduced_quantity
from quantdesk.execution.fees import FeeModel
from quantdesk.execution.fill_rules import (
    Action,
    Leg,
    Mode,
    Point,
    TriggerMethod,
    floor_lot,
    leg_action,
    point_action,
    trail,
)
from quantdesk.execution.order_book import OrderBook, WorkingOrder
from quantdesk.execution.reports import OrderActivated, OrderTriggered
from quantdesk.execution.slippage import NoSlippage, SlippageModel

__all__ = ["AuctionKind", "Budget", "EngineCore", "MatchingConfig", "Pass"]

_E = TypeVar("_E", bound=OrderEvent)
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
ON_CLOSE = (OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE)


class AuctionKind(Enum):
    """The opening or the closing auction of a session."""

    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """How the engine fills; every default is the simplest model (no caps, no slippage, no fees).

    ``max_volume_participation``: at most this share of a bar's volume trades per bar, shared by all orders of the
    instrument (None: no cap; a bar with zero volume then fills nothing). ``respect_quote_size``: a quote fills at
    most its ask size (buys) and bid size (sells), shared by the orders on that side; a size of zero fills nothing.
    ``respect_trade_size``: a trade tick fills at most its size. ``slippage``: see ``quantdesk.execution.slippage``.
    ``trigger``: which tick prices stops watch (``TriggerMethod``). ``fees``: the commission charged on every fill
    (None: zero commission). ``id_prefix`` starts every execution and event id.
    """

    max_volume_participation: Decimal | None = None
    respect_quote_size: bool = False
    respect_trade_size: bool = False
    slippage: SlippageModel = field(default_factory=NoSlippage)
    trigger: TriggerMethod = TriggerMethod.DEFAULT
    fees: FeeModel | None = None
    id_prefix: str = "sim"

    def __post_init__(self) -> None:
        share = self.max_volume_participation
        if share is not None:
            share = to_positive(share, "max_volume_participation")
            if share > 1:
                raise ValidationError(
                    f"must lie in (0, 1], got {share}",
                    field="max_volume_participation",
                    value=share,
                    hint="pass e.g. 0.1 for at most 10% of each bar's volume, or None for no cap",
                )
            object.__setattr__(self, "max_volume_participation", share)
        ExecutionId(self.id_prefix)  # non-empty
        if any(ch.isspace() for ch in self.id_prefix):
            raise ValidationError(
                "must not contain spaces", field="id_prefix", value=self.id_prefix, hint="use e.g. sim or gw1"
            )


class Budget:
    """What is left to trade on this data point: a pool shared by both sides and/or one per side (None: no cap)."""

    __slots__ = ("_shared", "_side")

    def __init__(self, shared: Decimal | None = None, buy: Decimal | None = None, sell: Decimal | None = None) -> None:
        self._shared = shared
        self._side = {OrderSide.BUY: buy, OrderSide.SELL: sell}

    def available(self, side: OrderSide) -> Decimal | None:
        caps = [c for c in (self._shared, self._side[side]) if c is not None]
        return min(caps) if caps else None

    def consume(self, side: OrderSide, quantity: Decimal) -> None:
        if self._shared is not None:
            self._shared -= quantity
        cap = self._side[side]
        if cap is not None:
            self._side[side] = cap - quantity


@dataclass(slots=True, eq=False)
class Pass:
    """One data point being matched for one instrument."""

    instrument_id: InstrumentId
    start: datetime
    stamp: datetime
    point: Point
    legs: tuple[Leg, ...]
    budget: Budget
    in_rth: bool
    events: list[OrderEvent]
    continuous: bool = True
    stage: int = 0
    participants: list[WorkingOrder] = field(default_factory=list)
    done: set[ClientOrderId] = field(default_factory=set)
    heap: list[tuple[Decimal, int, int, Action, WorkingOrder]] = field(default_factory=list)
    versions: dict[int, int] = field(default_factory=dict)


class EngineCore:
    """The engine's state (orders, OCA groups, counters) and the matching of one pass."""

    def __init__(self, config: MatchingConfig) -> None:
        self.config = config
        self.book = OrderBook()
        self.groups: dict[str, OcaGroupState] = {}
        self.pending_groups: set[str] = set()
        self.monthly_volume: dict[tuple[int, int], Decimal] = {}
        self.counters = {"seq": 0, "ev": 0, "ex": 0}

    def match(self, p: Pass) -> None:
        """Walk the pass's path stage by stage, acting on each order where the path reaches it."""
        p.participants = [r for r in self.book.live(p.instrument_id) if self._eligible(r, p)]
        for stage in range(1 + len(p.legs)):
            if not p.participants:
                return
            p.stage = stage
            if stage == 1:  # IOC and FOK meet only the first price
                p.done.update(r.cid for r in p.participants if r.order.tif in _IMMEDIATE)
            for record in list(p.participants):
                self._schedule(record, p, ZERO)
            while p.heap:
                offset, seq, version, action, record = heappop(p.heap)
                if p.versions.get(seq) == version and record.cid not in p.done and not record.state.is_terminal:
                    self._act(record, p, offset, action)
            if stage > 0:
                end = p.legs[stage - 1].end
                for record in p.participants:
                    if record.is_trailing and not record.triggered and not record.state.is_terminal:
                        self.ratchet(record, end)

    def _eligible(self, record: WorkingOrder, p: Pass) -> bool:
        return (
            record.active
            and record.instrument_id == p.instrument_id
            and not record.is_auction
            and record.submitted_at <= p.start
            and (p.in_rth or record.order.outside_rth)
            and not record.state.is_terminal
        )

    def _schedule(self, record: WorkingOrder, p: Pass, offset: Decimal) -> None:
        """Queue the record's next action on the current stage of the path, from ``offset`` on."""
        if record.cid in p.done or record.state.is_terminal:
            return
        side, mode = record.side, record.mode
        leg = p.legs[p.stage - 1] if p.stage else None
        if mode is Mode.TRAILING:
            seen = p.point.trigger(side) if leg is None else leg.price_at(offset)
            if seen is not None:
                self.ratchet(record, seen)
        if mode in (Mode.STOP, Mode.TRAILING) and record.stop is None:
            return
        if leg is None:
            action = point_action(side, mode, p.point, limit=record.limit, stop=record.stop)
            found = None if action is None else (ZERO, action)
        else:
            found = leg_action(side, mode, leg, offset, limit=record.limit, stop=record.stop)
        if found is not None:
            version = p.versions.get(record.seq, 0) + 1
            p.versions[record.seq] = version
            heappush(p.heap, (found[0], record.seq, version, found[1], record))

    def _act(self, record: WorkingOrder, p: Pass, offset: Decimal, action: Action) -> None:
        if action.fill:
            self._fill(record, p, action, offset)
            return
        record.triggered = True
        order = record.order
        if order.order_type is OrderType.TRAILING_STOP_LIMIT:
            stop, gap = record.trail_stop, order.limit_offset
            assert stop is not None
            assert gap is not None
            limit = stop + gap if order.side is OrderSide.BUY else stop - gap
            record.trigger_limit = max(limit, order.instrument.tick_size)
        limit_now = record.limit if record.mode is Mode.LIMIT else None
        p.events.append(
            self.new(OrderTriggered, record.cid, p.stamp, trigger_price=action.price, limit_price=limit_now)
        )
        self._schedule(record, p, offset)

    def _fill(self, record: WorkingOrder, p: Pass, action: Action, offset: Decimal) -> None:
        order, auction = record.order, not p.continuous
        allowed = self._allowance(record)
        quantity = allowed
        available = None if auction else p.budget.available(order.side)
        if available is not None:
            quantity = min(quantity, available)
        quantity = floor_lot(quantity, order.instrument.lot_size)
        p.done.add(record.cid)
        if quantity <= 0 or ((order.all_or_none or order.tif is TimeInForce.FOK) and quantity < allowed):
            return
        price = action.price
        if not auction:
            price = self.config.slippage.adjust(order.side, price, p.point.spread if p.stage == 0 else None)
        limit = record.limit if record.mode is Mode.LIMIT else None
        if limit is not None:
            price = min(price, limit) if order.side is OrderSide.BUY else max(price, limit)
        liquidity = None if auction else Liquidity.ADDED if action.resting else Liquidity.REMOVED
        fill = self._make_fill(record, quantity, price, p.stamp, liquidity)
        record.state = record.state.apply_fill(fill)
        kind = OrderFilled if record.state.is_fully_filled else OrderPartiallyFilled
        p.events.append(self.new(kind, record.cid, p.stamp, fill=fill))
        if not auction:
            p.budget.consume(order.side, quantity)
        self._after_fill(record, quantity, p, offset)

    def _make_fill(
        self, record: WorkingOrder, quantity: Decimal, price: Decimal, ts: datetime, liquidity: Liquidity | None
    ) -> Fill:
        order, inst = record.order, record.order.instrument
        month = (ts.year, ts.month)
        volume = self.monthly_volume.get(month, ZERO)
        commission = Money(ZERO, inst.currency)
        fees = self.config.fees
        if fees is not None:
            if record.fee_volume is None:
                record.fee_volume = volume
            total_qty = record.state.filled_quantity + quantity
            average = (record.state.filled_notional + quantity * price) / total_qty
            total = fees.commission(inst, order.side, total_qty, average, monthly_volume=record.fee_volume)
            commission = Money(total.amount - record.fee_charged, total.currency)
            record.fee_charged = total.amount
        if inst.asset_class is AssetClass.STOCK:  # IB's tiers count stock shares only
            self.monthly_volume[month] = volume + quantity
        exec_id = ExecutionId(f"{self.config.id_prefix}-ex-{self.next('ex'):08d}")
        return Fill(
            exec_id,
            record.cid,
            inst.id,
            order.side,
            quantity,
            price,
            ts,
            inst.currency,
            inst.multiplier,
            commission,
            order.account,
            liquidity,
        )

    def _after_fill(self, record: WorkingOrder, quantity: Decimal, p: Pass, offset: Decimal) -> None:
        group = self.group_of(record)
        if group is not None:
            share = Fraction(quantity) / record.oca_base
            if group.blocks:
                group.consumed += share
                self.settle_group(group, p.stamp, p.events)
            else:
                group.pending += share
                self.pending_groups.add(group.name)
        if record.state.is_terminal:
            self.book.retire(record)
        for child_id in record.children:
            child = self.book.get(child_id)
            if child is None or child.active or child.state.is_terminal:
                continue
            child.active = True
            p.events.append(self.new(OrderActivated, child_id, p.stamp, parent_client_order_id=record.cid))
            if p.continuous and self._eligible(child, p):
                p.participants.append(child)
                self._schedule(child, p, offset)

    def auction(
        self,
        iid: InstrumentId,
        kind: AuctionKind,
        price: Decimal,
        stamp: datetime,
        events: list[OrderEvent],
        window: Callable[[datetime], bool],
    ) -> None:
        """Fill the orders waiting for this auction at its single price (limits permitting)."""
        for record in self.book.live(iid):
            at = record.auction_at
            opening = record.order.tif is TimeInForce.OPG
            if at is None or not record.active or opening != (kind is AuctionKind.OPEN) or not window(at):
                continue
            if record.state.is_terminal:
                continue
            p = Pass(iid, stamp, stamp, Point.flat(price), (), Budget(), True, events, continuous=False)
            action = point_action(record.side, record.mode, p.point, limit=record.limit)
            if action is not None:
                self._fill(record, p, action, ZERO)

    def close_pass(self, p: Pass) -> None:
        """Settle non-blocking OCA groups, then cancel what IOC/FOK orders left."""
        self.settle_pending(p.stamp, p.events)
        for record in self.book.live(p.instrument_id):
            tif = record.order.tif
            if tif in _IMMEDIATE and record.active and not record.is_auction and record.submitted_at <= p.start:
                why = "IOC: unfilled remainder cancelled" if tif is TimeInForce.IOC else "FOK: could not fill in full"
                self.finish(record, OrderStatus.CANCELLED, why, p.stamp, p.events)

    # --- contingent orders ---------------------------------------------------------------------------------------

    def group_of(self, record: WorkingOrder) -> OcaGroupState | None:
        """The OCA group of ``record``, if it is in one."""
        name = record.order.link.oca_group
        return None if name is None else self.groups.get(name)

    def _allowance(self, record: WorkingOrder) -> Decimal:
        parent = self.book.get(record.order.link.parent_client_order_id)
        return allowance(record, parent, self.group_of(record))

    def settle_group(self, group: OcaGroupState, ts: datetime, events: list[OrderEvent]) -> None:
        """Apply the group's consumed share to its live members: cancel (type 1) or reduce (types 2, 3)."""
        for cid in group.members:
            member = self.book.get(cid)
            if member is None or member.state.is_terminal:
                continue
            if group.cancels:
                if group.consumed > 0 and member.state.filled_quantity == 0:
                    why = f"OCA group {group.name}: another order filled"
                    self.finish(member, OrderStatus.CANCELLED, why, ts, events)
                continue
            keep = reduced_quantity(member, group)
            if keep <= member.state.filled_quantity:
                self.finish(member, OrderStatus.CANCELLED, f"OCA group {group.name} is filled", ts, events)
            elif keep != member.state.quantity:
                member.state = member.state.apply_modify(keep, ts)
                events.append(self.new(OrderModified, cid, ts, quantity=keep))

    def settle_pending(self, ts: datetime, events: list[OrderEvent]) -> None:
        """Apply the fills of non-blocking OCA groups, held back until the end of the data point."""
        for name in sorted(self.pending_groups):
            group = self.groups[name]
            group.consumed += group.pending
            group.pending = Fraction(0)
            self.settle_group(group, ts, events)
        self.pending_groups.clear()

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def expire(
        self,
        records: list[WorkingOrder],
        ts: datetime,
        events: list[OrderEvent],
        *,
        inclusive: bool = True,
        opg_inclusive: bool = False,
    ) -> None:
        """Expire DAY/GTD/auction orders whose time is up at ``ts`` and OPG orders whose auction has passed."""
        for record in records:
            expiry, auction = record.expire_at, record.auction_at
            if record.state.is_terminal:
                continue
            if expiry is not None and (expiry <= ts if inclusive else expiry < ts):
                if record.order.order_type in ON_CLOSE:
                    why = "not filled in the closing auction"
                elif record.order.tif is TimeInForce.GTD:
                    why = "GTD order reached good_till"
                else:
                    why = "DAY order expired at the session close"
                self.finish(record, OrderStatus.EXPIRED, why, expiry, events)
            elif (
                record.order.tif is TimeInForce.OPG
                and auction is not None
                and (auction <= ts if opg_inclusive else auction < ts)
            ):
                self.finish(record, OrderStatus.EXPIRED, "not filled in the opening auction", auction, events)

    def finish(
        self, record: WorkingOrder, status: OrderStatus, reason: str, ts: datetime, events: list[OrderEvent]
    ) -> None:
        """End a live order (cancelled/expired) and cascade to the children of a parent that filled nothing."""
        if record.state.is_terminal:
            return
        record.state = record.state.apply_status(status, ts)
        kind = OrderExpired if status is OrderStatus.EXPIRED else OrderCancelled
        events.append(self.new(kind, record.cid, ts, reason=reason))
        self.book.retire(record)
        if record.state.filled_quantity == 0:
            for child_id in record.children:
                child = self.book.get(child_id)
                if child is not None:
                    why = f"parent {record.cid} {status.value.lower()}"
                    self.finish(child, OrderStatus.CANCELLED, why, ts, events)

    # --- plumbing ------------------------------------------------------------------------------------------------

    def ratchet(self, record: WorkingOrder, price: Decimal) -> None:
        """Let a trailing order see ``price``: its extreme and stop follow a favourable move."""
        order = record.order
        record.trail_extreme, record.trail_stop = trail(
            order.side,
            price,
            record.trail_extreme,
            record.trail_stop,
            amount=order.trailing_amount,
            percent=order.trailing_percent,
            tick=order.instrument.tick_size,
        )

    def next(self, counter: str) -> int:
        """The next value of a deterministic counter (``seq``, ``ev`` or ``ex``)."""
        self.counters[counter] += 1
        return self.counters[counter]

    def new(self, kind: type[_E], cid: ClientOrderId, ts: datetime, **fields: Any) -> _E:
        """An event of ``kind`` with the next deterministic event id."""
        event_id = f"{self.config.id_prefix}-ev-{self.next('ev'):08d}"
        return kind(client_order_id=cid, ts=ts, event_id=event_id, **fields)
