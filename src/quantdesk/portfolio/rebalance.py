"""Rebalancing: holdings, prices and target weights → a ``RebalancePlan`` of lot-sized trades, and a plan → orders.

The rules, in the order they apply (``plan_rebalance``):

* **Portfolio value** ``PV`` = cash + Σ quantity × price × multiplier of the holdings, at the plan's prices. Weights
  (current, target, reached) are fractions of ``PV``; the max position size is a fraction of ``PV`` (net liquidation
  of the rebalanced book). ``PV`` must be positive.
* **Cash buffer** ``b``: weights apply to ``PV × (1 − b)``, and buys may not dig into the reserve ``b × PV``.
  The ideal quantity of a symbol is ``w × PV × (1 − b) / (price × multiplier)``.
* **Lots**: the trade (ideal − current) is rounded to the nearest lot, half to even. The lot is the instrument's
  ``lot_size``, or its fractional step when ``fractional=True`` *and* the instrument allows fractions; otherwise
  whole shares. When the nearest feasible quantity misses the weight by more than 10 % of it (1 % of a small account
  in a $500 stock), the line gets a note. An odd-lot holding whose rounded trade would cross zero is closed.
  Symbols with a zero weight and no holding are left out of the plan.
* **Bands**: no trade while the drift ``|current weight − w × (1 − b)|`` stays *under* ``band``; ``band_mode``
  ``"absolute"`` reads ``band`` in weight units (0.01 = one percentage point), ``"relative"`` as a fraction of
  the target weight (0.2 = within ±20 % of it). A holding whose target is zero (or absent) is always closed:
  bands and the minimum trade value only damp re-sizing, they never keep a position the target dropped.
* **Minimum trade value**: a re-sizing trade whose notional is under ``min_trade_value`` is skipped.
* **Max position size**: no target quantity is worth more than ``max_position_pct × PV`` at the plan's prices (for
  a buy, at the plan price plus ``buy_price_allowance``, where its limit sits); a held position above the cap is
  trimmed to it, even inside a band.
* **Max order notional**: no single trade is worth more than ``max_order_notional`` (the risk engine's limit); a
  larger one is trimmed, with a note, and the next run does the rest.
* **Short selling**: when off, a negative target weight or a trade that would leave a position below zero raises
  ``RiskRejected`` naming the symbol and the rule (``short_selling``); an existing short is covered, never kept.
* **Cash**: sells run first. Buys may spend ``cash + sell proceeds − sell commissions − reserve``, each buy costed
  at ``notional × (1 + buy_price_allowance) + commission`` (the allowance covers the limit offset above the plan
  price). When the buys cost more, every buy is scaled down by one factor and floored to lots, then lots are added
  back one at a time, largest shortfall first, while the cash lasts; each cut buy gets a note. With no cash to spend,
  no buy is made.
* **Commission**: estimated per trade with a ``FeeModel`` (default ``IbFixed``: IB's fixed schedule, with the SEC
  and FINRA pass-throughs on sales).

``plan_to_orders`` turns a plan into domain orders in execution order (sells first) following the config's order
settings: LIMIT at the plan price × (1 ± ``limit_offset_pct``), rounded to the tick in the conservative direction
(a buy down, a sell up, so no limit is worse than price ± offset), the configured TIF and outside-RTH flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Instrument, Stock
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import RebalancePlan, RebalanceTrade, TargetWeights
from quantdesk.domain.values import ZERO, Numeric, to_decimal
from quantdesk.errors import DataError, RiskRejected, ValidationError
from quantdesk.portfolio.holdings import (
    Holdings,
    load_holdings_file,
    quotes_from_broker,
    snapshot_from_broker,
    symbol_of,
)
from quantdesk.portfolio.rebalance_settings import BandMode, PlanLine, RebalanceResult, RebalanceSettings

if TYPE_CHECKING:
    from quantdesk.config import OrderSettings

__all__ = [
    "BandMode",
    "Holdings",
    "PlanLine",
    "RebalanceResult",
    "RebalanceSettings",
    "load_holdings_file",
    "plan_rebalance",
    "plan_to_orders",
    "quotes_from_broker",
    "snapshot_from_broker",
    "symbol_of",
]

_ONE = Decimal(1)
_ROUNDING_NOTE = Decimal("0.10")


def _pct(x: Decimal) -> str:
    return f"{x * 100:.2f} %"


def _lots(x: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (x / step).to_integral_value(rounding=rounding) * step


@dataclass(slots=True)
class _Work:
    """A line while the plan is being built."""

    symbol: str
    instrument: Instrument
    price: Decimal
    unit: Decimal  # price × multiplier
    current: Decimal
    weight: Decimal
    ideal: Decimal
    step: Decimal
    target: Decimal
    notes: list[str]

    @property
    def delta(self) -> Decimal:
        return self.target - self.current


def _step(instrument: Instrument, fractional: bool) -> Decimal:
    if fractional and instrument.allows_fractional:
        return instrument.lot_size
    return instrument.lot_size if instrument.lot_size >= _ONE else _ONE


def _commission(s: RebalanceSettings, w: _Work, delta: Decimal) -> Decimal:
    if delta == 0:
        return ZERO
    side = OrderSide.BUY if delta > 0 else OrderSide.SELL
    return s.fee_model.commission(w.instrument, side, abs(delta), w.price).amount


def _refuse_short(symbol: str, what: str) -> RiskRejected:
    return RiskRejected(
        f"{symbol}: {what}, and short selling is off",
        field="short_selling",
        value=symbol,
        hint=f"remove the short on {symbol}, or set risk.allow_short_selling = true",
    )


def _desired(w: _Work, s: RebalanceSettings, pv: Decimal) -> None:
    """Set ``w.target`` from the ideal quantity: closing, bands, lots, minimum trade value, max position."""
    if w.weight == 0:
        if w.current == 0:
            return
        w.target = ZERO
        w.notes.append("closed: the target weight is zero")
        return
    eff = w.weight * (_ONE - s.cash_buffer)
    current_weight = w.current * w.unit / pv
    drift = abs(current_weight - eff)
    limit = s.band if s.band_mode == "absolute" else s.band * abs(eff)
    covering = w.current < 0 and not s.allow_short_selling
    if drift < limit and not covering:
        w.notes.append(f"within the band: drift {_pct(drift)} < {_pct(limit)}")
        return
    w.target = w.current + _lots(w.ideal - w.current, w.step, ROUND_HALF_EVEN)
    if w.target * w.ideal < 0:  # an odd-lot holding rounded across zero: close it instead
        w.target = ZERO
    reached = w.target * w.unit / pv
    if eff != 0 and abs(reached - eff) > _ROUNDING_NOTE * abs(eff):
        w.notes.append(
            f"nearest feasible quantity {w.target} (ideal {w.ideal:.4f}): one lot of {w.step} is "
            f"{_pct(w.step * w.unit / pv)} of the portfolio, so {_pct(reached)} instead of {_pct(eff)}"
        )
    notional = abs(w.delta) * w.unit
    if w.delta != 0 and notional < s.min_trade_value:
        w.notes.append(f"skipped: trade of {notional:,.2f} is below the minimum trade value {s.min_trade_value:,.2f}")
        w.target = w.current


def _cap(w: _Work, s: RebalanceSettings, pv: Decimal) -> None:
    """Keep the target within the max position size (trimming a held position when needed)."""
    if s.max_position_pct is None or w.target == 0:
        return
    cap_value = s.max_position_pct * pv
    # A buy is sent as a limit above the plan price: the risk engine values it there, so the cap does too.
    unit = w.unit * (_ONE + s.buy_price_allowance) if w.target > w.current else w.unit
    if abs(w.target) * unit <= cap_value:
        return
    cap_qty = cap_value / unit
    if w.target > 0:
        w.target = max(w.current + _lots(cap_qty - w.current, w.step, ROUND_FLOOR), ZERO)
    else:
        w.target = min(w.current + _lots(-cap_qty - w.current, w.step, ROUND_CEILING), ZERO)
    w.notes.append(f"capped at the max position size {_pct(s.max_position_pct)} of {pv:,.2f} ({cap_value:,.2f})")


def _order_cap(w: _Work, s: RebalanceSettings) -> None:
    """Keep one trade within the max order notional (at the limit price for buys); the rest waits for a next run."""
    if s.max_order_notional is None or w.delta == 0:
        return
    unit = w.unit * (_ONE + s.buy_price_allowance) if w.delta > 0 else w.unit
    if abs(w.delta) * unit <= s.max_order_notional:
        return
    size = _lots(s.max_order_notional / unit, w.step, ROUND_FLOOR)
    w.target = w.current + (size if w.delta > 0 else -size)
    w.notes.append(
        f"trimmed to the max order notional {s.max_order_notional:,.2f}: run the rebalance again for the rest"
    )


def _buy_cost(s: RebalanceSettings, w: _Work, delta: Decimal) -> Decimal:
    """Cash one buy of ``delta`` needs: notional with the price allowance, plus commission."""
    if delta <= 0:
        return ZERO
    return delta * w.unit * (_ONE + s.buy_price_allowance) + _commission(s, w, delta)


def _fit_buys(buys: list[_Work], s: RebalanceSettings, budget: Decimal) -> str | None:
    """Cut the buys to ``budget`` (scale, floor to lots, add lots back largest shortfall first); a warning if cut."""
    wanted = {w.symbol: w.delta for w in buys}
    need = sum((_buy_cost(s, w, w.delta) for w in buys), ZERO)
    if not buys or need <= budget:
        return None
    available = max(budget, ZERO)
    factor = available / need
    cost = need
    for _ in range(100):
        if factor <= 0:
            break
        for w in buys:
            w.target = w.current + _lots(wanted[w.symbol] * factor, w.step, ROUND_FLOOR)
        cost = sum((_buy_cost(s, w, w.delta) for w in buys), ZERO)
        if cost <= budget:
            break
        factor *= min(Decimal("0.999"), budget / cost)
    if factor <= 0 or cost > budget:
        for w in buys:
            w.target = w.current
        cost = ZERO
    costs = {w.symbol: _buy_cost(s, w, w.delta) for w in buys}
    for _ in range(10):  # add lots back while the cash lasts, largest shortfall first
        added = False
        for w in sorted(buys, key=lambda b: (wanted[b.symbol] - b.delta) * b.unit, reverse=True):
            bigger = w.delta + w.step
            if bigger > wanted[w.symbol]:
                continue
            new_cost = _buy_cost(s, w, bigger)
            if cost - costs[w.symbol] + new_cost <= budget:
                cost += new_cost - costs[w.symbol]
                costs[w.symbol] = new_cost
                w.target += w.step
                added = True
        if not added:
            break
    for w in buys:
        if w.delta < wanted[w.symbol]:
            w.notes.append(
                f"cut from {wanted[w.symbol]} to {w.delta}: buys need {need:,.2f} but {available:,.2f} is "
                "available after sells, commissions and the cash reserve"
            )
    allowance = f" and the {_pct(s.buy_price_allowance)} limit-price allowance" if s.buy_price_allowance else ""
    return (
        f"cash short: buys cut to fit the {available:,.2f} available; they needed {need:,.2f} "
        f"(commissions{allowance} included)"
    )


def plan_rebalance(
    holdings: Holdings,
    prices: Mapping[str, Numeric],
    target: TargetWeights,
    settings: RebalanceSettings | None = None,
    *,
    instruments: Mapping[str, Instrument] | None = None,
    ts: datetime | None = None,
) -> RebalanceResult:
    """Build the plan that moves ``holdings`` towards ``target`` at ``prices`` (rules in the module docstring)."""
    s = settings or RebalanceSettings()
    weights: dict[str, Decimal] = {}
    for key, wt in target.items():
        sym = symbol_of(key)
        if wt < 0 and not s.allow_short_selling:
            raise _refuse_short(sym, f"target weight {wt} is a short")
        weights[sym] = weights.get(sym, ZERO) + wt
    symbols = [s for s in dict.fromkeys([*weights, *holdings.positions]) if weights.get(s) or s in holdings.positions]
    known = {**holdings.instruments, **(instruments or {})}
    work: list[_Work] = []
    for sym in symbols:
        raw = prices.get(sym, holdings.marks.get(sym))
        if raw is None:
            raise DataError(
                f"no price for {sym}", field=f"prices[{sym}]", value=None, hint=f"give a price (or quote) for {sym}"
            )
        price = to_decimal(raw, f"prices[{sym}]")
        if price <= 0:
            raise DataError(f"price {price} of {sym} is not positive", field=f"prices[{sym}]", value=price)
        inst = known.get(sym) or Stock(sym, currency=holdings.currency)
        if inst.currency != holdings.currency:
            raise ValidationError(
                f"{sym} trades in {inst.currency}, the account in {holdings.currency}",
                field=f"instruments[{sym}]",
                value=inst.currency.code,
                hint="rebalance one currency at a time",
            )
        step = _step(inst, s.fractional)
        current = holdings.positions.get(sym, ZERO)
        w = _Work(sym, inst, price, price * inst.multiplier, current, weights.get(sym, ZERO), ZERO, step, current, [])
        work.append(w)
    pv = holdings.cash + sum((w.current * w.unit for w in work), ZERO)
    if pv <= 0:
        raise ValidationError(
            f"portfolio value {pv:,.2f} (cash + holdings at the plan's prices) is not positive",
            field="portfolio_value",
            value=pv,
            hint="deposit cash or check the positions and prices",
        )
    investable = pv * (_ONE - s.cash_buffer)
    for w in work:
        w.ideal = w.weight * investable / w.unit
        _desired(w, s, pv)
        _cap(w, s, pv)
        _order_cap(w, s)
        if w.target < 0 and not s.allow_short_selling:
            raise _refuse_short(w.symbol, f"the plan would sell {w.symbol} below zero (to {w.target})")
    reserve = pv * s.cash_buffer
    sells = [w for w in work if w.delta < 0]
    budget = holdings.cash - reserve
    budget += sum((-w.delta * w.unit - _commission(s, w, w.delta) for w in sells), ZERO)
    warnings = list(holdings.excluded)
    cut = _fit_buys([w for w in work if w.delta > 0], s, budget)
    if cut:
        warnings.append(cut)
    return _result(holdings, work, s, pv, reserve, warnings, ts)


def _result(
    holdings: Holdings,
    work: list[_Work],
    s: RebalanceSettings,
    pv: Decimal,
    reserve: Decimal,
    warnings: list[str],
    ts: datetime | None,
) -> RebalanceResult:
    lines, trades = [], []
    for w in work:
        fee = _commission(s, w, w.delta)
        reached = w.target * w.unit / pv
        if w.delta != 0:
            trade = RebalanceTrade(
                w.symbol, w.current, w.current * w.unit / pv, w.target, reached, w.price, w.instrument.multiplier, fee
            )
            trades.append(trade)
        line = PlanLine(
            w.symbol,
            w.price,
            w.current,
            w.current * w.unit / pv,
            w.weight,
            w.ideal,
            w.target,
            reached,
            w.step,
            fee,
            tuple(w.notes),
        )
        lines.append(line)
    plan = RebalancePlan(
        ts or holdings.ts or datetime.now(UTC), tuple(trades), pv, holdings.cash, holdings.currency, holdings.account
    )
    return RebalanceResult(plan, tuple(lines), reserve, tuple(warnings))


def plan_to_orders(
    plan: RebalancePlan,
    order_settings: OrderSettings,
    instruments: Mapping[str, Instrument] | None = None,
) -> list[Order]:
    """Domain orders for ``plan`` in execution order (sells first), following the config's order settings."""
    offset = Decimal(repr(order_settings.limit_offset_pct))
    tif = TimeInForce.parse(order_settings.tif)
    orders = []
    for trade in plan.orders_in_execution_order:
        sym = symbol_of(trade.instrument)
        inst = (instruments or {}).get(sym) or Stock(sym, currency=plan.currency)
        common: dict[str, Any] = {
            "tif": tif,
            "outside_rth": order_settings.outside_rth,
            "account": plan.account,
            "client_order_id": ClientOrderId.new("rb"),
        }
        if order_settings.default_type == "MARKET":
            orders.append(Order.market(inst, trade.side, trade.quantity, **common))
            continue
        if trade.side is OrderSide.BUY:
            limit = inst.round_to_tick(trade.price * (_ONE + offset), ROUND_FLOOR)
        else:
            limit = inst.round_to_tick(trade.price * (_ONE - offset), ROUND_CEILING)
        orders.append(Order.limit(inst, trade.side, trade.quantity, max(limit, inst.tick_size), **common))
    return orders
