"""Several processes opening one new SQLite file at the same instant (the workers of
`serve --workers` opening the counts file and the queue shards): every one of them opens it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from edgesplit.sqlite_sql import SqliteSql

OPENERS = 8
ROUNDS = 20


def _open(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SqliteSql(path).exec("CREATE TABLE IF NOT EXISTS t (x)")
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test, which names it
        results.put(repr(exc))


def test_processes_opening_one_new_file_together_all_open_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    outcomes: list[str] = []
    for round_ in range(ROUNDS):  # without the retry, about one round in three lost a worker
        path = str(tmp_path / f"counts-{round_}.sqlite3")
        barrier, results = context.Barrier(OPENERS), context.Queue()
        processes = [context.Process(target=_open, args=(path, barrier, results)) for _ in range(OPENERS)]
        for process in processes:
            process.start()
        outcomes += [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(60)
        results.close()
        results.join_thread()
    assert [o for o in outcomes if o != "ok"] == []
    assert len(outcomes) == OPENERS * ROUNDS
