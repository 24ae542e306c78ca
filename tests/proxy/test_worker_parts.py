"""The parts `edgesplit serve --workers N` is built from, against real SQLite files and real
processes: the updater lease, the shard locks, the shared metrics board, the --workers flag."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.cli import build_parser
from edgesplit.pipeline import Metrics
from edgesplit.proxy.leases import LOG_KEEP, ShardLocks, UpdaterLease
from edgesplit.proxy.metrics_board import MetricsBoard, SharedMetrics, merge_snapshots, snapshot
from edgesplit.proxy.worker_count import MAX_WORKERS, interval_seconds, worker_count
from edgesplit.sqlite_sql import SqliteSql


def test_updater_lease_grants_once_per_time_to_live_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite3"
    first = UpdaterLease(SqliteSql(path), "worker-0", ttl=10.0)
    second = UpdaterLease(SqliteSql(path), "worker-1", ttl=10.0)  # another process's connection
    assert first.acquire(1000.0)
    assert not second.acquire(1000.0)
    assert not first.acquire(1009.999)  # not even the holder: one update per interval
    assert second.acquire(1010.0)
    assert not first.acquire(1015.0)
    assert [(g["owner"], g["granted_at"]) for g in first.grants()] == [
        ("worker-0", 1000.0),
        ("worker-1", 1010.0),
    ]


def test_updater_lease_log_is_bounded(tmp_path: Path) -> None:
    lease = UpdaterLease(SqliteSql(tmp_path / "counts.sqlite3"), "w", ttl=1.0)
    for n in range(LOG_KEEP + 30):
        assert lease.acquire(float(n))
    grants = lease.grants()
    assert len(grants) == LOG_KEEP
    assert grants[-1]["granted_at"] == float(LOG_KEEP + 29)


def test_updater_lease_refuses_a_non_positive_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        UpdaterLease(SqliteSql(tmp_path / "c.sqlite3"), "w", ttl=0.0)


def test_shard_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    mine, theirs = (
        ShardLocks(tmp_path, 2),
        ShardLocks(tmp_path, 2),
    )  # separate descriptors, like two processes
    assert mine.acquire(0)
    assert not mine.acquire(0)  # this process is draining it already
    assert not theirs.acquire(0)
    assert theirs.acquire(1)  # shards are independent
    mine.release(0)
    assert theirs.acquire(0)
    theirs.close()
    mine.close()


def test_shard_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from edgesplit.proxy.leases import ShardLocks; "
            f"assert ShardLocks({str(tmp_path)!r}, 1).acquire(0); print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        locks = ShardLocks(tmp_path, 1)
        assert not locks.acquire(0)
        holder.kill()
        holder.wait(10)
        assert locks.acquire(0)  # no lease to wait out: the kernel released it with the process
        locks.close()
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def _metrics(requests: float, latency: float, gauge: float) -> Metrics:
    metrics = Metrics()
    metrics.inc("edgesplit_requests_total", requests, outcome="ok")
    metrics.observe_latency(latency)
    metrics.set_gauge("edgesplit_queue_depth", gauge, shard="shard-0", vendor="v")
    return metrics


def test_merge_sums_counters_and_histograms_and_keeps_the_latest_gauge() -> None:
    merged = merge_snapshots([snapshot(_metrics(3, 0.002, 7)), snapshot(_metrics(4, 0.2, 9))])
    assert merged.value("edgesplit_requests_total", outcome="ok") == 7
    assert merged.gauges["edgesplit_queue_depth"][(("shard", "shard-0"), ("vendor", "v"))] == 9
    text = merged.render()
    assert "edgesplit_request_duration_seconds_count 2" in text
    assert 'edgesplit_request_duration_seconds_bucket{le="0.0025"} 1' in text


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    return process.pid


def test_board_totals_never_go_down_when_a_worker_is_retired(tmp_path: Path) -> None:
    board = MetricsBoard.fresh(tmp_path / "m.sqlite3")
    board.publish("worker-0-old", snapshot(_metrics(5, 0.01, 1)), 1.0)
    board.sql.exec("UPDATE worker_metrics SET pid = ? WHERE process = 'worker-0-old'", _dead_pid())
    live = SharedMetrics(board, "worker-1")
    live.inc("edgesplit_requests_total", 2, outcome="ok")
    before = merge_snapshots(board.publish_and_read("worker-1", snapshot(live), 2.0))
    assert before.value("edgesplit_requests_total", outcome="ok") == 7
    assert board.retire_dead() == 1
    assert board.retire_dead() == 0
    rows = board.sql.exec("SELECT process FROM worker_metrics ORDER BY process")
    assert [row["process"] for row in rows] == ["retired", "worker-1"]
    live.inc("edgesplit_requests_total", 1, outcome="ok")
    text = live.render()  # what any worker answers on /metrics: the machine's total
    assert 'edgesplit_requests_total{outcome="ok"} 8' in text
    assert "edgesplit_request_duration_seconds_count 1" in text  # the retired worker's histogram stays
    board.close()


def test_a_fresh_board_starts_from_zero(tmp_path: Path) -> None:
    board = MetricsBoard(tmp_path / "m.sqlite3")
    board.publish("worker-0", snapshot(_metrics(5, 0.01, 1)), 1.0)
    board.close()
    fresh = MetricsBoard.fresh(tmp_path / "m.sqlite3")
    assert fresh.sql.exec("SELECT COUNT(*) AS n FROM worker_metrics")[0]["n"] == 0
    fresh.close()


@pytest.mark.parametrize(
    "text", ["0", "-1", "-0", "two", "1.5", "", " ", "1e3", "nan", str(MAX_WORKERS + 1), "0x2"]
)
def test_workers_flag_refuses_what_is_not_a_process_count(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--config", "c.json", "--origin", "http://o", "--workers", text])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--workers" in err and ("whole number" in err or "from 1 to" in err)


def test_workers_flag_accepts_counts_and_defaults_to_the_cores() -> None:
    import os

    parse = build_parser().parse_args
    assert parse(["serve", "--config", "c", "--origin", "http://o", "--workers", "3"]).workers == 3
    assert parse(["serve", "--config", "c", "--origin", "http://o"]).workers == max(1, os.cpu_count() or 1)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_worker_count_accepts_a_number_exactly_when_it_is_in_range(number: int) -> None:
    if 1 <= number <= MAX_WORKERS:
        assert worker_count(str(number)) == number
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="from 1 to"):
            worker_count(str(number))


@given(st.text(max_size=40))
def test_worker_count_answers_any_text_with_a_count_or_a_clear_refusal(text: str) -> None:
    try:
        value = worker_count(text)
    except argparse.ArgumentTypeError as exc:
        assert "processes" in str(exc)
    else:
        assert 1 <= value <= MAX_WORKERS


@pytest.mark.parametrize("text", ["0", "-5", "0.05", "nan", "inf", "1e9", "soon"])
def test_guardrail_interval_refuses_what_would_spin_or_never_run(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="seconds"):
        interval_seconds(text)
    assert interval_seconds("0.5") == 0.5


CRASH_LOOP = """
import logging, os, signal, sys, time
from edgesplit.proxy.supervisor import Supervisor, SupervisorPolicy, bind_listener

logging.basicConfig(level="INFO", format="%(created).3f %(message)s", stream=sys.stdout)
flag = sys.argv[1]

def run_worker(slot):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    slot.ready()
    while not (slot.index == 1 and os.path.exists(flag)):  # worker 1 crashes once the flag is set
        time.sleep(0.02)
    return 3

policy = SupervisorPolicy(min_backoff=0.2, max_backoff=0.8, stable_after=60)
sys.exit(Supervisor(bind_listener("127.0.0.1", 0), 2, run_worker, policy).run())
"""


def test_a_crash_loop_is_slowed_down_by_a_doubling_capped_delay(tmp_path: Path) -> None:
    import re
    import signal
    import time

    flag = tmp_path / "crash"
    log = tmp_path / "supervisor.log"
    with log.open("w") as out:
        supervisor = subprocess.Popen([sys.executable, "-c", CRASH_LOOP, str(flag)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while "2 workers serving" not in log.read_text():
            assert time.monotonic() < deadline and supervisor.poll() is None, log.read_text()
            time.sleep(0.05)
        flag.touch()
        while len(re.findall(r"replacing it in", log.read_text())) < 5:
            assert time.monotonic() < deadline and supervisor.poll() is None, log.read_text()
            time.sleep(0.05)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(60)
    text = log.read_text()
    delays = [
        float(d)
        for d in re.findall(r"worker 1 \(pid \d+\) exited with status 3 .* replacing it in ([\d.]+) s", text)
    ]
    assert delays[:5] == [0.2, 0.4, 0.8, 0.8, 0.8], text  # doubling, capped: the loop does not spin
    exits = [float(t) for t in re.findall(r"^([\d.]+) worker 1 \(pid \d+\) exited with status 3", text, re.M)]
    starts = [float(t) for t in re.findall(r"^([\d.]+) worker 1 started", text, re.M)][1:]
    for exited, started, delay in zip(exits, starts, delays, strict=False):
        assert started - exited >= delay - 0.01, text  # each replacement waited its delay at least
    assert "worker 0" in text and not re.search(r"worker 0 \(pid \d+\) exited with status", text)
    assert supervisor.returncode is not None  # it stopped (1 if worker 1 was mid-crash then)


SLOW_START = """
import logging, signal, sys, time
from edgesplit.proxy.supervisor import Supervisor, SupervisorPolicy, bind_listener

logging.basicConfig(level="INFO", format="%(message)s", stream=sys.stdout)

def run_worker(slot):
    if slot.index == 0:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        slot.ready()
    while True:  # worker 1 never gets as far as its SIGTERM handler: the default action kills it
        time.sleep(0.02)

sys.exit(Supervisor(bind_listener("127.0.0.1", 0), 2, run_worker, SupervisorPolicy(start_timeout=120)).run())
"""


def test_a_worker_stopped_before_it_was_ready_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGTERM reaching a worker that has not yet put in its handler (a replacement just forked)
    ends it with -15: that is the stop the supervisor asked for, not a failure (status 0)."""
    import re
    import signal
    import time

    log = tmp_path / "supervisor.log"
    with log.open("w") as out:
        supervisor = subprocess.Popen([sys.executable, "-c", SLOW_START], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not ("worker 0 ready" in (text := log.read_text()) and "worker 1 started" in text):
            assert time.monotonic() < deadline and supervisor.poll() is None, text
            time.sleep(0.05)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(60)
    text = log.read_text()
    assert re.search(r"worker 1 exited \(pid \d+, status -15\)", text), text
    assert code == 0, text


@given(st.lists(st.tuples(st.sampled_from(["exposure", "conversion"]), st.integers(0, 30)), max_size=60))
def test_shared_seen_keeps_what_the_process_deduper_keeps(stream: list[tuple[str, int]]) -> None:
    from edgesplit.proxy.shared_seen import SharedSeen
    from edgesplit.queue.delivery import ExposureDeduper

    shared, local = SharedSeen(1 << 16), ExposureDeduper()
    for kind, n in stream:
        events = [{"type": kind, "id": f"{kind}-{n}"}]
        assert shared.fresh(events) == local.fresh(events)


def test_shared_seen_is_one_memory_for_forked_processes() -> None:
    script = """
import os, sys
from edgesplit.proxy.shared_seen import SharedSeen
seen = SharedSeen(1 << 10)
pid = os.fork()
if pid == 0:
    seen.fresh([{"type": "exposure", "id": "from-the-child"}])
    os._exit(0)
os.waitpid(pid, 0)
print(len(seen.fresh([{"type": "exposure", "id": "from-the-child"}])), len(seen.fresh([{"type": "exposure", "id": "new"}])))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["0", "1"]  # what the child saw, the parent does not count again


def test_shared_seen_refuses_a_size_that_is_not_a_power_of_two() -> None:
    from edgesplit.proxy.shared_seen import SharedSeen

    with pytest.raises(ValueError, match="power of two"):
        SharedSeen(1000)
