"""Candidate models built from the default YAML, for backtests."""

from __future__ import annotations

from typing import Any

import yaml

from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH

FLIP = {"higher_is_better": "lower_is_better", "lower_is_better": "higher_is_better"}


def _reverse_measure(measure: dict[str, Any]) -> None:
    measure["direction"] = FLIP[measure.get("direction", "higher_is_better")]
    rule = measure["rule"]
    if rule["type"] == "thresholds":  # a thresholds rule ignores direction: reverse its points
        points = [t["points"] for t in rule["thresholds"]]
        for t, p in zip(rule["thresholds"], reversed(points), strict=True):
            t["points"] = p
    if measure.get("missing") == "penalize":  # a missing value now scores full marks
        measure["missing_points"] = 100 - float(measure.get("missing_points", 0))


def reversed_model(doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default model with every measure's direction flipped, component weights reversed,
    knock-outs and segment overrides dropped: a deliberately bad candidate."""
    doc = doc or yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    for score in doc["scores"].values():
        comps = score["components"]
        names = list(comps)
        weights = [comps[n]["weight"] for n in names]
        for n, w in zip(names, reversed(weights), strict=True):
            comps[n]["weight"] = w
        for comp in comps.values():
            for m in comp["measures"]:
                _reverse_measure(m)
        score["knockouts"] = []
    doc["segments"] = []
    doc["name"] = "reversed"
    doc["version"] = "0.0.1-bad"
    doc["changelog"] = [
        {"version": "0.0.1-bad", "date": "2026-11-23", "change": "every direction flipped (test)"}
    ]
    return doc


def reversed_model_yaml() -> str:
    return yaml.safe_dump(reversed_model(), sort_keys=False)
