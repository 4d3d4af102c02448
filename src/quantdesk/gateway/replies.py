"""Encoders for every reply the gateway writes, except the order messages (see ``order_codec``).

Each function returns the message's fields as TWS writes them at server version 178, message id first, ready for
:func:`quantdesk.gateway.codec.frame`. The field layouts follow ``docs/reference/ib-api-notes.md`` section 3b;
which messages carry a version field is the notes' pitfall 4. Prices are rounded to 8 decimals when written, so
a sample close such as ``125.674`` is sent exactly as ``125.674``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quantdesk.gateway.codec import encode_fields
from quantdesk.gateway.contracts import ContractSpec, MarketRule, OptionChainInfo

__all__ = [
    "BondDetails",
    "HistoricalBar",
    "RealTimeBar",
    "account_download_end",
    "account_summary",
    "account_summary_end",
    "account_update_multi",
    "account_update_multi_end",
    "bond_contract_details",
    "completed_orders_end",
    "contract_details",
    "contract_details_end",
    "current_time",
    "error",
    "exec_details_end",
    "head_timestamp",
    "historical_data",
    "historical_data_update",
    "managed_accounts",
    "market_data_type",
    "market_rule",
    "next_valid_id",
    "open_order_end",
    "position",
    "position_end",
    "realtime_bar",
    "sec_def_opt_params",
    "sec_def_opt_params_end",
    "symbol_samples",
    "tick_generic",
    "tick_price",
    "tick_size",
    "tick_snapshot_end",
    "tick_string",
    "update_account_time",
    "update_account_value",
    "update_portfolio",
]


def _px(value: float) -> float:
    """A price as written on the wire: rounded to 8 decimals (exact for prices that have fewer)."""
    return round(float(value), 8)


def _qty(value: float) -> int | float:
    """A size or position: an int when it is whole (``100``, not ``100.0``)."""
    v = float(value)
    return int(v) if v.is_integer() else v


@dataclass(frozen=True, slots=True)
class HistoricalBar:
    """One bar of ``historicalData``/``historicalDataUpdate``: ``date`` already formatted as IB writes it."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


@dataclass(frozen=True, slots=True)
class RealTimeBar:
    """One 5-second bar of ``realtimeBar``; ``time`` is the bar's start in epoch seconds."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


@dataclass(frozen=True, slots=True)
class BondDetails:
    """The fields of ``bondContractDetails`` (18) beyond what a :class:`ContractSpec` holds."""

    spec: ContractSpec
    cusip: str
    coupon: float
    maturity: str
    issue_date: str = ""
    ratings: str = ""
    bond_type: str = ""
    coupon_type: str = "FIXED"
    convertible: bool = False
    callable: bool = False
    putable: bool = False
    desc_append: str = ""
    next_option_date: str = ""
    next_option_type: str = ""
    next_option_partial: bool = False
    notes: str = ""


def error(req_id: int, code: int, message: str, advanced_order_reject_json: str = "") -> list[str]:
    """error (4): reqId or orderId (-1 for none), code, text and the advanced reject JSON."""
    return encode_fields([4, 2, req_id, code, message, advanced_order_reject_json])


def managed_accounts(accounts: Sequence[str]) -> list[str]:
    """managedAccounts (15): the comma-separated account list."""
    return encode_fields([15, 1, ",".join(accounts)])


def next_valid_id(order_id: int) -> list[str]:
    """nextValidId (9)."""
    return encode_fields([9, 1, order_id])


def current_time(epoch_seconds: int) -> list[str]:
    """currentTime (49): server time in epoch seconds."""
    return encode_fields([49, 1, int(epoch_seconds)])


def update_account_value(key: str, value: str, currency: str, account: str) -> list[str]:
    """updateAccountValue (6)."""
    return encode_fields([6, 2, key, value, currency, account])


def update_portfolio(
    spec: ContractSpec,
    position_size: float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> list[str]:
    """updatePortfolio (7): 20 fields; the contract block carries primaryExchange, not exchange."""
    return encode_fields(
        [
            7, 8, spec.con_id, spec.symbol, spec.sec_type, spec.last_trade_date, spec.strike, spec.right,
            spec.multiplier, spec.listing_exchange, spec.currency, spec.local_symbol, spec.trading_class,
            _qty(position_size), _px(market_price), round(market_value, 2), _px(average_cost),
            round(unrealized_pnl, 2), round(realized_pnl, 2), account,
        ]
    )  # fmt: skip


def update_account_time(hh_mm: str) -> list[str]:
    """updateAccountTime (8): ``HH:MM``."""
    return encode_fields([8, 1, hh_mm])


def account_download_end(account: str) -> list[str]:
    """accountDownloadEnd (54)."""
    return encode_fields([54, 1, account])


def account_update_multi(req_id: int, account: str, model_code: str, key: str, value: str, currency: str) -> list[str]:
    """accountUpdateMulti (73)."""
    return encode_fields([73, 1, req_id, account, model_code, key, value, currency])


def account_update_multi_end(req_id: int) -> list[str]:
    """accountUpdateMultiEnd (74)."""
    return encode_fields([74, 1, req_id])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[str]:
    """accountSummary (63)."""
    return encode_fields([63, 1, req_id, account, tag, value, currency])


def account_summary_end(req_id: int) -> list[str]:
    """accountSummaryEnd (64)."""
    return encode_fields([64, 1, req_id])


def position(account: str, spec: ContractSpec, position_size: float, average_cost: float) -> list[str]:
    """position (61): 16 fields; the contract block carries exchange (the listing exchange for stocks)."""
    return encode_fields(
        [
            61, 3, account, spec.con_id, spec.symbol, spec.sec_type, spec.last_trade_date, spec.strike, spec.right,
            spec.multiplier, spec.listing_exchange, spec.currency, spec.local_symbol, spec.trading_class,
            _qty(position_size), _px(average_cost),
        ]
    )  # fmt: skip


def position_end() -> list[str]:
    """positionEnd (62)."""
    return encode_fields([62, 1])


def contract_details(req_id: int, spec: ContractSpec, trading_hours: str = "") -> list[str]:
    """contractDetails (10): no version field; 40 fields plus 2 per secId pair at server version 178.

    ``trading_hours`` is IB's ``20261123:0930-20261123:1600;…`` text, used for both trading and liquid hours.
    """
    head = [
        10, req_id, spec.symbol, spec.sec_type, spec.last_trade_date, spec.strike, spec.right, spec.exchange,
        spec.currency, spec.local_symbol, spec.market_name, spec.trading_class, spec.con_id, spec.min_tick,
        spec.multiplier, spec.order_types, ",".join(spec.valid_exchanges), 1, spec.under_con_id, spec.long_name,
        spec.primary_exchange, spec.contract_month, spec.industry, spec.category, spec.subcategory,
        spec.time_zone_id, trading_hours, trading_hours, "", "", len(spec.sec_ids),
    ]  # fmt: skip
    for tag, value in spec.sec_ids:
        head += [tag, value]
    head += [
        spec.agg_group, spec.under_symbol, spec.under_sec_type, spec.market_rule_ids, spec.last_trade_date,
        spec.stock_type, spec.min_size, spec.size_increment, spec.suggested_size_increment,
    ]  # fmt: skip
    return encode_fields(head)


def bond_contract_details(req_id: int, bond: BondDetails) -> list[str]:
    """bondContractDetails (18): no version field; 36 fields plus 2 per secId pair at server version 178.

    ib_async 2.1.0 parses ``coupon`` with ``int()`` (its default is the int 0), so a fractional coupon makes it drop
    the whole message; whole coupons are written as integers.
    """
    s = bond.spec
    fields: list[object] = [
        18, req_id, s.symbol, s.sec_type, bond.cusip, _qty(bond.coupon), bond.maturity, bond.issue_date, bond.ratings,
        bond.bond_type, bond.coupon_type, bond.convertible, bond.callable, bond.putable, bond.desc_append,
        s.exchange, s.currency, s.market_name, s.trading_class, s.con_id, s.min_tick, s.order_types,
        ",".join(s.valid_exchanges), bond.next_option_date, bond.next_option_type, bond.next_option_partial,
        bond.notes, s.long_name, "", "", len(s.sec_ids),
    ]  # fmt: skip
    for tag, value in s.sec_ids:
        fields += [tag, value]
    fields += [s.agg_group, s.market_rule_ids, s.min_size, s.size_increment, s.suggested_size_increment]
    return encode_fields(fields)


def contract_details_end(req_id: int) -> list[str]:
    """contractDetailsEnd (52)."""
    return encode_fields([52, 1, req_id])


def symbol_samples(req_id: int, items: Sequence[tuple[ContractSpec, Sequence[str]]]) -> list[str]:
    """symbolSamples (79): per contract conId, symbol, secType, primaryExchange, currency, derivative types,
    description and issuerId (the last two from server version 176)."""
    fields: list[object] = [79, req_id, len(items)]
    for spec, derivatives in items:
        fields += [spec.con_id, spec.symbol, spec.sec_type, spec.listing_exchange, spec.currency, len(derivatives)]
        fields += list(derivatives)
        fields += [spec.long_name, ""]
    return encode_fields(fields)


def sec_def_opt_params(req_id: int, chain: OptionChainInfo) -> list[str]:
    """securityDefinitionOptionParameter (75): no version field."""
    fields: list[object] = [75, req_id, chain.exchange, chain.under_con_id, chain.trading_class, chain.multiplier]
    fields += [len(chain.expirations), *chain.expirations, len(chain.strikes), *chain.strikes]
    return encode_fields(fields)


def sec_def_opt_params_end(req_id: int) -> list[str]:
    """securityDefinitionOptionParameterEnd (76): no version field."""
    return encode_fields([76, req_id])


def market_rule(rule: MarketRule) -> list[str]:
    """marketRule (93): no version field."""
    fields: list[object] = [93, rule.rule_id, len(rule.increments)]
    for low_edge, increment in rule.increments:
        fields += [low_edge, increment]
    return encode_fields(fields)


def market_data_type(req_id: int, data_type: int) -> list[str]:
    """marketDataType (58): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return encode_fields([58, 1, req_id, data_type])


def tick_price(req_id: int, tick_type: int, price: float, size: float = 0, attrib_mask: int = 0) -> list[str]:
    """tickPrice (1): exactly 7 fields, price and size together."""
    return encode_fields([1, 6, req_id, tick_type, _px(price), _qty(size), attrib_mask])


def tick_size(req_id: int, tick_type: int, size: float) -> list[str]:
    """tickSize (2)."""
    return encode_fields([2, 6, req_id, tick_type, _qty(size)])


def tick_string(req_id: int, tick_type: int, value: str) -> list[str]:
    """tickString (46), e.g. tick 45, the last trade's epoch seconds."""
    return encode_fields([46, 6, req_id, tick_type, value])


def tick_generic(req_id: int, tick_type: int, value: float) -> list[str]:
    """tickGeneric (45)."""
    return encode_fields([45, 6, req_id, tick_type, float(value)])


def tick_snapshot_end(req_id: int) -> list[str]:
    """tickSnapshotEnd (57)."""
    return encode_fields([57, 1, req_id])


def historical_data(req_id: int, start: str, end: str, bars: Sequence[HistoricalBar]) -> list[str]:
    """historicalData (17): no version field; at server version 178 this message also ends the request."""
    fields: list[object] = [17, req_id, start, end, len(bars)]
    for b in bars:
        fields += [b.date, _px(b.open), _px(b.high), _px(b.low), _px(b.close), _qty(b.volume), _px(b.wap), b.count]
    return encode_fields(fields)


def historical_data_update(req_id: int, bar: HistoricalBar) -> list[str]:
    """historicalDataUpdate (90): note the order open, close, high, low, then wap and volume."""
    return encode_fields(
        [90, req_id, bar.count, bar.date, _px(bar.open), _px(bar.close), _px(bar.high), _px(bar.low), _px(bar.wap),
         _qty(bar.volume)]
    )  # fmt: skip


def head_timestamp(req_id: int, timestamp: str) -> list[str]:
    """headTimestamp (88): no version field."""
    return encode_fields([88, req_id, timestamp])


def realtime_bar(req_id: int, bar: RealTimeBar) -> list[str]:
    """realtimeBar (50)."""
    return encode_fields(
        [50, 3, req_id, bar.time, _px(bar.open), _px(bar.high), _px(bar.low), _px(bar.close), _qty(bar.volume),
         _px(bar.wap), bar.count]
    )  # fmt: skip


def open_order_end() -> list[str]:
    """openOrderEnd (53)."""
    return encode_fields([53, 1])


def exec_details_end(req_id: int) -> list[str]:
    """execDetailsEnd (55)."""
    return encode_fields([55, 1, req_id])


def completed_orders_end() -> list[str]:
    """completedOrdersEnd (102): the message id alone."""
    return encode_fields([102])
