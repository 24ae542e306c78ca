"""``edgesplit serve --workers N``: a supervisor process and N forked worker processes.

Pre-fork: the supervisor binds and listens once, and every worker accepts on that inherited
socket. Chosen over one ``SO_REUSEPORT`` socket per worker because:

- the listening socket outlives any worker: while a worker is dead or restarting, the others
  accept everything. With ``SO_REUSEPORT`` the kernel hashes each new connection to one socket,
  and the connections hashed to a dead worker's socket are reset (or, if the supervisor kept that
  socket open, wait in its backlog until the replacement is up);
- ``--port 0`` works: the supervisor learns the port once and every worker serves it.

The supervisor never runs an event loop or a thread, so forking is safe. It starts N workers
(each reports "ready" through a pipe once it is serving), replaces one that exits with a backoff
per slot (doubling from ``min_backoff`` to ``max_backoff``; reset once a worker stayed up
``stable_after`` seconds), forwards SIGHUP (reload the config now), and on SIGTERM or SIGINT
asks every worker to stop (each drains its requests in flight and flushes its counts and
events), waits for them, and exits. If the first workers cannot start, it stops the others and
exits with status 1.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Supervisor", "SupervisorPolicy", "WorkerSlot", "bind_listener"]

log = logging.getLogger("edgesplit.supervisor")

_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
_BIND_ATTEMPTS = 30


def bind_listener(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """The one listening socket every worker accepts on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for attempt in range(_BIND_ATTEMPTS):
            try:
                sock.bind((host, port))
                break
            except OSError as exc:  # a killed run's workers may still be closing the port
                if exc.errno != errno.EADDRINUSE or port == 0 or attempt == _BIND_ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _stop_with_parent(supervisor_pid: int) -> None:
    """Linux: the kernel kills this worker if the supervisor dies. A supervisor killed with
    SIGKILL takes its workers with it, as a single process would go: whatever they had not
    committed is lost the same way, and a restart finds the port free."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a killed supervisor leaves its workers behind
        return
    if os.getppid() != supervisor_pid:  # it died before prctl took effect
        os._exit(0)


@dataclass(frozen=True)
class SupervisorPolicy:
    min_backoff: float = 0.5
    max_backoff: float = 30.0
    stable_after: float = 30.0
    start_timeout: float = 120.0
    """The first workers must report ready within this; else the supervisor gives up (status 1)."""
    stop_timeout: float = 75.0
    """After SIGTERM, a worker gets this long to drain (aiohttp waits up to 60 s for requests)."""


@dataclass
class WorkerSlot:
    """What a worker process is handed: its index, the socket, and the pipe that says "ready"."""

    index: int
    workers: int
    sock: socket.socket
    ready_fd: int
    supervisor_pid: int

    def ready(self) -> None:
        try:
            os.write(self.ready_fd, b"r")
        except OSError:
            pass  # the supervisor is gone; the kernel's parent-death signal ends this worker
        finally:
            os.close(self.ready_fd)


@dataclass
class _Child:
    index: int
    pid: int
    ready_fd: int
    started: float
    ready: bool = False


@dataclass
class _SlotState:
    failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    sock: socket.socket
    workers: int
    run_worker: Callable[[WorkerSlot], int]
    """Runs in the forked child; returns its exit status (never returns into the supervisor)."""
    policy: SupervisorPolicy = field(default_factory=SupervisorPolicy)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("at least one worker")
        self._children: dict[int, _Child] = {}
        self._slots = [_SlotState() for _ in range(self.workers)]
        self._selector = selectors.DefaultSelector()
        self._pending: list[int] = []
        self._stopping = False
        self._starting = True
        self._failed = False

    # -- signals -----------------------------------------------------------------------
    def _install_signals(self) -> tuple[socket.socket, socket.socket]:
        wake_r, wake_w = socket.socketpair()
        self._wake = (wake_r, wake_w)
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        for sig in _HANDLED:
            signal.signal(sig, self._on_signal)
        self._selector.register(wake_r, selectors.EVENT_READ, None)
        return wake_r, wake_w

    def _on_signal(self, signum: int, frame: object) -> None:
        self._pending.append(signum)

    # -- workers -----------------------------------------------------------------------
    def _spawn(self, index: int) -> None:
        ready_r, ready_w = os.pipe()
        # Blocked across the fork: a signal meant for the supervisor must not run its handler in
        # the child before the child has put the defaults back.
        signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        pid = os.fork()
        if pid == 0:  # the worker: forget the supervisor's signal plumbing, then serve
            status = 70
            try:
                signal.set_wakeup_fd(-1)
                for sig in _HANDLED:
                    signal.signal(sig, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker's reload handler is in
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
                _stop_with_parent(self.supervisor_pid)
                os.close(ready_r)
                for child in self._children.values():
                    if child.ready_fd >= 0:
                        os.close(child.ready_fd)
                self._selector.close()
                for end in self._wake:
                    end.close()
                status = self.run_worker(
                    WorkerSlot(index, self.workers, self.sock, ready_w, self.supervisor_pid)
                )
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                log.exception("worker %d failed", index)
                status = 70
            finally:
                logging.shutdown()
                os._exit(status)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
        os.close(ready_w)
        os.set_blocking(ready_r, False)
        child = _Child(index, pid, ready_r, time.monotonic())
        self._children[pid] = child
        self._selector.register(ready_r, selectors.EVENT_READ, pid)
        log.info("worker %d started (pid %d)", index, pid)

    def _read_ready(self, pid: int) -> None:
        child = self._children.get(pid)
        if child is None:
            return
        try:
            data = os.read(child.ready_fd, 16)
        except BlockingIOError:
            return
        if data:
            child.ready = True
            log.info("worker %d ready (pid %d)", child.index, pid)
        self._selector.unregister(child.ready_fd)
        os.close(child.ready_fd)
        child.ready_fd = -1

    def _reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self._children.get(pid)
            if child is None:
                continue
            if child.ready_fd >= 0:  # it may have said "ready" before exiting: read that first
                self._read_ready(pid)
            if child.ready_fd >= 0:
                self._selector.unregister(child.ready_fd)
                os.close(child.ready_fd)
            del self._children[pid]
            code = os.waitstatus_to_exitcode(status)
            if self._stopping or self._starting:
                # A worker forked just before the stop dies of our SIGTERM's default action
                # before its handler is in: that is the stop we asked for, not a failure.
                asked = self._stopping and not child.ready and code == -signal.SIGTERM
                log.log(
                    logging.INFO if code == 0 or asked else logging.ERROR,
                    "worker %d exited (pid %d, status %d)",
                    child.index,
                    pid,
                    code,
                )
                if code != 0 and not asked:
                    self._failed = True
                continue
            self._replace(child, code)

    def _replace(self, child: _Child, code: int) -> None:
        slot = self._slots[child.index]
        uptime = time.monotonic() - child.started
        if child.ready and uptime >= self.policy.stable_after:
            slot.failures = 0
        slot.failures += 1
        delay = min(self.policy.max_backoff, self.policy.min_backoff * 2 ** (slot.failures - 1))
        slot.restart_at = time.monotonic() + delay
        log.error(
            "worker %d (pid %d) exited with status %d after %.1f s; replacing it in %.1f s",
            child.index,
            child.pid,
            code,
            uptime,
            delay,
        )

    # -- the loop ----------------------------------------------------------------------
    def _signal_all(self, signum: int) -> None:
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(pid, signum)

    def _handle_signals(self) -> None:
        pending, self._pending = self._pending, []
        for signum in pending:
            if signum in (signal.SIGTERM, signal.SIGINT) and not self._stopping:
                log.info("supervisor: stopping %d workers", len(self._children))
                self._stopping = True
                self._signal_all(signal.SIGTERM)
            elif signum == signal.SIGHUP and not self._stopping:
                self._signal_all(signal.SIGHUP)
        self._reap()

    def _wait(self, timeout: float, wake: socket.socket) -> None:
        try:
            events = self._selector.select(max(0.0, timeout))
        except OSError as exc:  # pragma: no cover - select interrupted on old kernels
            if exc.errno != errno.EINTR:
                raise
            events = []
        for key, _ in events:
            if key.data is None:
                try:
                    while wake.recv(512):
                        pass
                except BlockingIOError:
                    pass
            else:
                self._read_ready(key.data)

    def run(self) -> int:
        self.supervisor_pid = os.getpid()
        wake_r, wake_w = self._install_signals()
        try:
            return self._run(wake_r)
        finally:
            signal.set_wakeup_fd(-1)
            for sig in _HANDLED:
                signal.signal(sig, signal.SIG_DFL)
            self._selector.close()
            wake_r.close()
            wake_w.close()

    def _run(self, wake: socket.socket) -> int:
        for index in range(self.workers):
            self._spawn(index)
        started = time.monotonic()
        stop_deadline: float | None = None
        while True:
            self._handle_signals()
            now = time.monotonic()
            if self._stopping:
                if not self._children:
                    return 1 if self._failed else 0
                if stop_deadline is None:
                    stop_deadline = now + self.policy.stop_timeout
                elif now >= stop_deadline:
                    log.error(
                        "workers still running %.0f s after SIGTERM: killing them", self.policy.stop_timeout
                    )
                    self._signal_all(signal.SIGKILL)
                    stop_deadline = now + self.policy.stop_timeout
                self._wait(min(1.0, stop_deadline - now), wake)
                continue
            if self._starting:
                live = list(self._children.values())
                if len(live) < self.workers or now - started > self.policy.start_timeout:
                    log.error("workers could not start; stopping")
                    self._stopping = self._failed = True
                    self._signal_all(signal.SIGTERM)
                    continue
                if all(child.ready for child in live):
                    self._starting = False
                    log.info("supervisor: %d workers serving", self.workers)
            next_restart = self._restart_due(now)
            self._wait(min(1.0, next_restart - now) if next_restart is not None else 1.0, wake)

    def _restart_due(self, now: float) -> float | None:
        """Start the replacements that are due; the time of the next one, if any."""
        upcoming: list[float] = []
        for index, slot in enumerate(self._slots):
            if slot.restart_at is None:
                continue
            if slot.restart_at <= now:
                slot.restart_at = None
                self._spawn(index)
            else:
                upcoming.append(slot.restart_at)
        return min(upcoming) if upcoming else None
