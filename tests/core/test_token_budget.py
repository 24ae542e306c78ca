"""The decision token's size bound, enforced when a config loads (never a dropped cookie)."""

from __future__ import annotations

import pytest

from edgesplit.core import ConfigError, DecisionClaims, HmacKey, Keyring, Manifest, parse_config, sign_token
from edgesplit.core.token_budget import MAX_DECISION_TOKEN_CHARS, worst_token_chars


def document(experiments: int, variants: int, version: str = "v1") -> dict:
    return {
        "schema_version": 1,
        "version": version,
        "experiments": [
            {
                "key": f"experiment-number-{i:03}",
                "variants": [{"key": f"variant-{j}"} for j in range(variants)],
            }
            for i in range(experiments)
        ],
    }


def test_the_largest_config_with_up_to_16_variants_fits() -> None:
    config = parse_config(document(1000, 16))
    assert worst_token_chars(config.experiments, config.version) <= MAX_DECISION_TOKEN_CHARS


def test_a_config_whose_tokens_could_not_fit_is_refused_with_the_numbers() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document(1000, 17))
    [problem] = caught.value.problems
    assert problem.path == "experiments"
    assert "1000 experiments applying at once" in problem.message and "3584" in problem.message


@pytest.mark.parametrize("experiments,variants", [(1, 2), (20, 3), (500, 16), (1000, 2)])
def test_the_worst_case_bounds_every_real_token(experiments: int, variants: int) -> None:
    config = parse_config(document(experiments, variants, version="é" * 20))
    manifest = Manifest.from_config(config)
    keyring = Keyring((HmacKey("k" * 64, bytes(32)),))
    every = {e.key: e.variants[-1].key for e in config.experiments}
    claims = DecisionClaims(
        "v" * 64, every, config.version, 2**34 - 1, 2**34 - 1 + 400 * 86400, frozenset(every), manifest
    )
    token = sign_token(claims, keyring)
    assert len(token) <= worst_token_chars(config.experiments, config.version) - (86 - 43)
