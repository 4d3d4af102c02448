"""The kill switch: persisted across restarts, moved by hand, escalated (never resumed) by its triggers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from quantdesk.brokers.base import ConnectionReport, ConnectionState
from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState
from quantdesk.errors import ValidationError
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.repositories import KillSwitchRepository
from quantdesk.risk import KillSwitch, RiskEvent
from quantdesk.risk.memory_stores import MemoryKillSwitchStore
from quantdesk.risk.stores import KillSwitchStore

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED

D = Decimal


class FlakyStore:
    """A real ``KillSwitchStore`` (in memory or on SQLite) that counts its writes and can be told to fail."""

    def __init__(self, inner: KillSwitchStore) -> None:
        self.inner = inner
        self.writes: list[KillSwitchStatus] = []
        self.fail = False

    def get(self) -> KillSwitchStatus:
        return self.inner.get()

    def set(self, state: TradingState, reason: str, ts: datetime, *, changed_by: str = "user") -> KillSwitchStatus:
        if self.fail:
            raise OSError("database is down")
        status = self.inner.set(state, reason, ts, changed_by=changed_by)
        self.writes.append(status)
        return status

    def history(self, limit: int | None = 20) -> list[KillSwitchChange]:
        return self.inner.history(limit)


class Recorder:
    def __init__(self) -> None:
        self.events: list[RiskEvent] = []
        self.statuses: list[KillSwitchStatus] = []


SwitchFactory = Callable[..., tuple[KillSwitch, FlakyStore, Recorder]]


@pytest.fixture(params=["memory", "sqlite"])
def switch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SwitchFactory]:
    """``switch(**risk_settings)``: a kill switch on a store of its own (in memory, or a migrated SQLite file), the
    store and what the switch told."""
    engines: list[Engine] = []

    def store() -> KillSwitchStore:
        if request.param == "memory":
            return MemoryKillSwitchStore()
        url = f"sqlite:///{tmp_path / f'ks-{len(engines)}.db'}"
        upgrade(url)
        engines.append(create_db_engine(url))
        return KillSwitchRepository(engines[-1])

    def make(**settings: Any) -> tuple[KillSwitch, FlakyStore, Recorder]:
        flaky = FlakyStore(store())
        seen = Recorder()
        ks = KillSwitch(flaky, RiskSettings(**settings), on_event=seen.events.append, clock=lambda: T0)
        ks.add_listener(seen.statuses.append)
        return ks, flaky, seen

    yield make
    for engine in engines:
        engine.dispose()


# --- persistence ---------------------------------------------------------------------------------------------------


@pytest.fixture
def migrated(db_url: str) -> str:
    upgrade(db_url)
    return db_url


def test_the_state_survives_a_restart(migrated: str) -> None:
    first = create_db_engine(migrated)
    try:
        ks = KillSwitch(KillSwitchRepository(first), RiskSettings())
        assert ks.state is ACTIVE
        assert ks.status.changed_at is None
        ks.on_equity(T0, D(97_500), day_start=D(100_000), peak=D(100_000))
        assert ks.state is HALTED
    finally:
        first.dispose()

    second = create_db_engine(migrated)
    try:
        restarted = KillSwitch(KillSwitchRepository(second), RiskSettings())
        assert restarted.state is HALTED
        assert restarted.status.changed_by == "risk"
        assert restarted.status.reason.startswith("daily_loss_limit: day's loss 2.5%")
        assert restarted.status.changed_at == T0
        restarted.resume("loss explained: bad mark", by="alice", ts=T0 + timedelta(hours=1))
        with second.connect() as conn:
            rows = conn.execute(text("SELECT action, message FROM risk_events ORDER BY id")).all()
        assert [r[0] for r in rows] == ["halted", "active"]
        assert rows[1][1] == "HALTED -> ACTIVE by alice: loss explained: bad mark"
    finally:
        second.dispose()

    third = create_db_engine(migrated)
    try:
        status = KillSwitch(KillSwitchRepository(third), RiskSettings()).status
        assert (status.state, status.changed_by, status.changed_at) == (ACTIVE, "alice", T0 + timedelta(hours=1))
    finally:
        third.dispose()


# --- by hand -------------------------------------------------------------------------------------------------------


def test_manual_moves_persist_report_and_notify(switch: SwitchFactory) -> None:
    ks, repo, seen = switch()
    ks.reduce("earnings tonight", by="bob")
    ks.halt("fat finger on the desk")
    ks.resume("all clear", by="bob")
    assert [s.state for s in repo.writes] == [REDUCING, HALTED, ACTIVE]
    assert [(c.previous, c.state) for c in repo.history()] == [(ACTIVE, REDUCING), (REDUCING, HALTED), (HALTED, ACTIVE)]
    assert [s.state for s in seen.statuses] == [REDUCING, HALTED, ACTIVE]
    assert [(e.rule, e.action, e.limit, e.actual) for e in seen.events] == [
        ("kill_switch", "reducing", "ACTIVE", "REDUCING"),
        ("kill_switch", "halted", "REDUCING", "HALTED"),
        ("kill_switch", "resumed", "HALTED", "ACTIVE"),
    ]
    assert seen.events[1].message == "kill_switch: REDUCING -> HALTED by user: fat finger on the desk"
    assert seen.events[0].ts == T0
    assert seen.events[0].client_order_id is None
    assert ks.status == KillSwitchStatus(ACTIVE, "all clear", "bob", T0)


def test_listeners_can_be_removed_and_may_fail(switch: SwitchFactory) -> None:
    ks, _, seen = switch()

    def broken(status: KillSwitchStatus) -> None:
        raise RuntimeError("listener down")

    ks.add_listener(broken)
    remove = ks.add_listener(seen.statuses.append)
    ks.halt("test")
    remove()
    remove()  # twice is harmless
    ks.resume("test")
    assert [s.state for s in seen.statuses] == [HALTED, HALTED, ACTIVE]  # the first listener from switch() stays


def test_a_change_needs_a_reason_and_an_aware_time(switch: SwitchFactory) -> None:
    ks, repo, _ = switch()
    with pytest.raises(ValidationError, match="needs a reason"):
        ks.halt("  ")
    with pytest.raises(ValidationError, match="timezone-aware"):
        ks.halt("x", ts=datetime(2025, 1, 1))
    assert ks.state is ACTIVE
    assert repo.writes == []


def test_an_escalation_holds_in_memory_when_the_database_fails(switch: SwitchFactory) -> None:
    ks, repo, seen = switch()
    repo.fail = True
    with pytest.raises(OSError, match="database is down"):
        ks.halt("broker went mad")
    assert ks.state is HALTED
    assert [s.state for s in seen.statuses] == [HALTED]
    with pytest.raises(OSError, match="database is down"):
        ks.resume("too early")
    assert ks.state is HALTED  # a resume only counts once stored
    repo.fail = False
    ks.resume("database back")
    assert ks.state is ACTIVE


def test_refresh_sees_a_change_made_elsewhere(switch: SwitchFactory) -> None:
    ks, repo, seen = switch()
    repo.inner.set(HALTED, "halted from the CLI", T0, changed_by="carol")  # by another process
    assert ks.state is ACTIVE
    assert ks.refresh().state is HALTED
    assert ks.state is HALTED
    assert [s.state for s in seen.statuses] == [HALTED]
    ks.refresh()
    assert len(seen.statuses) == 1


# --- daily loss and drawdown ---------------------------------------------------------------------------------------


def test_daily_loss_limit_halts_at_the_limit(switch: SwitchFactory) -> None:
    ks, _, seen = switch()
    ks.on_equity(T0, D("98000.01"), day_start=D(100_000), peak=D(100_000))
    assert ks.state is ACTIVE
    ks.on_equity(T0, D(98_000), day_start=D(100_000), peak=D(100_000))
    assert ks.state is HALTED
    event = seen.events[-1]
    assert (event.rule, event.action, event.limit, event.actual) == ("daily_loss_limit", "halted", "2%", "2%")
    assert event.message == "daily_loss_limit: day's loss 2% (from 100,000.00 to 98,000.00) reached the limit 2%"
    assert ks.status.changed_by == "risk"


def test_max_drawdown_halts_from_the_peak(switch: SwitchFactory) -> None:
    ks, _, seen = switch()
    ks.on_equity(T0, D(89_000), day_start=D(89_500), peak=D(100_000))
    assert ks.state is HALTED
    assert (seen.events[-1].rule, seen.events[-1].actual) == ("max_drawdown", "11%")
    assert seen.events[-1].message.startswith("max_drawdown: drawdown from the peak 11% (from 100,000.00 to 89,000.00)")


def test_equity_triggers_respect_disabled_rules(switch: SwitchFactory) -> None:
    ks, _, _ = switch(disabled_rules=["daily_loss_limit", "max_drawdown"])
    ks.on_equity(T0, D(50_000), day_start=D(100_000), peak=D(100_000))
    assert ks.state is ACTIVE
    off, _, _ = switch(enabled=False)
    off.on_equity(T0, D(50_000), day_start=D(100_000), peak=D(100_000))
    assert off.state is ACTIVE


def test_triggers_only_escalate_and_never_resume(switch: SwitchFactory) -> None:
    ks, repo, _ = switch()
    ks.on_equity(T0, D(90_000), day_start=D(100_000), peak=D(100_000))
    writes = len(repo.writes)
    ks.on_equity(T0, D(80_000), day_start=D(100_000), peak=D(100_000))  # already halted: no new write
    ks.on_equity(T0, D(120_000), day_start=D(100_000), peak=D(100_000))  # recovery does not resume
    ks.on_returns([-0.01, -0.02, 0.001] * 10)  # PSR would ask for REDUCING, below HALTED
    assert ks.state is HALTED
    assert len(repo.writes) == writes


# --- PSR -----------------------------------------------------------------------------------------------------------


LOSING = [-0.01, 0.004, -0.006, 0.002, -0.008] * 6  # mean -0.0036, clearly below a zero Sharpe ratio


def test_a_falling_psr_moves_to_the_configured_state(switch: SwitchFactory) -> None:
    ks, _, seen = switch()
    assert ks.on_returns(LOSING[:19]) is None  # fewer than psr_min_observations (20)
    assert ks.state is ACTIVE
    psr = ks.on_returns(LOSING)
    assert psr is not None
    assert psr < 0.05
    assert ks.last_psr == psr
    assert ks.state is REDUCING
    event = seen.events[-1]
    assert (event.rule, event.action, event.limit, event.actual) == ("psr", "reducing", "0.05", f"{psr:.3f}")
    assert event.message.startswith(f"psr: probabilistic Sharpe ratio {psr:.3f} over 30 returns")
    halting, _, _ = switch(psr_action="halted")
    halting.on_returns(LOSING)
    assert halting.state is HALTED


def test_a_healthy_psr_or_the_rule_off_keeps_trading(switch: SwitchFactory) -> None:
    ks, _, _ = switch()
    winning = [-x for x in LOSING]
    assert (ks.on_returns(winning) or 0) > 0.95
    assert ks.state is ACTIVE
    off, _, _ = switch(disabled_rules=["psr"])
    assert off.on_returns(LOSING) is None
    assert off.state is ACTIVE
    flat, _, _ = switch()
    assert flat.on_returns([0.0] * 30) is None
    assert flat.state is ACTIVE


# --- disconnects ---------------------------------------------------------------------------------------------------


def report(state: ConnectionState, seconds: float, code: int | None = None) -> ConnectionReport:
    return ConnectionReport(
        state=state, ts=T0 + timedelta(seconds=seconds), code=code, message="Connectivity between IB and TWS lost"
    )


def test_a_long_disconnect_halts_and_says_how_long(switch: SwitchFactory) -> None:
    ks, _, seen = switch()
    ks.on_connection(report(ConnectionState.DISCONNECTED, 0, 1100))
    assert ks.disconnected_since == T0
    assert seen.events[-1].action == "warned"
    assert seen.events[-1].rule == "disconnect"
    ks.on_connection(report(ConnectionState.RECONNECTING, 30))  # still the same disconnect
    assert ks.disconnected_since == T0
    ks.check_disconnect(T0 + timedelta(seconds=60))  # exactly the limit: not longer
    assert ks.state is ACTIVE
    ks.check_disconnect(T0 + timedelta(seconds=75))
    assert ks.state is HALTED
    event = seen.events[-1]
    assert (event.rule, event.action, event.limit, event.actual) == ("disconnect", "halted", "60s", "75s")
    assert event.message == (
        "disconnect: broker disconnected for 75s (since 2025-03-03 15:00:00 UTC), longer than the limit 60s"
    )
    ks.on_connection(report(ConnectionState.CONNECTED, 80, 1102))
    assert ks.disconnected_since is None
    assert ks.state is HALTED


def test_a_short_disconnect_does_not_halt_but_a_long_unpolled_one_does(switch: SwitchFactory) -> None:
    ks, _, seen = switch()
    ks.on_connection(report(ConnectionState.CONNECTING, 0))
    assert ks.disconnected_since is None  # connecting for the first time is no disconnect
    ks.on_connection(report(ConnectionState.DISCONNECTED, 0))
    ks.on_connection(report(ConnectionState.CONNECTED, 20))
    assert ks.state is ACTIVE
    assert seen.events[-1].message == "disconnect: broker reconnected after 20s"
    ks.on_connection(report(ConnectionState.DISCONNECTED, 100))
    ks.on_connection(report(ConnectionState.CONNECTED, 200))  # nobody polled check_disconnect in between
    assert ks.state is HALTED


def test_disconnect_rule_off_never_halts_nor_warns(switch: SwitchFactory) -> None:
    ks, _, seen = switch(disabled_rules=["disconnect"], disconnect_halt_seconds=5)
    ks.on_connection(report(ConnectionState.DISCONNECTED, 0))
    ks.check_disconnect(T0 + timedelta(hours=1))
    ks.on_connection(report(ConnectionState.CONNECTED, 7200))
    assert ks.state is ACTIVE
    assert seen.events == []
