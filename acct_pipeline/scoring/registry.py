"""Change control for scoring models: the registry table ``scores.model_registry``.

One row per model version (``name@version``) that was approved or went live: its content hash,
owner, the changelog entry of its version, the backtest figures it was approved on, when it was
approved, when it went live (its first scoring run) and the first day it scored.

The rules, enforced by the scoring engine (``scores.score_day`` calls ``check_and_register``):

- A model is identified by ``name@version`` (every score row records it as ``model_version``)
  and its content by ``ScoringModel.content_hash`` (the file as parsed: comments and layout do
  not count, any key or value does).
- A scoring run whose model has the ``name@version`` of a registered row but another hash is
  refused (``ModelChanged``): the file changed while its version did not, so yesterday's and
  today's rows would say the same version for different models. Bump ``version`` and add a
  changelog entry.
- The first scoring run of a version registers it as live (``went_live_at``, ``first_scored_day``);
  a version approved beforehand keeps its approval and backtest figures.
- ``approve`` records a version before it goes live, with the figures of the backtest it was
  judged on (``acct-pipeline models approve FILE --backtest BACKTEST.json``); a backtest of
  another file content is refused.

Models built in memory (no file, empty ``content_hash``) are neither checked nor registered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.scoring.model import ScoringModel
from acct_pipeline.warehouse import MODEL_REGISTRY, table_exists

LIVE = "live"
APPROVED = "approved"

REGISTRY_DDL = f"""
CREATE TABLE IF NOT EXISTS {MODEL_REGISTRY} (
    model_version     VARCHAR PRIMARY KEY,   -- name@version, as on every score row
    name              VARCHAR NOT NULL,
    version           VARCHAR NOT NULL,
    file_hash         VARCHAR NOT NULL,      -- ScoringModel.content_hash
    source            VARCHAR,               -- file name it was loaded from
    owner             VARCHAR,
    changelog         VARCHAR,               -- the changelog entry of this version
    status            VARCHAR NOT NULL,      -- approved | live
    approved_at       TIMESTAMP,
    backtest          VARCHAR,               -- JSON: the figures it was approved on
    went_live_at      TIMESTAMP,             -- its first scoring run
    first_scored_day  DATE,
    registered_at     TIMESTAMP NOT NULL
)
"""

REGISTRY_COLUMNS: tuple[str, ...] = (
    "model_version",
    "name",
    "version",
    "file_hash",
    "source",
    "owner",
    "changelog",
    "status",
    "approved_at",
    "backtest",
    "went_live_at",
    "first_scored_day",
    "registered_at",
)

# The backtest figures kept with an approval (per side: current, candidate).
BACKTEST_FIGURES: tuple[str, ...] = (
    "health_auc",
    "top_decile_lift",
    "churn_rate_by_tier",
    "tier_share",
    "churn_monotonic",
    "basis",
)


class ModelChanged(RuntimeError):
    """A model file's content changed while its version did not."""


class ApprovalError(RuntimeError):
    """An approval that cannot be recorded, with what to do about it."""


@dataclass(frozen=True)
class RegistryEntry:
    model_version: str
    file_hash: str
    status: str
    went_live_at: datetime | None
    first_scored_day: date | None


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {MODEL_REGISTRY.split('.')[0]}")
    con.execute(REGISTRY_DDL)


def changelog_entry(model: ScoringModel) -> str:
    """The changelog text of the model's own version (first match)."""
    for entry in model.changelog:
        if entry.version == model.version:
            return f"{entry.date}: {' '.join(entry.change.split())}"
    return ""


def lookup(con: duckdb.DuckDBPyConnection, model_version: str) -> RegistryEntry | None:
    if not table_exists(con, MODEL_REGISTRY):
        return None
    row = con.execute(
        f"SELECT model_version, file_hash, status, went_live_at, first_scored_day "
        f"FROM {MODEL_REGISTRY} WHERE model_version = ?",
        [model_version],
    ).fetchone()
    return RegistryEntry(*row) if row else None


def _refuse(model: ScoringModel, entry: RegistryEntry) -> ModelChanged:
    when = (
        f"went live {entry.went_live_at:%Y-%m-%d %H:%M}" if entry.went_live_at else "was approved"
    )
    return ModelChanged(
        f"scoring model {model.source}: its content changed but its version did not: "
        f"{model.label} {when} with content hash {entry.file_hash}, this file has "
        f"{model.content_hash}. Bump `version` (and add a changelog entry for it), then run "
        f"again; `acct-pipeline models` lists the registered versions"
    )


def check_and_register(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    now: datetime | None = None,
) -> RegistryEntry | None:
    """Refuse a changed model under a registered version; register a version's first scoring
    run as its going live. Returns the registry entry (None for an in-memory model)."""
    if not model.content_hash:
        return None
    entry = lookup(con, model.label)
    if entry is not None and entry.file_hash != model.content_hash:
        raise _refuse(model, entry)
    if entry is not None and entry.status == LIVE:
        if entry.first_scored_day is None or as_of < entry.first_scored_day:
            con.execute(
                f"UPDATE {MODEL_REGISTRY} SET first_scored_day = ? WHERE model_version = ?",
                [as_of, model.label],
            )
        return lookup(con, model.label)
    ensure_table(con)
    stamp = (now or datetime.now()).replace(microsecond=0)
    if entry is None:
        _insert(con, model, LIVE, stamp, went_live_at=stamp, first_scored_day=as_of)
    else:  # approved before: it goes live now
        con.execute(
            f"UPDATE {MODEL_REGISTRY} SET status = ?, went_live_at = ?, first_scored_day = ? "
            "WHERE model_version = ?",
            [LIVE, stamp, as_of, model.label],
        )
    return lookup(con, model.label)


def _insert(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    status: str,
    registered_at: datetime,
    *,
    approved_at: datetime | None = None,
    backtest: str | None = None,
    went_live_at: datetime | None = None,
    first_scored_day: date | None = None,
) -> None:
    """One registry row for ``model`` (every column of ``REGISTRY_COLUMNS``, in order)."""
    values = [
        model.label,
        model.name,
        model.version,
        model.content_hash,
        model.source,
        model.owner,
        changelog_entry(model),
        status,
        approved_at,
        backtest,
        went_live_at,
        first_scored_day,
        registered_at,
    ]
    con.execute(
        f"INSERT INTO {MODEL_REGISTRY} ({', '.join(REGISTRY_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in REGISTRY_COLUMNS)})",
        values,
    )


def backtest_figures(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of a backtest result (``backtest.run_backtest``) kept with an approval."""
    out: dict[str, Any] = {
        "window": result.get("window"),
        "evaluation": result.get("evaluation"),
        "created_at": result.get("created_at"),
    }
    for side in ("current", "candidate"):
        figures = result.get(side) or {}
        out[side] = {k: figures.get(k) for k in BACKTEST_FIGURES}
    return out


def approve(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    backtest: dict[str, Any] | None,
    now: datetime | None = None,
) -> RegistryEntry:
    """Record ``model`` as approved, with the figures of the backtest it was judged on.

    Refused when the backtest was run on another content of the file, or when this version
    already went live with another content."""
    if not model.content_hash:
        raise ApprovalError("only a model loaded from a file can be approved")
    if backtest is not None:
        judged = backtest.get("candidate_hash")
        if judged and judged != model.content_hash:
            raise ApprovalError(
                f"the backtest was run on {backtest.get('candidate_label', '?')} with content "
                f"hash {judged}, but {model.source} now has {model.content_hash}: run the "
                "backtest again on this file"
            )
    entry = lookup(con, model.label)
    if entry is not None and entry.file_hash != model.content_hash:
        raise _refuse(model, entry)
    if entry is not None and entry.status == LIVE:
        raise ApprovalError(f"{model.label} is already live since {entry.went_live_at}")
    ensure_table(con)
    stamp = (now or datetime.now()).replace(microsecond=0)
    figures = json.dumps(backtest_figures(backtest), default=str) if backtest else None
    con.execute(f"DELETE FROM {MODEL_REGISTRY} WHERE model_version = ?", [model.label])
    _insert(con, model, APPROVED, stamp, approved_at=stamp, backtest=figures)
    found = lookup(con, model.label)
    assert found is not None
    return found


def list_models(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The registry, newest first (empty frame with the columns when there is none)."""
    if not table_exists(con, MODEL_REGISTRY):
        return pd.DataFrame(columns=list(REGISTRY_COLUMNS))
    return con.execute(
        f"SELECT {', '.join(REGISTRY_COLUMNS)} FROM {MODEL_REGISTRY} "
        "ORDER BY coalesce(went_live_at, approved_at, registered_at) DESC, model_version"
    ).df()


def format_registry(frame: pd.DataFrame) -> str:
    """The registry as text for ``acct-pipeline models``."""
    if frame.empty:
        return "no model registered yet (the first scoring run registers the live model)"
    lines = [
        f"{'model':28}{'status':10}{'hash':18}{'went live':18}{'first day':12}"
        f"{'owner':22}backtest (health AUC current -> candidate)"
    ]
    for r in frame.itertuples():
        live = "" if pd.isna(r.went_live_at) else f"{pd.Timestamp(r.went_live_at):%Y-%m-%d %H:%M}"
        first = "" if pd.isna(r.first_scored_day) else str(pd.Timestamp(r.first_scored_day).date())
        bt = "not approved through a backtest"
        if isinstance(r.backtest, str) and r.backtest:
            figs = json.loads(r.backtest)
            a = (figs.get("current") or {}).get("health_auc")
            b = (figs.get("candidate") or {}).get("health_auc")
            bt = f"{a if a is not None else 'n/a'} -> {b if b is not None else 'n/a'}"
        lines.append(
            f"{r.model_version:28}{r.status:10}{r.file_hash:18}{live:18}{first:12}"
            f"{str(r.owner or '')[:21]:22}{bt}"
        )
        if r.changelog:
            lines.append(f"    {str(r.changelog)[:150]}")
    return "\n".join(lines)
