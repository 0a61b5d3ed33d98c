"""The scoring model file: the default's published weights and bands; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH, ModelError, load_model


def _default_doc() -> dict:
    return yaml.safe_load(DEFAULT_MODEL_PATH.read_text())


def _write(tmp_path: Path, doc: object, name: str = "default.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if not isinstance(doc, str) else doc)
    return path


def test_default_model_reproduces_the_published_example() -> None:
    raw = _default_doc()
    weights = {c: v["weight"] for c, v in raw["scores"]["health"]["components"].items()}
    assert weights == {"usage": 35, "engagement": 25, "business": 20, "support": 15, "contract": 5}
    bands = [(b["name"], b["min"]) for b in raw["tiers"]["bands"]]
    assert bands == [("Healthy", 90), ("At-Risk", 70), ("Concerning", 50), ("Critical", 0)]
    model = load_model()
    assert model.tiers.names == ["Healthy", "At-Risk", "Concerning", "Critical"]
    assert sum(c.weight for c in model.health.components.values()) == 100
    assert model.label == f"{raw['name']}@{raw['version']}"
    assert (
        model.changelog[-1].version == model.version or model.changelog[0].version == model.version
    )
    assert model.alerts.drop_points_7d == raw["alerts"]["drop_points_7d"]


def test_acct_model_env_selects_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _default_doc()
    doc["name"] = "enterprise-pilot"
    doc["version"] = "2.0.0"
    doc["changelog"].append({"version": "2.0.0", "date": "2026-11-24", "change": "pilot"})
    monkeypatch.setenv("ACCT_MODEL", str(_write(tmp_path, doc, "pilot.yaml")))
    model = load_model()
    assert model.label == "enterprise-pilot@2.0.0"
    assert model.source == "pilot.yaml"


def _usage(doc: dict) -> dict:
    return doc["scores"]["health"]["components"]["usage"]


CASES = [
    (
        "thresholds out of order",
        lambda d: _usage(d)["measures"].__setitem__(
            0,
            {
                "signal": "active_users_30d",
                "rule": {
                    "type": "thresholds",
                    "thresholds": [{"at": 60, "points": 100}, {"at": 40, "points": 50}],
                },
            },
        ),
        "scoring model default.yaml: measure 'active_users_30d' has thresholds out of order "
        "(60 before 40)",
    ),
    (
        "points against the direction",
        lambda d: _usage(d)["measures"].__setitem__(
            0,
            {
                "signal": "open_tickets",
                "direction": "lower_is_better",
                "rule": {
                    "type": "thresholds",
                    "thresholds": [{"at": 0, "points": 10}, {"at": 2, "points": 90}],
                },
            },
        ),
        "measure 'open_tickets' is lower_is_better but its threshold points go up (10 then 90)",
    ),
    (
        "unknown signal",
        lambda d: _usage(d)["measures"][0].__setitem__("signal", "active_userz"),
        "measure 'active_userz': unknown signal 'active_userz'",
    ),
    (
        "typo in a key",
        lambda d: _usage(d).__setitem__("weigth", 3),
        "unknown key 'scores.health.components.usage.weigth'",
    ),
    (
        "wrong type",
        lambda d: _usage(d).__setitem__("weight", "a lot"),
        "key 'scores.health.components.usage.weight'",
    ),
    ("missing version", lambda d: d.pop("version"), "missing key 'version'"),
    (
        "unknown rule type",
        lambda d: _usage(d)["measures"][0]["rule"].__setitem__("type", "sigmoid"),
        "scores.health.components.usage.measures[0].rule",
    ),
    (
        "bounded linear upside down",
        lambda d: _usage(d)["measures"][0].__setitem__(
            "rule", {"type": "bounded_linear", "low": 0.8, "high": 0.1}
        ),
        "measure 'seat_utilisation' has bounded_linear high (0.1) not above low (0.8)",
    ),
    (
        "bands out of order",
        lambda d: d["tiers"]["bands"].reverse(),
        "tier bands out of order (0 before 50)",
    ),
    (
        "segment names a missing component",
        lambda d: d["segments"][0]["weights"]["health"].__setitem__("adoption", 10),
        "segment 'enterprise': score 'health' has no component 'adoption'",
    ),
    (
        "playbook missing",
        lambda d: d["playbooks"]["Critical"].pop("declining"),
        "no playbook for tier 'Critical' and trend 'declining'",
    ),
    (
        "knock-out on an unknown signal",
        lambda d: d["scores"]["health"]["knockouts"][0].__setitem__("signal", "days_late"),
        "knockout on 'days_late': unknown signal 'days_late'",
    ),
    (
        "reason template with an unknown field",
        lambda d: _usage(d)["measures"][0].__setitem__("reason", "{value} of {seatz}"),
        "measure 'seat_utilisation': reason template refers to unknown field '{seatz}'",
    ),
    (
        "changelog without the version",
        lambda d: d.__setitem__("version", "9.9.9"),
        "changelog has no entry for version '9.9.9'",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_model_error_names_the_key(
    tmp_path: Path, case: str, mutate, expected: str
) -> None:
    doc = _default_doc()
    mutate(doc)
    with pytest.raises(ModelError) as info:
        load_model(_write(tmp_path, doc))
    message = str(info.value)
    assert message.startswith("scoring model default.yaml: "), message
    assert expected in message, message


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not valid YAML"):
        load_model(_write(tmp_path, "scores: [unclosed", "broken.yaml"))
    with pytest.raises(ModelError, match="mapping at the top level"):
        load_model(_write(tmp_path, "- just\n- a list\n", "list.yaml"))
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path / "nope.yaml")
