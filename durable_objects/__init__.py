"""Durable Object classes of the edgesplit Worker (exported from src/entry.py).

Thin glue: the queue's logic and SQL live in ``edgesplit.queue`` and run, statement for
statement, on a real SQLite in the tests and the self-hosted proxy.
"""
