"""IB's error codes as data: each code's class, what the adapter does about it, and a fix for the user.

TWS reports everything through one ``error(reqId, code, message)`` message: real errors, warnings, farm status
notices and connectivity changes. ``ib_async`` only knows a short list of warnings and cancels a local order on
every other code that carries its order id, so a purely informational code such as 10349 ("TIF was set to DAY
based on order preset") makes a live order look cancelled. The adapter therefore decides for itself, from this
table, with :func:`classify`.

Classes (:class:`ErrorClass`): ``INFO`` (status notices), ``WARNING`` (something to know; the request or order
goes on), ``REQUEST`` (the request failed and ends), ``ORDER`` (about one order: rejected, cancelled, refused),
``CONNECTIVITY`` (the link between TWS and IB, or TWS and us), ``CLIENT`` (our side: client id, message rate,
socket). Codes 2100–2199 not listed are warnings; any other unknown code is a request error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "CODES",
    "ErrorAction",
    "ErrorClass",
    "ErrorStats",
    "IBErrorCode",
    "classify",
    "is_order_terminal",
    "keeps_order_live",
]


class ErrorClass(Enum):
    """What kind of message an IB code is."""

    INFO = "info"
    WARNING = "warning"
    REQUEST = "request"
    ORDER = "order"
    CONNECTIVITY = "connectivity"
    CLIENT = "client"


class ErrorAction(Enum):
    """What the adapter does when the code arrives."""

    IGNORE = "ignore"  # a status notice: count it, nothing else
    LOG = "log"  # log it as a warning; requests and orders go on
    KEEP_ORDER_LIVE = "keep_order_live"  # informational about an order: never mark it cancelled
    END_REQUEST = "end_request"  # the request failed: raise to its caller
    NO_DATA = "no_data"  # the request ended without data: an empty answer, not a failure
    PACING = "pacing"  # historical pacing violated: wait and retry
    USE_DELAYED = "use_delayed"  # no market data subscription: delayed data follows (or switch to delayed)
    RESUBSCRIBE = "resubscribe"  # subscriptions are gone: request them again
    REJECT_ORDER = "reject_order"  # the order is rejected (terminal)
    CANCEL_CONFIRMED = "cancel_confirmed"  # the order is cancelled (terminal): IB's cancel acknowledgement
    CONNECTIVITY_LOST = "connectivity_lost"  # TWS lost IB: data pauses, orders wait
    CONNECTIVITY_RESTORED = "connectivity_restored"  # TWS is back with IB, data maintained
    RECONNECT = "reconnect"  # our socket is gone or about to be: the supervisor reconnects
    FAIL_CONNECT = "fail_connect"  # the connection attempt is refused: fail at once with the fix


@dataclass(frozen=True, slots=True)
class IBErrorCode:
    """One code: its class, the adapter's action, IB's meaning and the fix to show a user."""

    code: int
    kind: ErrorClass
    action: ErrorAction
    meaning: str
    fix: str = ""


_C, _A = ErrorClass, ErrorAction
_API_SETTINGS = "TWS: File → Global Configuration → API → Settings"
_ROWS: tuple[tuple[int, ErrorClass, ErrorAction, str, str], ...] = (
    # --- connectivity and system -------------------------------------------------------------------------
    (1100, _C.CONNECTIVITY, _A.CONNECTIVITY_LOST, "connectivity between IB and TWS lost", "wait: TWS reconnects"),
    (1101, _C.CONNECTIVITY, _A.RESUBSCRIBE, "connectivity restored, data lost", "market data is re-requested"),
    (1102, _C.CONNECTIVITY, _A.CONNECTIVITY_RESTORED, "connectivity restored, data maintained", ""),
    (1300, _C.CONNECTIVITY, _A.RECONNECT, "TWS socket port reset: this connection is dropped", "reconnect"),
    (2103, _C.CONNECTIVITY, _A.LOG, "market data farm connection is broken", "wait; check TWS's data farms"),
    (2105, _C.CONNECTIVITY, _A.LOG, "historical data farm connection is broken", "wait; history requests fail"),
    (2157, _C.CONNECTIVITY, _A.LOG, "security definition farm connection is broken", "wait"),
    (2110, _C.CONNECTIVITY, _A.LOG, "connectivity between TWS and server is broken", "TWS restores it"),
    (2104, _C.INFO, _A.IGNORE, "market data farm connection is OK", ""),
    (2106, _C.INFO, _A.IGNORE, "historical data farm connection is OK", ""),
    (2158, _C.INFO, _A.IGNORE, "security definition farm connection is OK", ""),
    (2107, _C.INFO, _A.IGNORE, "historical data farm connection is inactive (connects on demand)", ""),
    (2108, _C.INFO, _A.IGNORE, "market data farm connection is inactive (connects on demand)", ""),
    (2119, _C.INFO, _A.IGNORE, "market data farm is connecting", ""),
    # --- informational and warnings ----------------------------------------------------------------------
    (2100, _C.WARNING, _A.LOG, "account updates subscription replaced by another client", ""),
    (2101, _C.WARNING, _A.LOG, "unable to subscribe to account as a non-FA user", ""),
    (2102, _C.WARNING, _A.LOG, "an order cannot be modified right now", "retry the modification"),
    (2109, _C.WARNING, _A.KEEP_ORDER_LIVE, "the outside-RTH flag is ignored for this order", ""),
    (2137, _C.WARNING, _A.KEEP_ORDER_LIVE, "order cross-side warning", ""),
    (105, _C.WARNING, _A.KEEP_ORDER_LIVE, "modified order does not match the original", "check the modification"),
    (165, _C.WARNING, _A.LOG, "historical data service message", ""),
    (329, _C.WARNING, _A.KEEP_ORDER_LIVE, "order modify failed: the order type cannot change", ""),
    (399, _C.WARNING, _A.KEEP_ORDER_LIVE, "order message (e.g. will not be placed until the open)", ""),
    (404, _C.WARNING, _A.KEEP_ORDER_LIVE, "shares not available to short: the order is held", "wait for a locate"),
    (492, _C.WARNING, _A.KEEP_ORDER_LIVE, "order warning", ""),
    (10167, _C.WARNING, _A.USE_DELAYED, "no market data subscription: delayed data is displayed", "subscribe"),
    (10349, _C.WARNING, _A.KEEP_ORDER_LIVE, "order TIF was set to DAY based on the order preset", ""),
    # --- request errors ----------------------------------------------------------------------------------
    (101, _C.REQUEST, _A.END_REQUEST, "max number of tickers reached", "cancel subscriptions or buy lines"),
    (162, _C.REQUEST, _A.END_REQUEST, "historical market data service error", "see the message"),
    (200, _C.REQUEST, _A.END_REQUEST, "no security definition found", "check symbol, exchange and currency"),
    (300, _C.REQUEST, _A.LOG, "cannot find the ticker id to cancel", ""),
    (309, _C.REQUEST, _A.END_REQUEST, "max number of market depth requests reached", "cancel depth requests"),
    (320, _C.REQUEST, _A.END_REQUEST, "server cannot parse the request", "report a bug: a field is malformed"),
    (321, _C.REQUEST, _A.END_REQUEST, "server error validating the request", "see the message"),
    (322, _C.REQUEST, _A.END_REQUEST, "server error processing the request (duplicate id?)", ""),
    (354, _C.REQUEST, _A.USE_DELAYED, "requested market data is not subscribed", "subscribe or use delayed data"),
    (366, _C.REQUEST, _A.LOG, "no historical data query found for the ticker id", ""),
    (10089, _C.REQUEST, _A.USE_DELAYED, "market data requires additional subscriptions", "subscribe in Account"),
    (10090, _C.REQUEST, _A.USE_DELAYED, "part of the market data is not subscribed", "subscribe in Account"),
    (10091, _C.REQUEST, _A.USE_DELAYED, "part of the market data needs additional subscriptions", ""),
    (10168, _C.REQUEST, _A.END_REQUEST, "delayed market data is not enabled", "enable delayed data in TWS"),
    (10182, _C.REQUEST, _A.RESUBSCRIBE, "failed to request live updates (disconnected)", "re-request the bars"),
    (10197, _C.REQUEST, _A.END_REQUEST, "no market data during a competing live session", "log out elsewhere"),
    (10225, _C.REQUEST, _A.RESUBSCRIBE, "bust event: the subscription is deactivated", "re-request at once"),
    # --- order errors ------------------------------------------------------------------------------------
    (103, _C.ORDER, _A.REJECT_ORDER, "duplicate order id", "let the adapter allocate order ids"),
    (104, _C.ORDER, _A.KEEP_ORDER_LIVE, "cannot modify a filled order", "the order has filled: reconcile"),
    (110, _C.ORDER, _A.REJECT_ORDER, "the price does not conform to the minimum price variation", "round to tick"),
    (135, _C.ORDER, _A.LOG, "cannot find the order with that id", "reconcile open orders"),
    (161, _C.ORDER, _A.KEEP_ORDER_LIVE, "cancel attempted when the order is not in a cancellable state", ""),
    (201, _C.ORDER, _A.REJECT_ORDER, "order rejected", "see the reason in the message"),
    (202, _C.ORDER, _A.CANCEL_CONFIRMED, "order cancelled", ""),
    (203, _C.ORDER, _A.REJECT_ORDER, "the security is not available or allowed for this account", ""),
    (434, _C.ORDER, _A.REJECT_ORDER, "the order size cannot be zero", "send a positive quantity"),
    (10147, _C.ORDER, _A.LOG, "the order to cancel was not found", "reconcile open orders"),
    (10148, _C.ORDER, _A.KEEP_ORDER_LIVE, "the order cannot be cancelled in its state", "it may have filled"),
    # --- connection and client ---------------------------------------------------------------------------
    (100, _C.CLIENT, _A.RECONNECT, "max rate of messages per second exceeded: TWS drops the connection", ""),
    (326, _C.CLIENT, _A.FAIL_CONNECT, "the client id is already in use", "use another client id (ib.client_id_*)"),
    (502, _C.CLIENT, _A.FAIL_CONNECT, "could not connect to TWS", f"enable the API in {_API_SETTINGS}"),
    (504, _C.CLIENT, _A.RECONNECT, "not connected", "connect first"),
    (507, _C.CLIENT, _A.RECONNECT, "bad message length: the socket is reset", "reconnect"),
)

CODES: Mapping[int, IBErrorCode] = MappingProxyType({row[0]: IBErrorCode(*row) for row in _ROWS})
"""Every code the adapter knows, with its class, action, meaning and fix."""

_TERMINAL_ORDER_ACTIONS = frozenset({ErrorAction.REJECT_ORDER, ErrorAction.CANCEL_CONFIRMED})


def classify(code: int, message: str = "") -> IBErrorCode:
    """The entry for ``code``; ``message`` refines the ambiguous ones (162 pacing vs. no data, 321 read-only)."""
    entry = CODES.get(code)
    text = message.lower()
    if code == 162:
        if "pacing violation" in text:
            return IBErrorCode(162, ErrorClass.REQUEST, ErrorAction.PACING, "historical data pacing violation",
                               "the adapter waits and retries; fewer requests per 10 minutes")  # fmt: skip
        if "returned no data" in text or "no historical market data" in text or "no data" in text:
            return IBErrorCode(162, ErrorClass.REQUEST, ErrorAction.NO_DATA, "the query returned no data", "")
    if code == 321 and "read-only" in text.replace("read only", "read-only"):
        return IBErrorCode(321, ErrorClass.REQUEST, ErrorAction.END_REQUEST, "the API is in read-only mode",
                           f"untick 'Read-Only API' in {_API_SETTINGS}, or keep ib.read_only = true")  # fmt: skip
    if entry is not None:
        return entry
    if 2100 <= code < 2200:
        return IBErrorCode(code, ErrorClass.WARNING, ErrorAction.LOG, "TWS warning", "")
    if 1100 <= code < 1400:
        return IBErrorCode(code, ErrorClass.CONNECTIVITY, ErrorAction.LOG, "TWS system message", "")
    return IBErrorCode(code, ErrorClass.REQUEST, ErrorAction.END_REQUEST, "IB error", "see the message")


def is_order_terminal(code: int) -> bool:
    """True when an error with an order's id ends that order (reject, cancel acknowledgement)."""
    return classify(code).action in _TERMINAL_ORDER_ACTIONS


def keeps_order_live(code: int) -> bool:
    """True when an error with an order's id must *not* change its status (informational and warning codes)."""
    return not is_order_terminal(code)


class ErrorStats:
    """Counts of the error codes one connection received, per code and per class."""

    def __init__(self) -> None:
        self.by_code: Counter[int] = Counter()
        self.by_class: Counter[ErrorClass] = Counter()
        self.last: dict[int, str] = {}

    def record(self, code: int, message: str = "") -> IBErrorCode:
        """Count one arrival of ``code`` and return its classification."""
        entry = classify(code, message)
        self.by_code[code] += 1
        self.by_class[entry.kind] += 1
        self.last[code] = message
        return entry

    @property
    def total(self) -> int:
        """How many error messages arrived."""
        return sum(self.by_code.values())

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready view: totals per class and per code, and the last message of each code."""
        return {
            "total": self.total,
            "by_class": {k.value: v for k, v in sorted(self.by_class.items(), key=lambda kv: kv[0].value)},
            "by_code": {str(k): v for k, v in sorted(self.by_code.items())},
            "last_message": {str(k): v for k, v in sorted(self.last.items())},
        }
