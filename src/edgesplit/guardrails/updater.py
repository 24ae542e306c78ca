"""One pass of the guardrail and bandit updater: read the counts, decide, and rewrite the
configuration document. Pure apart from the counts store it is handed.

Pausing sets ``status: paused`` and a ``pause`` record (who, when, why, the numbers); only a
person undoes it (``edgesplit experiment resume``). Bandit weights move at most once per
``update_interval_seconds`` and never for a paused experiment. Sample ratio mismatch is not
tested on bandit experiments (their configured split moves by design).
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

from ..core import Config, ConfigError, parse_config_text
from ..core.bandit import thompson_weights
from ..core.events import utc_iso
from ..core.guardrail_rules import GuardrailSettings, Verdict, evaluate_guardrails
from .counts import CountsStore

__all__ = ["PreparedUpdate", "Update", "apply_update", "plan_updates", "prepare_update", "record_update"]

BANDIT_CLOCK = "bandit_updated_at"
COMPACT_EVERY_SECONDS = 3600.0
"""Both shells fold hourly counts into daily rows at most this often."""
COUNTS_META = "__counts__"
"""The guardrail_state row set (no experiment has this key) that remembers the last compaction."""
COMPACTED_AT = "compacted_at"


@dataclass
class Update:
    pauses: dict[str, dict[str, Any]] = field(default_factory=dict)
    """experiment -> the pause record to write."""
    weights: dict[str, list[float]] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.pauses or self.weights)


def plan_updates(config: Config, counts: CountsStore, now: float, rng: random.Random) -> Update:
    update = Update()
    for experiment in config.experiments:
        if not experiment.running or (experiment.guardrails is None and experiment.bandit is None):
            continue
        totals = counts.totals(experiment.key)
        state = counts.state(experiment.key)
        settings = experiment.guardrails or GuardrailSettings(metrics=())
        if experiment.bandit is not None:
            settings = GuardrailSettings(
                srm_p=0.0,
                pause_on_srm=False,
                alpha=settings.alpha,
                min_sample=settings.min_sample,
                metrics=settings.metrics,
                tau=settings.tau,
            )
        variants = [(v.key, v.weight) for v in experiment.variants]
        verdict = evaluate_guardrails(variants, totals, settings, state)
        update.verdicts[experiment.key] = verdict
        counts.save_state(experiment.key, {**verdict.p_values, "srm_p": verdict.srm_p})
        if verdict.pause_reason is not None:
            update.pauses[experiment.key] = {
                "by": "edgesplit guardrail",
                "at": utc_iso(now),
                "reason": verdict.pause_reason,
                "numbers": {
                    "harm": verdict.harm,
                    "srm_p": verdict.srm_p,
                    "totals": {k: dict(_fields(t)) for k, t in totals.items()},
                },
            }
            continue
        bandit = experiment.bandit
        if bandit is not None and now - state.get(BANDIT_CLOCK, 0.0) >= bandit.update_interval_seconds:
            keys = [v.key for v in experiment.variants]
            exposures = [totals[k].exposures if k in totals else 0 for k in keys]
            conversions = [totals[k].conversions if k in totals else 0 for k in keys]
            update.weights[experiment.key] = thompson_weights(
                exposures, conversions, rng, min_weight=bandit.min_weight, max_weight=bandit.max_weight
            )
    return update


def _fields(totals: Any) -> list[tuple[str, int]]:
    return [(name, getattr(totals, name)) for name in ("exposures", "conversions", "requests", "errors")]


def apply_update(document: dict[str, Any], update: Update) -> dict[str, Any]:
    """A new config document with the pauses and weights applied (the input is not changed)."""
    result = copy.deepcopy(document)
    for item in result.get("experiments", []):
        key = item.get("key")
        if key in update.pauses:
            item["status"] = "paused"
            item["pause"] = update.pauses[key]
        elif key in update.weights:
            for variant, weight in zip(item["variants"], update.weights[key], strict=True):
                variant["weight"] = round(weight, 6)
    return result


@dataclass
class PreparedUpdate:
    """One updater pass, planned and checked, before anything is written."""

    update: Update
    text: str | None = None
    """The new config document, serialised and validated as every reader will parse it; None
    when there is nothing to write (no change, or ``refused``)."""
    refused: ConfigError | None = None
    """The new document failed validation: nothing may be written (the running config stays)."""


def prepare_update(text: str, counts: CountsStore, now: float, rng: random.Random) -> PreparedUpdate:
    """The one update step both shells run: plan pauses and bandit weights from the counts for
    the config document ``text``, apply them, and validate the result. The shell then writes
    ``text`` where its readers look (a file, KV) and only then calls ``record_update``.
    Raises ConfigError when ``text`` itself is not a valid config."""
    config = parse_config_text(text)
    update = plan_updates(config, counts, now, rng)
    compact_if_due(counts, now)
    if not update:
        return PreparedUpdate(update)
    new_text = json.dumps(apply_update(json.loads(text), update), indent=2) + "\n"
    try:
        parse_config_text(new_text)
    except ConfigError as exc:
        return PreparedUpdate(update, refused=exc)
    return PreparedUpdate(update, new_text)


def compact_if_due(counts: CountsStore, now: float) -> bool:
    """Compact the counts when the last compaction is ``COMPACT_EVERY_SECONDS`` old."""
    if now - counts.state(COUNTS_META).get(COMPACTED_AT, 0.0) < COMPACT_EVERY_SECONDS:
        return False
    counts.compact(now)
    counts.save_state(COUNTS_META, {COMPACTED_AT: now})
    return True


def record_update(counts: CountsStore, update: Update, now: float) -> None:
    """Keep an applied update in the experiments' history (call only once it is applied)."""
    for key, record in update.pauses.items():
        counts.record(key, now, "paused", {"reason": record["reason"], "srm_p": record["numbers"]["srm_p"]})
    for key, weights in update.weights.items():
        counts.record(key, now, "weights", {"weights": [round(w, 6) for w in weights]})
        counts.save_state(key, {BANDIT_CLOCK: now})  # the next move is due an interval after this one
