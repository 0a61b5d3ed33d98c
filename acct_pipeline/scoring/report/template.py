"""The score report's HTML: the page around the charts and tables, self-contained (inline CSS,
embedded images) so it opens offline."""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from acct_pipeline.scoring.report.charts import tier_colors
from acct_pipeline.scoring.report.data import TOP_AT_RISK
from acct_pipeline.scoring.report.executive import environment
from acct_pipeline.scoring.validation import (
    MIN_SEGMENT_ROWS,
    SEGMENT_AUC_GAP,
    SEGMENT_MISSING_MAX,
    ValidationResult,
)

PAGE_TEMPLATE = "report.html.j2"
# chart key -> alt text, in page order
CHART_ALT = {
    "tier_distribution_over_time": "tier distribution over time",
    "churn_by_tier": "churn rate by tier",
    "lift_chart": "lift chart",
    "calibration": "calibration",
    "stability": "stability",
    "tier_migration": "tier migration",
    "model_version_timeline": "model version timeline",
    "churn_autopsy": "churn autopsy",
}


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (list, tuple, np.ndarray)):
        items = list(v)
        return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1 else f"{v:,.1f}"
    return html.escape(str(v))


def table(df: pd.DataFrame, cls: str = "") -> str:
    """A frame as an HTML table (lists as bullet lists, numbers rounded)."""
    if df.empty:
        return "<p class='muted'>nothing to show</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def md_to_html(md: str) -> str:
    """Just enough markdown for the summary: paragraphs, one pipe table, **bold**."""
    out: list[str] = []
    rows: list[list[str]] = []

    def bold(s: str) -> str:
        parts = html.escape(s).split("**")
        return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))

    def flush() -> None:
        if rows:
            head, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("- ")]
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{bold(c)}</th>" for c in head)
                + "</tr></thead><tbody>"
                + "".join(
                    "<tr>" + "".join(f"<td>{bold(c)}</td>" for c in r) + "</tr>" for r in body
                )
                + "</tbody></table>"
            )
            rows.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.strip():
            out.append(f"<p>{bold(line)}</p>")
    flush()
    return "\n".join(out)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px
    auto;max-width:1100px;color:#222}
h1{font-size:22px} h2{font-size:17px;border-bottom:1px solid
    #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:12px;margin:8px 0} th,td{border:1px solid
    #ddd;padding:3px 6px;
vertical-align:top;text-align:left} th{background:#f5f5f5} td ul{margin:0;padding-left:16px}
img{max-width:100%;display:block;margin:8px 0} .muted{color:#777} .note{font-size:12px;color:#555}
#executive{border-bottom:3px solid #333;padding-bottom:16px;margin-bottom:24px}
#executive .lead{font-size:16px;line-height:1.5} table.exec{font-size:13px}
td.n,th.n{text-align:right} .cols{display:flex;gap:24px} .cols>div{flex:1} h3{font-size:14px}
"""
_TIER_BADGE = ".tier{padding:1px 6px;border-radius:3px;color:#fff}"


def css() -> str:
    """The report's style sheet; one ``.tier-<name>`` colour class per tier of the model."""
    rules = [_TIER_BADGE] + [
        f".tier-{name.lower()}{{background:{color}}}" for name, color in tier_colors().items()
    ]
    lines = [" ".join(rules[i : i + 2]) for i in range(0, len(rules), 2)]
    return _CSS + "\n".join(lines) + "\n"


def image(key: str, png_base64: str, alt: str) -> str:
    """An ``<img>`` with the chart embedded (``data-chart`` names it for tests and readers)."""
    src = f"data:image/png;base64,{png_base64}"
    return f"<img alt='{html.escape(alt)}' data-chart='{key}' src='{src}'>"


def fairness_note(findings: list[str]) -> str:
    if not findings:
        return "<p class='note'>No segment is judged unfair.</p>"
    return (
        "<ul class='warn'>" + "".join(f"<li>WARN {html.escape(f)}</li>" for f in findings) + "</ul>"
    )


def page_environment() -> jinja2.Environment:
    env = environment()  # the executive page's: same filters, strict about missing values
    env.keep_trailing_newline = True
    return env


def render_page(
    *,
    last: date,
    first: date,
    migration_from: date,
    validation: ValidationResult,
    summary_md: str,
    executive: str,
    charts: dict[str, str],
    tables: dict[str, pd.DataFrame],
    actions: str = "",
) -> str:
    """The whole report page (``templates/report.html.j2``) around the pre-rendered executive
    page, charts and tables."""
    v = validation
    return (
        page_environment()
        .get_template(PAGE_TEMPLATE)
        .render(
            last=last,
            first=first,
            migration_from=migration_from,
            horizon_days=v.horizon_days,
            censored_share=v.censored_share,
            outcome_events=Markup(html.escape(str(v.summary["outcome_events"]))),
            css=Markup(css()),
            executive=Markup(executive),
            summary=Markup(md_to_html(summary_md)),
            img={k: Markup(image(k, png, CHART_ALT[k])) for k, png in charts.items()},
            top_n=TOP_AT_RISK,
            min_segment_rows=MIN_SEGMENT_ROWS,
            segment_auc_gap=SEGMENT_AUC_GAP,
            segment_missing_max=SEGMENT_MISSING_MAX,
            fairness_note=Markup(fairness_note(v.segment_findings)),
            fairness_table=Markup(table(tables.pop("fairness_table"), "fairness")),
            actions=Markup(actions),  # report/actions.py: audiences and measured lift
            **{name: Markup(table(df)) for name, df in tables.items()},
        )
    )
