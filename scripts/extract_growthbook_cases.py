"""Regenerate tests/cases/growthbook-0.7.1.json from GrowthBook's published SDK cases.

    python scripts/extract_growthbook_cases.py ../shared/reference/growthbook-cases-0.7.1.json

Keeps the sections edgesplit's GrowthBook schemes must reproduce (hash, getBucketRange,
chooseVariation, inNamespace, getEqualWeights) and turns the ``run`` cases that use only what
edgesplit configures (key, variations, weights, coverage, namespace, seed, hashVersion,
hashAttribute, active) into edgesplit configs with the expected (index, in_experiment).
Cases GrowthBook answers by repairing invalid input (weights that do not sum to 1, coverage
outside 0..1) are left out: edgesplit refuses such configs instead.
"""

from __future__ import annotations

import json
import sys

SUPPORTED = {
    "key",
    "variations",
    "coverage",
    "weights",
    "namespace",
    "seed",
    "hashVersion",
    "hashAttribute",
    "active",
}


def convert_run(case: list) -> dict | None:
    name, context, experiment, expected_value, in_experiment, _hash_used = case
    if set(context) - {"attributes"} or set(experiment) - SUPPORTED:
        return None
    variations = experiment["variations"]
    if len(variations) < 2 or variations.count(expected_value) != 1:
        return None
    weights = experiment.get("weights")
    if weights is not None and (len(weights) != len(variations) or not 0.99 <= sum(weights) <= 1.01):
        return None
    coverage = experiment.get("coverage", 1)
    if not 0 <= coverage <= 1:
        return None
    version = experiment.get("hashVersion", 1)
    config_experiment = {
        "key": experiment["key"],
        "hash": f"growthbook-v{version}",
        "variants": [
            {"key": f"v{i}", "weight": weights[i] if weights else 1} for i in range(len(variations))
        ],
        "coverage": coverage,
    }
    if "seed" in experiment:
        config_experiment["seed"] = experiment["seed"]
    if "hashAttribute" in experiment:
        config_experiment["hash_attribute"] = experiment["hashAttribute"]
    if experiment.get("active") is False:
        config_experiment["status"] = "paused"
    if "namespace" in experiment:
        ns_id, start, end = experiment["namespace"]
        config_experiment["namespace"] = {"id": ns_id, "range": [start, end]}
    attributes = {
        k: v
        for k, v in context.get("attributes", {}).items()
        if isinstance(v, (str, int)) and not isinstance(v, bool)
    }
    return {
        "name": name,
        "experiment": config_experiment,
        "attributes": attributes,
        "index": variations.index(expected_value),
        "in_experiment": in_experiment,
    }


def main(source: str) -> None:
    with open(source, encoding="utf-8") as handle:
        cases = json.load(handle)
    runs = [converted for case in cases["run"] if (converted := convert_run(case)) is not None]
    out = {
        "source": "growthbook/growthbook-python tests/cases.json, spec 0.7.1 (MIT licence)",
        "specVersion": cases["specVersion"],
        **{
            section: cases[section]
            for section in (
                "hash",
                "getBucketRange",
                "chooseVariation",
                "inNamespace",
                "getEqualWeights",
            )
        },
        "run": runs,
    }
    with open("tests/cases/growthbook-0.7.1.json", "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"kept {len(runs)} of {len(cases['run'])} run cases")


if __name__ == "__main__":
    main(sys.argv[1])
