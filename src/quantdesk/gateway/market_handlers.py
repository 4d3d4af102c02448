"""Handlers for market data: ``reqMktData``, ``reqMarketDataType``, historical bars, head timestamps and
real-time bars, with the line limit (101) and historical pacing (162) IB enforces."""

from __future__ import annotations

import math

from quantdesk.domain.market import BarSize
from quantdesk.gateway import replies
from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.codec import Request
from quantdesk.gateway.contracts import ContractQuery, ContractSpec
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.handlers import NO_SECURITY_DEFINITION
from quantdesk.gateway.history import WHAT_TO_SHOW, format_instant, parse_duration, parse_end, window_start
from quantdesk.gateway.pacing import PACING_MESSAGE, HistoricalRequestKey
from quantdesk.gateway.streams import BarSubscription, RealTimeSubscription, TickSubscription
from quantdesk.gateway.venue_context import VenueContext

__all__ = ["install_market_handlers", "resolve_contract"]

MAX_TICKERS = "Max number of tickers has been reached"
DUPLICATE_TICKER = "Error processing request.-'bC' : cause - Duplicate ticker id"
HMDS = "Historical Market Data Service error message:"


def resolve_contract(venue: VenueContext, session: ClientSession, req_id: int, q: ContractQuery) -> ContractSpec | None:
    """The one contract a request names; otherwise error 200 (unknown or ambiguous) and ``None``."""
    catalog = venue.catalog
    spec = catalog.resolve(q)
    if spec is None:
        if q.sec_type.upper() != "BAG" and len(catalog.lookup(q)) > 1:
            session.error(req_id, 200, f"The contract description specified for {q.symbol} is ambiguous.")
        else:
            session.error(req_id, 200, NO_SECURITY_DEFINITION)
    return spec


def _skip_combo_legs(req: Request, q: ContractQuery) -> None:
    if q.sec_type.upper() == "BAG":
        req.skip(4 * req.read_int())


# --- ticks ---------------------------------------------------------------------------------------------------


def req_mkt_data(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqMktData (1): marketDataType, then ticks; streaming holds a line until cancelled, a snapshot ends with 57."""
    req.read_int()  # version
    req_id = req.read_int()
    q = ContractQuery.read(req)
    _skip_combo_legs(req, q)
    if req.read_bool():  # delta-neutral contract
        req.skip(3)
    generic = req.read_str()
    snapshot = req.read_bool()
    req.read_bool()  # regulatory snapshot
    spec = resolve_contract(venue, session, req_id, q)
    if spec is None:
        return
    streams = session.streams
    if not snapshot:
        if req_id in streams.ticks:
            session.error(req_id, 322, DUPLICATE_TICKER)
            return
        if not venue.lines.acquire():
            session.error(req_id, 101, MAX_TICKERS)
            return
    ticks = tuple(t.strip() for t in generic.split(",") if t.strip())
    streams.start_ticks(TickSubscription(req_id, spec, session.market_data_type, snapshot, ticks))


def cancel_mkt_data(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelMktData (2): frees the line; an unknown id gets error 300."""
    req.read_int()  # version
    req_id = req.read_int()
    if not session.streams.cancel_ticks(req_id):
        session.error(req_id, 300, f"Can't find EId with tickerId:{req_id}")


def req_market_data_type(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqMarketDataType (59): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen, for the following requests."""
    req.read_int()  # version
    data_type = req.read_int()
    if data_type not in (1, 2, 3, 4):
        session.error(-1, 321, f"Error validating request.-'cX' : cause - Invalid market data type {data_type}")
        return
    session.market_data_type = data_type


# --- historical ----------------------------------------------------------------------------------------------


def _invalid(session: ClientSession, req_id: int, cause: str) -> None:
    session.error(req_id, 321, f"Error validating request.-'bP' : cause - {cause}")


def req_historical_data(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqHistoricalData (20): all bars in one historicalData message; with keepUpToDate, updates (90) follow."""
    req_id = req.read_int()
    q = ContractQuery.read(req)
    req.read_bool()  # includeExpired
    end_text = req.read_str()
    bar_text = req.read_str()
    duration_text = req.read_str()
    use_rth = req.read_bool()
    what = req.read_str().upper()
    format_date = req.read_int(1)
    _skip_combo_legs(req, q)
    keep_up_to_date = req.read_bool() if req.remaining else False
    spec = resolve_contract(venue, session, req_id, q)
    if spec is None:
        return
    if what not in WHAT_TO_SHOW:
        _invalid(session, req_id, f"Invalid whatToShow {what!r}; use one of {', '.join(sorted(WHAT_TO_SHOW))}")
        return
    try:
        size = BarSize.parse(bar_text)
        n, unit = parse_duration(duration_text)
        end = parse_end(end_text, venue.clock.now())
    except ValueError as exc:
        _invalid(session, req_id, str(exc))
        return
    if keep_up_to_date and end_text.strip():
        _invalid(session, req_id, "End date not supported with live updates")
        return
    if spec.sec_type == "CASH" and what in ("TRADES", "ADJUSTED_LAST"):
        session.error(req_id, 162, f"{HMDS}No historical market data for {spec.local_symbol}/CASH@IDEALPRO {what}")
        return
    key = HistoricalRequestKey(
        spec.con_id, spec.exchange, what, size.value, duration_text.strip(), end_text.strip(), use_rth,
        size.duration.total_seconds(),
    )  # fmt: skip
    why = venue.pacer.check(key)
    if why is not None:
        session.error(req_id, 162, f"{PACING_MESSAGE} ({why})")
        return
    now_tt = venue.clock.now_tt()
    end_tt = min(venue.calendar.to_tt(end), now_tt)
    start_tt = max(window_start(venue.calendar, end_tt, n, unit), 0.0)
    if size.duration.total_seconds() < 86400:
        estimate = (end_tt - start_tt) / size.duration.total_seconds()
        if math.ceil(estimate) > venue.config.max_history_bars:
            session.error(req_id, 162, f"{HMDS}Time length exceed max.")
            return
    history = venue.history
    bars = history.bars(spec, start_tt, end_tt, size, what, format_date)
    if not bars:
        if not keep_up_to_date:
            session.error(req_id, 162, f"{HMDS}HMDS query returned no data: {spec.local_symbol}@{spec.exchange} {what}")
            return
        bars = [history.forming(spec, end_tt, size, what, format_date)]
    zone = spec.time_zone_id
    start_text = format_instant(venue.calendar.to_datetime(start_tt), 1, zone)
    end_str = format_instant(venue.calendar.to_datetime(end_tt), 1, zone)
    session.send(replies.historical_data(req_id, start_text, end_str, [b.bar for b in bars]))
    if keep_up_to_date:
        session.streams.bars[req_id] = BarSubscription(req_id, spec, size, what, format_date, bars[-1])


def cancel_historical_data(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelHistoricalData (25): ends a keepUpToDate subscription."""
    req.read_int()  # version
    session.streams.bars.pop(req.read_int(), None)


def req_head_timestamp(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqHeadTimeStamp (87): the first instant with data."""
    req_id = req.read_int()
    q = ContractQuery.read(req)
    req.read_bool()  # includeExpired
    req.read_bool()  # useRTH
    what = req.read_str().upper()
    format_date = req.read_int(1)
    spec = resolve_contract(venue, session, req_id, q)
    if spec is None:
        return
    if what not in WHAT_TO_SHOW:
        _invalid(session, req_id, f"Invalid whatToShow {what!r}")
        return
    session.send(replies.head_timestamp(req_id, venue.history.head_timestamp(spec, format_date)))


def req_real_time_bars(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """reqRealTimeBars (50): a 5-second bar each time one completes."""
    req.read_int()  # version
    req_id = req.read_int()
    q = ContractQuery.read(req)
    bar_size = req.read_int(5)
    what = req.read_str().upper()
    spec = resolve_contract(venue, session, req_id, q)
    if spec is None:
        return
    if bar_size != 5 or what not in ("TRADES", "MIDPOINT", "BID", "ASK"):
        session.error(req_id, 321, "Error validating request.-'bQ' : cause - real time bars are 5 seconds of "
                      "TRADES, MIDPOINT, BID or ASK")  # fmt: skip
        return
    now_tt = venue.clock.now_tt()
    session.streams.realtime[req_id] = RealTimeSubscription(req_id, spec, what, math.floor(now_tt / 5) * 5.0)


def cancel_real_time_bars(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelRealTimeBars (51)."""
    req.read_int()  # version
    session.streams.realtime.pop(req.read_int(), None)


def cancel_head_timestamp(venue: VenueContext, session: ClientSession, req: Request) -> None:
    """cancelHeadTimeStamp (90): nothing to stop."""


def install_market_handlers(table: HandlerTable, venue: VenueContext) -> None:
    """Register the market data handlers, answering from ``venue``."""
    table.bind(
        venue,
        {
            1: req_mkt_data,
            2: cancel_mkt_data,
            59: req_market_data_type,
            20: req_historical_data,
            25: cancel_historical_data,
            87: req_head_timestamp,
            90: cancel_head_timestamp,
            50: req_real_time_bars,
            51: cancel_real_time_bars,
        },
    )
