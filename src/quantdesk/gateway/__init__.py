"""The TWS-API wire-protocol simulator ("the gateway"): an asyncio server the unmodified ``ib_async`` client talks to.

It claims server version 178 (answering each client in the layout of the version it agreed) and serves accounts,
contracts, market data and history from the bundled S&P 500 sample replayed on today's calendar, and fills orders
through the shared matching engine (:mod:`quantdesk.gateway.order_desk`, installed by default). Handlers work on a
typed :class:`VenueContext`; the server adds sockets, sessions and the pump around it.

Start one in a test::

    async with GatewayServer(GatewayConfig(speed=0)) as gw:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=1)
"""

from quantdesk.gateway.accounts import Account, AccountBook, Holding, InstrumentInfo
from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.clock import SESSION_SECONDS, SessionCalendar, SimClock
from quantdesk.gateway.codec import SERVER_VERSION, FrameDecoder, ProtocolError, Request, encode_field, frame
from quantdesk.gateway.config import DEFAULT_ACCOUNTS, GatewayConfig
from quantdesk.gateway.contracts import ContractCatalog, ContractQuery, ContractSpec, OptionChainInfo
from quantdesk.gateway.dispatch import Handler, HandlerTable
from quantdesk.gateway.faults import Faults
from quantdesk.gateway.history import HistoryBuilder
from quantdesk.gateway.market_data import MarketModel, Quote
from quantdesk.gateway.order_desk import OrderDesk
from quantdesk.gateway.order_handlers import ORDER_MESSAGE_IDS, desk_of, install_orders
from quantdesk.gateway.server import Extension, GatewayServer, serve
from quantdesk.gateway.session import Session
from quantdesk.gateway.slots import ExtensionSlots, Slot
from quantdesk.gateway.venue_context import VenueContext, build_venue

__all__ = [
    "DEFAULT_ACCOUNTS",
    "ORDER_MESSAGE_IDS",
    "SERVER_VERSION",
    "SESSION_SECONDS",
    "Account",
    "AccountBook",
    "ClientSession",
    "ContractCatalog",
    "ContractQuery",
    "ContractSpec",
    "Extension",
    "ExtensionSlots",
    "Faults",
    "FrameDecoder",
    "GatewayConfig",
    "GatewayServer",
    "Handler",
    "HandlerTable",
    "HistoryBuilder",
    "Holding",
    "InstrumentInfo",
    "MarketModel",
    "OptionChainInfo",
    "OrderDesk",
    "ProtocolError",
    "Quote",
    "Request",
    "Session",
    "SessionCalendar",
    "SimClock",
    "Slot",
    "VenueContext",
    "build_venue",
    "desk_of",
    "encode_field",
    "frame",
    "install_orders",
    "serve",
]
