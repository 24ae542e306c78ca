"""The global holdout: config, membership, composition with namespaces, the token's ``h`` field,
the events that mark held-out visitors, and the status report's holdout vs the rest."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import (
    ConfigError,
    DecisionClaims,
    HmacKey,
    Keyring,
    Manifest,
    ManifestBook,
    assign,
    parse_config,
    sign_token,
    verify_token,
)
from edgesplit.core.b64 import b64url_encode
from edgesplit.core.guardrail_rules import Totals
from edgesplit.core.holdout import HOLDOUT_VARIANT
from edgesplit.pipeline.track import parse_track
from edgesplit.status import StatusData, build_report
from edgesplit.status.page import render_status_page

KEYRING = Keyring((HmacKey("k1", bytes(range(32))),))
NOW = 1_795_000_000.0


def document(holdout: Any = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "version": "h1",
        "experiments": [
            {
                "key": "hero",
                "variants": [{"key": "control"}, {"key": "bold"}],
                "namespace": {"id": "ns", "range": [0, 0.5]},
            },
            {
                "key": "price",
                "variants": [{"key": "low"}, {"key": "high"}],
                "namespace": {"id": "ns", "range": [0.5, 1]},
            },
            {"key": "menu", "variants": [{"key": "old"}, {"key": "new"}]},
        ],
        **extra,
    }
    if holdout is not None:
        doc["holdout"] = holdout
    return doc


IDS = [f"visitor-{i:05d}" for i in range(20_000)]


def test_share_of_visitors_held_out_and_they_get_the_control_of_listed_experiments_only() -> None:
    config = parse_config(document({"share": 0.1, "seed": "ho-1", "experiments": ["hero", "menu"]}))
    plain = parse_config(document())
    held = 0
    for visitor in IDS:
        got = assign(config, visitor)
        before = assign(plain, visitor)
        if config.holdout.contains(visitor):
            held += 1
            assert got["hero"].variant == "control" and got["hero"].reason == "holdout"
            assert got["menu"].variant == "old" and not got["menu"].in_experiment
            assert got["price"] == before["price"]  # not listed: untouched
        else:
            assert got == before  # the rest are decided exactly as without a holdout
    assert abs(held - 2000) < 4 * math.sqrt(20_000 * 0.1 * 0.9)


def test_holdout_composes_with_namespaces() -> None:
    """Held-out visitors are spread evenly over the namespace (independent hashes), get the
    control of both namespaced experiments wherever they fall in it, and the others still land
    in exactly one of the two."""
    config = parse_config(document({"share": 0.2, "seed": "ho-2"}))
    namespace_hasher = config.experiment("hero").namespace_hasher
    held_low = held_high = low = high = 0
    for visitor in IDS:
        in_low = namespace_hasher(visitor) < 0.5
        low += in_low
        high += not in_low
        got = assign(config, visitor)
        if config.holdout.contains(visitor):
            held_low += in_low
            held_high += not in_low
            assert {got[k].reason for k in ("hero", "price", "menu")} == {"holdout"}
        else:
            assert [got["hero"].in_experiment, got["price"].in_experiment] == [in_low, not in_low]
    for held, total in ((held_low, low), (held_high, high)):
        assert abs(held / total - 0.2) < 4 * math.sqrt(0.2 * 0.8 / total)


def test_the_holdout_seed_reshuffles_membership_and_the_hash_is_not_an_experiments() -> None:
    a = parse_config(document({"share": 0.5, "seed": "hero"}))
    b = parse_config(document({"share": 0.5, "seed": "other"}))
    hero = a.experiment("hero")
    same_seed = sum(a.holdout.contains(v) == (hero.hasher(v) < 0.5) for v in IDS[:4000])
    reshuffled = sum(a.holdout.contains(v) == b.holdout.contains(v) for v in IDS[:4000])
    for agreement in (same_seed, reshuffled):  # independent: about half agree
        assert abs(agreement - 2000) < 4 * math.sqrt(4000 * 0.25)


def test_forced_variants_still_win_for_qa() -> None:
    config = parse_config(document({"share": 0.5, "seed": "s"}, overrides={"enabled": True}))
    visitor = next(v for v in IDS if config.holdout.contains(v))
    got = assign(config, visitor, {"query": {"edgesplit_force": "hero:bold"}})
    assert got["hero"].variant == "bold" and got["hero"].reason == "forced"


@pytest.mark.parametrize(
    ("holdout", "path", "reason"),
    [
        ({"share": 0.6, "seed": "s"}, "holdout.share", "0.5"),
        ({"share": -0.1, "seed": "s"}, "holdout.share", ""),
        ({"share": 0.1}, "holdout.seed", "required"),
        ({"share": 0.1, "seed": 3}, "holdout.seed", "string"),
        ({"share": 0.1, "seed": "s", "experiments": ["hero", "nope"]}, "holdout.experiments[1]", "'nope'"),
        ({"share": 0.1, "seed": "s", "experiments": []}, "holdout.experiments", ""),
        ({"share": 0.1, "seed": "s", "also": 1}, "holdout.also", ""),
        ("all", "holdout", "object"),
    ],
)
def test_bad_holdouts_are_refused_with_the_path(holdout: Any, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document(holdout))
    problems = [(p.path, p.message) for p in caught.value.problems]
    assert any(p == path and reason in m for p, m in problems), problems


def test_the_published_schema_agrees_on_holdouts() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from edgesplit.schema import schema_text

    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    assert validator.is_valid(document({"share": 0.05, "seed": "s", "experiments": ["hero"]}))
    for bad in ({"share": 0.9, "seed": "s"}, {"seed": "s"}, {"share": 0.1, "seed": "s", "x": 1}):
        assert not validator.is_valid(document(bad))


# --- tokens and events ------------------------------------------------------------------------


def test_tokens_of_held_out_visitors_carry_h_and_verify() -> None:
    config = parse_config(document({"share": 0.3, "seed": "s", "experiments": ["hero", "price"]}))
    visitor = next(v for v in IDS if config.holdout.contains(v))
    claims = DecisionClaims.from_assignments(visitor, assign(config, visitor), "h1", NOW, 300)
    assert claims.holdout == {"hero", "price"} and claims.holdout <= claims.held_out
    assert claims.to_json()["h"] == ["hero", "price"]
    verified = verify_token(sign_token(claims, KEYRING), KEYRING, NOW)
    assert verified.ok and verified.claims == claims
    other = next(v for v in IDS if not config.holdout.contains(v))
    plain = DecisionClaims.from_assignments(other, assign(config, other), "h1", NOW, 300)
    assert "h" not in plain.to_json()  # the field is absent, not empty, for everyone else


def _signed(payload: dict[str, Any]) -> str:
    key = KEYRING.signer
    body = b64url_encode(json.dumps(payload).encode())
    signing_input = f"es1.{key.id}.{body}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


@given(
    st.one_of(
        st.integers(), st.text(), st.lists(st.integers(), min_size=1), st.dictionaries(st.text(), st.text())
    )
)
def test_a_signed_payload_with_a_malformed_h_is_rejected(h: Any) -> None:
    payload = {"a": {"hero": "control"}, "c": "v", "exp": int(NOW) + 60, "iat": int(NOW), "v": "x", "h": h}
    assert verify_token(_signed(payload), KEYRING, NOW).reason == "malformed"


def test_conversions_of_held_out_visitors_are_marked_and_counted_apart() -> None:
    config = parse_config(document({"share": 0.3, "seed": "s", "experiments": ["hero"]}))
    visitor = next(v for v in IDS if config.holdout.contains(v))
    claims = DecisionClaims.from_assignments(visitor, assign(config, visitor), "h1", NOW, 300)
    event = parse_track(json.dumps({"event": "buy"}).encode(), sign_token(claims, KEYRING), KEYRING, NOW)
    assert isinstance(event, dict) and event["holdout"] is True
    assert event["assignments"]["hero"] == HOLDOUT_VARIANT
    assert event["assignments"]["menu"] in ("old", "new")  # still in the experiments not held out


def test_exposures_of_held_out_visitors_are_marked() -> None:
    from edgesplit.pipeline.decide import decide
    from edgesplit.ports.http import Headers, ProxyRequest

    config = parse_config(
        document({"share": 0.3, "seed": "s", "experiments": ["hero"]}, identity={"secure": False})
    )
    visitor = next(v for v in IDS if config.holdout.contains(v))
    headers = Headers([("user-agent", "Mozilla/5.0 Firefox/130.0"), ("cookie", f"edgesplit_id={visitor}")])
    request = ProxyRequest("GET", "http://shop.test/", headers, None, "127.0.0.1")
    decision = decide(
        request,
        headers,
        {"edgesplit_id": visitor},
        config,
        KEYRING,
        now=NOW,
        new_id=lambda: "n",
        exposure_window_seconds=1800,
    )
    by_experiment = {e["experiment"]: e for e in decision.exposures}
    assert by_experiment["hero"]["variant"] == HOLDOUT_VARIANT and by_experiment["hero"]["holdout"] is True
    assert "holdout" not in by_experiment["menu"]
    assert decision.claims.holdout == {"hero"}
    assert "edgesplit_decision=" in decision.decision_cookie
    cookie_token = decision.decision_cookie.split(";")[0].split("=", 1)[1]
    manifests = ManifestBook([Manifest.from_config(config)])
    lasting = verify_token(cookie_token, KEYRING, NOW, manifests=manifests).claims
    assert lasting is not None and lasting.holdout == {"hero"}  # the lasting (es2) cookie keeps it


def test_status_report_shows_the_holdout_against_the_rest() -> None:
    config = parse_config(document({"share": 0.1, "seed": "s", "experiments": ["hero"]}))
    data = StatusData(
        totals={
            "hero": {
                "control": Totals(exposures=4500, conversions=450),
                "bold": Totals(exposures=4500, conversions=540),
                HOLDOUT_VARIANT: Totals(exposures=1000, conversions=90),
            }
        }
    )
    report = build_report(config, data, NOW)
    hero = next(e for e in report["experiments"] if e["key"] == "hero")
    assert [v["key"] for v in hero["variants"]] == ["control", "bold"]  # the holdout is no variant
    [row] = report["holdout"]["by_experiment"]
    assert row["holdout"] == {"exposures": 1000, "conversions": 90, "conversion_rate": 0.09}
    assert row["rest"] == {"exposures": 9000, "conversions": 990, "conversion_rate": 0.11}
    assert row["rest_vs_holdout"]["relative_lift"] == pytest.approx(0.11 / 0.09 - 1)
    html = render_status_page(report)
    assert 'data-holdout-share="0.1"' in html and 'data-metric="holdout_exposures" data-value="1000"' in html
    assert build_report(parse_config(document()), data, NOW)["holdout"] is None
