"""The status page's numbers from the shared store: the cluster's counts and every proxy's
queue (summed per vendor, and each proxy's depth)."""

from __future__ import annotations

from ..status import StatusData, merge_queue_stats, read_counts
from .port import StatePort
from .runner import SharedGuardrailRunner
from .snapshot import Snapshot

__all__ = ["SharedStatusSource", "gather_cluster"]


async def gather_cluster(
    state: StatePort, experiments: list[str], now: float, forget_after: float
) -> StatusData:
    snapshot = Snapshot(await state.read(experiments, now))
    try:
        data = read_counts(snapshot.store, experiments, now)
    finally:
        snapshot.close()
    reports = await state.reports(now, forget_after)
    queues = [report["queue"] for report in reports.values() if report and report.get("queue") is not None]
    if queues:
        data.queue = merge_queue_stats(queues)
    data.proxies = {
        proxy: None
        if report is None
        else {
            "depth": sum(int(v.get("depth", 0)) for v in (report.get("queue") or {}).values()),
            "behind": bool(report.get("behind")),
            "dropped_rows": int(report.get("dropped_rows", 0)),
            "config_version": int(report.get("config_version", 0)),
        }
        for proxy, report in sorted(reports.items())
    }
    return data


class SharedStatusSource:
    def __init__(self, runner: SharedGuardrailRunner) -> None:
        self.runner = runner

    async def gather(self, experiments: list[str], now: float) -> StatusData:
        await self.runner.flush(now)  # this proxy's own counts are current; others' within a poll
        return await gather_cluster(self.runner.state, experiments, now, self.runner.forget_after)
