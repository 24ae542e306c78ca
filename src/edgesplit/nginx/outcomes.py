"""Receives nginx's outcome log over syslog (UDP on 127.0.0.1) and counts each page's status per
variant, as the proxy's observer does: nginx, not the decision service, sees the origin's answer,
and a decision nginx reused from its cache still counts as a request.

nginx logs ``access_log syslog:server=127.0.0.1:PORT,tag=edgesplit,nohostname edgesplit_outcome``
with ``log_format edgesplit_outcome '$edgesplit_counted $status $request_time'``; a line reads
``<190>Dec  1 03:04:05 edgesplit: hero:bold,shop:a 200 0.004``. UDP may drop lines under
overload: the counts are a sample then, never invented (unknown experiments are ignored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..core import Assignment, Config
from ..pipeline.decide import Decision
from ..pipeline.metrics import Metrics
from ..pipeline.ports import ObserverPort
from .protocol import known_assignments

__all__ = ["OutcomeReceiver", "parse_outcome"]

log = logging.getLogger("edgesplit.nginx.outcomes")
TAG = "edgesplit"


def parse_outcome(datagram: bytes, config: Config) -> tuple[Decision, int, float] | None:
    """The outcome a syslog line reports, or None for anything else."""
    text = datagram[:2048].decode("utf-8", "replace")
    _, marker, payload = text.partition(f" {TAG}: ")
    fields = payload.split()
    if not marker or len(fields) != 3 or not fields[1].isdigit():
        return None
    try:
        seconds = float(fields[2])
    except ValueError:
        return None
    pairs = known_assignments(fields[0], config)
    if not pairs or not 0 <= seconds < 86_400:
        return None
    assignments = {key: Assignment(key, variant, None, True, "nginx") for key, variant in pairs.items()}
    return Decision(assignments=assignments), int(fields[1]), seconds


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receive: Callable[[bytes], None]) -> None:
        self.receive = receive

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.receive(data)


class OutcomeReceiver:
    def __init__(
        self, host: str, port: int, config: Callable[[], Config], observer: ObserverPort, metrics: Metrics
    ) -> None:
        self.host = host
        self.port = port
        self.config = config
        self.observer = observer
        self.metrics = metrics
        self._transport: asyncio.DatagramTransport | None = None

    def receive(self, datagram: bytes) -> None:
        outcome = parse_outcome(datagram, self.config())
        if outcome is None:
            self.metrics.inc("edgesplit_nginx_outcomes_total", result="ignored")
            return
        self.metrics.inc("edgesplit_nginx_outcomes_total", result="counted")
        try:
            self.observer.request_done(*outcome)
        except Exception:  # noqa: BLE001 - counting must never stop the receiver
            log.exception("counting an nginx outcome failed")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self.receive), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
