"""Orders and executions in the gateway's state file, so that they survive a restart as they do at TWS.

:func:`dump` writes the order book (every order with its wire terms and progress, every execution, the permId and
execId counters and this instance's execId prefix) as JSON-ready data under ``server.state["orders"]``;
:func:`restore` reads it back into a fresh :class:`~quantdesk.gateway.order_desk.OrderDesk` and puts the working
orders into its matching engine again.

A restored order works its *remainder* in the new engine (``engine_offset`` keeps what filled before), with its OCA
group and, when its parent is still working unfilled, its parent link. What the engine's memory held is
approximated: a trailing stop restarts from its last recorded stop (``trailStopPrice``), an OCA group forgets the
share its members filled before the restart, and the child of a partly filled parent is restored unlinked (live
for its whole quantity).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quantdesk.gateway.order_book import ExecutionRecord, GatewayOrder
from quantdesk.gateway.order_mapping import OrderRefused, domain_order, instrument_for
from quantdesk.gateway.order_wire import (
    WireComboLeg,
    WireCondition,
    WireContract,
    WireDeltaNeutralContract,
    WireOrder,
)

if TYPE_CHECKING:
    from quantdesk.gateway.order_desk import OrderDesk

__all__ = ["STATE_KEY", "dump", "restore"]

STATE_KEY = "orders"
_TAG_LISTS = ("smart_combo_routing_params", "algo_params", "order_misc_options")
_RUNTIME = ("domain", "venue_order", "encoded")


def _fields(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _contract(data: dict[str, Any]) -> WireContract:
    values = _fields(WireContract, data)
    values["combo_legs"] = tuple(WireComboLeg(**leg) for leg in values.get("combo_legs", ()))
    dnc = values.get("delta_neutral_contract")
    values["delta_neutral_contract"] = None if dnc is None else WireDeltaNeutralContract(**dnc)
    return WireContract(**values)


def _order(data: dict[str, Any]) -> WireOrder:
    values = _fields(WireOrder, data)
    values["order_combo_legs"] = tuple(values.get("order_combo_legs", ()))
    for name in _TAG_LISTS:
        values[name] = tuple((str(tag), str(value)) for tag, value in values.get(name, ()))
    values["conditions"] = tuple(WireCondition(**c) for c in values.get("conditions", ()))
    return WireOrder(**values)


def _record_json(record: GatewayOrder) -> dict[str, Any]:
    out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name not in _RUNTIME}
    out["filled"], out["notional"] = record.filled, record.notional
    out["contract"] = dataclasses.asdict(record.contract)
    out["order"] = dataclasses.asdict(record.order)
    return out


def _execution_json(exe: ExecutionRecord) -> dict[str, Any]:
    out = dataclasses.asdict(exe)
    out["time"] = exe.time.isoformat()
    return out


def dump(desk: OrderDesk) -> dict[str, Any]:
    """The desk's orders, executions and counters as JSON-ready data."""
    book = desk.book
    for record in book.orders():
        if not record.is_done and record.venue_order is not None and record.order.order_type.startswith("TRAIL"):
            stop = desk.engine.view(record.cid).stop
            if stop is not None:
                record.order = dataclasses.replace(record.order, trail_stop_price=float(stop))
    return {
        "next_perm_id": book.next_perm_id,
        "next_exec": book.next_exec,
        "exec_prefix": book.exec_prefix,
        "orders": [_record_json(r) for r in book.orders()],
        "executions": [_execution_json(e) for e in book.executions],
    }


def _load_record(data: dict[str, Any]) -> GatewayOrder:
    values = _fields(GatewayOrder, data)
    values["engine_offset"] = float(data.get("filled", 0.0))  # a new engine works only the remainder
    values["notional_offset"] = float(data.get("notional", 0.0))
    values["contract"] = _contract(values["contract"])
    values["order"] = _order(values["order"])
    for name in _RUNTIME:
        values.pop(name, None)
    return GatewayOrder(**values)


def _load_execution(data: dict[str, Any]) -> ExecutionRecord:
    values = _fields(ExecutionRecord, data)
    values["time"] = datetime.fromisoformat(values["time"])
    return ExecutionRecord(**values)


def restore(desk: OrderDesk, data: dict[str, Any]) -> None:
    """Load :func:`dump` output into ``desk`` and put its working orders into the matching engine again."""
    book = desk.book
    if "exec_prefix" in data:  # the same instance again: its ids go on from where they stopped
        book.exec_prefix = int(data["exec_prefix"])
        book.next_perm_id = int(data["next_perm_id"])
        book.next_exec = int(data["next_exec"])
    else:  # a state file of an older version: keep the fresh prefix, never reissue one of its permIds
        book.next_perm_id = max(book.next_perm_id, int(data.get("next_perm_id", book.next_perm_id)))
    book.next_perm_id = max([book.next_perm_id, *(int(o.get("perm_id", 0)) + 1 for o in data.get("orders", ()))])
    for raw in data.get("orders", ()):
        book.add(_load_record(raw))
    book.executions.extend(_load_execution(e) for e in data.get("executions", ()))
    _, ts = desk.now()
    for record in list(book.orders()):
        if record.is_done or record.held:
            continue
        parent = book.by_perm.get(record.parent_perm_id)
        linked = parent is not None and parent.venue_order is not None and parent.filled == 0
        spec = desk.server.catalog.get(record.con_id)
        try:
            if spec is None:
                raise OrderRefused(200, f"contract {record.con_id} is no longer in the catalogue")
            record.domain = domain_order(
                record.order,
                instrument_for(spec),
                client_order_id=record.cid,
                quantity=record.total - record.filled,
                parent=parent.cid if parent is not None and linked else None,
                oca_group=record.oca_key,
                oca_type=2 if (record.oca_key or "").startswith("bracket:") else record.order.oca_type,
            )
        except OrderRefused:
            record.status = "Cancelled"
            continue
        desk.submit(record, ts)
        if record.perm_id not in book.by_perm:  # the engine refused it (e.g. its GTD time has passed)
            record.status = "Cancelled"
            book.add(record)
        elif record.status == "PreSubmitted" and record.active:
            record.status = "Submitted"
