"""Scripted faults, driven from Python (tests, demos): the failures a platform must survive at IB.

* :meth:`Faults.drop` cuts a client's socket (or every client's) without a goodbye;
* :meth:`Faults.connectivity_lost` / :meth:`Faults.connectivity_restored` send 1100 and 1101/1102 as TWS does
  when its link to IB goes and comes back;
* :meth:`Faults.delay` holds every reply for N milliseconds;
* :meth:`Faults.restart` drops everyone, stops listening for a while and comes back on the same port.

Hooks for other modules (the order handling adds "withhold orderStatus" and "reject the next order" this way):

* :meth:`Faults.add_send_filter` installs ``filter(session, fields) -> bool``; a message any filter refuses is
  silently withheld;
* :meth:`Faults.arm` / :meth:`Faults.consume` keep named one-shot (or n-shot) flags with parameters, which the
  module that understands the name checks at the right moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantdesk.gateway import replies
from quantdesk.gateway.client import ClientRegistry, ClientSession

__all__ = ["CONNECTIVITY_MESSAGES", "ArmedFault", "Faults", "Restart", "SendFilter"]

SendFilter = Callable[[ClientSession, Sequence[str]], bool]
Restart = Callable[[float], Awaitable[None]]
CONNECTIVITY_MESSAGES = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained. "
    "All data farms are connected: usfarm; ushmds; secdefnj.",
    1300: "TWS socket port has been reset and this connection is being dropped. Please reconnect on the new port",
}


@dataclass(slots=True)
class ArmedFault:
    """A named fault waiting to fire ``remaining`` more times, with its parameters."""

    name: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)


class Faults:
    """The fault switchboard of one gateway."""

    def __init__(self, clients: ClientRegistry, restart: Restart) -> None:
        self._clients = clients
        self._restart = restart
        self.default_delay = 0.0
        self._filters: list[SendFilter] = []
        self._armed: dict[str, ArmedFault] = {}

    def _targets(self, client_id: int | None) -> list[ClientSession]:
        sessions = list(self._clients.sessions.values())
        return sessions if client_id is None else [s for s in sessions if s.client_id == client_id]

    # --- connections -----------------------------------------------------------------------------------------

    def drop(self, client_id: int | None = None) -> int:
        """Cut the socket of one client (or all); returns how many were dropped."""
        targets = self._targets(client_id)
        for session in targets:
            session.abort()
        return len(targets)

    def notify(self, code: int, client_id: int | None = None, message: str | None = None) -> int:
        """Send a system message (error with id -1) such as 1100, 1101, 1102 or 1300 to one client or all."""
        text = message if message is not None else CONNECTIVITY_MESSAGES.get(code, "")
        targets = self._targets(client_id)
        for session in targets:
            session.send(replies.error(-1, code, text))
        return len(targets)

    def connectivity_lost(self, client_id: int | None = None) -> int:
        """Error 1100: TWS lost its connection to IB."""
        return self.notify(1100, client_id)

    def connectivity_restored(self, client_id: int | None = None, *, data_lost: bool = False) -> int:
        """Error 1101 (data lost: the client must resubscribe) or 1102 (data maintained)."""
        return self.notify(1101 if data_lost else 1102, client_id)

    def delay(self, milliseconds: float, client_id: int | None = None) -> None:
        """Hold replies for ``milliseconds`` (0 ends the delay); without a client id, also for future clients."""
        seconds = max(milliseconds, 0.0) / 1000.0
        if client_id is None:
            self.default_delay = seconds
        for session in self._targets(client_id):
            session.delay = seconds

    async def restart(self, downtime: float = 0.0) -> None:
        """Drop every client, stop listening for ``downtime`` seconds and listen again on the same port."""
        await self._restart(downtime)

    # --- hooks -----------------------------------------------------------------------------------------------

    def add_send_filter(self, send_filter: SendFilter) -> Callable[[], None]:
        """Install a filter on outgoing messages; returns a function that removes it again."""
        self._filters.append(send_filter)

        def remove() -> None:
            if send_filter in self._filters:
                self._filters.remove(send_filter)

        return remove

    def allows(self, session: ClientSession, fields: Sequence[str]) -> bool:
        """Whether every filter lets this message through."""
        return all(f(session, fields) for f in self._filters) if self._filters else True

    def arm(self, name: str, times: int = 1, **params: Any) -> None:
        """Arm a named fault to fire ``times`` times (the module that knows the name consumes it)."""
        self._armed[name] = ArmedFault(name, times, dict(params))

    def armed(self, name: str) -> bool:
        """Whether a named fault is waiting."""
        return name in self._armed

    def consume(self, name: str) -> dict[str, Any] | None:
        """Fire a named fault once: its parameters, or ``None`` when it is not armed."""
        fault = self._armed.get(name)
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            del self._armed[name]
        return dict(fault.params)

    def disarm(self, name: str | None = None) -> None:
        """Disarm one named fault, or all of them."""
        if name is None:
            self._armed.clear()
        else:
            self._armed.pop(name, None)
