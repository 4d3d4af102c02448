"""The OMS's running book: positions, working quantities, last prices and account value, kept incrementally.

Pre-trade risk needs these for every order, so they are plain dictionaries updated by fills and order states,
never recomputed from the database or the broker on the order path. ``working`` counts each order's remaining
quantity once: :meth:`Book.set_working` takes an order's new remaining (zero once terminal) and applies the change.
The book owns its fields: they are read through read-only views and changed only by its methods, which keep the
cached gross values right (no caller can move a price or a position past them).

Gross values are in the account's base currency: each instrument's value is converted at the exchange rate of its
currency (from the account summary). An instrument whose currency has no rate is left out of the totals and named in
the risk context, so the exposure rules refuse instead of comparing amounts in different currencies. Until the
base currency is known (a book not yet filled from a broker) amounts are taken as they are, and so is a position
whose currency no report gave (orders, fills and the brokers' position reports all carry it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.risk.context import RiskContext, base_rate

__all__ = ["Book"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


class Book:
    """Signed positions and working quantities per instrument, last prices, net liquidation, today's order count."""

    __slots__ = (
        "_average_daily_volume",
        "_base_currency",
        "_counted",
        "_currencies",
        "_day",
        "_exchange_rates",
        "_gross",
        "_last_prices",
        "_multipliers",
        "_net_liquidation",
        "_pos_value",
        "_positions",
        "_trades_today",
        "_unconverted",
        "_work_value",
        "_working",
        "_working_gross",
    )

    def __init__(
        self,
        *,
        base_currency: str | None = None,
        exchange_rates: Mapping[str, Decimal] | None = None,
        currencies: Mapping[InstrumentId, str] | None = None,
    ) -> None:
        self._positions: dict[InstrumentId, Decimal] = {}
        self._working: dict[InstrumentId, Decimal] = {}
        self._last_prices: dict[InstrumentId, Decimal] = {}
        self._multipliers: dict[InstrumentId, Decimal] = {}
        self._average_daily_volume: dict[InstrumentId, Decimal] = {}
        self._net_liquidation: Decimal | None = None
        self._base_currency = base_currency
        self._exchange_rates: dict[str, Decimal] = dict(exchange_rates or {})
        self._currencies: dict[InstrumentId, str] = dict(currencies or {})
        self._trades_today = 0
        self._day: date | None = None
        self._counted: dict[ClientOrderId, tuple[InstrumentId, Decimal]] = {}
        # |quantity| × price × multiplier per instrument, and their sums: kept as things change, not summed per order
        self._pos_value: dict[InstrumentId, Decimal] = {}
        self._work_value: dict[InstrumentId, Decimal] = {}
        self._gross = _ZERO
        self._working_gross = _ZERO
        self._unconverted: dict[InstrumentId, str] = {}  # held or working, currency without a rate

    # --- read-only views ----------------------------------------------------------------------------------------

    @property
    def positions(self) -> Mapping[InstrumentId, Decimal]:
        """Signed positions (no zeros)."""
        return MappingProxyType(self._positions)

    @property
    def working(self) -> Mapping[InstrumentId, Decimal]:
        """Signed working quantity per instrument: the sum of the remaining quantities of its live orders."""
        return MappingProxyType(self._working)

    @property
    def last_prices(self) -> Mapping[InstrumentId, Decimal]:
        """The last price known per instrument (a reference, a quote, a fill or the broker's mark)."""
        return MappingProxyType(self._last_prices)

    @property
    def multipliers(self) -> Mapping[InstrumentId, Decimal]:
        """Contract multipliers per instrument."""
        return MappingProxyType(self._multipliers)

    @property
    def currencies(self) -> Mapping[InstrumentId, str]:
        """The currency code of each instrument."""
        return MappingProxyType(self._currencies)

    @property
    def average_daily_volume(self) -> Mapping[InstrumentId, Decimal]:
        """Average daily volume per instrument (for participation slicing)."""
        return MappingProxyType(self._average_daily_volume)

    @property
    def exchange_rates(self) -> Mapping[str, Decimal]:
        """Base units per unit of each currency, as the account reported them."""
        return MappingProxyType(self._exchange_rates)

    @property
    def net_liquidation(self) -> Decimal | None:
        """The account's net liquidation value, None before the broker gave one."""
        return self._net_liquidation

    @property
    def base_currency(self) -> str | None:
        """The account's base currency, None before the broker gave one."""
        return self._base_currency

    @property
    def trades_today(self) -> int:
        """Orders accepted on :attr:`day` (UTC)."""
        return self._trades_today

    @property
    def day(self) -> date | None:
        """The UTC day :attr:`trades_today` counts."""
        return self._day

    # --- changes ---------------------------------------------------------------------------------------------

    def take_account(
        self,
        *,
        positions: Mapping[InstrumentId, Decimal],
        net_liquidation: Decimal,
        base_currency: str,
        exchange_rates: Mapping[str, Decimal],
        multipliers: Mapping[InstrumentId, Decimal],
        currencies: Mapping[InstrumentId, str],
        prices: Mapping[InstrumentId, Decimal],
    ) -> None:
        """Take a broker snapshot (positions with their multipliers, currencies and marks, the account's value and
        rates) and value everything once."""
        self._multipliers.update(multipliers)
        self._currencies.update(currencies)
        self._last_prices.update({k: v for k, v in prices.items() if v > 0})
        self._net_liquidation = net_liquidation
        self._base_currency = base_currency
        self._exchange_rates = dict(exchange_rates)
        self.set_positions(positions)

    def set_net_liquidation(self, amount: Decimal | None) -> None:
        """Take the account's net liquidation value (from an account summary)."""
        self._net_liquidation = amount

    def set_average_daily_volumes(self, volumes: Mapping[InstrumentId, Decimal]) -> None:
        """Remember the average daily volume of these instruments (others are kept)."""
        self._average_daily_volume.update(volumes)

    def set_trades_today(self, count: int, day: date) -> None:
        """Start today's order count at ``count`` (the orders the database holds for ``day``, at start)."""
        self._trades_today, self._day = count, day

    def set_positions(self, positions: Mapping[InstrumentId, Decimal]) -> None:
        """Replace the positions (after a broker snapshot)."""
        self._positions = {k: v for k, v in positions.items() if v != 0}
        self._revalue_all()

    def set_exchange_rates(self, base_currency: str, rates: Mapping[str, Decimal]) -> None:
        """Take the account's base currency and its rates (base units per unit); revalue only when they changed."""
        if base_currency != self._base_currency or rates != self._exchange_rates:
            self._base_currency, self._exchange_rates = base_currency, dict(rates)
            self._revalue_all()

    def _revalue_all(self) -> None:
        self._pos_value.clear()
        self._work_value.clear()
        self._unconverted.clear()
        self._gross = self._working_gross = _ZERO
        for iid in self._positions.keys() | self._working.keys():
            self._revalue(iid)

    def set_position(self, instrument_id: InstrumentId, quantity: Decimal, *, currency: str | None = None) -> None:
        """Set one position (a broker position report); ``currency`` is remembered if none is known yet."""
        if currency is not None:
            self._currencies.setdefault(instrument_id, currency)
        if quantity == 0:
            self._positions.pop(instrument_id, None)
        else:
            self._positions[instrument_id] = quantity
        self._revalue(instrument_id)

    def set_price(self, instrument_id: InstrumentId, price: Decimal | None) -> None:
        """Remember the last price of an instrument (ignored when None or not positive)."""
        if price is not None and price > 0 and self._last_prices.get(instrument_id) != price:
            self._last_prices[instrument_id] = price
            self._revalue(instrument_id)

    def _revalue(self, iid: InstrumentId) -> None:
        """Refresh one instrument's share of the gross position and working values (in the base currency)."""
        price = self._last_prices.get(iid)
        ccy = self._currencies.get(iid)
        rate = _ONE if ccy is None else base_rate(ccy, self._base_currency, self._exchange_rates)
        self._unconverted.pop(iid, None)
        if rate is None and ccy is not None and (iid in self._positions or iid in self._working):
            self._unconverted[iid] = ccy
        mult = self._multipliers.get(iid, _ONE) * (rate or _ZERO)
        for quantities, values, total in (
            (self._positions, self._pos_value, "_gross"),
            (self._working, self._work_value, "_working_gross"),
        ):
            qty = quantities.get(iid)
            new = abs(qty) * price * mult if qty is not None and price is not None else _ZERO
            old = values.pop(iid, _ZERO)
            if new:
                values[iid] = new
            setattr(self, total, getattr(self, total) + new - old)

    def set_working(self, cid: ClientOrderId, instrument_id: InstrumentId, signed_remaining: Decimal) -> None:
        """Count ``cid``'s signed remaining quantity as working (zero removes it)."""
        previous = self._counted.get(cid)
        if previous is not None and previous[1] == signed_remaining and previous[0] == instrument_id:
            return  # unchanged (an order sent or acknowledged): nothing to move, nothing to revalue
        self._counted.pop(cid, None)
        if previous is not None:
            iid, qty = previous
            self._add_working(iid, -qty)
        if signed_remaining != 0:
            self._counted[cid] = (instrument_id, signed_remaining)
            self._add_working(instrument_id, signed_remaining)

    def _add_working(self, iid: InstrumentId, qty: Decimal) -> None:
        total = self._working.get(iid, _ZERO) + qty
        if total == 0:
            self._working.pop(iid, None)
        else:
            self._working[iid] = total
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
        before = self._positions.get(instrument_id, _ZERO)
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
        total = self._positions.get(fill.instrument_id, _ZERO) + signed
        if total == 0:
            self._positions.pop(fill.instrument_id, None)
        else:
            self._positions[fill.instrument_id] = total
        self._multipliers.setdefault(fill.instrument_id, fill.multiplier)
        self._currencies.setdefault(fill.instrument_id, fill.currency.code)
        self._last_prices[fill.instrument_id] = fill.price
        self._revalue(fill.instrument_id)

    def count_order(self, now: datetime) -> None:
        """Count one accepted order toward today's total (the count restarts on a new UTC day)."""
        today = now.date()
        if self._day != today:
            self._day, self._trades_today = today, 0
        self._trades_today += 1

    def reserve(self, order: Order, now: datetime) -> None:
        """Count an order the risk engine just passed, before its intent is stored, so that orders checked while
        it is stored see it (working quantity and today's count)."""
        self.count_order(now)
        self.set_working(order.client_order_id, order.instrument.id, order.signed_quantity)

    def release(self, order: Order, now: datetime) -> None:
        """Undo :meth:`reserve` (the intent was not stored, or was stored by an earlier run)."""
        self.set_working(order.client_order_id, order.instrument.id, _ZERO)
        if self._day == now.date() and self._trades_today > 0:
            self._trades_today -= 1

    def gross_exposure(self) -> Decimal:
        """Σ |position| × last price × multiplier × rate over positions with a known price and rate."""
        return self._gross

    def working_gross(self) -> Decimal:
        """Σ |working quantity| × last price × multiplier × rate over instruments with a known price and rate."""
        return self._working_gross

    def context(self, order: Order, now: datetime, state: TradingState) -> RiskContext:
        """What the risk engine sees for ``order`` at ``now``."""
        iid = order.instrument.id
        if iid not in self._multipliers or iid not in self._currencies:
            self._multipliers.setdefault(iid, order.instrument.multiplier)
            self._currencies.setdefault(iid, order.instrument.currency.code)
            self._revalue(iid)
        trades = self._trades_today if self._day == now.date() else 0
        return RiskContext(
            now=now,
            net_liquidation=self._net_liquidation,
            positions=self._positions,
            working=self._working,
            last_prices=self._last_prices,
            trades_today=trades,
            gross_exposure=self.gross_exposure(),
            trading_state=state,
            average_daily_volume=self._average_daily_volume,
            working_gross=self.working_gross(),
            base_currency=self._base_currency,
            exchange_rates=self._exchange_rates,
            unconverted=self._unconverted,
        )
