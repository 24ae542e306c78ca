"""The middleware pipeline: the request flow both shells run. Pure Python, no runtime imports:
it is written against the small ports in ``ports`` and never imports ``js``, ``workers``,
``sqlite3`` or an HTTP library."""

from ..ports import (
    BackgroundPort,
    CachePort,
    Clock,
    OriginError,
    OriginPort,
    OriginTimeout,
    OriginUnavailable,
    OutboxPort,
)
from ..ports.http import Headers, ProxyRequest, ProxyResponse
from ..ports.metrics import Metrics
from .decide import Decision, decide
from .flow import Pipeline

__all__ = [
    "BackgroundPort",
    "CachePort",
    "Clock",
    "Decision",
    "Headers",
    "Metrics",
    "OriginError",
    "OriginPort",
    "OriginTimeout",
    "OriginUnavailable",
    "OutboxPort",
    "Pipeline",
    "ProxyRequest",
    "ProxyResponse",
    "decide",
]
