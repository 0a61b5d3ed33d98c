"""Marketing touches for the fakes and the API-vs-files tests: the contract's table spec and a
small generated dataset that both a fake API and a landing CSV can hold.

``make_touches(landing_root)`` draws touches for contacts of a generated sample (contacts with a
unique e-mail address, so HubSpot's e-mail events, which name a recipient by address, map back
to one contact): HubSpot ones (e-mail opens / clicks / bounces, form submissions, page views;
contact only) and Salesforce ones (webinar / event campaign members and e-mail campaign
statuses; contact and account). A Salesforce response happens on ``FirstRespondedDate``, a
date, so those touches are at midnight. ``write_touches(root, rows)`` writes them as the landing
file ``marketing/touches.csv``.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from acct_pipeline.connectors.marketing import TOUCH_COLUMNS, TOUCHES_TABLE
from acct_pipeline.warehouse import CRM_CONTACTS, MARKETING_TOUCHES
from acct_pipeline_tests.fakes import landing

# the connectors name the table by string; it is the landing contract's table
assert MARKETING_TOUCHES.name == TOUCHES_TABLE


HUBSPOT_KINDS = (
    ("email", "email_open", 8),
    ("email", "email_click", 4),
    ("email", "email_bounce", 1),
    ("web", "form_submission", 2),
    ("web", "page_view", 10),
)
SALESFORCE_KINDS = (
    ("web", "webinar_registered", 4),
    ("web", "webinar_attended", 3),
    ("web", "event_attended", 1),
    ("email", "email_open", 4),
    ("email", "email_click", 2),
    ("email", "email_reply", 1),
    ("email", "email_bounce", 1),
)
# Salesforce touches that are responses (dated by FirstRespondedDate, a date)
SALESFORCE_RESPONSES = {"webinar_attended", "event_attended", "email_click", "email_reply"}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def touch_contacts(root: Path) -> list[dict[str, str | None]]:
    """Contacts of a landing folder with a company and an e-mail address no other contact has."""
    contacts = [r for r in landing.unique_rows(root, CRM_CONTACTS) if r.get("company_id")]
    counts: dict[str, int] = {}
    for c in contacts:
        key = (c.get("email") or "").lower()
        counts[key] = counts.get(key, 0) + 1
    return [c for c in contacts if c.get("email") and counts[(c["email"] or "").lower()] == 1]


def make_touches(
    root: Path,
    *,
    seed: int = 20,
    per_contact: int = 1,
    end: datetime = datetime(2026, 10, 31, tzinfo=UTC),
    days: int = 120,
) -> list[dict[str, Any]]:
    """Touches for the contacts of ``root``: about ``per_contact`` of each kind per contact,
    spread over ``days`` days before ``end``."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    n = 0
    for contact in touch_contacts(root):
        for source, kinds in (("hubspot", HUBSPOT_KINDS), ("salesforce", SALESFORCE_KINDS)):
            for category, activity, weight in kinds:
                for _ in range(rng.randint(0, weight * per_contact)):
                    n += 1
                    when = end - timedelta(seconds=rng.randint(0, days * 86_400))
                    if source == "salesforce" and activity in SALESFORCE_RESPONSES:
                        when = when.replace(hour=0, minute=0, second=0)
                    prefix = {
                        ("hubspot", "email"): "hs-email-",
                        ("hubspot", "web"): "hs-form-"
                        if activity == "form_submission"
                        else "hs-web-",
                    }.get((source, category), "sf-cm-")
                    rows.append(
                        {
                            "touch_id": f"{prefix}{700_000 + n}",
                            "account_id": contact["company_id"] if source == "salesforce" else None,
                            "contact_id": contact["contact_id"],
                            "category": category,
                            "activity_type": activity,
                            "occurred_at": iso(when),
                            "value": None,
                            "source": source,
                        }
                    )
    return rows


def write_touches(root: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """``rows`` as the landing file ``<root>/marketing/touches.csv``."""
    path = Path(root) / MARKETING_TOUCHES.landing_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(TOUCH_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in TOUCH_COLUMNS})
    return path


def landing_touches(root: Path, source: str) -> list[dict[str, str | None]]:
    """The landing file's touches of one ``source`` (one per touch id), for a fake to serve."""
    return [r for r in landing.unique_rows(root, MARKETING_TOUCHES) if r.get("source") == source]


def epoch_ms(value: str | None) -> int | None:
    ts = landing.parse_ts(value)
    return None if ts is None else int(round(ts.timestamp() * 1000))
