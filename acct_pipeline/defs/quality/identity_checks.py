"""Identity checks: are billing customers and product workspaces attached to CRM accounts?

``match_rate_above_threshold`` warns when too few records of a source system match an account
(``ACCT_MIN_MATCH_RATE``, default 0.95; "95" and "95%" work too): the usage or billing signals
of the unmatched ones are missing from the scores. ``every_record_resolved_once`` fails when a
record was lost, doubled, or matched on a free-mail domain. ``accounts_share_no_domain`` reports
CRM accounts that share a web domain (likely duplicates, never merged automatically).
"""

from collections.abc import Iterator

import dagster as dg

from acct_pipeline.defs.keys import DUPLICATE_DOMAINS_KEY, IDENTITY_MAP_KEY
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.quality.identity import identity_report
from acct_pipeline.settings import environ

MATCH_RATE = "match_rate_above_threshold"
EVERY_RECORD_RESOLVED = "every_record_resolved_once"
NO_SHARED_DOMAINS = "accounts_share_no_domain"

MIN_MATCH_RATE_ENV = "ACCT_MIN_MATCH_RATE"
DEFAULT_MIN_MATCH_RATE = 0.95


def min_match_rate(env: dict[str, str] | None = None) -> float:
    """The configured threshold as a fraction (``0.95``, ``95`` and ``95%`` all mean 95 %)."""
    raw = (environ(env).get(MIN_MATCH_RATE_ENV) or "").strip().rstrip("%")
    if not raw:
        return DEFAULT_MIN_MATCH_RATE
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{MIN_MATCH_RATE_ENV}={raw!r} is not a number (e.g. 0.95 or 95)") from exc
    value = value / 100 if value > 1 else value
    if not 0 <= value <= 1:
        raise ValueError(f"{MIN_MATCH_RATE_ENV}={raw!r}: a match rate lies between 0 and 100 %")
    return value


@dg.multi_asset_check(
    name="identity_quality",
    specs=[
        dg.AssetCheckSpec(
            MATCH_RATE,
            asset=IDENTITY_MAP_KEY,
            description=(
                "Warns when the share of billing customers or product workspaces matched to a CRM "
                f"account falls below {MIN_MATCH_RATE_ENV} (default 95 %): their billing or usage "
                "signals would be missing from the scores."
            ),
        ),
        dg.AssetCheckSpec(
            EVERY_RECORD_RESOLVED,
            asset=IDENTITY_MAP_KEY,
            description=(
                "Every billing customer and product workspace is either matched (once, by explicit "
                "id or a non-free-mail domain, to an existing account) or in unmatched_records "
                "with "
                "a reason: nothing lost, doubled or matched on gmail.com."
            ),
        ),
        dg.AssetCheckSpec(
            NO_SHARED_DOMAINS,
            asset=DUPLICATE_DOMAINS_KEY,
            description=(
                "Warns about CRM accounts sharing one web domain: likely duplicates in the CRM. "
                "Records on such a domain are not matched by domain (no silent merge)."
            ),
        ),
    ],
    can_subset=True,
)
def identity_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Protects the scores from silently missing billing / usage data: match rate, every record
    resolved once (never on a free-mail domain), CRM duplicates reported."""
    selected = {k.name for k in context.selected_asset_check_keys}
    threshold = min_match_rate()
    with warehouse.connect() as con:
        report = identity_report(con)
    rates = {name: round(s.match_rate, 4) for name, s in report.systems.items()}
    if MATCH_RATE in selected:
        low = {name: rate for name, rate in rates.items() if rate < threshold}
        yield dg.AssetCheckResult(
            asset_key=IDENTITY_MAP_KEY,
            check_name=MATCH_RATE,
            passed=not low and not report.problems,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"match rate below {threshold:.0%}: "
                + ", ".join(f"{k} {v:.1%}" for k, v in low.items())
                if low
                else "; ".join(report.problems)
                or f"every source system matches at least {threshold:.0%}"
            ),
            metadata={
                "threshold": dg.MetadataValue.float(threshold),
                "match_rates": dg.MetadataValue.json(rates),
                "unmatched_by_reason": dg.MetadataValue.json(
                    {n: s.by_reason for n, s in report.systems.items()}
                ),
                "matched_by_method": dg.MetadataValue.json(
                    {n: s.by_method for n, s in report.systems.items()}
                ),
            },
        )
    if EVERY_RECORD_RESOLVED in selected:
        yield dg.AssetCheckResult(
            asset_key=IDENTITY_MAP_KEY,
            check_name=EVERY_RECORD_RESOLVED,
            passed=not report.problems,
            description="; ".join(report.problems)
            or "every record is matched once or unmatched with a reason",
            metadata={
                "records": dg.MetadataValue.json({n: s.records for n, s in report.systems.items()}),
                "problems": dg.MetadataValue.json(report.problems),
            },
        )
    if NO_SHARED_DOMAINS in selected:
        yield dg.AssetCheckResult(
            asset_key=DUPLICATE_DOMAINS_KEY,
            check_name=NO_SHARED_DOMAINS,
            passed=not report.duplicate_domains and not report.problems,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(report.duplicate_domains)} domain(s) shared by several CRM accounts"
                if report.duplicate_domains
                else "; ".join(report.problems) or "no two CRM accounts share a domain"
            ),
            metadata={
                "shared_domains": dg.MetadataValue.int(len(report.duplicate_domains)),
                "accounts_by_domain": dg.MetadataValue.json(dict(report.duplicate_domains[:50])),
            },
        )
