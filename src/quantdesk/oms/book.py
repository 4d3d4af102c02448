"""The OMS's running book: positions, working quantities, last prices and account value, kept incrementally.

Pre-trade risk needs these for every order, so they are plain dictionaries updated by fills and order states,
never recomputed from the database or the broker on the order path. ``working`` counts each order's remaining
quantity once: :meth:`Book.set_working` takes an order's new remaining (zero once terminal) and applies the change.

Gross values are in the account's base currency: each instrument's value is converted at the exchange rate of its
currency (from the account summary). An instrument whose currency has no rate is left out of the totals and named in
the risk context, so the exposure rules refuse instead of comparing amounts in different currencies. Until the
base currency is known (a book not yet filled from a broker) amounts are taken as they are, and so is a position
whose currency no report gave (orders, fills and the brokers' position reports all carry it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.risk.context import RiskContext, base_rate

__all__ = ["Book"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(slots=True)
class Book:
    """Signed positions and working quantities per instrument, last prices, net liquidation, today's order count."""

    positions: dict[InstrumentId, Decimal] = field(default_factory=dict)
    working: dict[InstrumentId, Decimal] = field(default_factory=dict)
    last_prices: dict[InstrumentId, Decimal] = field(default_factory=dict)
    multipliers: dict[InstrumentId, Decimal] = field(default_factory=dict)
    average_daily_volume: dict[InstrumentId, Decimal] = field(default_factory=dict)
    net_liquidation: Decimal | None = None
    base_currency: str | None = None
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)
    currencies: dict[InstrumentId, str] = field(default_factory=dict)
    trades_today: int = 0
    day: date | None = None
    _counted: dict[ClientOrderId, tuple[InstrumentId, Decimal]] = field(default_factory=dict)
    # |quantity| × price × multiplier per instrument, and their sums: kept as things change, not summed per order
    _pos_value: dict[InstrumentId, Decimal] = field(default_factory=dict)
    _work_value: dict[InstrumentId, Decimal] = field(default_factory=dict)
    _gross: Decimal = _ZERO
    _working_gross: Decimal = _ZERO
    _unconverted: dict[InstrumentId, str] = field(default_factory=dict)  # held or working, currency without a rate

    def set_positions(self, positions: Mapping[InstrumentId, Decimal]) -> None:
        """Replace the positions (after a broker snapshot)."""
        self.positions = {k: v for k, v in positions.items() if v != 0}
        self._revalue_all()

    def set_exchange_rates(self, base_currency: str, rates: Mapping[str, Decimal]) -> None:
        """Take the account's base currency and its rates (base units per unit); revalue only when they changed."""
        if base_currency != self.base_currency or rates != self.exchange_rates:
            self.base_currency, self.exchange_rates = base_currency, dict(rates)
            self._revalue_all()

    def _revalue_all(self) -> None:
        self._pos_value.clear()
        self._work_value.clear()
        self._unconverted.clear()
        self._gross = self._working_gross = _ZERO
        for iid in self.positions.keys() | self.working.keys():
            self._revalue(iid)

    def set_position(self, instrument_id: InstrumentId, quantity: Decimal) -> None:
        """Set one position (a broker position report)."""
        if quantity == 0:
            self.positions.pop(instrument_id, None)
        else:
            self.positions[instrument_id] = quantity
        self._revalue(instrument_id)

    def set_price(self, instrument_id: InstrumentId, price: Decimal | None) -> None:
        """Remember the last price of an instrument (ignored when None or not positive)."""
        if price is not None and price > 0 and self.last_prices.get(instrument_id) != price:
            self.last_prices[instrument_id] = price
            self._revalue(instrument_id)

    def _revalue(self, iid: InstrumentId) -> None:
        """Refresh one instrument's share of the gross position and working values (in the base currency)."""
        price = self.last_prices.get(iid)
        ccy = self.currencies.get(iid)
        rate = _ONE if ccy is None else base_rate(ccy, self.base_currency, self.exchange_rates)
        self._unconverted.pop(iid, None)
        if rate is None and ccy is not None and (iid in self.positions or iid in self.working):
            self._unconverted[iid] = ccy
        mult = self.multipliers.get(iid, _ONE) * (rate or _ZERO)
        for quantities, values, total in (
            (self.positions, self._pos_value, "_gross"),
            (self.working, self._work_value, "_working_gross"),
        ):
            qty = quantities.get(iid)
            new = abs(qty) * price * mult if qty is not None and price is not None else _ZERO
            old = values.pop(iid, _ZERO)
            if new:
                values[iid] = new
            setattr(self, total, getattr(self, total) + new - old)

    def set_working(self, cid: ClientOrderId, instrument_id: InstrumentId, signed_remaining: Decimal) -> None:
        """Count ``cid``'s signed remaining quantity as working (zero removes it)."""
        previous = self._counted.pop(cid, None)
        if previous is not None:
            iid, qty = previous
            self._add_working(iid, -qty)
        if signed_remaining != 0:
            self._counted[cid] = (instrument_id, signed_remaining)
            self._add_working(instrument_id, signed_remaining)

    def _add_working(self, iid: InstrumentId, qty: Decimal) -> None:
        total = self.working.get(iid, _ZERO) + qty
        if total == 0:
            self.working.pop(iid, None)
        else:
            self.working[iid] = total
        self._revalue(iid)

    @contextmanager
    def assuming(
        self, instrument_id: InstrumentId, position_change: Decimal, without: Iterable[ClientOrderId]
    ) -> Iterator[None]:
        """For the duration: the position moved by ``position_change`` and the orders ``without`` not working.

        Risk checks a bracket's exits as if its entry had filled (they only activate then) and not against their
        OCA siblings (only one of them can execute).
        """
        removed = {cid: self._counted[cid] for cid in without if cid in self._counted}
        for cid, (iid, _) in removed.items():
            self.set_working(cid, iid, _ZERO)
        before = self.positions.get(instrument_id, _ZERO)
        self.set_position(instrument_id, before + position_change)
        try:
            yield
        finally:
            self.set_position(instrument_id, before)
            for cid, (iid, qty) in removed.items():
                self.set_working(cid, iid, qty)

    def apply_fill(self, fill: Fill) -> None:
        """Move the position by a fill and remember its price."""
        signed = fill.quantity if fill.side.value == "BUY" else -fill.quantity
        total = self.positions.get(fill.instrument_id, _ZERO) + signed
        if total == 0:
            self.positions.pop(fill.instrument_id, None)
        else:
            self.positions[fill.instrument_id] = total
        self.multipliers.setdefault(fill.instrument_id, fill.multiplier)
        self.currencies.setdefault(fill.instrument_id, fill.currency.code)
        self.last_prices[fill.instrument_id] = fill.price
        self._revalue(fill.instrument_id)

    def count_order(self, now: datetime) -> None:
        """Count one accepted order toward today's total (the count restarts on a new UTC day)."""
        today = now.date()
        if self.day != today:
            self.day, self.trades_today = today, 0
        self.trades_today += 1

    def reserve(self, order: Order, now: datetime) -> None:
        """Count an order the risk engine just passed, before its intent is stored, so that orders checked while
        it is stored see it (working quantity and today's count)."""
        self.count_order(now)
        self.set_working(order.client_order_id, order.instrument.id, order.signed_quantity)

    def release(self, order: Order, now: datetime) -> None:
        """Undo :meth:`reserve` (the intent was not stored, or was stored by an earlier run)."""
        self.set_working(order.client_order_id, order.instrument.id, _ZERO)
        if self.day == now.date() and self.trades_today > 0:
            self.trades_today -= 1

    def gross_exposure(self) -> Decimal:
        """Σ |position| × last price × multiplier × rate over positions with a known price and rate."""
        return self._gross

    def working_gross(self) -> Decimal:
        """Σ |working quantity| × last price × multiplier × rate over instruments with a known price and rate."""
        return self._working_gross

    def context(self, order: Order, now: datetime, state: TradingState) -> RiskContext:
        """What the risk engine sees for ``order`` at ``now``."""
        iid = order.instrument.id
        if iid not in self.multipliers or iid not in self.currencies:
            self.multipliers.setdefault(iid, order.instrument.multiplier)
            self.currencies.setdefault(iid, order.instrument.currency.code)
            self._revalue(iid)
        trades = self.trades_today if self.day == now.date() else 0
        return RiskContext(
            now=now,
            net_liquidation=self.net_liquidation,
            positions=self.positions,
            working=self.working,
            last_prices=self.last_prices,
            trades_today=trades,
            gross_exposure=self.gross_exposure(),
            trading_state=state,
            average_daily_volume=self.average_daily_volume,
            working_gross=self.working_gross(),
            base_currency=self.base_currency,
            exchange_rates=self.exchange_rates,
            unconverted=self._unconverted,
        )
