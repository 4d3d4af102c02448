"""The rebalance use case: plan the trades that move an account to target weights, confirm, execute.

One function for every shell (``quantdesk rebalance``, ``quantdesk demo``, the API): a dry run plans from the
broker's holdings and sends nothing; an execution opens a trading session first (it reconciles), counts the
orders still working from an earlier run as if filled, plans, asks the shell's ``confirm`` callback before a live
send, and sends the plan through the OMS and its risk engine. The shell shows the plan through ``on_plan`` and
wraps the sending in ``sending`` (a status line); it never decides the live policy (:mod:`.live_policy`) or the
order of the steps. What came of the run is a :class:`RebalanceRun`; its execution's ``outcome`` is what a shell
maps to its own signals (the CLI's exit codes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal

from quantdesk.brokers.base import Broker, PositionReport
from quantdesk.config import Mode, Settings
from quantdesk.domain.targets import RebalancePlan, TargetWeights
from quantdesk.domain.values import Numeric
from quantdesk.portfolio.rebalance import RebalanceResult
from quantdesk.services.execution import ExecutionProgress, ExecutionResult, execute_plan
from quantdesk.services.live_policy import trading_mode
from quantdesk.services.portfolio import RebalanceOptions, plan_from_broker

__all__ = ["ConfirmLive", "PlanShown", "RebalanceRun", "Sending", "rebalance"]

ConfirmLive = Callable[[RebalancePlan], Awaitable[bool]]
"""Asked before a plan goes to a live account; True sends it (the CLI's prompt, an API's explicit flag)."""
PlanShown = Callable[[RebalanceResult, Mapping[str, Decimal]], None]
"""Called with the plan and the working quantities it counted, before anything is confirmed or sent."""
Sending = Callable[[RebalancePlan, ExecutionProgress], AbstractAsyncContextManager[None]]
"""Entered while the plan's orders go out and fill (the CLI's status line)."""


@dataclass(frozen=True, slots=True)
class RebalanceRun:
    """What a rebalance did: its plan, the working quantities counted, and (when executed) what came of it.

    ``execution`` is None for a dry run and when the live confirmation was declined; for a plan without trades it
    is an empty result (``on_target``). ``positions_after`` are the account's positions once the run ended.
    """

    mode: Mode
    planned: RebalanceResult
    executed: bool
    pending: dict[str, Decimal] = field(default_factory=dict)
    execution: ExecutionResult | None = None
    declined: bool = False
    positions_after: list[PositionReport] | None = None

    @property
    def plan(self) -> RebalancePlan:
        """The plan's trades and totals."""
        return self.planned.plan

    @property
    def on_target(self) -> bool:
        """True when an execution found nothing to trade."""
        return self.executed and not self.declined and not self.plan.trades


async def rebalance(
    broker: Broker,
    settings: Settings,
    target: TargetWeights,
    *,
    execute: bool = False,
    live: bool = False,
    account: str | None = None,
    options: RebalanceOptions | None = None,
    fallback_prices: Mapping[str, Numeric] | None = None,
    timeout: float = 120.0,
    confirm: ConfirmLive | None = None,
    on_plan: PlanShown | None = None,
    sending: Sending | None = None,
    progress: ExecutionProgress | None = None,
) -> RebalanceRun:
    """Plan the move of ``account`` at ``broker`` to ``target``; with ``execute``, confirm and send it.

    Paper unless the config is live, confirmed, *and* ``live`` (:func:`.live_policy.trading_mode` raises
    otherwise, before anything is planned); a live plan is sent only when ``confirm`` answers True (no callback:
    declined). The orders go through a trading session's OMS: pre-trade risk, a durable intent, then the broker,
    sells first (see :func:`.execution.execute_plan`); ``progress`` is filled in as the run goes, for a status line
    and for a report after an interrupt.
    """
    if not execute:
        result = await plan_from_broker(
            target, broker, settings, account=account, options=options, fallback_prices=fallback_prices
        )
        if on_plan is not None:
            on_plan(result, {})
        return RebalanceRun(settings.mode, result, executed=False)
    mode = trading_mode(settings, live=live)
    from quantdesk.services.trading import trading_session

    async with trading_session(settings, broker, account=account, mode=mode) as session:  # reconciles first
        pending = session.pending_by_symbol()
        result = await plan_from_broker(
            target,
            broker,
            settings,
            account=account,
            options=options,
            fallback_prices=fallback_prices,
            pending=pending,
        )
        if on_plan is not None:
            on_plan(result, pending)
        plan = result.plan
        if not plan.trades:
            done = ExecutionResult(mode, [])
        elif mode == "live" and (confirm is None or not await confirm(plan)):
            return RebalanceRun(mode, result, executed=True, pending=pending, declined=True)
        else:
            progress = progress if progress is not None else ExecutionProgress()
            status = sending(plan, progress) if sending is not None else contextlib.nullcontext()
            async with status:
                done = await execute_plan(
                    plan, broker, settings, confirm_live=live, timeout=timeout, session=session, progress=progress
                )
    held = await broker.positions(plan.account)
    return RebalanceRun(mode, result, True, pending, done, positions_after=held)
