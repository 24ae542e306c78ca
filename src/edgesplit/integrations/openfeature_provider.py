"""An OpenFeature provider that reads edgesplit decisions (``pip install edgesplit[openfeature]``).

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    api.set_provider(EdgesplitProvider(keyring))
    client = api.get_client()
    context = EvaluationContext(attributes={"edgesplit_decision": request.headers["x-edgesplit-decision"]})
    client.get_string_value("hero", "control", context)      # the variant edgesplit decided
    client.get_boolean_value("hero", False, context)          # True when not the control

Flag keys are experiment keys. The decision token is verified on every evaluation: a missing,
forged or expired one resolves to the default with an error code, never a guess. Compact
(``es2``) decisions need ``manifests=`` (see ``edgesplit.integrations.app_middleware``).
"""

from __future__ import annotations

from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from ..core import Keyring
from ..core.manifest import ManifestLookup
from .app_middleware import DecisionReader

__all__ = ["CONTEXT_KEY", "EdgesplitProvider"]

CONTEXT_KEY = "edgesplit_decision"


class EdgesplitProvider(AbstractProvider):
    def __init__(
        self, keyring: Keyring, *, control: str = "control", manifests: ManifestLookup | None = None
    ) -> None:
        super().__init__()
        self.reader = DecisionReader(keyring, manifests=manifests)
        self.control = control

    def get_metadata(self) -> Metadata:
        return Metadata(name="edgesplit")

    def _variant(
        self, flag_key: str, context: EvaluationContext | None
    ) -> tuple[str | None, FlagResolutionDetails[Any] | None]:
        token = (context.attributes.get(CONTEXT_KEY) if context else None) or None
        if not isinstance(token, str):
            return None, FlagResolutionDetails(
                None,
                ErrorCode.INVALID_CONTEXT,
                f"evaluation context needs {CONTEXT_KEY!r} (the decision header)",
                Reason.ERROR,
            )
        decision = self.reader.read(token)
        if not decision.ok or decision.claims is None:
            return None, FlagResolutionDetails(
                None, ErrorCode.PARSE_ERROR, f"decision rejected: {decision.reason}", Reason.ERROR
            )
        if flag_key not in decision.claims.assignments:
            return None, FlagResolutionDetails(
                None, None, f"experiment {flag_key!r} does not apply", Reason.DEFAULT
            )
        return decision.claims.assignments[flag_key], None

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        chosen, problem = self._variant(flag_key, evaluation_context)
        if chosen is None:
            assert problem is not None
            return FlagResolutionDetails(
                default_value, problem.error_code, problem.error_message, problem.reason
            )
        return FlagResolutionDetails(chosen, reason=Reason.SPLIT, variant=chosen)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        chosen, problem = self._variant(flag_key, evaluation_context)
        if chosen is None:
            assert problem is not None
            return FlagResolutionDetails(
                default_value, problem.error_code, problem.error_message, problem.reason
            )
        return FlagResolutionDetails(chosen != self.control, reason=Reason.SPLIT, variant=chosen)

    def _mismatch(self, default_value: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(
            default_value,
            ErrorCode.TYPE_MISMATCH,
            "edgesplit flags are variant keys: use string or boolean",
            Reason.ERROR,
        )

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._mismatch(default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._mismatch(default_value)

    def resolve_object_details(
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        return self._mismatch(default_value)
