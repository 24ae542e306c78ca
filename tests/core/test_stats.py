from __future__ import annotations

import math
import random

import pytest

from edgesplit.core.stats import chi2_sf, chi_square_goodness_of_fit


def test_chi2_sf_known_values() -> None:
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-12)
    assert chi2_sf(0, 3) == 1.0
    assert chi2_sf(2.0, 2) == pytest.approx(math.exp(-1.0), rel=1e-15)


def test_chi2_sf_matches_scipy_to_1e_9() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for _ in range(5000):
        df = rng.randint(1, 10)
        x = rng.uniform(0, 60) * rng.choice([0.01, 0.1, 1.0, 2.0])
        want = float(scipy_stats.chi2.sf(x, df))
        assert chi2_sf(x, df) == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_srm_of_52_48_on_100k_is_flagged() -> None:
    _, p_value = chi_square_goodness_of_fit([52_000, 48_000], [0.5, 0.5])
    assert p_value < 0.001


def test_goodness_of_fit_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        chi_square_goodness_of_fit([1, 2], [1])
