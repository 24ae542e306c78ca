"""aiohttp logs every unparseable request (a port scan, a bad Host, a header too long) as an
ERROR with a traceback. A malformed request is the client's problem: one line at INFO. Errors
that are not about the request's syntax keep their traceback."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["QuietParseErrors"]


class QuietParseErrors:
    """Stands in for the ``logging.Logger`` aiohttp's request handler is given."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def exception(self, message: str, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.logger.info(
                "malformed request: %s (%s)", exc_info.message, message % args if args else message
            )
            return
        self.logger.exception(message, *args, exc_info=exc_info, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)
