from __future__ import annotations

from decimal import Decimal

import pytest

from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Crypto, Stock
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError


def test_ib_defaults_accept_common_orders() -> None:
    caps = BrokerCapabilities()
    caps.check(Order.limit(Stock("AAPL"), "BUY", 10, Decimal("150.00")))
    caps.check(Order.market(Crypto("BTC"), "BUY", Decimal("0.5")))


def test_unsupported_order_type_names_the_field() -> None:
    caps = BrokerCapabilities(name="toy", order_types=frozenset({OrderType.MARKET}))
    with pytest.raises(BrokerError, match="toy does not support limit orders") as info:
        caps.check(Order.limit(Stock("AAPL"), "BUY", 10, Decimal("150.00")))
    assert info.value.field == "order_type"


def test_unsupported_tif_and_asset_class() -> None:
    caps = BrokerCapabilities(
        name="toy", time_in_force=frozenset({TimeInForce.DAY}), asset_classes=frozenset({AssetClass.STOCK})
    )
    with pytest.raises(BrokerError) as info:
        caps.check(Order.limit(Stock("AAPL"), "BUY", 10, Decimal("150.00"), tif=TimeInForce.GTC))
    assert info.value.field == "tif"
    with pytest.raises(BrokerError) as info:
        caps.check(Order.market(Crypto("BTC"), "BUY", 1))
    assert info.value.field == "instrument"


def test_fractional_only_where_the_venue_allows_it() -> None:
    caps = BrokerCapabilities(fractional_asset_classes=frozenset())
    with pytest.raises(BrokerError, match="fractional") as info:
        caps.check(Order.market(Crypto("BTC"), "BUY", Decimal("0.5")))
    assert info.value.field == "quantity"
