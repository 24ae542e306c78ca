"""The one exception tree of edgesplit.

    EdgesplitError
     +-- ConfigError        a configuration document was refused (carries every problem)
     +-- KeyringError       signing keys are missing, too short or malformed

Token verification never raises: it returns a ``Verification`` naming the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EdgesplitError", "ConfigError", "KeyringError", "Problem"]


class EdgesplitError(Exception):
    """Base class of every error edgesplit raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: where (``experiments[2].variants[1].weight``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(EdgesplitError):
    """A configuration was refused. ``problems`` lists every problem found, in document order."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in configuration"
        return head + "".join(f"\n  {problem}" for problem in self.problems)


class KeyringError(EdgesplitError):
    """Signing keys could not be used (too short, malformed, none able to sign)."""
