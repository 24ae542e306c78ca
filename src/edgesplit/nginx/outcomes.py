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
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from ..core import Assignment, Config
from ..pipeline.decide import Decision
from ..ports import ObserverPort
from ..ports.metrics import Metrics
from .protocol import known_assignments

__all__ = ["OutcomeReceiver", "outcomes_address", "parse_outcome"]

log = logging.getLogger("edgesplit.nginx.outcomes")
TAG = "edgesplit"


def outcomes_address(unix_socket: str) -> str:
    """The datagram socket beside the service's Unix socket."""
    return unix_socket + ".outcomes"


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

    def datagram_received(self, data: bytes, addr: Any) -> None:
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
        self._unix: socket.socket | None = None

    def receive(self, datagram: bytes) -> None:
        outcome = parse_outcome(datagram, self.config())
        if outcome is None:
            self.metrics.inc("edgesplit_nginx_outcomes_total", result="ignored")
            return
        self.metrics.inc("edgesplit_nginx_outcomes_total", result="counted")
        try:
            self.observer.request_done(*outcome)
        except Exception:
            log.exception("counting an nginx outcome failed")

    async def start(self) -> None:
        """UDP on ``host:port``, or a Unix datagram socket when ``host`` is a path."""
        loop = asyncio.get_running_loop()
        if self.host.startswith("/"):  # uvloop has no Unix datagram transport: read it ourselves
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.host)
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            unix.bind(self.host)
            unix.setblocking(False)
            loop.add_reader(unix.fileno(), self._read_unix, unix)
            self._unix = unix
            return
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self.receive), local_addr=(self.host, self.port)
        )
        self.port = transport.get_extra_info("sockname")[1]
        self._transport = transport

    def _read_unix(self, unix: socket.socket) -> None:
        for _ in range(256):  # whatever arrived, without starving the loop
            try:
                self.receive(unix.recv(4096))
            except BlockingIOError:
                return

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._unix is not None:
            asyncio.get_running_loop().remove_reader(self._unix.fileno())
            self._unix.close()
            self._unix = None
