"""The durable event queue, written once against a tiny SQL port.

The same statements run on a Durable Object's ``ctx.storage.sql`` at the edge and on
Python's ``sqlite3`` in the self-hosted proxy (and in the tests, on a real SQLite).
"""

from .store import QueueStore, SqlPort

__all__ = ["QueueStore", "SqlPort"]
