"""The kill switch: a persisted trading state ACTIVE / REDUCING / HALTED, moved by hand or by automatic triggers.

The state lives in a ``KillSwitchStore`` (``risk.stores``: the database for paper and live, so it survives restarts;
memory for a backtest): a new ``KillSwitch`` reads it at construction, and ``refresh`` re-reads it (another process,
such as the CLI, may have changed it). Manual moves go anywhere; automatic triggers only escalate (ACTIVE →
REDUCING → HALTED) and never resume:

* ``daily_loss_limit``: the loss since the day's start reaches ``risk.daily_loss_limit_pct`` → HALTED;
* ``max_drawdown``: the drawdown from the peak reaches ``risk.max_drawdown_pct`` → HALTED;
* ``psr``: the probabilistic Sharpe ratio of the returns falls below ``risk.psr_floor`` → ``risk.psr_action``;
* ``disconnect``: the broker has been disconnected longer than ``risk.disconnect_halt_seconds`` → HALTED.

An escalation takes effect in memory before it is written, so a failing database never keeps us trading (the
error is raised after listeners were told); a resume is written first and only then takes effect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from quantdesk.brokers.base import ConnectionReport, ConnectionState
from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.market import require_utc
from quantdesk.domain.trading_state import KillSwitchStatus, TradingState, change_reason
from quantdesk.risk._text import percent, seconds
from quantdesk.risk.events import RiskAction, RiskEvent, RiskEventListener
from quantdesk.risk.limits import to_decimal
from quantdesk.risk.psr import psr_from_returns
from quantdesk.risk.stores import KillSwitchStore

__all__ = ["KillSwitch", "StatusListener"]

log = logging.getLogger(__name__)

StatusListener = Callable[[KillSwitchStatus], None]

_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_ACTION: dict[TradingState, RiskAction] = {
    TradingState.ACTIVE: "resumed",
    TradingState.REDUCING: "reducing",
    TradingState.HALTED: "halted",
}
_DOWN = (ConnectionState.DISCONNECTED, ConnectionState.RECONNECTING)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KillSwitch:
    """The trading state with its triggers; ``state`` is what the OMS puts in every ``RiskContext``."""

    def __init__(
        self,
        repository: KillSwitchStore,
        settings: RiskSettings,
        *,
        on_event: RiskEventListener | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._repo = repository
        self._settings = settings
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[StatusListener] = []
        self._status = repository.get()
        self._down_since: datetime | None = None
        self._last_psr: float | None = None

    # --- reading -------------------------------------------------------------------------------------------------

    @property
    def status(self) -> KillSwitchStatus:
        """The current state with its reason, author and time."""
        return self._status

    @property
    def state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self._status.state

    @property
    def disconnected_since(self) -> datetime | None:
        """When the current broker disconnect began, or None while connected."""
        return self._down_since

    @property
    def last_psr(self) -> float | None:
        """The PSR computed by the last ``on_returns`` call, or None."""
        return self._last_psr

    def refresh(self) -> KillSwitchStatus:
        """Re-read the stored state (another process may have moved it); listeners hear of a change."""
        stored = self._repo.get()
        with self._lock:
            changed = stored != self._status
            self._status = stored
        if changed:
            self._notify(stored)
        return stored

    def add_listener(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` with the new status after every change; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                for i, registered in enumerate(self._listeners):
                    if registered is listener:
                        del self._listeners[i]
                        return

        return remove

    # --- by hand -------------------------------------------------------------------------------------------------

    def halt(self, reason: str, by: str = "user", *, ts: datetime | None = None) -> KillSwitchStatus:
        """Stop all new orders."""
        return self._move(TradingState.HALTED, reason, by, ts, "kill_switch")

    def reduce(self, reason: str, by: str = "user", *, ts: datetime | None = None) -> KillSwitchStatus:
        """Accept only orders that reduce a position."""
        return self._move(TradingState.REDUCING, reason, by, ts, "kill_switch")

    def resume(self, reason: str, by: str = "user", *, ts: datetime | None = None) -> KillSwitchStatus:
        """Trade normally again."""
        return self._move(TradingState.ACTIVE, reason, by, ts, "kill_switch")

    # --- automatic triggers --------------------------------------------------------------------------------------

    def on_equity(
        self, ts: datetime, net_liquidation: Decimal, *, day_start: Decimal, peak: Decimal
    ) -> KillSwitchStatus:
        """HALT when the loss since ``day_start`` or the drawdown from ``peak`` reaches its limit."""
        nlv = Decimal(net_liquidation)
        checks = (
            ("daily_loss_limit", "day's loss", Decimal(day_start), self._settings.daily_loss_limit_pct),
            ("max_drawdown", "drawdown from the peak", Decimal(peak), self._settings.max_drawdown_pct),
        )
        for rule, what, base, limit_pct in checks:
            if not self._settings.rule_enabled(rule) or not base.is_finite() or base <= 0 or not nlv.is_finite():
                continue
            loss, limit = (base - nlv) / base, to_decimal(limit_pct)
            if loss >= limit:
                message = (
                    f"{rule}: {what} {percent(loss)} (from {base:,.2f} to {nlv:,.2f}) reached the limit "
                    f"{percent(limit)}"
                )
                self._escalate(TradingState.HALTED, message, rule, ts, percent(limit), percent(loss))
        return self._status

    def on_returns(self, returns: Sequence[float], *, ts: datetime | None = None) -> float | None:
        """Compute the PSR of ``returns`` and move to ``risk.psr_action`` when it is below ``risk.psr_floor``.

        Returns the PSR, or None when the rule is off, there are fewer than ``risk.psr_min_observations`` returns,
        or the PSR is undefined (returns all zero).
        """
        s = self._settings
        if not s.rule_enabled("psr") or len(returns) < s.psr_min_observations:
            return None
        value = psr_from_returns(returns, s.psr_benchmark_sharpe)
        self._last_psr = value
        if value is not None and value < s.psr_floor:
            target = TradingState.HALTED if s.psr_action == "halted" else TradingState.REDUCING
            message = (
                f"psr: probabilistic Sharpe ratio {value:.3f} over {len(returns)} returns (benchmark Sharpe "
                f"{s.psr_benchmark_sharpe:g}) is below the floor {s.psr_floor:g}"
            )
            self._escalate(target, message, "psr", ts, f"{s.psr_floor:g}", f"{value:.3f}")
        return value

    def on_connection(self, report: ConnectionReport) -> KillSwitchStatus:
        """Track broker disconnects: a drop starts the clock, a reconnect stops it (halting if it lasted too long)."""
        watching = self._settings.rule_enabled("disconnect")
        if report.state in _DOWN:
            if self._down_since is None:
                self._down_since = report.ts
                if not watching:
                    return self._status
                limit = seconds(self._settings.disconnect_halt_seconds)
                self._emit(
                    report.ts,
                    "disconnect",
                    "warned",
                    f"disconnect: broker connection {report.state.value} ({report.code or '-'} {report.message})"
                    f"; trading halts if it lasts longer than {limit}",
                    limit,
                    "0s",
                )
            return self.check_disconnect(report.ts)
        if report.state is ConnectionState.CONNECTED and self._down_since is not None:
            status = self.check_disconnect(report.ts)
            lasted = seconds((report.ts - self._down_since).total_seconds())
            self._down_since = None
            if watching:
                message = f"disconnect: broker reconnected after {lasted}"
                self._emit(report.ts, "disconnect", "warned", message, None, lasted)
            return status
        return self._status

    def check_disconnect(self, now: datetime) -> KillSwitchStatus:
        """HALT once the current disconnect has lasted longer than ``risk.disconnect_halt_seconds``."""
        since = self._down_since
        if since is None or not self._settings.rule_enabled("disconnect"):
            return self._status
        lasted = (require_utc(now, "now") - since).total_seconds()
        limit = self._settings.disconnect_halt_seconds
        if lasted > limit:
            message = (
                f"disconnect: broker disconnected for {seconds(lasted)} (since {since:%Y-%m-%d %H:%M:%S} UTC), "
                f"longer than the limit {seconds(limit)}"
            )
            self._escalate(TradingState.HALTED, message, "disconnect", now, seconds(limit), seconds(lasted))
        return self._status

    # --- internals -----------------------------------------------------------------------------------------------

    def _escalate(
        self, target: TradingState, message: str, rule: str, ts: datetime | None, limit: str, actual: str
    ) -> None:
        if _SEVERITY[target] <= _SEVERITY[self._status.state]:
            return
        log.warning("kill switch -> %s: %s", target.value, message)
        self._move(target, message, "risk", ts, rule, limit, actual)

    def _move(
        self,
        state: TradingState,
        reason: str,
        by: str,
        ts: datetime | None,
        rule: str,
        limit: str | None = None,
        actual: str | None = None,
    ) -> KillSwitchStatus:
        change_reason(reason)
        when = require_utc(ts if ts is not None else self._clock(), "ts")
        with self._lock:
            previous = self._status.state
            if _SEVERITY[state] < _SEVERITY[previous]:
                status = self._repo.set(state, reason, when, changed_by=by)  # de-escalate only once stored
                self._status = status
                error: Exception | None = None
            else:
                status = self._status = KillSwitchStatus(state, reason, by, when)  # escalate at once
                try:
                    self._repo.set(state, reason, when, changed_by=by)
                    error = None
                except Exception as exc:
                    log.exception("could not store the kill-switch state %s; it holds in memory", state.value)
                    error = exc
        text = (
            reason if reason.startswith(f"{rule}:") else f"{rule}: {previous.value} -> {state.value} by {by}: {reason}"
        )
        limit, actual = (previous.value, state.value) if limit is None else (limit, actual)
        self._emit(when, rule, _ACTION[state], text, limit, actual)
        self._notify(status)
        if error is not None:
            raise error
        return status

    def _emit(
        self, ts: datetime, rule: str, action: RiskAction, message: str, limit: str | None, actual: str | None
    ) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(RiskEvent(ts, rule, action, message, None, limit, actual))
        except Exception:
            log.exception("risk event listener failed")

    def _notify(self, status: KillSwitchStatus) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(status)
            except Exception:
                log.exception("kill-switch listener failed")
