"""Reading edgesplit decisions through the OpenFeature API."""

from __future__ import annotations

import time

import pytest

from edgesplit.core import DecisionClaims, sign_token
from servers import KEYRING

openfeature_api = pytest.importorskip("openfeature.api")
from openfeature.client import OpenFeatureClient  # noqa: E402
from openfeature.evaluation_context import EvaluationContext  # noqa: E402
from openfeature.exception import ErrorCode  # noqa: E402

from edgesplit.integrations.openfeature_provider import CONTEXT_KEY, EdgesplitProvider  # noqa: E402


@pytest.fixture
def client():  # noqa: ANN201
    openfeature_api.set_provider(EdgesplitProvider(KEYRING))
    yield openfeature_api.get_client()
    openfeature_api.clear_providers()


def context(token: str | None) -> EvaluationContext:
    return EvaluationContext(attributes={CONTEXT_KEY: token} if token else {})


def token(**assignments: str) -> str:
    now = int(time.time())
    return sign_token(DecisionClaims("visitor-1", assignments, "cfg", now, now + 300), KEYRING)


def test_variants_come_from_the_verified_decision(client) -> None:  # noqa: ANN001
    decision = token(hero="bold", price="control")
    details = client.get_string_details("hero", "control", context(decision))
    assert (details.value, details.variant, details.reason) == ("bold", "bold", "SPLIT")
    assert client.get_boolean_value("hero", False, context(decision)) is True
    assert client.get_boolean_value("price", True, context(decision)) is False
    absent = client.get_string_details("other", "control", context(decision))
    assert (absent.value, absent.reason, absent.error_code) == ("control", "DEFAULT", None)


@pytest.mark.parametrize(
    "value,code", [(None, ErrorCode.INVALID_CONTEXT), ("es1.test-key.e30.AAAA", ErrorCode.PARSE_ERROR)]
)
def test_missing_or_forged_decisions_give_the_default_with_an_error(
    client: OpenFeatureClient, value: str | None, code: ErrorCode
) -> None:
    details = client.get_string_details("hero", "control", context(value))
    assert (details.value, details.error_code, details.reason) == ("control", code, "ERROR")


def test_other_types_are_a_type_mismatch(client) -> None:  # noqa: ANN001
    details = client.get_integer_details("hero", 7, context(token(hero="bold")))
    assert (details.value, details.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_compact_decisions_read_through_the_manifest() -> None:
    from edgesplit.core import Manifest, ManifestBook

    manifest = Manifest.of([("hero", ["control", "bold"]), ("price", ["control", "low"])])
    now = int(time.time())
    compact = sign_token(
        DecisionClaims("visitor-1", {"hero": "bold"}, "cfg", now, now + 300, manifest=manifest), KEYRING
    )
    assert compact.startswith("es2.")
    openfeature_api.set_provider(EdgesplitProvider(KEYRING, manifests=ManifestBook([manifest])))
    try:
        reader = openfeature_api.get_client()
        assert reader.get_string_value("hero", "control", context(compact)) == "bold"
        openfeature_api.set_provider(EdgesplitProvider(KEYRING))
        details = reader.get_string_details("hero", "control", context(compact))
        assert (details.value, details.error_code) == ("control", ErrorCode.PARSE_ERROR)
        assert "unknown_manifest" in (details.error_message or "")
    finally:
        openfeature_api.clear_providers()
