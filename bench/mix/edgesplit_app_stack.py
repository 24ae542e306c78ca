"""`edgesplit serve` on the HTTP stack it had before: aiohttp's ``web.Application`` with one
catch-all route, instead of the low-level ``web.Server``; everything else identical. For the
side-by-side comparison of the two stacks in bench_mix.py.

    python edgesplit_app_stack.py serve --config ... (the arguments of `edgesplit serve`)
"""

import sys

from aiohttp import web

from edgesplit.cli import main
from edgesplit.proxy import server, service


def make_application(self: service.ProxyService) -> web.Application:
    return server.make_app(self.pipeline, self.options.server_limits)


service.ProxyService.make_app = make_application  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
