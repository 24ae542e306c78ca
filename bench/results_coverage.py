"""Coverage of the status page's intervals in seeded simulations (the figures in docs/results.md).

    .venv/bin/python bench/results_coverage.py > bench/results/results_coverage.txt

Deterministic (seeded numpy generators): the same numbers on every run.
"""

from __future__ import annotations

import numpy as np

from edgesplit.core.results import always_valid_difference, relative_lift

SIMS = 2000


def fixed_horizon(rate_a: float, lift: float, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    a, b = rng.binomial(n, rate_a, SIMS), rng.binomial(n, rate_a * (1 + lift), SIMS)
    held = 0
    for x_a, x_b in zip(a, b, strict=True):
        interval = relative_lift(int(x_a), n, int(x_b), n)
        held += interval is not None and interval.low <= lift <= interval.high
    return held / SIMS


def sequential(rate_a: float, rate_b: float, looks: int, step: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    a = np.cumsum(rng.binomial(step, rate_a, (SIMS, looks)), axis=1)
    b = np.cumsum(rng.binomial(step, rate_b, (SIMS, looks)), axis=1)
    always = peeking = 0
    for sim in range(SIMS):
        always_ok = peek_ok = True
        for look in range(looks):
            n = step * (look + 1)
            x_a, x_b = int(a[sim, look]), int(b[sim, look])
            anytime = always_valid_difference(x_a, n, x_b, n, 0.01**2)
            fixed = relative_lift(x_a, n, x_b, n)
            always_ok = always_ok and anytime is not None and anytime.low <= rate_b - rate_a <= anytime.high
            peek_ok = peek_ok and fixed is not None and fixed.low <= rate_b / rate_a - 1 <= fixed.high
        always += always_ok
        peeking += peek_ok
    return always / SIMS, peeking / SIMS


def main() -> None:
    print(f"{SIMS} simulations per line; nominal 95%")
    for rate_a, lift in [(0.1, 0.0), (0.1, 0.15), (0.03, -0.2)]:
        cover = fixed_horizon(rate_a, lift, 8000, 1000 + round(lift * 100))
        print(
            f"fixed-horizon lift interval, one look at n=8000/arm, p_a={rate_a}, lift={lift:+.0%}: {cover:.2%}"
        )
    for rate_a, rate_b in [(0.1, 0.1), (0.1, 0.115)]:
        always, peeking = sequential(rate_a, rate_b, 25, 400, 42 if rate_a == rate_b else 43)
        print(
            f"25 looks of +400/arm, p_a={rate_a}, p_b={rate_b}: always-valid interval held at every look "
            f"{always:.2%}; fixed-horizon interval held at every look {peeking:.2%}"
        )


if __name__ == "__main__":
    main()
