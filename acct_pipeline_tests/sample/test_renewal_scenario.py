"""The ``renewal`` scenario: another company on the same contract, with other churn mechanics."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from acct_pipeline.sample import SCENARIOS, generate_sample, renewal
from acct_pipeline.sample import generator as default_generator
from acct_pipeline.warehouse import (
    BILLING_SUBSCRIPTIONS,
    CRM_ACTIVITIES,
    CRM_CONTACTS,
    CRM_TICKETS,
    PRODUCT_EVENTS,
    PRODUCT_GROUPS,
    RAW_TABLES,
    SNAPSHOT_TABLES,
)
from acct_pipeline_tests.sample.test_generator import (
    account_maps,
    bad_rows,
    checksums,
    files_of,
    manifest_of,
    period_days,
    rows_of,
)

# The size the pipeline tests run it at.
SIZE = {"accounts": 300, "days": 150, "seed": 7}
SMALL = {"accounts": 80, "days": 30, "seed": 5, "end_date": date(2026, 5, 31)}
DEFAULT_MODEL = Path(default_generator.__file__).parents[1] / "models" / "default.yaml"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("renewal")
    generate_sample(out, scenario="renewal", **SIZE)
    return out


def dicts(path: Path) -> list[dict[str, str]]:
    header, rows = rows_of(path)
    return [dict(zip(header, r, strict=True)) for r in rows]


def test_the_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", scenario="renewal", **SMALL)
    generate_sample(tmp_path / "b", scenario="renewal", **SMALL)
    generate_sample(tmp_path / "c", scenario="default", **SMALL)
    first, second, default = (checksums(tmp_path / k) for k in "abc")
    assert len(first) == 9 + SMALL["days"] + 2 and first == second
    assert set(first) == set(default)
    same = {name for name in first if first[name] == default[name]}
    assert not same, f"the renewal scenario reproduced the default's {same}"


def test_the_default_scenario_is_the_default_generator(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", **SMALL)
    default_generator.generate_sample(tmp_path / "b", **SMALL)
    assert checksums(tmp_path / "a") == checksums(tmp_path / "b")
    assert "scenario" not in manifest_of(tmp_path / "a")["params"]


def test_an_unknown_scenario_is_rejected_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'.*default, renewal"):
        generate_sample(tmp_path, scenario="nope", accounts=5, days=5)
    assert not tmp_path.joinpath("_manifest.json").exists()


def test_the_command_line_offers_every_scenario(tmp_path: Path) -> None:
    from acct_pipeline.cli import build_parser

    gen = build_parser().parse_args(["generate-sample", "--scenario", "renewal"])
    assert gen.scenario == "renewal"
    assert build_parser().parse_args(["generate-sample"]).scenario == "default"
    choices = next(
        a.choices
        for a in build_parser()._subparsers._group_actions[0].choices["generate-sample"]._actions
        if a.dest == "scenario"
    )
    assert tuple(choices) == tuple(SCENARIOS)


def test_files_are_on_contract_and_planted_rows_are_the_rule_breakers(book: Path) -> None:
    m = manifest_of(book)
    planted = {
        (q["table"], q["file"], q["row_number"], q["rule"]) for q in m["planted"]["quarantine"]
    }
    found: set[tuple[str, str, int, str]] = set()
    for spec in RAW_TABLES:
        total = 0
        for path in files_of(book, spec):
            header, rows = rows_of(path)
            assert header == spec.column_names, path
            total += len(rows)
        assert m["counts"][spec.name] == total, spec.name
    for spec in SNAPSHOT_TABLES:  # event days: the loader test below (speed)
        found |= bad_rows(book, spec)
    assert found == {p for p in planted if p[0] != PRODUCT_EVENTS.name}
    assert {rule.split(":")[0] for *_, rule in planted} >= {"duplicate_key", "missing_required"}


def test_the_loader_accepts_the_files_and_quarantines_only_planted_rows(
    book: Path, tmp_path: Path
) -> None:
    from acct_pipeline.connectors.files import FilesSource
    from acct_pipeline.connectors.loader import load_batches
    from acct_pipeline.warehouse import QUARANTINE, connect

    source = FilesSource(book)
    days = period_days(book)[::15]
    loaded = {spec.landing_path for spec in SNAPSHOT_TABLES}
    loaded |= {PRODUCT_EVENTS.landing_path.format(date=d.isoformat()) for d in days}
    with connect(tmp_path / "w.duckdb") as con:
        for spec in SNAPSHOT_TABLES:
            load_batches(con, spec, source.read_table(spec), "files")
        for day in days:
            batches = source.read_events(PRODUCT_EVENTS, day)
            load_batches(con, PRODUCT_EVENTS, batches, "files", partition=day)
        got = con.execute(
            f"SELECT source_table, source_file, row_number, rule FROM {QUARANTINE}"
        ).fetchall()
        loaded_rows = con.execute(f"SELECT count(*) FROM {CRM_ACTIVITIES.qualified}").fetchone()
    quarantined = {(t, Path(f).relative_to(book).as_posix(), n, r) for t, f, n, r in got}
    planted = {
        (q["table"], q["file"], q["row_number"], q["rule"])
        for q in manifest_of(book)["planted"]["quarantine"]
        if q["file"] in loaded
    }
    assert quarantined == planted
    assert loaded_rows[0] > 0.9 * manifest_of(book)["counts"][CRM_ACTIVITIES.name]


def test_outcomes_have_the_default_layout_and_enough_churn(book: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, **SMALL)
    header, truth = rows_of(book / "_truth" / "outcomes.csv")
    assert header == rows_of(tmp_path / "_truth" / "outcomes.csv")[0]
    m = manifest_of(book)
    outcomes = {o: sum(r[1] == o for r in truth) for o in ("churned", "renewed", "open")}
    assert m["outcomes"] == outcomes and len(truth) == SIZE["accounts"]
    assert outcomes["churned"] >= 25, outcomes
    assert 0.15 <= outcomes["churned"] / (outcomes["churned"] + outcomes["renewed"]) <= 0.45
    # renewals (churn or not) are spread over the period
    days = period_days(book)
    churn_days = sorted(date.fromisoformat(r[2]) for r in truth if r[1] == "churned")
    assert churn_days[0] < days[50] and churn_days[-1] > days[100]
    assert m["params"]["scenario"] == "renewal"
    assert m["scenario"]["name"] == "renewal" and len(m["scenario"]["mechanics"]) >= 5


def test_there_is_no_nps_and_hardly_any_csat(book: Path) -> None:
    activities = dicts(book / CRM_ACTIVITIES.landing_path)
    types = {a["activity_type"] for a in activities}
    assert "nps_response" not in types and {"email_sent", "email_reply", "meeting"} <= types
    assert all(a["value"] == "" for a in activities)
    tickets = dicts(book / CRM_TICKETS.landing_path)
    closed = [t for t in tickets if t["status"] == "closed"]
    with_csat = [t for t in closed if t["csat_score"]]
    assert closed and 0 < len(with_csat) <= 0.1 * len(closed)
    no_support = set(manifest_of(book)["scenario"]["no_support_accounts"])
    assert abs(len(no_support) - 0.25 * SIZE["accounts"]) <= 1
    assert not no_support & {t["company_id"] for t in tickets}


def test_a_fifth_of_the_accounts_have_no_product_tracking(book: Path) -> None:
    untracked = set(manifest_of(book)["scenario"]["untracked_accounts"])
    assert abs(len(untracked) - 0.2 * SIZE["accounts"]) <= 1
    _, group_account = account_maps(book)
    assert not untracked & set(group_account.values())
    with_events = set()
    for path in files_of(book, PRODUCT_EVENTS):
        with_events |= {group_account.get(r[4]) for r in rows_of(path)[1]}
    with_events.discard(None)
    assert not untracked & with_events
    assert len(with_events) >= 0.6 * SIZE["accounts"]  # the rest: untracked, or unmatched groups
    groups = rows_of(book / PRODUCT_GROUPS.landing_path)[1]
    assert len(groups) < 0.85 * SIZE["accounts"]


def test_event_names_are_none_of_the_default_models_key_features(book: Path) -> None:
    model = yaml.safe_load(DEFAULT_MODEL.read_text())
    key_features = set(model["signals"]["key_features"])
    seen: set[str] = set()
    for path in files_of(book, PRODUCT_EVENTS):
        seen |= {r[1] for r in rows_of(path)[1]}
    assert seen == set(renewal.EVENT_NAMES)
    assert not seen & key_features and not seen & set(default_generator.EVENT_NAMES)
    assert all(name.istitle() or name.startswith("API") for name in seen)


def test_some_accounts_log_activities_without_a_contact(book: Path) -> None:
    contactless = set(manifest_of(book)["scenario"]["contactless_accounts"])
    assert abs(len(contactless) - 0.3 * SIZE["accounts"]) <= 1
    by_account: dict[str, list[str]] = defaultdict(list)
    for a in dicts(book / CRM_ACTIVITIES.landing_path):
        by_account[a["company_id"]].append(a["contact_id"])
    by_account.pop("", None)  # planted rows without a company
    for account, contacts in by_account.items():
        if account in contactless:
            assert all(c == "" for c in contacts), account
        else:
            assert all(c != "" for c in contacts), account
    assert contactless & set(by_account) and set(by_account) - contactless


def test_some_subscriptions_have_no_seat_count_and_plans_are_others(book: Path) -> None:
    subs = dicts(book / BILLING_SUBSCRIPTIONS.landing_path)
    missing = sum(s["seats"] == "" for s in subs)
    assert abs(missing - 0.12 * SIZE["accounts"]) <= 1
    assert {s["plan"] for s in subs} == set(renewal.PLANS)
    assert not set(renewal.PLANS) & set(default_generator.PLANS)


def active_user_days(root: Path) -> dict[str, dict[date, int]]:
    """Per account and day: distinct users with an event."""
    _, group_account = account_maps(root)
    users: dict[str, dict[date, int]] = defaultdict(dict)
    for day, path in zip(period_days(root), files_of(root, PRODUCT_EVENTS), strict=True):
        per_account: dict[str, set[str]] = defaultdict(set)
        for r in rows_of(path)[1]:
            if r[4] in group_account:
                per_account[group_account[r[4]]].add(r[3])
        for account, seen in per_account.items():
            users[account][day] = len(seen)
    return users


def test_churners_adoption_falls_before_renewal_more_than_renewers(book: Path) -> None:
    users = active_user_days(book)
    first = period_days(book)[0]

    def window(account: str, end: date) -> int:
        return sum(users[account].get(end - timedelta(days=i), 0) for i in range(30))

    trend: dict[str, list[float]] = {"churned": [], "renewed": []}
    level: dict[str, list[float]] = {"churned": [], "renewed": []}
    for account, kind, when in rows_of(book / "_truth" / "outcomes.csv")[1]:
        renewal_day = date.fromisoformat(when)
        if kind not in trend or renewal_day - timedelta(days=75) < first:
            continue
        recent = window(account, renewal_day - timedelta(days=15))
        before = window(account, renewal_day - timedelta(days=45))
        if recent + before:
            trend[kind].append(np.log((recent + 1) / (before + 1)))
            level[kind].append(recent)
    assert len(trend["churned"]) >= 10 and len(trend["renewed"]) >= 30
    assert np.mean(trend["churned"]) < np.mean(trend["renewed"]) - 0.1, trend


def test_losing_a_champion_before_renewal_makes_churn_likelier(book: Path) -> None:
    lost: dict[str, list[date]] = defaultdict(list)
    for c in dicts(book / CRM_CONTACTS.landing_path):
        if c["is_champion"] == "true" and c["left_company_at"]:
            lost[c["company_id"]].append(date.fromisoformat(c["left_company_at"][:10]))
    churn: dict[bool, list[bool]] = {True: [], False: []}
    for account, kind, when in rows_of(book / "_truth" / "outcomes.csv")[1]:
        if kind in ("churned", "renewed"):
            renewal_day = date.fromisoformat(when)
            recent = any(15 <= (renewal_day - d).days <= 200 for d in lost.get(account, []))
            churn[recent].append(kind == "churned")
    assert len(churn[True]) >= 10
    assert np.mean(churn[True]) > 2 * np.mean(churn[False]), churn
    assert set(manifest_of(book)["scenario"]["champion_left_accounts"]) <= set(lost)
