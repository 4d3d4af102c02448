"""What a venue supports, as a table instead of ``if venue == ...`` branches (freqtrade's ``_ft_has`` habit).

``BrokerCapabilities.check(order)`` refuses, before anything is sent, an order the venue cannot take, naming the
feature and the fix; the OMS calls it for every order so an unsupported order never half-reaches a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.order_types import OcaType, OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError

__all__ = ["BrokerCapabilities"]

_ALL_ORDER_TYPES = frozenset(OrderType)
_ALL_TIFS = frozenset(TimeInForce)


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    """The feature table of one venue; defaults describe Interactive Brokers."""

    name: str = "ib"
    asset_classes: frozenset[AssetClass] = field(default_factory=lambda: frozenset(AssetClass))
    order_types: frozenset[OrderType] = _ALL_ORDER_TYPES
    time_in_force: frozenset[TimeInForce] = _ALL_TIFS
    oca_types: frozenset[OcaType] = field(default_factory=lambda: frozenset(OcaType))
    brackets: bool = True
    oto: bool = True
    modify: bool = True
    what_if: bool = True
    fractional_asset_classes: frozenset[AssetClass] = frozenset({AssetClass.CRYPTO})
    outside_rth: bool = True
    hidden: bool = True
    short_selling: bool = True
    max_messages_per_second: int = 50
    market_data_lines: int = 100

    def check(self, order: Order) -> None:
        """Raise ``BrokerError`` naming the first feature of ``order`` this venue does not support."""
        kind = order.instrument.asset_class
        if kind not in self.asset_classes:
            self._refuse("instrument", f"{kind.name.lower()} instruments", order)
        if order.order_type not in self.order_types:
            self._refuse("order_type", f"{order.order_type.label} orders", order)
        if order.tif not in self.time_in_force:
            self._refuse("tif", f"time in force {order.tif.value}", order)
        if order.link.oca_type is not None and order.link.oca_type not in self.oca_types:
            self._refuse("link.oca_type", f"OCA type {order.link.oca_type.name}", order)
        if order.link.parent_client_order_id is not None and not (self.brackets or self.oto):
            self._refuse("link.parent_client_order_id", "child orders (brackets, OTO)", order)
        if order.outside_rth and not self.outside_rth:
            self._refuse("outside_rth", "orders outside regular trading hours", order)
        if order.hidden and not self.hidden:
            self._refuse("hidden", "hidden orders", order)
        if order.quantity != order.quantity.to_integral_value() and kind not in self.fractional_asset_classes:
            self._refuse("quantity", f"fractional quantities of {kind.name.lower()} ({order.quantity})", order)

    def _refuse(self, field_name: str, what: str, order: Order) -> None:
        raise BrokerError(
            f"{self.name} does not support {what}",
            field=field_name,
            value=str(order.client_order_id),
            hint=f"change {field_name} to something {self.name} supports, or route the order to another broker",
        )
