"""Dead signals: model inputs that carry no information on a scored day.

A scoring model can be perfectly valid and still score on nothing: NPS never recorded (every
``nps_latest`` NULL), product events named differently from ``signals.key_features`` (every
``key_features_used_30d`` 0), activities without a contact (every ``engaged_contacts_30d`` 0).
Such a measure moves no account, yet its weight is still in the score. ``find_dead_signals``
looks at one as-of day and names:

* every signal a measure or knock-out of the model uses that is NULL or one single value for at
  least ``DEAD_SHARE`` of the accounts, with the shares and the value;
* every configured key feature that does not occur in the product events of the
  ``KEY_FEATURES_WINDOW_DAYS`` days the signal counts (the same window as ``signals.sql``: a
  feature missing there adds nothing to that day's score), with the most frequent event names
  that do occur;
* every configured activity type (``signals.activity_weights`` and ``touch_types``) that does not
  occur in the CRM activities of the model's look-back window (``signals.lookback_days``, again
  the signals' own window), with the most frequent types that do occur.

Rare events are not dead signals: on a healthy book almost every account has no failed payment,
no cancellation notice and no open ticket. A signal whose constant value earns the measure's best
points (and fires no knock-out) counts as *quiet*, not dead, as long as some account had another
value in the last ``HISTORY_DAYS`` days; one that never varied is dead (is the input recorded?).

Reads only; plain SQL on the DuckDB connection; missing or empty tables are findings, not errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np

from acct_pipeline.scoring.model import (
    BoundedLinearRule,
    Knockout,
    LinearRule,
    Measure,
    ScoringModel,
    ThresholdsRule,
)
from acct_pipeline.scoring.rules import knockout_mask, rule_points
from acct_pipeline.scoring.signals import KEY_FEATURES_WINDOW_DAYS
from acct_pipeline.warehouse import (
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    CRM_ACTIVITIES,
    EVENT_DATE,
    PRODUCT_EVENTS,
    table_columns,
    table_exists,
)

DEAD_SHARE = 0.95  # NULL or one value for at least this share of accounts: the measure is dead
HISTORY_DAYS = 90  # a rare-event signal must have varied within this many days to count as quiet
TOP_NAMES = 10  # most frequent event names / activity types listed beside a missing one

CHECK_DEAD_SIGNALS = "no_dead_signals"
CHECK_DEAD_SIGNALS_DESCRIPTION = (
    "Warns when the scoring model scores on nothing: a measure or knock-out whose signal is NULL "
    f"or one single value for at least {DEAD_SHARE:.0%} of accounts on the day (NPS never "
    "recorded, product events renamed, activities without contacts), or a configured key feature "
    "or activity type that never occurs in the data the signals read. Lists the event names and "
    "activity types that do occur, so the model YAML can be fixed. Rare events at their all-clear "
    "value (no failed payment, no open ticket) are not dead while some account varies."
)


@dataclass(frozen=True)
class SignalStats:
    """How one model signal is spread over the accounts of the day."""

    signal: str
    used_by: tuple[str, ...]  # e.g. "health.usage", "health knock-out (>= 60)"
    accounts: int
    null_share: float
    constant_value: float | None  # the most frequent non-NULL value
    constant_share: float  # share of accounts holding ``constant_value``
    all_clear: bool = False  # the constant earns full points and fires no knock-out
    varied_recently: bool = False  # some account had another value in the last HISTORY_DAYS

    @property
    def dead_share(self) -> float:
        return round(self.null_share + self.constant_share, 9)  # 0.2 + 0.75 is not >= 0.95

    def describe(self) -> str:
        parts = []
        if self.constant_value is not None and self.constant_share > 0:
            parts.append(f"{_num(self.constant_value)} for {self.constant_share:.0%}")
        if self.null_share > 0:
            parts.append(f"NULL for {self.null_share:.0%}")
        spread = " and ".join(parts) if parts else "no value"
        return f"{self.signal}: {spread} of {self.accounts:,} accounts ({', '.join(self.used_by)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "used_by": list(self.used_by),
            "accounts": self.accounts,
            "null_share": round(self.null_share, 4),
            "constant_value": self.constant_value,
            "constant_share": round(self.constant_share, 4),
        }


@dataclass(frozen=True)
class NameCheck:
    """Configured names (key features / activity types) against the names that occur."""

    kind: str  # "key feature" | "activity type"
    table: str
    window: str  # "2026-06-01..2026-06-30"
    configured: tuple[str, ...]
    occurring: tuple[tuple[str, int], ...] = ()  # (name, count), most frequent first
    note: str | None = None  # why the names could not be judged (no data)

    @property
    def missing(self) -> tuple[str, ...]:
        if self.note is not None:
            return ()
        seen = {name for name, _ in self.occurring}
        return tuple(n for n in self.configured if n not in seen)

    @property
    def top(self) -> dict[str, int]:
        return dict(self.occurring[:TOP_NAMES])

    def suggestions(self) -> dict[str, list[str]]:
        """Occurring names that look like a missing one ("Report Created" for report_created)."""
        by_key = {_normalise(n): n for n, _ in self.occurring}
        out = {}
        for name in self.missing:
            close = difflib.get_close_matches(_normalise(name), list(by_key), n=3, cutoff=0.75)
            if close:
                out[name] = [by_key[c] for c in close]
        return out

    def describe(self) -> str | None:
        if self.note is not None:
            return self.note
        if not self.missing:
            return None
        top = ", ".join(f"{n} ({c:,})" for n, c in self.occurring[:TOP_NAMES]) or "none"
        return (
            f"{len(self.missing)} configured {self.kind}(s) never occur in {self.table} "
            f"{self.window}: {', '.join(self.missing)}; most frequent there: {top}"
        )


@dataclass
class DeadSignalReport:
    """What ``find_dead_signals`` found for one day (``passed`` when nothing is dead)."""

    as_of: date
    accounts: int
    measures: list[SignalStats] = field(default_factory=list)
    key_features: NameCheck | None = None
    activity_types: NameCheck | None = None
    notes: list[str] = field(default_factory=list)  # problems that are not about one signal

    @property
    def dead(self) -> list[SignalStats]:
        return [
            s
            for s in self.measures
            if s.null_share >= DEAD_SHARE
            or (s.dead_share >= DEAD_SHARE and not (s.all_clear and s.varied_recently))
        ]

    @property
    def quiet(self) -> list[SignalStats]:
        """Rare-event signals at their all-clear value for most accounts (not a problem)."""
        dead = {s.signal for s in self.dead}
        return [s for s in self.measures if s.dead_share >= DEAD_SHARE and s.signal not in dead]

    @property
    def problems(self) -> list[str]:
        out = list(self.notes)
        out += [f"dead measure {s.describe()}" for s in self.dead]
        for check in (self.key_features, self.activity_types):
            text = check.describe() if check is not None else None
            if text:
                out.append(text)
        return out

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.passed:
            return (
                f"{self.as_of}: every model signal varies across {self.accounts:,} accounts and "
                "every configured key feature and activity type occurs"
            )
        return f"{self.as_of}: " + "; ".join(self.problems)

    def metadata(self) -> dict[str, Any]:
        """Plain JSON-able values (the Dagster check shows them)."""
        meta: dict[str, Any] = {
            "as_of_date": str(self.as_of),
            "accounts": self.accounts,
            "dead_share_threshold": DEAD_SHARE,
            "dead_measures": [s.as_dict() for s in self.dead],
            "quiet_rare_event_measures": [s.as_dict() for s in self.quiet],
            "notes": list(self.notes),
        }
        for label, check in (
            ("key_features", self.key_features),
            ("activity_types", self.activity_types),
        ):
            if check is None:
                continue
            meta[f"missing_{label}"] = list(check.missing)
            meta[f"top_{'event_names' if label == 'key_features' else label}"] = check.top
            meta[f"{label}_window"] = check.window
            if check.note:
                meta[f"{label}_note"] = check.note
            if check.suggestions():
                meta[f"{label}_look_alikes"] = check.suggestions()
        return meta


def _num(x: float) -> str:
    return f"{x:g}"


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def signal_uses(model: ScoringModel) -> dict[str, list[Measure | Knockout]]:
    """Every signal a measure or knock-out of any score uses, in model order."""
    out: dict[str, list[Measure | Knockout]] = {}
    for score in model.scores.values():
        for comp in score.components.values():
            for m in comp.measures:
                out.setdefault(m.signal, []).append(m)
        for k in score.knockouts:
            out.setdefault(k.signal, []).append(k)
    return out


def _use_labels(model: ScoringModel, signal: str) -> tuple[str, ...]:
    labels = []
    for sname, score in model.scores.items():
        for cname, comp in score.components.items():
            if any(m.signal == signal for m in comp.measures):
                labels.append(f"{sname}.{cname}")
        for k in score.knockouts:
            if k.signal == signal:
                labels.append(f"{sname} knock-out ({k.op} {_num(k.value)})")
    return tuple(labels)


def _best_points(measure: Measure) -> float:
    rule = measure.rule
    if isinstance(rule, ThresholdsRule):
        return max(t.points for t in rule.thresholds)
    if isinstance(rule, BoundedLinearRule):
        return rule.max_points
    if isinstance(rule, LinearRule) and measure.direction == "lower_is_better":
        return min(rule.base, 100.0)  # counts are never negative: the best is at 0
    return 100.0


def is_all_clear(uses: list[Measure | Knockout], value: float) -> bool:
    """True when ``value`` earns every measure its best points and fires no knock-out: the
    normal state of a rare-event signal (no failed payment, no notice), not a dead one."""
    v = np.array([value], dtype=float)
    for use in uses:
        if isinstance(use, Knockout):
            if bool(knockout_mask(use, v)[0]):
                return False
        elif float(rule_points(use, v)[0]) < _best_points(use):
            return False
    return True


def measure_stats(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    signals_table: str = ACCOUNT_SIGNALS,
) -> tuple[int, list[SignalStats]]:
    """(accounts on ``as_of``, how every model signal is spread over them)."""
    uses = signal_uses(model)
    present = set(table_columns(con, signals_table))
    if not present:
        return 0, []
    cols = [s for s in uses if s in present]
    aggs = ", ".join(f'count(*) FILTER (WHERE "{c}" IS NULL), mode("{c}")' for c in cols)
    row = con.execute(
        f"SELECT count(*){', ' + aggs if aggs else ''} FROM {signals_table} "
        f"WHERE {AS_OF_DATE} = CAST(? AS DATE)",
        [as_of],
    ).fetchone()
    n = int(row[0])
    if n == 0:
        return 0, []
    nulls = {c: int(row[1 + 2 * i]) for i, c in enumerate(cols)}
    modes = {c: row[2 + 2 * i] for i, c in enumerate(cols)}
    with_mode = [c for c in cols if modes[c] is not None]
    counts: dict[str, int] = {}
    if with_mode:
        day_aggs = ", ".join(f'count(*) FILTER (WHERE "{c}" = ?)' for c in with_mode)
        counts = dict(
            zip(
                with_mode,
                con.execute(
                    f"SELECT {day_aggs} FROM {signals_table} WHERE {AS_OF_DATE} = CAST(? AS DATE)",
                    [*(modes[c] for c in with_mode), as_of],
                ).fetchone(),
                strict=True,
            )
        )
    out = []
    for signal, signal_uses_ in uses.items():
        labels = _use_labels(model, signal)
        if signal not in present:  # a column the signal SQL no longer writes: nothing to score
            out.append(SignalStats(signal, labels, n, 1.0, None, 0.0))
            continue
        mode = modes[signal]
        value = None if mode is None else float(mode)
        out.append(
            SignalStats(
                signal=signal,
                used_by=labels,
                accounts=n,
                null_share=nulls[signal] / n,
                constant_value=value,
                constant_share=int(counts.get(signal, 0)) / n,
                all_clear=value is not None and is_all_clear(signal_uses_, value),
            )
        )
    # Only rare-event candidates (mostly at their all-clear value) need the history.
    candidates = [s for s in out if s.all_clear and s.dead_share >= DEAD_SHARE]
    if candidates:
        hist_aggs = ", ".join(
            f'count(*) FILTER (WHERE "{s.signal}" IS NOT NULL AND "{s.signal}" <> ?) > 0'
            for s in candidates
        )
        varied = con.execute(
            f"SELECT {hist_aggs} FROM {signals_table} "
            f"WHERE {AS_OF_DATE} BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
            [
                *(modes[s.signal] for s in candidates),
                as_of - timedelta(days=HISTORY_DAYS - 1),
                as_of,
            ],
        ).fetchone()
        changed = {s.signal: bool(v) for s, v in zip(candidates, varied, strict=True)}
        out = [replace(s, varied_recently=True) if changed.get(s.signal) else s for s in out]
    return n, out


def _name_counts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple:
    return tuple((str(name), int(n)) for name, n in con.execute(sql, params).fetchall())


def key_feature_check(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    events_table: str = PRODUCT_EVENTS.qualified,
) -> NameCheck | None:
    """Configured key features against the event names of the signal's window (None when the
    model counts every event name as a feature)."""
    configured = tuple(model.signals.key_features)
    if not configured:
        return None
    first = as_of - timedelta(days=KEY_FEATURES_WINDOW_DAYS - 1)
    return _names_in_window(
        con,
        "key feature",
        events_table,
        configured,
        "product events",
        f"SELECT event_name, count(*) FROM {events_table} "
        f"WHERE {EVENT_DATE} BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) "
        "AND event_name IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        first,
        as_of,
    )


def _names_in_window(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    table: str,
    configured: tuple[str, ...],
    what: str,
    counts_sql: str,
    first: date,
    as_of: date,
) -> NameCheck:
    """Configured names against the names ``counts_sql`` finds in ``first``..``as_of``."""
    window = f"{first}..{as_of}"
    base = dict(kind=kind, table=table, window=window, configured=configured)
    if (
        not table_exists(con, table)
        or not con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    ):
        return NameCheck(**base, note=f"no {what} loaded ({table} is missing or empty)")
    occurring = _name_counts(con, counts_sql, [first, as_of])
    if not occurring:
        return NameCheck(**base, note=f"no {what} in {table} {window}")
    return NameCheck(**base, occurring=occurring)


def activity_type_check(
    con: duckdb.DuckDBPyConnection, model: ScoringModel, as_of: date
) -> NameCheck | None:
    """Configured activity types (weights and touch types) against the CRM activities of the
    model's look-back window."""
    configured = tuple(dict.fromkeys([*model.signals.activity_weights, *model.signals.touch_types]))
    if not configured:
        return None
    first = as_of - timedelta(days=model.signals.lookback_days - 1)
    return _names_in_window(
        con,
        "activity type",
        CRM_ACTIVITIES.qualified,
        configured,
        "CRM activities",
        f"SELECT activity_type, count(*) FROM {CRM_ACTIVITIES.qualified} "
        "WHERE occurred_at >= CAST(? AS DATE) AND occurred_at < CAST(? AS DATE) + INTERVAL 1 DAY "
        "AND activity_type IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        first,
        as_of,
    )


def find_dead_signals(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    signals_table: str = ACCOUNT_SIGNALS,
    events_table: str = PRODUCT_EVENTS.qualified,
) -> DeadSignalReport:
    """Dead measures, key features and activity types of ``model`` on day ``as_of``
    (``events_table``: the lake's events with the Spark engine, ``engine.lake.events_view``)."""
    accounts, measures = measure_stats(con, model, as_of, signals_table)
    report = DeadSignalReport(
        as_of=as_of,
        accounts=accounts,
        measures=measures,
        key_features=key_feature_check(con, model, as_of, events_table),
        activity_types=activity_type_check(con, model, as_of),
    )
    if accounts == 0:
        report.notes.append(f"no signals for {as_of} in {signals_table}")
    return report
