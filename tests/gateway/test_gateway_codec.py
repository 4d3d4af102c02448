"""The wire format: field encoding, framing, the handshake and reading requests the real client writes."""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ib_async import IB, Contract, Forex, Option, Stock
from ib_async.client import Client

from quantdesk.gateway.codec import (
    API_PREFIX,
    UNSET,
    UNSET_DOUBLE,
    FrameDecoder,
    ProtocolError,
    Request,
    encode_field,
    encode_fields,
    frame,
    parse_version_range,
    split_fields,
)
from quantdesk.gateway.contracts import ContractQuery


class Color(enum.Enum):
    RED = "R"


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (True, "1"),
        (False, "0"),
        (None, ""),
        (UNSET, ""),
        (0, "0"),
        (-1, "-1"),
        (2147483647, "2147483647"),
        (1.5, "1.5"),
        (125.674, "125.674"),
        (0.0, "0.0"),
        (1e-05, "1e-05"),
        (math.nan, ""),
        (math.inf, ""),
        (Decimal("1.10"), "1.10"),
        (Decimal("NaN"), ""),
        ("AAPL", "AAPL"),
        (Color.RED, "R"),
    ],
)
def test_encode_field(value: object, wire: str) -> None:
    assert encode_field(value) == wire


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly(x: float) -> None:
    assert float(encode_field(x)) == x


def test_frame_layout_matches_the_client() -> None:
    data = frame(["49", "1", "1700000000"])
    assert data == struct.pack(">I", 16) + b"49\x001\x001700000000\x00"
    assert split_fields(data[4:]) == ["49", "1", "1700000000"]
    assert split_fields(frame(["", "x", ""])[4:]) == ["", "x", ""]


def test_frame_decoder_handles_any_chunking() -> None:
    messages = [encode_fields([1, 6, 3, 1, 178.72, 800, 1]), ["53", "1"], encode_fields([17, 1, "", "", 0])]
    stream = b"".join(frame(m) for m in messages)
    for chunk in (1, 3, 7, len(stream)):
        dec = FrameDecoder()
        got: list[list[str]] = []
        for i in range(0, len(stream), chunk):
            got += dec.feed_messages(stream[i : i + chunk])
        assert got == messages
        assert dec.pending == 0


def test_frame_decoder_refuses_giant_messages() -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder(max_size=10).feed(struct.pack(">I", 11) + b"x" * 11)


@pytest.mark.parametrize(
    ("payload", "low", "high", "options"),
    [(b"v157..178", 157, 178, ""), (b"v157..178 +PACEAPI", 157, 178, "+PACEAPI"), (b"v176", 176, 176, "")],
)
def test_parse_version_range(payload: bytes, low: int, high: int, options: str) -> None:
    offer = parse_version_range(payload)
    assert (offer.min_version, offer.max_version, offer.options) == (low, high, options)


def test_negotiation() -> None:
    assert parse_version_range(b"v157..178").negotiate() == 178
    assert parse_version_range(b"v100..176").negotiate() == 176
    assert parse_version_range(b"v157..200").negotiate() == 178
    assert parse_version_range(b"v179..200").negotiate() is None


@pytest.mark.parametrize("payload", [b"157..178", b"vX..178", b"v178..157", b""])
def test_bad_version_range(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_version_range(payload)


def test_request_reader() -> None:
    req = Request(["20", "7", "", "1.5", "Infinite", "1", "0", "", "3.0", "text"])
    assert req.msg_id == 20
    assert req.read_int() == 7
    assert req.read_int(default=-1) == -1
    assert req.read_float() == 1.5
    assert req.read_float() == math.inf
    assert (req.read_bool(), req.read_bool(), req.read_bool()) == (True, False, False)
    assert req.read_int() == 3
    assert req.remaining == 1
    assert req.rest() == ["text"]
    with pytest.raises(ProtocolError):
        req.read_str()
    with pytest.raises(ProtocolError):
        Request(["x"])
    with pytest.raises(ProtocolError):
        Request(["1", "abc"]).read_int()
    with pytest.raises(ProtocolError):
        Request(["1", "2.5"]).read_int()


# --- what the real client writes -----------------------------------------------------------------------------


@pytest.fixture
def client_capture() -> Iterator[tuple[Client, list[str]]]:
    ib = IB()
    client: Client = ib.client
    sent: list[str] = []
    client.sendMsg = sent.append  # type: ignore[method-assign]
    client.connState = Client.CONNECTED
    client._serverVersion = 178
    yield client, sent
    client.connState = Client.DISCONNECTED


def _one(sent: list[str], send: Callable[[], None]) -> Request:
    sent.clear()
    send()
    assert len(sent) == 1
    data = struct.pack(">I", len(sent[0].encode())) + sent[0].encode()
    (fields,) = FrameDecoder().feed_messages(data)
    return Request(fields)


def test_handshake_bytes_of_the_client() -> None:
    prefix = Client(object())._prefix(b"v%d..%d" % (Client.MinClientVersion, Client.MaxClientVersion))
    hello = b"API\0" + prefix
    assert hello.startswith(API_PREFIX)
    size = struct.unpack(">I", hello[4:8])[0]
    offer = parse_version_range(hello[8 : 8 + size])
    assert offer.negotiate() == 178


@pytest.mark.parametrize(
    "contract",
    [
        Stock("AAPL", "SMART", "USD", primaryExchange="NASDAQ"),
        Forex("EURUSD"),
        Option("AAPL", "20260116", 180, "C", "SMART", multiplier="100", tradingClass="AAPL"),
        Contract(conId=265598),
    ],
    ids=["stock", "forex", "option", "conid"],
)
def test_contract_query_reads_the_clients_c12(client_capture: tuple[Client, list[str]], contract: Contract) -> None:
    client, sent = client_capture
    req = _one(sent, lambda: client.reqContractDetails(5, contract))
    assert (req.msg_id, req.read_int(), req.read_int()) == (9, 8, 5)
    q = ContractQuery.read(req)
    assert (q.con_id, q.symbol, q.sec_type, q.last_trade_date) == (
        contract.conId,
        contract.symbol,
        contract.secType,
        contract.lastTradeDateOrContractMonth,
    )
    assert (q.strike, q.right, q.multiplier, q.exchange, q.primary_exchange) == (
        contract.strike if contract.strike != UNSET_DOUBLE else 0.0,
        contract.right,
        contract.multiplier,
        contract.exchange,
        contract.primaryExchange,
    )
    assert (q.currency, q.local_symbol, q.trading_class) == (
        contract.currency,
        contract.localSymbol,
        contract.tradingClass,
    )
    assert (req.read_bool(), req.read_str(), req.read_str(), req.read_str()) == (False, "", "", "")
    assert req.remaining == 0


def test_historical_request_layout(client_capture: tuple[Client, list[str]]) -> None:
    client, sent = client_capture
    req = _one(
        sent,
        lambda: client.reqHistoricalData(
            9, Stock("AAPL", "SMART", "USD"), "", "2 D", "1 min", "TRADES", 1, 1, True, []
        ),
    )
    assert len(req.fields) == 23
    assert (req.msg_id, req.read_int()) == (20, 9)
    ContractQuery.read(req)
    assert (req.read_bool(), req.read_str(), req.read_str(), req.read_str()) == (False, "", "1 min", "2 D")
    assert (req.read_bool(), req.read_str(), req.read_int(), req.read_bool(), req.read_str()) == (
        True,
        "TRADES",
        1,
        True,
        "",
    )
