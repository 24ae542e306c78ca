"""The examples in docs/ are run or parsed, and the lists the docs give are the code's own: an
example that stops working, or a reason the code gains, fails here instead of misleading a reader."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest

import edgesplit
from edgesplit.core import ConfigError, parse_config
from edgesplit.core.assignment import REASONS
from edgesplit.core.decision_token import REJECTION_REASONS
from edgesplit.vendors.adapters import adapters_from_settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def section(page: str, heading: str) -> str:
    """The text of the section under ``heading`` (up to the next heading of any level)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/{page} has no section {heading!r}"
    return match.group(1)


def fenced(page: str, heading: str, language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", section(page, heading), re.DOTALL)
    assert blocks, f"no {language} block under {heading!r} in docs/{page}"
    return blocks[0]


def document(*experiments: dict) -> dict:
    return {"schema_version": 1, "version": "docs", "experiments": list(experiments)}


def test_the_python_api_example_runs_and_its_token_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
    keys = json.dumps({"keys": [{"id": "docs", "secret": secret}]})
    (tmp_path / "keys.json").write_text(keys, encoding="utf-8")
    demo_config = ROOT / "src" / "edgesplit" / "demo" / "config.json"
    (tmp_path / "experiments.json").write_text(demo_config.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(fenced("origin.md", "Python API", "python"), namespace)

    assignment = namespace["result"]["pricing-layout"]
    assert assignment.in_experiment and assignment.reason == "bucketed"
    verified = edgesplit.verify_token(namespace["token"], edgesplit.load_keyring(keys), time.time())
    assert verified.ok, verified.reason
    assert verified.claims.visitor_id == "visitor-123"
    assert verified.claims.assignments["pricing-layout"] == assignment.variant


def test_the_documented_assignment_reasons_are_the_codes() -> None:
    block = fenced("origin.md", "Python API", "python")
    comment = block.split(".reason", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"[a-z_]+", comment.replace("#", " ")))
    assert documented == set(REASONS) | {"sticky"}  # sticky: a bandit visitor keeping its variant


def test_the_documented_rejection_reasons_are_the_codes() -> None:
    text = re.sub(
        r"\s+", " ", section("origin.md", "At the origin: verifying decisions, middleware, the Python API")
    )
    listed = text.split("or a `reason` from", 1)[1].split(".", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", listed)) == set(REJECTION_REASONS)


def test_the_guardrails_example_is_a_valid_experiment() -> None:
    example = json.loads(fenced("guardrails.md", "Guardrails and bandits", "json"))
    config = parse_config(document(example))
    guardrails = config.experiments[0].guardrails
    assert guardrails is not None
    assert guardrails.metrics == tuple(example["guardrails"]["metrics"])
    assert (guardrails.alpha, guardrails.min_sample, guardrails.tau, guardrails.srm_p) == (
        0.05,
        1000,
        0.01,
        0.001,
    )


def test_the_condition_example_parses_and_the_documented_error_is_the_one_given() -> None:
    when = json.loads(fenced("configuration.md", "The condition language", "json"))
    experiment = {"key": "x", "variants": [{"key": "a"}, {"key": "b"}], "targeting": {"when": when}}
    parse_config(document(experiment))

    documented = re.search(
        r"`(experiments\[0\][^`]*?): ([^`;]*)", section("configuration.md", "The condition language")
    )
    assert documented, "the page no longer shows the error a mistake gets"
    experiment["targeting"] = {"when": {"country": {"$near": "US"}}}
    with pytest.raises(ConfigError) as refused:
        parse_config(document(experiment))
    problems = {(problem.path, problem.message.split(";")[0]) for problem in refused.value.problems}
    assert (documented.group(1), documented.group(2)) in problems


def test_the_vendors_example_builds_one_adapter_per_vendor() -> None:
    vendors = fenced("events.md", "Vendors", "json")
    assert set(adapters_from_settings(vendors, None)) == {"warehouse", "posthog", "segment"}
