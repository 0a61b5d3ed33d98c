"""The synthetic sample company: deterministic, on contract, with churn, signal and known dirt."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from acct_pipeline.sample import generate_sample
from acct_pipeline.warehouse import (
    BILLING_CUSTOMERS,
    BILLING_SUBSCRIPTIONS,
    CRM_COMPANIES,
    PRODUCT_EVENTS,
    PRODUCT_GROUPS,
    RAW_BY_NAME,
    RAW_TABLES,
    SNAPSHOT_TABLES,
    TableSpec,
)

SIZE = {"accounts": 200, "days": 40, "end_date": date(2026, 8, 31)}
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
FREE_MAIL = {"gmail.com", "yahoo.com", "outlook.com"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, seed=3, **SIZE)
    return out


def manifest_of(root: Path) -> dict:
    return json.loads((root / "_manifest.json").read_text())


def rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        return next(reader), list(reader)


def period_days(root: Path) -> list[date]:
    m = manifest_of(root)
    start, end = date.fromisoformat(m["period"]["start"]), date.fromisoformat(m["period"]["end"])
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def files_of(root: Path, spec: TableSpec) -> list[Path]:
    if spec.partitioned:
        return [root / spec.landing_path.format(date=d.isoformat()) for d in period_days(root)]
    return [root / spec.landing_path]


def checksums(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")


def first_broken_rule(spec: TableSpec, row: dict[str, str]) -> str | None:
    """An independent re-implementation of the row rules (docs/landing-format.md)."""
    for col in spec.columns:
        if col.required and not row[col.name]:
            return f"missing_required:{col.name}"
    if spec.one_of_required and not any(row[c] for c in spec.one_of_required):
        return f"missing_one_of:{','.join(spec.one_of_required)}"
    for col in spec.columns:
        if col.allowed and row[col.name] not in col.allowed:
            return f"unknown_value:{col.name}"
    for col in spec.columns:
        value = row[col.name]
        if not value:
            continue
        if col.type == "TIMESTAMP":
            try:
                if not ISO.fullmatch(value):
                    raise ValueError(value)
                ts(value)
            except ValueError:
                return f"malformed_timestamp:{col.name}"
        elif col.type in ("BIGINT", "DOUBLE"):
            try:
                number = float(value)
            except ValueError:
                return f"malformed_number:{col.name}"
            if col.type == "BIGINT" and number != int(number):
                return f"malformed_integer:{col.name}"
        elif col.type == "BOOLEAN" and value not in ("true", "false"):
            return f"malformed_boolean:{col.name}"
    for col in spec.columns:
        if col.nonnegative and row[col.name] and float(row[col.name]) < 0:
            # an optional column's bad value is set NULL and noted; the row is kept
            return f"negative_amount:{col.name}" + ("" if col.required else " (nulled)")
    return None


def bad_rows(root: Path, spec: TableSpec) -> set[tuple[str, str, int, str]]:
    """Every row of a table's files that breaks a rule: (table, file, row_number, rule)."""
    found = set()
    for path in files_of(root, spec):
        header, rows = rows_of(path)
        seen: set[tuple[str, ...]] = set()
        rel = path.relative_to(root).as_posix()
        for i, values in enumerate(rows, start=1):
            assert len(values) == len(header), f"{rel} row {i} has {len(values)} fields"
            row = dict(zip(header, values, strict=True))
            rule = first_broken_rule(spec, row)
            if rule is None:
                key = tuple(row[k] for k in spec.key)
                if key in seen:
                    rule = f"duplicate_key:{','.join(spec.key)}"
                seen.add(key)
            if rule:
                found.add((spec.name, rel, i, rule))
    return found


def test_the_same_seed_gives_byte_identical_files(sample: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, seed=3, **SIZE)
    first, second = checksums(sample), checksums(tmp_path)
    assert len(first) == 9 + SIZE["days"] + 2  # 9 snapshot files, one per day, manifest, truth
    assert first == second


def test_another_seed_gives_other_data(sample: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, seed=4, **SIZE)
    first, other = checksums(sample), checksums(tmp_path)
    assert set(first) == set(other)
    same = {name for name in first if first[name] == other[name]}
    assert not same, f"seed 4 reproduced seed 3's {same}"


def test_every_landing_file_has_the_contract_columns_and_the_manifest_counts(sample: Path) -> None:
    m = manifest_of(sample)
    days = period_days(sample)
    assert len(days) == SIZE["days"] and days[-1] == SIZE["end_date"]
    assert sorted(p.name for p in (sample / "events").iterdir()) == [
        f"events_{d}.csv" for d in days
    ]
    for spec in RAW_TABLES:
        total = 0
        for path in files_of(sample, spec):
            header, rows = rows_of(path)
            assert header == spec.column_names, path
            total += len(rows)
        assert m["counts"][spec.name] == total, spec.name
    assert m["counts"][CRM_COMPANIES.name] >= SIZE["accounts"]
    assert m["counts"][PRODUCT_EVENTS.name] > SIZE["accounts"] * SIZE["days"]
    assert m["params"] == {
        "accounts": 200,
        "days": 40,
        "seed": 3,
        "end_date": "2026-08-31",
        "events_per_account_day": 6.0,
    }


def test_planted_rows_are_exactly_the_rows_that_break_a_rule(sample: Path) -> None:
    planted = {
        (q["table"], q["file"], q["row_number"], q["rule"])
        for q in manifest_of(sample)["planted"]["quarantine"]
    }
    found: set[tuple[str, str, int, str]] = set()
    for spec in RAW_TABLES:
        found |= bad_rows(sample, spec)
    assert found == planted
    kinds = {(t, rule) for t, _, _, rule in planted}
    assert {
        ("crm_companies", "duplicate_key:company_id"),
        ("crm_contacts", "duplicate_key:contact_id"),
        ("crm_activities", "duplicate_key:activity_id"),
        ("crm_activities", "malformed_timestamp:occurred_at"),
        ("crm_activities", "missing_required:company_id"),
        ("crm_tickets", "missing_required:company_id"),
        ("product_events", "duplicate_key:event_id"),
        ("product_events", "malformed_timestamp:occurred_at"),
        ("product_events", "missing_required:event_id"),
    } <= kinds
    assert {rule for t, rule in kinds if t == "billing_invoices"} <= {
        "negative_amount:amount_due (nulled)",
        "negative_amount:amount_paid (nulled)",
    }
    # a small share each: never more than 1 % of a table
    counts = manifest_of(sample)["counts"]
    per_table: dict[str, int] = defaultdict(int)
    for t, _, _, _ in planted:
        per_table[t] += 1
    for table, n in per_table.items():
        assert n <= max(3, 0.03 * counts[table]), table


def test_a_duplicate_copy_is_identical_to_an_earlier_row(sample: Path) -> None:
    by_file: dict[str, list[int]] = defaultdict(list)
    for q in manifest_of(sample)["planted"]["quarantine"]:
        if q["rule"].startswith("duplicate_key"):
            by_file[q["file"]].append(q["row_number"])
    assert by_file
    for rel, numbers in by_file.items():
        _, rows = rows_of(sample / rel)
        for number in numbers:
            assert rows[number - 1] in rows[: number - 1], f"{rel} row {number}"


def test_the_loader_quarantines_exactly_the_planted_rows(sample: Path, tmp_path: Path) -> None:
    from acct_pipeline.connectors.files import FilesSource
    from acct_pipeline.connectors.loader import load_batches
    from acct_pipeline.warehouse import QUARANTINE, connect

    source = FilesSource(sample)
    days = period_days(sample)[::5]  # every snapshot file and a sample of event days (speed)
    loaded = {spec.landing_path for spec in SNAPSHOT_TABLES}
    loaded |= {PRODUCT_EVENTS.landing_path.format(date=d.isoformat()) for d in days}
    with connect(tmp_path / "w.duckdb") as con:
        for spec in SNAPSHOT_TABLES:
            load_batches(con, spec, source.read_table(spec), "files")
        for day in days:
            load_batches(
                con, PRODUCT_EVENTS, source.read_events(PRODUCT_EVENTS, day), "files", partition=day
            )
        got = con.execute(
            f"SELECT source_table, source_file, row_number, rule FROM {QUARANTINE}"
        ).fetchall()
    quarantined = {(t, Path(f).relative_to(sample).as_posix(), n, r) for t, f, n, r in got}
    planted = {
        (q["table"], q["file"], q["row_number"], q["rule"])
        for q in manifest_of(sample)["planted"]["quarantine"]
        if q["file"] in loaded
    }
    assert {rule.split(":")[0] for *_, rule in planted} == {
        "duplicate_key",
        "malformed_timestamp",
        "missing_required",
        "missing_one_of",
        "negative_amount",
        "unknown_value",
    }
    assert quarantined == planted


def _domain(value: str) -> str | None:
    host = re.sub(r"^[a-z]+://", "", value.strip().lower())
    host = re.sub(r"^www\.", "", host)
    host = re.sub(r"[/?#:].*$", "", host)
    return host if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host) else None


def account_maps(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """customer_id -> company_id and group_id -> company_id, by explicit id, else by domain."""
    companies = rows_of(root / CRM_COMPANIES.landing_path)[1]
    ids = {r[0] for r in companies}
    by_domain = {_domain(r[2]): r[0] for r in companies if _domain(r[2])}

    def resolve(explicit: str, domain: str) -> str | None:
        return explicit if explicit in ids else by_domain.get(_domain(domain))

    customers = {
        r[0]: resolve(r[1], r[2].split("@")[-1])
        for r in rows_of(root / BILLING_CUSTOMERS.landing_path)[1]
    }
    groups = {r[0]: resolve(r[3], r[2]) for r in rows_of(root / PRODUCT_GROUPS.landing_path)[1]}
    return (
        {k: v for k, v in customers.items() if v},
        {k: v for k, v in groups.items() if v},
    )


def test_identity_dirt_is_where_the_manifest_says(sample: Path) -> None:
    m = manifest_of(sample)["planted"]
    companies = {r[0]: r for r in rows_of(sample / CRM_COMPANIES.landing_path)[1]}
    domains = {cid: _domain(r[2]) for cid, r in companies.items()}
    bad = set(m["bad_domains"])
    assert bad and bad == {cid for cid, d in domains.items() if d is None}
    good = [d for d in domains.values() if d]
    assert len(good) == len(set(good)), "company domains must be unique"

    unmatched = {(u["table"], u["id"]) for u in m["unmatched"]}
    customers = rows_of(sample / BILLING_CUSTOMERS.landing_path)[1]
    groups = rows_of(sample / PRODUCT_GROUPS.landing_path)[1]
    candidates = [("billing_customers", r[0], r[1], r[2].split("@")[-1]) for r in customers]
    candidates += [("product_groups", r[0], r[3], r[2]) for r in groups]
    resolved = set()
    for table, rid, explicit, raw_domain in candidates:
        if explicit in companies or (
            _domain(raw_domain) in good and _domain(raw_domain) not in FREE_MAIL
        ):
            resolved.add((table, rid))
    all_ids = {(c[0], c[1]) for c in candidates}
    assert unmatched == all_ids - resolved
    assert {t for t, _ in unmatched} == {"billing_customers", "product_groups"}
    free = [r for r in customers if r[2].split("@")[-1] in FREE_MAIL]
    assert free and all(r[1] == "" and ("billing_customers", r[0]) in unmatched for r in free)
    # explicit ids for about 70 % of customers and 60 % of groups
    assert 0.55 <= sum(1 for r in customers if r[1]) / len(customers) <= 0.85
    assert 0.45 <= sum(1 for r in groups if r[3]) / len(groups) <= 0.75


def test_renewals_churn_and_usage_stop_after_churn(sample: Path) -> None:
    _, truth = rows_of(sample / "_truth" / "outcomes.csv")
    outcome = {r[0]: (r[1], date.fromisoformat(r[2])) for r in truth}
    assert {o for o, _ in outcome.values()} == {"churned", "renewed", "open"}
    churned = {a for a, (o, _) in outcome.items() if o == "churned"}
    renewed = {a for a, (o, _) in outcome.items() if o == "renewed"}
    assert churned and renewed
    assert 0.05 <= len(churned) / (len(churned) + len(renewed)) <= 0.45

    account_of_customer, group_account = account_maps(sample)
    header, subs = rows_of(sample / BILLING_SUBSCRIPTIONS.landing_path)
    seen = set()
    for values in subs:
        sub = dict(zip(header, values, strict=True))
        account = account_of_customer.get(sub["customer_id"])
        if account is None:  # a free-mail customer: no link to its account, by design
            continue
        seen.add(account)
        kind, when = outcome[account]
        if kind == "churned":
            assert sub["status"] == "canceled"
            ended, canceled = ts(sub["ended_at"]), ts(sub["canceled_at"])
            assert ended.date() == when == ts(sub["term_end"]).date()
            assert timedelta(0) < ended - canceled <= timedelta(days=30)
        else:
            assert sub["ended_at"] == "" and sub["status"] != "canceled"
            assert ts(sub["term_end"]) - ts(sub["term_start"]) == timedelta(days=365)
        if kind == "renewed":
            assert ts(sub["term_start"]).date() == when
    assert len(seen) >= 0.97 * len(outcome)
    for day in period_days(sample):
        _, events = rows_of(sample / PRODUCT_EVENTS.landing_path.format(date=day.isoformat()))
        for e in events:
            account = group_account[e[4]]
            kind, when = outcome[account]
            assert not (kind == "churned" and day >= when), (
                f"{account} used the product after churning"
            )


def test_renewed_accounts_use_the_product_more_than_churned_ones_before_renewal(
    sample: Path,
) -> None:
    _, truth = rows_of(sample / "_truth" / "outcomes.csv")
    _, group_account = account_maps(sample)
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    for day in period_days(sample):
        for e in rows_of(sample / PRODUCT_EVENTS.landing_path.format(date=day.isoformat()))[1]:
            per_day[(group_account[e[4]], day)] += 1
    first = period_days(sample)[0]
    usage: dict[str, list[float]] = {"churned": [], "renewed": []}
    for account, kind, when in truth:
        renewal = date.fromisoformat(when)
        if kind in usage and renewal >= first + timedelta(days=21):
            window = [renewal - timedelta(days=i) for i in range(1, 22)]
            usage[kind].append(sum(per_day.get((account, d), 0) for d in window))
    assert len(usage["churned"]) >= 3 and len(usage["renewed"]) >= 3
    median = {k: sorted(v)[len(v) // 2] for k, v in usage.items()}
    assert median["renewed"] > 1.5 * median["churned"], median


def test_progress_is_reported_and_events_scale_with_the_knob(tmp_path: Path) -> None:
    messages: list[str] = []
    small = generate_sample(tmp_path / "a", accounts=50, days=12, seed=1, progress=messages.append)
    big = generate_sample(tmp_path / "b", accounts=50, days=12, seed=1, events_per_account_day=24.0)
    assert any("day 10/12" in msg for msg in messages) and any(
        "day 12/12" in msg for msg in messages
    )
    ratio = big["counts"]["product_events"] / small["counts"]["product_events"]
    assert 2.5 < ratio < 6, ratio
    assert manifest_of(tmp_path / "a") == small
    with pytest.raises(ValueError, match="accounts"):
        generate_sample(tmp_path / "c", accounts=0, days=5)


def test_default_size_is_in_the_advertised_range_per_account_day(sample: Path) -> None:
    m = manifest_of(sample)
    per_account_day = m["counts"][PRODUCT_EVENTS.name] / (SIZE["accounts"] * SIZE["days"])
    # defaults: 2,000 accounts x 180 days must give 1-3 M events, i.e. 2.8-8.3 per account-day
    assert 2.8 <= per_account_day <= 8.3, per_account_day
    assert set(RAW_BY_NAME) == set(m["counts"])


def test_crm_records_are_internally_consistent(sample: Path) -> None:
    header, contacts = rows_of(sample / "crm" / "contacts.csv")
    champions: dict[str, int] = defaultdict(int)
    left = 0
    for values in contacts:
        c = dict(zip(header, values, strict=True))
        champions[c["company_id"]] += c["is_champion"] == "true"
        if c["left_company_at"]:
            left += 1
            assert ts(c["left_company_at"]) > ts(c["created_at"]), c
    assert set(champions.values()) <= {1, 2} and 1 in champions.values()
    assert 0 < left < 0.4 * len(contacts)

    header, tickets = rows_of(sample / "crm" / "tickets.csv")
    for values in tickets:
        t = dict(zip(header, values, strict=True))
        assert (t["status"] == "closed") == bool(t["closed_at"]), t
        assert t["csat_score"] == "" or (t["closed_at"] and 1 <= float(t["csat_score"]) <= 5), t
    assert {dict(zip(header, v, strict=True))["status"] for v in tickets} >= {"closed", "open"}

    header, activities = rows_of(sample / "crm" / "activities.csv")
    nps = [dict(zip(header, v, strict=True)) for v in activities]
    assert all((a["activity_type"] == "nps_response") == (a["value"] != "") for a in nps)
    assert all(0 <= float(a["value"]) <= 10 for a in nps if a["value"])
