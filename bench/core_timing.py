"""The same timing snippet for CPython and Pyodide: microseconds per assign() call."""

from __future__ import annotations

import json
import time

from edgesplit.core import DecisionClaims, HmacKey, Keyring, assign, parse_config, sign_token, verify_token


def measure(ids: int = 3000) -> dict[str, float]:
    results: dict[str, float] = {}
    visitors = [f"{n:032x}" for n in range(ids)]
    for scheme in ("edgesplit", "growthbook-v2"):
        config = parse_config(
            {
                "schema_version": 1,
                "version": "b",
                "experiments": [
                    {
                        "key": f"e{i}",
                        "hash": scheme,
                        "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
                    }
                    for i in range(20)
                ],
            }
        )
        started = time.perf_counter()
        for visitor in visitors:
            assign(config, visitor)
        results[f"assign_20_{scheme}_us"] = (time.perf_counter() - started) / ids * 1e6
    keyring = Keyring((HmacKey("k", bytes(32)),))
    claims = DecisionClaims.from_assignments("v", assign(config, "v"), "b", 1_764_000_000, 300)
    started = time.perf_counter()
    for _ in range(ids):
        token = sign_token(claims, keyring)
    results["sign_us"] = (time.perf_counter() - started) / ids * 1e6
    started = time.perf_counter()
    for _ in range(ids):
        verify_token(token, keyring, 1_764_000_100)
    results["verify_us"] = (time.perf_counter() - started) / ids * 1e6
    return results


if __name__ == "__main__":
    print(json.dumps(measure()))
