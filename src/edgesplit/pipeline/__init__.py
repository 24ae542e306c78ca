"""The middleware pipeline: the request flow both shells run. Pure Python, no runtime imports:
it is written against the small ports in ``ports`` and never imports ``js``, ``workers``,
``sqlite3`` or an HTTP library."""

from .decide import Decision, decide
from .flow import Pipeline
from .http import Headers, ProxyRequest, ProxyResponse
from .metrics import Metrics
from .ports import (
    BackgroundPort,
    CachePort,
    Clock,
    OriginError,
    OriginPort,
    OriginTimeout,
    OriginUnavailable,
    OutboxPort,
)

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
