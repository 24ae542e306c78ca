"""Counts per experiment, variant and time bucket, and the guardrail/bandit updater that reads
them. The SQL is written once (``counts``) for a Durable Object and for sqlite3."""
