from __future__ import annotations

import itertools
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId
from quantdesk.domain.order_state import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    OrderState,
    OrderStatus,
    can_transition,
    from_ib_status,
    transition,
)
from quantdesk.errors import IllegalTransition, ValidationError

S = OrderStatus
TS = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
CID = ClientOrderId("qd-test-1")

# Written by hand from IB's documented order life cycle, independently of TRANSITIONS, so that a wrong table fails.
EXPECTED_EDGES: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    [
        # persisted intent: sent, refused by our risk engine, or dropped before sending
        (S.INITIALIZED, S.PENDING_SUBMIT),
        (S.INITIALIZED, S.REJECTED),
        (S.INITIALIZED, S.CANCELLED),
        # sent, not yet acknowledged
        (S.PENDING_SUBMIT, S.SUBMITTED),  # PreSubmitted / Submitted
        (S.PENDING_SUBMIT, S.PARTIALLY_FILLED),  # execution before the ack
        (S.PENDING_SUBMIT, S.FILLED),  # market order filled before the ack
        (S.PENDING_SUBMIT, S.PENDING_CANCEL),
        (S.PENDING_SUBMIT, S.CANCELLED),  # ApiCancelled
        (S.PENDING_SUBMIT, S.REJECTED),  # error 201 on a new order
        (S.PENDING_SUBMIT, S.INACTIVE),
        # working
        (S.SUBMITTED, S.PARTIALLY_FILLED),
        (S.SUBMITTED, S.FILLED),
        (S.SUBMITTED, S.PENDING_REPLACE),
        (S.SUBMITTED, S.PENDING_CANCEL),
        (S.SUBMITTED, S.CANCELLED),  # IOC remainder, cancelled by IB or the exchange
        (S.SUBMITTED, S.REJECTED),  # a held (PreSubmitted) order refused when it triggers
        (S.SUBMITTED, S.EXPIRED),
        (S.SUBMITTED, S.INACTIVE),
        # partly filled and still working
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.PENDING_REPLACE),
        (S.PARTIALLY_FILLED, S.PENDING_CANCEL),
        (S.PARTIALLY_FILLED, S.CANCELLED),
        (S.PARTIALLY_FILLED, S.EXPIRED),
        (S.PARTIALLY_FILLED, S.INACTIVE),
        # modification in flight
        (S.PENDING_REPLACE, S.SUBMITTED),
        (S.PENDING_REPLACE, S.PARTIALLY_FILLED),
        (S.PENDING_REPLACE, S.FILLED),
        (S.PENDING_REPLACE, S.PENDING_CANCEL),
        (S.PENDING_REPLACE, S.CANCELLED),
        (S.PENDING_REPLACE, S.EXPIRED),
        (S.PENDING_REPLACE, S.INACTIVE),
        # cancel in flight: fills can still arrive, or the cancel is refused
        (S.PENDING_CANCEL, S.CANCELLED),
        (S.PENDING_CANCEL, S.PARTIALLY_FILLED),
        (S.PENDING_CANCEL, S.FILLED),
        (S.PENDING_CANCEL, S.SUBMITTED),
        (S.PENDING_CANCEL, S.EXPIRED),
        # held inactive by IB: may come back, fill, be cancelled, rejected or expire
        (S.INACTIVE, S.SUBMITTED),
        (S.INACTIVE, S.PARTIALLY_FILLED),
        (S.INACTIVE, S.FILLED),
        (S.INACTIVE, S.PENDING_REPLACE),
        (S.INACTIVE, S.PENDING_CANCEL),
        (S.INACTIVE, S.CANCELLED),
        (S.INACTIVE, S.REJECTED),
        (S.INACTIVE, S.EXPIRED),
    ]
)

# Whole life cycles as IB reports them (after mapping IB's strings), each step a legal transition.
IB_FLOWS: dict[str, list[OrderStatus]] = {
    "limit order fills in two parts": [S.INITIALIZED, S.PENDING_SUBMIT, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED],
    "market order fills before the ack": [S.INITIALIZED, S.PENDING_SUBMIT, S.FILLED],
    "cancelled": [S.PENDING_SUBMIT, S.SUBMITTED, S.PENDING_CANCEL, S.CANCELLED],
    "filled while the cancel travels": [S.SUBMITTED, S.PENDING_CANCEL, S.PARTIALLY_FILLED, S.FILLED],
    "partial fill then cancel": [S.SUBMITTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.CANCELLED],
    "cancel refused": [S.SUBMITTED, S.PENDING_CANCEL, S.SUBMITTED, S.FILLED],
    "rejected on submit": [S.INITIALIZED, S.PENDING_SUBMIT, S.REJECTED],
    "risk rejected before sending": [S.INITIALIZED, S.REJECTED],
    "inactive then live again": [S.PENDING_SUBMIT, S.INACTIVE, S.SUBMITTED, S.FILLED],
    "modify": [S.SUBMITTED, S.PENDING_REPLACE, S.SUBMITTED, S.FILLED],
    "modify of a partly filled order": [S.PARTIALLY_FILLED, S.PENDING_REPLACE, S.PARTIALLY_FILLED, S.FILLED],
    "day order expires": [S.PENDING_SUBMIT, S.SUBMITTED, S.PARTIALLY_FILLED, S.EXPIRED],
    "api cancel before ack": [S.PENDING_SUBMIT, S.CANCELLED],
}

ILLEGAL_SAMPLE = [
    (S.FILLED, S.SUBMITTED),
    (S.FILLED, S.CANCELLED),
    (S.CANCELLED, S.FILLED),
    (S.CANCELLED, S.SUBMITTED),
    (S.REJECTED, S.SUBMITTED),
    (S.EXPIRED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.SUBMITTED),
    (S.PARTIALLY_FILLED, S.REJECTED),
    (S.SUBMITTED, S.PENDING_SUBMIT),
    (S.INITIALIZED, S.FILLED),
    (S.PENDING_SUBMIT, S.PENDING_REPLACE),
]


def edge_key(edge: tuple[OrderStatus, OrderStatus]) -> tuple[str, str]:
    return (edge[0].value, edge[1].value)


TABLE_EDGES = sorted(((a, b) for a, nxt in TRANSITIONS.items() for b in nxt), key=edge_key)
HAND_EDGES = sorted(EXPECTED_EDGES, key=edge_key)
ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))


def edge_id(edge: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{edge[0].value}->{edge[1].value}"


# --- the table ---------------------------------------------------------------------------------------------------


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert all(b is not a for a, nxt in TRANSITIONS.items() for b in nxt), "self-transitions are implicit"


def test_table_matches_the_hand_written_ib_edges() -> None:
    table = set(TABLE_EDGES)
    assert table - EXPECTED_EDGES == set(), "table allows transitions IB does not make"
    assert EXPECTED_EDGES - table == set(), "table forbids transitions IB makes"


@pytest.mark.parametrize("edge", TABLE_EDGES, ids=edge_id)
def test_every_table_transition_is_legal(edge: tuple[OrderStatus, OrderStatus]) -> None:
    current, new = edge
    assert can_transition(current, new)
    assert transition(current, new) is new


@pytest.mark.parametrize("edge", HAND_EDGES, ids=edge_id)
def test_every_hand_written_transition_is_legal(edge: tuple[OrderStatus, OrderStatus]) -> None:
    assert transition(*edge) is edge[1]


@pytest.mark.parametrize("name", sorted(IB_FLOWS))
def test_ib_flows_walk_through_the_table(name: str) -> None:
    steps = IB_FLOWS[name]
    status = steps[0]
    for new in steps[1:]:
        status = transition(status, new)
    assert status is steps[-1]


@pytest.mark.parametrize("edge", ILLEGAL_SAMPLE, ids=edge_id)
def test_illegal_transitions_raise_naming_status(edge: tuple[OrderStatus, OrderStatus]) -> None:
    current, new = edge
    with pytest.raises(IllegalTransition) as info:
        transition(current, new)
    err = info.value
    assert err.field == "status"
    assert current.value in err.message
    assert new.value in err.message
    assert err.hint
    assert isinstance(err, ValidationError)


def test_every_pair_outside_the_table_raises() -> None:
    for current, new in ALL_PAIRS:
        legal = current is new or (current, new) in EXPECTED_EDGES
        assert can_transition(current, new) is legal, (current, new)
        if not legal:
            with pytest.raises(IllegalTransition):
                transition(current, new)


@pytest.mark.parametrize("status", list(OrderStatus), ids=lambda s: s.value)
def test_self_transition_is_a_no_op(status: OrderStatus) -> None:
    assert transition(status, status) is status


def test_terminal_and_active_sets() -> None:
    assert {S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED} == TERMINAL_STATES
    assert {
        S.PENDING_SUBMIT,
        S.SUBMITTED,
        S.PARTIALLY_FILLED,
        S.PENDING_REPLACE,
        S.PENDING_CANCEL,
        S.INACTIVE,
    } == ACTIVE_STATES
    assert not TERMINAL_STATES & ACTIVE_STATES
    assert S.INITIALIZED not in TERMINAL_STATES | ACTIVE_STATES
    assert S.FILLED.is_terminal
    assert not S.FILLED.is_active
    assert S.INACTIVE.is_active
    assert not S.INACTIVE.is_terminal
    for status in TERMINAL_STATES:
        assert TRANSITIONS[status] == frozenset()


# --- IB status strings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ib", "ours"),
    [
        ("PendingSubmit", S.PENDING_SUBMIT),
        ("ApiPending", S.PENDING_SUBMIT),
        ("PreSubmitted", S.SUBMITTED),
        ("Submitted", S.SUBMITTED),
        ("PendingCancel", S.PENDING_CANCEL),
        ("ApiCancelled", S.CANCELLED),
        ("Cancelled", S.CANCELLED),
        ("Filled", S.FILLED),
        ("Inactive", S.INACTIVE),
        ("ValidationError", S.SUBMITTED),
        ("ApiUpdate", S.SUBMITTED),
        (" filled ", S.FILLED),
    ],
)
def test_from_ib_status(ib: str, ours: OrderStatus) -> None:
    assert from_ib_status(ib) is ours


def test_from_ib_status_rejects_unknown_strings() -> None:
    with pytest.raises(ValidationError, match="unknown IB order status") as info:
        from_ib_status("Working")
    assert info.value.field == "status"
    assert "PreSubmitted" in (info.value.hint or "")


def test_parse_accepts_our_names_and_ib_strings() -> None:
    assert OrderStatus.parse("partially_filled") is S.PARTIALLY_FILLED
    assert OrderStatus.parse("PENDING_REPLACE") is S.PENDING_REPLACE
    assert OrderStatus.parse("PreSubmitted") is S.SUBMITTED
    with pytest.raises(ValidationError):
        OrderStatus.parse("nope")


# --- the aggregate -----------------------------------------------------------------------------------------------


def make_fill(exec_id: str, qty: str, price: str, *, minutes: int = 1, cid: ClientOrderId = CID) -> Fill:
    return Fill.of(exec_id, cid, "AAPL.STK.SMART.USD", "BUY", qty, price, TS + timedelta(minutes=minutes))


def order(status: OrderStatus = S.SUBMITTED, qty: str = "100") -> OrderState:
    return OrderState(CID, Decimal(qty), TS, status=status)


def test_new_order_state() -> None:
    st = OrderState.new("qd-test-1", 100, TS)
    assert st.status is S.INITIALIZED
    assert st.quantity == Decimal(100)
    assert st.remaining == Decimal(100)
    assert st.avg_fill_price is None
    assert st.execution_ids == ()
    assert not st.is_active
    assert not st.is_terminal


def test_apply_status_returns_a_new_object() -> None:
    st = OrderState.new(CID, 10, TS)
    broker = BrokerOrderId(order_id=7, perm_id=123456)
    sent = st.apply_status(S.PENDING_SUBMIT, TS + timedelta(seconds=1), broker_order_id=broker)
    assert st.status is S.INITIALIZED
    assert sent.status is S.PENDING_SUBMIT
    assert sent.broker_order_id == broker
    acked = sent.apply_status(S.SUBMITTED, TS + timedelta(seconds=2))
    assert acked.broker_order_id == broker
    assert acked.updated_at == TS + timedelta(seconds=2)


def test_apply_status_raises_on_illegal_transition() -> None:
    with pytest.raises(IllegalTransition) as info:
        order(S.FILLED).apply_status(S.SUBMITTED, TS)
    assert info.value.field == "status"


@pytest.mark.parametrize("status", [S.SUBMITTED, S.PENDING_SUBMIT, S.PENDING_CANCEL, S.PENDING_REPLACE, S.INACTIVE])
def test_fill_without_status_change_still_applies(status: OrderStatus) -> None:
    st = order(status).apply_fill(make_fill("e1", "40", "10"))
    assert st.status is S.PARTIALLY_FILLED
    assert st.filled_quantity == Decimal(40)
    assert st.remaining == Decimal(60)
    assert st.avg_fill_price == Decimal(10)
    st = st.apply_fill(make_fill("e2", "60", "11", minutes=2))
    assert st.status is S.FILLED
    assert st.is_fully_filled
    assert st.avg_fill_price == Decimal("10.6")
    assert st.execution_ids == (make_fill("e1", "1", "1").execution_id, make_fill("e2", "1", "1").execution_id)


def test_duplicate_execution_is_ignored() -> None:
    fill = make_fill("e1", "40", "10")
    once = order().apply_fill(fill)
    twice = once.apply_fill(fill)
    assert twice is once
    # a re-sent execution with its commission filled in is still the same execution
    assert once.apply_fill(fill.with_commission(fill.commission)) is once


def test_overfill_raises() -> None:
    st = order().apply_fill(make_fill("e1", "80", "10"))
    with pytest.raises(ValidationError, match="overfills") as info:
        st.apply_fill(make_fill("e2", "21", "10"))
    assert info.value.field == "filled_quantity"
    assert not isinstance(info.value, IllegalTransition)


def test_fill_of_another_order_raises() -> None:
    with pytest.raises(ValidationError) as info:
        order().apply_fill(make_fill("e1", "1", "10", cid=ClientOrderId("qd-other")))
    assert info.value.field == "client_order_id"


def test_filled_status_before_the_executions() -> None:
    st = order().apply_status(S.FILLED, TS)
    assert st.status is S.FILLED
    assert not st.is_fully_filled
    st = st.apply_fill(make_fill("e1", "30", "10")).apply_fill(make_fill("e2", "70", "10"))
    assert st.status is S.FILLED
    assert st.is_fully_filled


def test_late_fill_after_cancel_is_recorded_without_leaving_cancelled() -> None:
    st = order().apply_status(S.PENDING_CANCEL, TS).apply_status(S.CANCELLED, TS)
    st = st.apply_fill(make_fill("e1", "30", "10"))
    assert st.status is S.CANCELLED
    assert st.filled_quantity == Decimal(30)


@pytest.mark.parametrize("status", [S.INITIALIZED, S.REJECTED])
def test_fill_where_no_execution_can_happen_raises(status: OrderStatus) -> None:
    with pytest.raises(IllegalTransition):
        order(status).apply_fill(make_fill("e1", "1", "10"))


def test_ib_submitted_after_a_partial_fill_stays_partially_filled() -> None:
    st = order().apply_fill(make_fill("e1", "40", "10"))
    # IB keeps reporting "Submitted" (with filled=40) for a partly filled order
    assert st.apply_status(from_ib_status("Submitted"), TS).status is S.PARTIALLY_FILLED
    # PendingCancel refused: back to working, and working means partly filled
    pending = st.apply_status(S.PENDING_CANCEL, TS)
    assert pending.revert_pending(TS).status is S.PARTIALLY_FILLED


def test_revert_pending() -> None:
    assert order(S.PENDING_CANCEL).revert_pending(TS).status is S.SUBMITTED
    assert order(S.PENDING_REPLACE).revert_pending(TS).status is S.SUBMITTED
    done = order(S.FILLED)
    assert done.revert_pending(TS) is done


def test_apply_modify() -> None:
    st = order(S.PENDING_REPLACE).apply_fill(make_fill("e1", "40", "10"))
    st = st.apply_status(S.PENDING_REPLACE, TS)
    bigger = st.apply_modify(150, TS)
    assert bigger.quantity == Decimal(150)
    assert bigger.remaining == Decimal(110)
    assert bigger.status is S.PARTIALLY_FILLED
    assert st.apply_modify(40, TS).status is S.FILLED
    with pytest.raises(ValidationError) as info:
        st.apply_modify(39, TS)
    assert info.value.field == "quantity"
    with pytest.raises(IllegalTransition):
        order(S.CANCELLED).apply_modify(10, TS)
    assert order(S.PENDING_REPLACE).apply_modify(50, TS).status is S.SUBMITTED


def test_updated_at_never_goes_back() -> None:
    later = TS + timedelta(minutes=5)
    st = order().apply_status(S.SUBMITTED, later)
    assert st.apply_status(S.PENDING_CANCEL, TS).updated_at == later


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": Decimal(0)}, "quantity"),
        ({"filled_quantity": Decimal(101)}, "filled_quantity"),
        ({"filled_quantity": Decimal(5)}, "filled_notional"),
        ({"filled_notional": Decimal(5)}, "filled_notional"),
        ({"updated_at": datetime(2024, 1, 1)}, "updated_at"),
        ({"status": "SUBMITTED"}, "status"),
    ],
)
def test_order_state_validation(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"client_order_id": CID, "quantity": Decimal(100), "updated_at": TS}
    base.update(kwargs)
    with pytest.raises(ValidationError) as info:
        OrderState(**base)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_moved_state_equals_the_one_replace_would_make_field_by_field() -> None:
    t0 = datetime(2025, 3, 3, 15, tzinfo=UTC)
    state = OrderState.new(ClientOrderId("moved-1"), 10, t0).apply_status(OrderStatus.PENDING_SUBMIT, t0)
    ids = BrokerOrderId(5, 77, 3)
    acked = state.identify(ids).apply_status(OrderStatus.SUBMITTED, t0 + timedelta(seconds=1))
    expected = replace(state, status=OrderStatus.SUBMITTED, updated_at=t0 + timedelta(seconds=1), broker_order_id=ids)
    names = [f.name for f in fields(OrderState)]
    assert [getattr(acked, n) for n in names] == [getattr(expected, n) for n in names]
    assert acked == expected
    assert hash(acked) == hash(expected)
