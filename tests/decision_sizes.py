"""The many-experiments config both shells are measured with (issue 19): 500 experiments with
names like the issue's, where ``/n/<N>`` is a page that exactly N of them apply to."""

from __future__ import annotations

from typing import Any

from edgesplit import load_config
from edgesplit.core import Config, assign

COUNTS = (1, 20, 100, 500)
SET_COOKIE_LIMIT = 4096
HEADER_LIMIT = 4096


def size_document(version: str = "sizes-1") -> dict[str, Any]:
    def paths(i: int) -> list[str]:
        return [f"/n/{n}" for n in COUNTS if i < n]

    return {
        "schema_version": 1,
        "version": version,
        "identity": {"secure": False},
        "experiments": [
            {
                "key": f"experiment-number-{i:03}",
                "variants": [{"key": "control"}, {"key": "treatment-long-name"}],
                "targeting": {"paths": paths(i)},
            }
            for i in range(max(COUNTS))
        ],
    }


SIZE_CONFIG: Config = load_config(size_document())


def expected(visitor: str, path: str) -> dict[str, str]:
    return {
        key: a.variant
        for key, a in assign(SIZE_CONFIG, visitor, {"path": path}).items()
        if a.variant is not None
    }
