"""`edgesplit serve --workers 2` as real processes on 127.0.0.1: events delivered once each
across workers, a killed worker replaced while the port keeps answering, one guardrail update
per interval, /metrics that never goes backwards, and a clean stop that leaves no process."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from serve_processes import free_port, queue_depth, serve_command

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.core.events import exposure_event
from edgesplit.proxy.vendor_sim import VendorSimulator
from servers import CONFIG, KEYRING_JSON, ServerThread, TestOrigin

CONFIG_OBJ = load_config(CONFIG)
DEADLINE = 60.0


def http(url: str, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return response.read()


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def children(pid: int) -> set[int]:
    """The live (not zombie) processes whose parent is ``pid``, from /proc."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def healthy(port: int) -> bool:
    try:
        return b'"ok"' in http(f"http://127.0.0.1:{port}/__edgesplit/health")
    except OSError:
        return False


class Proxy:
    def __init__(self, tmp: Path, origin: int, *extra: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.log_path = tmp / f"serve-{time.monotonic_ns()}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                serve_command(tmp, f"http://127.0.0.1:{origin}", self.port, "--workers", "2", *extra),
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
        wait_until(lambda: "2 workers serving" in self.log() or self.process.poll() is not None, "workers")
        assert self.process.poll() is None, self.log()
        assert healthy(self.port)

    def log(self) -> str:
        return self.log_path.read_text()

    def workers(self) -> set[int]:
        return children(self.process.pid)

    def stop(self) -> int:
        workers = self.workers()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(DEADLINE)
        for pid in workers:
            if Path(f"/proc/{pid}").exists():  # a leftover worker: clean up, and fail the test
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"worker {pid} outlived its supervisor")
        return code


@contextmanager
def stack(tmp: Path) -> Iterator[tuple[TestOrigin, int, VendorSimulator, int]]:
    """The test origin and the vendor simulator, with their ports."""
    (tmp / "config.json").write_text(json.dumps(CONFIG))
    (tmp / "keys.json").write_text(KEYRING_JSON)
    servers = ServerThread()
    origin, vendor = TestOrigin(), VendorSimulator()
    try:
        yield origin, servers.start(origin.app()), vendor, servers.start(vendor.app())
    finally:
        servers.stop()


@contextmanager
def serving(tmp: Path, *extra: str) -> Iterator[Proxy]:
    """Two workers in front of a test origin; stopped at the end: exit 0, no process left."""
    with stack(tmp) as (_, origin, _vendor, _vendor_port):
        proxy = Proxy(tmp, origin, *extra)
        try:
            yield proxy
        finally:
            code = proxy.stop()
        assert code == 0, proxy.log()
        assert not proxy.workers()


def served_by_process(tmp: Path) -> dict[str, float]:
    """Requests each worker process counted, from the shared metrics board."""
    with sqlite3.connect(tmp / "queue" / "worker-metrics.sqlite3") as db:
        rows = db.execute("SELECT process, snapshot FROM worker_metrics").fetchall()
    return {
        process: sum(value for _, value in json.loads(data)["counters"].get("edgesplit_requests_total", []))
        for process, data in rows
    }


def visit(port: int, n: int) -> set[str]:
    """One new visitor's page view; the exposure event ids it must produce."""
    visitor, path = f"worker-visitor-{n:05d}", f"/page/shop-{n % 3}"
    http(f"http://127.0.0.1:{port}{path}", {"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"})
    return {
        exposure_event(visitor, key, a.variant, CONFIG_OBJ.version, time.time(), 1800)["id"]
        for key, a in assign(CONFIG_OBJ, visitor, {"path": path}).items()
        if a.in_experiment and a.variant
    }


def test_events_are_delivered_once_each_across_workers_through_an_outage_and_a_stop(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, origin, vendor, vendor_port):
        vendor_args = ("--vendor-url", f"http://127.0.0.1:{vendor_port}/batch", "--queue-shards", "4")
        vendor.mode = "down"
        proxy = Proxy(tmp_path, origin, *vendor_args)
        try:
            with ThreadPoolExecutor(8) as pool:  # concurrent, so both workers accept connections
                want = set().union(*pool.map(lambda n: visit(proxy.port, n), range(400)))
            assert len(want) >= 400
            wait_until(
                lambda: len([n for n in served_by_process(tmp_path).values() if n]) == 2, "both workers"
            )
            wait_until(lambda: queue_depth(tmp_path) == len(want), "every event queued")
        finally:
            code = proxy.stop()
        assert code == 0, proxy.log()
        assert not proxy.workers()
        assert queue_depth(tmp_path) == len(want)  # the stop lost nothing
        assert not vendor.events
        # The vendor is back: two fresh workers both find every shard pending at start.
        vendor.mode = "healthy"
        proxy = Proxy(tmp_path, origin, *vendor_args)
        try:
            wait_until(lambda: want <= set(vendor.events), "every event delivered")
            wait_until(lambda: queue_depth(tmp_path) == 0, "an empty queue")
            assert set(vendor.events) == want
            assert vendor.duplicates == 0, vendor.stats()  # no event sent twice, by either worker
        finally:
            assert proxy.stop() == 0, proxy.log()


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(tmp_path: Path) -> None:
    with serving(tmp_path) as proxy:
        first = wait_until(lambda: w if len(w := proxy.workers()) == 2 else None, "two workers")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        answered = 0
        deadline = time.monotonic() + DEADLINE
        while not ((now := proxy.workers()) - first and len(now) == 2):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            assert healthy(proxy.port)  # the other worker, then both, answer throughout
            answered += 1
        assert victim not in proxy.workers()
        assert answered >= 1
        assert all(healthy(proxy.port) for _ in range(20))
        assert re.search(rf"worker \d \(pid {victim}\) exited with status -9", proxy.log())


def test_sigterm_lets_a_request_in_flight_finish_then_leaves_no_process(tmp_path: Path) -> None:
    with stack(tmp_path) as (origin, origin_port, _vendor, _vendor_port):
        proxy = Proxy(tmp_path, origin_port)
        url = f"http://127.0.0.1:{proxy.port}/page/in-flight?delay=2"
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(http, url, {"Cookie": "edgesplit_id=in-flight-visitor"})
            wait_until(lambda: origin.fetches["/page/in-flight"] >= 1, "the request waiting on the origin")
            code = proxy.stop()  # SIGTERM while the origin is still rendering the page
            answer = json.loads(pending.result(timeout=DEADLINE))
    assert code == 0, proxy.log()
    assert answer["verified"] and answer["fetch"] == 1  # served whole, by a worker that was stopping
    assert not proxy.workers()


def test_one_guardrail_update_per_interval_whichever_worker_runs_it(tmp_path: Path) -> None:
    interval = 0.5
    with serving(tmp_path, "--guardrail-interval", str(interval)) as proxy:
        counts = tmp_path / "queue" / "counts.sqlite3"

        def grants() -> list[tuple[str, float, float]]:
            with sqlite3.connect(counts) as db:
                return db.execute(
                    "SELECT owner, granted_at, expires FROM updater_grants ORDER BY token"
                ).fetchall()

        def skipped() -> float:
            text = http(f"http://127.0.0.1:{proxy.port}/__edgesplit/metrics").decode()
            found = re.search(
                r'edgesplit_guardrail_updates_skipped_total\{reason="another_worker"\} (\S+)', text
            )
            return float(found.group(1)) if found else 0.0

        wait_until(lambda: len(grants()) >= 8 and skipped() >= 2, "updates and refused attempts")
        log = grants()
        for (_, granted, _), (_, later, _) in zip(log, log[1:], strict=False):
            assert later - granted >= interval - 1e-6, log  # never two updates in one interval


def test_metrics_totals_never_go_backwards_whichever_worker_answers(tmp_path: Path) -> None:
    with serving(tmp_path) as proxy:

        def total() -> float:
            text = http(f"http://127.0.0.1:{proxy.port}/__edgesplit/metrics").decode()
            return sum(float(v) for v in re.findall(r"^edgesplit_requests_total\{[^}]*\} (\S+)$", text, re.M))

        seen: list[float] = []
        for n in range(60):
            visit(proxy.port, n)
            seen.append(total())
        assert seen == sorted(seen), seen
        # every page view, whichever worker served it, once that worker has published (1 s)
        wait_until(lambda: total() >= 60, "all page views counted")
        assert len([n for n in served_by_process(tmp_path).values() if n]) == 2


def test_a_config_change_and_sighup_reach_every_worker_and_stop_none(tmp_path: Path) -> None:
    with serving(tmp_path) as proxy:
        before = wait_until(lambda: w if len(w := proxy.workers()) == 2 else None, "two workers")

        def versions(n: int) -> set[str]:
            return {
                json.loads(http(f"http://127.0.0.1:{proxy.port}/__edgesplit/health"))["config_version"]
                for _ in range(n)
            }

        assert versions(10) == {CONFIG["version"]}
        (tmp_path / "config.json").write_text(json.dumps({**CONFIG, "version": "e2e-2"}))
        proxy.process.send_signal(signal.SIGHUP)
        wait_until(lambda: versions(20) == {"e2e-2"}, "every worker on the new version")
        assert proxy.workers() == before  # SIGHUP reloads; it stops no worker


def test_workers_join_a_shared_state_as_one_proxy_each(tmp_path: Path) -> None:
    shared = tmp_path / "shared.sqlite3"
    with serving(tmp_path, "--state", f"sqlite://{shared}") as proxy:
        counted = sum(len(visit(proxy.port, n)) for n in range(40))  # one per experiment the visitor is in

        def cluster() -> tuple[int, float]:
            with sqlite3.connect(shared) as db:
                proxies = db.execute("SELECT COUNT(*) FROM proxy_reports").fetchone()[0]
                requests = db.execute("SELECT COALESCE(SUM(requests), 0) FROM variant_counts").fetchone()[0]
            return int(proxies), float(requests)

        # every worker reports as its own proxy, and every request is counted once in the cluster
        wait_until(lambda: cluster() == (2, float(counted)), "the cluster's view")


def test_a_returning_visitor_is_counted_once_whichever_workers_serve_it(tmp_path: Path) -> None:
    with serving(tmp_path) as proxy:
        want = set().union(*(visit(proxy.port, 7) for _ in range(30)))  # one visitor, 30 connections
        wait_until(lambda: len([n for n in served_by_process(tmp_path).values() if n]) == 2, "both workers")
    # stopped: every worker has flushed its counts
    with sqlite3.connect(tmp_path / "queue" / "counts.sqlite3") as db:
        exposures = db.execute("SELECT COALESCE(SUM(exposures), 0) FROM variant_counts").fetchone()[0]
    assert exposures == len(want)  # not once per worker that served the visitor


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_serve_refuses_a_bad_worker_count_before_binding(tmp_path: Path, value: str) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    result = subprocess.run(
        serve_command(tmp_path, "http://127.0.0.1:9", 0, "--workers", value),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "argument --workers" in result.stderr


def test_workers_that_cannot_start_make_the_supervisor_exit_non_zero(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "keys.json").write_text(KEYRING_JSON)
    (tmp_path / "queue" / "shard-0.sqlite3").mkdir(parents=True)  # every worker fails to open its queue
    process = subprocess.run(
        serve_command(
            tmp_path, "http://127.0.0.1:9", 0, "--workers", "2", "--vendor-url", "http://127.0.0.1:9/b"
        ),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert process.returncode == 1, process.stderr
    assert "workers could not start" in process.stderr
    assert "unable to open database file" in process.stderr  # the worker's own reason, in the log
