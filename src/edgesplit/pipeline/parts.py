"""What a ``Pipeline`` is built from, grouped by how long each part lives:

- ``Shared``: built once per process (self-hosted) or per isolate (Worker) and shared by every
  pipeline there, because it remembers across requests: metrics, the fail-open reporter (each
  stage logged once), the miss coalescer (concurrent misses meet in it), the ``/track`` and admin
  guards (caps, lockouts), and the clock and id source.
- ``PipelinePorts``: the adapters to the outside world. Self-hosted they live as long as the
  process; at the edge some are per request (``waitUntil`` belongs to one request's context).
- ``PipelineOptions``: the few settings that come from the shell rather than the config document
  (secrets and deployment variables).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..ports import BackgroundPort, CachePort, Clock, ObserverPort, OriginPort, OutboxPort
from ..ports.metrics import Metrics
from ..status.report import StatusSource
from .admin_guard import AdminGuard
from .coalesce import MissCoalescer
from .failures import FailOpen
from .page_changes import PageRewriterPort
from .track_guard import TrackGuard

__all__ = ["PipelineOptions", "PipelinePorts", "Shared"]

PIPELINE_LOG = logging.getLogger("edgesplit.pipeline")


@dataclass(frozen=True, slots=True)
class Shared:
    clock: Clock
    new_id: Callable[[], str]
    metrics: Metrics
    fail_open: FailOpen
    coalescer: MissCoalescer
    track_guard: TrackGuard
    admin_guard: AdminGuard

    @classmethod
    def create(
        cls,
        clock: Clock,
        new_id: Callable[[], str],
        *,
        metrics: Metrics | None = None,
        track_guard: TrackGuard | None = None,
        admin_guard: AdminGuard | None = None,
    ) -> Shared:
        """The defaults, built around one ``Metrics`` (the fail-open reporter counts into it)."""
        metrics = metrics or Metrics()
        return cls(
            clock=clock,
            new_id=new_id,
            metrics=metrics,
            fail_open=FailOpen(metrics, PIPELINE_LOG),
            coalescer=MissCoalescer(clock),
            track_guard=track_guard or TrackGuard(),
            admin_guard=admin_guard or AdminGuard(),
        )


@dataclass(frozen=True, slots=True)
class PipelinePorts:
    origin: OriginPort
    outbox: OutboxPort
    background: BackgroundPort
    cache: CachePort | None = None
    """None: no edgesplit cache (every request goes to the origin)."""
    observer: ObserverPort | None = None
    """The guardrail counts; None: nothing counted."""
    status: StatusSource | None = None
    """The status page's numbers; None: the page shows the config only."""
    page_rewriter: PageRewriterPort | None = None
    """Variants' HTML changes; None: pages pass as the origin rendered them."""


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    admin_token: str | None = None
    """None: ``/metrics`` open, status page and tracing off (``pipeline.admin``)."""
    exposure_window_seconds: int = 1800
    trusted_upstreams: Sequence[str] = field(default=())
    """Peers whose ``X-Forwarded-*`` headers are believed (``request_hygiene``)."""
    before_metrics: Callable[[], None] | None = None
    """Called before ``/metrics`` renders (the proxy exports its queue gauges)."""
