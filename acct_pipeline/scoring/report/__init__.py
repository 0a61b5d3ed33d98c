"""The score report: one self-contained HTML file per run, readable offline.

``<reports dir>/score_report_<latest as-of date>.html`` with every chart a matplotlib PNG embedded
as base64: tier distribution over time, churn by tier, lift chart, calibration, stability, tier
migration between two dates, top at-risk accounts with their reasons, the model version timeline
(so a model change is not mistaken for a change in behaviour) and a churn autopsy (how signals
moved in the 90 days before churn, against accounts that renewed). It opens with the executive
page (``executive.py``).

The numbers come from the validation stored by ``score_validation`` (``read_validation``: the
report does not compute it again) and from SQL over the warehouse (``data.py``); ``charts.py``
draws them (matplotlib is imported only when a report is built) and ``template.py`` lays out the
page. The reports folder is ``$ACCT_REPORTS_DIR``, else ``reports/`` beside the warehouse file
(``data/reports`` for the default warehouse).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from acct_pipeline import settings
from acct_pipeline.scoring.model import ScoringModel, load_model
from acct_pipeline.scoring.outcomes import create_outcome_tables
from acct_pipeline.scoring.report import charts as draw
from acct_pipeline.scoring.report import data
from acct_pipeline.scoring.report import engagement as engagement_section
from acct_pipeline.scoring.report.acting import render_acting
from acct_pipeline.scoring.report.actions import render_actions
from acct_pipeline.scoring.report.executive import executive_summary, render_executive
from acct_pipeline.scoring.report.followups import render_followups
from acct_pipeline.scoring.report.template import render_page
from acct_pipeline.scoring.validation import (
    ValidationResult,
    compute_validation,
    read_validation,
    segment_table,
    summary_markdown,
)
from acct_pipeline.warehouse import warehouse_path

REPORTS_DIR_ENV = "ACCT_REPORTS_DIR"
MIGRATION_LOOKBACK_DAYS = 30


def reports_dir(warehouse: str | Path | None = None) -> Path:
    """``$ACCT_REPORTS_DIR``, else ``reports/`` beside the warehouse file (``data/reports``).

    ``warehouse`` is the warehouse file in use (default: ``$ACCT_WAREHOUSE`` or the default), so
    a run on another warehouse writes its reports beside that one.
    """
    configured = settings.get(settings.CoreSettings, "reports_dir")
    if configured:
        return Path(configured)
    return Path(warehouse or warehouse_path()).parent / "reports"


__all__ = [
    "REPORTS_DIR_ENV",
    "ReportResult",
    "build_report",
    "build_report_for_warehouse",
    "reports_dir",
]


@dataclass
class ReportResult:
    """Where the report was written, its markdown summary and the charts it holds."""

    path: Path
    markdown: str
    charts: list[str] = field(default_factory=list)
    as_of: date | None = None


def _validation(con: duckdb.DuckDBPyConnection, given: ValidationResult | None) -> ValidationResult:
    """``given`` when it has a history, else the stored validation, else (nothing stored: a
    warehouse the pipeline has not validated yet) one computed now, in memory."""
    if given is not None and given.ok:
        return given
    stored = read_validation(con)
    return stored if stored is not None else compute_validation(con)


def build_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path | None = None,
    validation: ValidationResult | None = None,
    migration_from: date | None = None,
    model: ScoringModel | None = None,
) -> ReportResult:
    """Write the HTML score report for the warehouse behind ``con`` and return where it is.

    ``validation`` defaults to the one stored in the warehouse (``score_validation``).
    ``migration_from`` is the first date of the migration matrix (default: 30 days before the
    latest day, or the first day). ``model`` (default: the model in use) names the tiers.
    """
    v = _validation(con, validation)
    model = model or load_model()
    create_outcome_tables(con)
    out = Path(out_dir) if out_dir else reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    plt = draw.plt_agg()
    if not v.ok:
        path = out / f"score_report_{date.today()}.html"
        img = draw.empty(plt, "Score report", v.status)
        path.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>Score report</title></head>"
            f"<body><h1>Score report</h1><p>{html.escape(v.status)}</p>"
            f"<img alt='status' src='data:image/png;base64,{img}'></body></html>"
        )
        return ReportResult(path=path, markdown=summary_markdown(v.summary), charts=["status"])

    last, first = v.date_to, v.date_from
    assert last is not None and first is not None  # a validation with status "ok" has a range
    d1 = migration_from or max(first, last - timedelta(days=MIGRATION_LOOKBACK_DAYS))
    charts: dict[str, str] = {}
    charts["tier_distribution_over_time"] = draw.tiers_over_time(data.tiers_over_time(con))
    charts["churn_by_tier"] = draw.churn_by_tier(v)
    charts["lift_chart"] = draw.lift(v)
    charts["calibration"] = draw.calibration(
        v, lambda: data.churn_by_score_band(con, v.horizon_days)
    )
    charts["stability"] = draw.stability(v)
    charts["tier_migration"], _ = draw.migration(data.tier_migration(con, d1, last), d1, last)
    charts["model_version_timeline"], versions = draw.versions(*data.model_versions(con))
    signals = data.autopsy_signals(con)
    charts["churn_autopsy"], _ = draw.autopsy(data.autopsy(con, signals), signals)

    md = summary_markdown(v.summary)
    doc = render_page(
        last=last,
        first=first,
        migration_from=d1,
        validation=v,
        summary_md=md,
        executive=render_executive(executive_summary(con, last, quality=v.summary, model=model))
        + render_actions(con, last),
        charts=charts,
        tables={
            "contract_table": data.contract_end_table(v),
            "top_table": data.top_at_risk(con, last),
            "versions_table": versions,
            "coverage_table": data.coverage_table(v),
            "fairness_table": segment_table(v.rows),
            "engagement_mix_table": engagement_section.engagement_mix(con, last, model),
            "engagement_movers_table": engagement_section.engagement_movers(con, last),
        },
        actions=render_acting(con, last, model.experiment, list(model.tiers.names))
        + render_followups(con, model.followup.no_action_days, list(model.tiers.names)),
    )
    path = out / f"score_report_{last}.html"
    path.write_text(doc, encoding="utf-8")
    return ReportResult(path=path, markdown=md, charts=list(charts), as_of=last)


def build_report_for_warehouse(
    path: str | Path | None = None, out_dir: str | Path | None = None
) -> ReportResult:
    """Open the warehouse read-only and build the report (for scripts and the CLI)."""
    con = duckdb.connect(str(path or warehouse_path()), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return build_report(con, out_dir or reports_dir(path))
    finally:
        con.close()
