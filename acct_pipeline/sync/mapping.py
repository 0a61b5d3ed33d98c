"""The field mapping: which score columns go to which CRM fields — an allow-list.

The sync writes the fields named here and nothing else. Each field says where its value comes from
(a column of ``scores.account_scores``), how it is formatted (numbers rounded, reason lists joined,
dates as ``YYYY-MM-DD``), what a NULL means (``skip``: leave the CRM field alone — the default, so a
missing value never blanks a field a person filled; ``clear``: empty the CRM field), and whether a
change of it is a reason to send the record (``diff: false`` for stamps such as ``updated_at``,
which are sent along with a changed record but would otherwise make every record "change" daily).

A change is *material* — a reason to write the record — when the value differs from what the CRM
last accepted at the precision the CRM shows: numbers compare as numbers rounded to ``decimals``
(``87`` and ``87.0`` are one value), and a number field with ``tolerance`` changes only when it
moved by at least that much from the accepted value (the drift adds up, so a slow slide is sent
once it is large enough). Text compares exactly: reason texts are worded to be stable day to day
(``scoring/reasons.py``). A record sent for a material change carries all its current values.

A mapping file (``ACCT_SYNC_FIELD_MAPPING``, YAML or JSON) replaces the defaults entirely::

    fields:
      - name: health_score          # ledger key and outbox column
        source: health_score        # column of scores.account_scores
        type: number                # number | text | enumeration | date
        decimals: 0
        hubspot: acct_health_score  # HubSpot company property (omit to not send it to HubSpot)
        salesforce: Health_Score__c # Salesforce Account field
        nulls: skip                 # skip | clear
        tolerance: 5                # numbers: smaller moves are not a reason to write (optional)
        override_source: override_score  # optional: this column's value wins when not NULL

By default the score and tier fields send the *effective* values (a manual override's, while
one is active: ``scoring/overrides.py``) and ``computed_health_*`` the model's; a parent account's
record also gets the roll-up of its children (``rollup_*``, ``scoring/rollup.py``). ``audience``
(``acct_audience`` / ``Audience__c``) is the account's marketing audience of the synced day, joined
from ``alerts.audience_membership`` (``sync/plan.py``): empty for an account in no audience, kept
out by a cap, or in the control group; its options are the model's audience names, and it is not
mapped when the model defines no audiences.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.actions import load_actions
from acct_pipeline.scoring.lifecycle import STATUSES
from acct_pipeline.scoring.model import model_path
from acct_pipeline.scoring.tiers import model_tier_names

FIELD_TYPES = ("number", "text", "enumeration", "date")
NULL_POLICIES = ("skip", "clear")
# not a scores column: the ``crm_audience`` of alerts.audience_membership, joined by sync/plan.py
AUDIENCE_SOURCE = "crm_audience"


class MappingError(ValueError):
    """The field mapping is invalid; the message names the file, field and key."""


@dataclass(frozen=True)
class FieldSpec:
    """One mapped field. ``name`` is the key in the ledger's values JSON and the outbox column."""

    name: str
    source: str
    type: str = "text"
    label: str = ""
    hubspot: str | None = None
    salesforce: str | None = None
    decimals: int | None = None
    top: int | None = None
    separator: str = "; "
    max_length: int | None = None
    nulls: str = "skip"
    diff: bool = True
    tolerance: float | None = None
    options: tuple[str, ...] = ()
    description: str = ""
    # a column whose value, when not NULL, is sent instead of ``source``'s (manual overrides:
    # the effective value goes to the CRM; the computed one has a field of its own)
    override_source: str | None = None

    def crm_name(self, target: str) -> str:
        """The field's name in ``target`` (outbox: the mapping name)."""
        if target == "hubspot":
            return self.hubspot or ""
        if target == "salesforce":
            return self.salesforce or ""
        return self.name

    def sends_to(self, target: str) -> bool:
        return bool(self.crm_name(target))


def default_fields(
    tier_names: Sequence[str] | None = None, audience_names: Sequence[str] | None = None
) -> tuple[FieldSpec, ...]:
    """The default allow-list; the tier enumeration lists ``tier_names`` (default: the tier
    names of the scoring model in use, best first), the audience one ``audience_names`` (default:
    the model's audiences; none: no audience field)."""
    tiers = tuple(model_tier_names() if tier_names is None else tier_names)
    audiences = tuple(model_audience_names() if audience_names is None else audience_names)
    return (
        FieldSpec(
            "health_score",
            "health_score",
            "number",
            "Health score",
            "acct_health_score",
            "Health_Score__c",
            decimals=0,
            tolerance=5,
            description="0-100 account health score (a manual override's when one is active); "
            "moves under 5 points are not re-sent alone",
            override_source="override_score",
        ),
        FieldSpec(
            "health_tier",
            "tier",
            "enumeration",
            "Health tier",
            "acct_health_tier",
            "Health_Tier__c",
            options=tiers,
            description="the tier (a manual override's when one is active)",
            override_source="override_tier",
        ),
        FieldSpec(
            "lifecycle_status",
            "lifecycle_status",
            "enumeration",
            "Lifecycle status",
            "acct_lifecycle_status",
            "Lifecycle_Status__c",
            options=STATUSES,
            description="Active / Onboarding / Churned; a churned account gets this once and keeps "
            "its last score fields",
        ),
        FieldSpec(
            "health_trend",
            "trend",
            "enumeration",
            "Health trend",
            "acct_health_trend",
            "Health_Trend__c",
            options=("improving", "stable", "declining"),
        ),
        FieldSpec(
            "health_score_delta_7d",
            "score_delta_7d",
            "number",
            "Health score change (7 days)",
            "acct_health_score_delta_7d",
            "Health_Score_Delta_7d__c",
            decimals=0,
            tolerance=10,
            description="health score change over 7 days; moves under 10 points are not sent alone",
        ),
        FieldSpec(
            "churn_probability",
            "churn_probability",
            "number",
            "Churn probability",
            "acct_churn_probability",
            "Churn_Probability__c",
            decimals=2,
            tolerance=0.05,
            description="predicted churn probability; moves under 5 points are not re-sent alone",
        ),
        FieldSpec(
            "health_reasons",
            "reason_codes",
            "text",
            "Health score reasons",
            "acct_health_reasons",
            "Health_Reasons__c",
            top=3,
            max_length=1000,
        ),
        FieldSpec(
            "recommended_playbook",
            "recommended_playbook",
            "text",
            "Recommended playbook",
            "acct_recommended_playbook",
            "Recommended_Playbook__c",
            max_length=255,
        ),
        FieldSpec(
            "health_model_version",
            "model_version",
            "text",
            "Health model version",
            "acct_health_model_version",
            "Health_Model_Version__c",
            max_length=255,
        ),
        *action_fields(tiers),
        *audience_fields(audiences),
        FieldSpec(
            "health_updated_at",
            "as_of_date",
            "date",
            "Health score date",
            "acct_health_updated_at",
            "Health_Updated_At__c",
            diff=False,
            description="the score day of the values last sent; not itself a reason to send",
        ),
    )


def action_fields(tiers: Sequence[str]) -> tuple[FieldSpec, ...]:
    """Overrides (the computed values beside the effective ones, the override's reason and end)
    and the hierarchy roll-up (on a parent's record). NULL on most accounts: never sent there."""
    return (
        FieldSpec(
            "computed_health_score",
            "health_score",
            "number",
            "Computed health score",
            "acct_computed_score",
            "Computed_Score__c",
            decimals=0,
            diff=False,
            description="the model's score, also while a manual override is active; sent with "
            "a changed record, never a reason to send one",
        ),
        FieldSpec(
            "computed_health_tier",
            "tier",
            "enumeration",
            "Computed health tier",
            "acct_computed_tier",
            "Computed_Tier__c",
            options=tuple(tiers),
            diff=False,
        ),
        FieldSpec(
            "health_override_reason",
            "override_reason",
            "text",
            "Health override reason",
            "acct_override_reason",
            "Override_Reason__c",
            max_length=255,
            nulls="clear",
            description="why the score / tier is overridden (emptied when the override ends)",
        ),
        FieldSpec(
            "health_override_until",
            "override_until",
            "date",
            "Health override until",
            "acct_override_until",
            "Override_Until__c",
            nulls="clear",
        ),
        FieldSpec(
            "rollup_health_score",
            "rollup_score",
            "number",
            "Group health score",
            "acct_rollup_score",
            "Rollup_Score__c",
            decimals=0,
            tolerance=5,
            description="a parent account's score from its children (scoring/rollup.py)",
        ),
        FieldSpec(
            "rollup_health_tier",
            "rollup_tier",
            "enumeration",
            "Group health tier",
            "acct_rollup_tier",
            "Rollup_Tier__c",
            options=tuple(tiers),
        ),
        FieldSpec(
            "rollup_arr_share",
            "rollup_arr_share",
            "text",
            "Group ARR by tier",
            "acct_rollup_arr_share",
            "Rollup_ARR_Share__c",
            max_length=255,
            diff=False,
            description="share of the children's ARR per tier; sent with a changed record",
        ),
    )


def audience_fields(audiences: Sequence[str]) -> tuple[FieldSpec, ...]:
    """The account's marketing audience of the day (``alerts/audiences.py``); none without
    audiences. ``nulls: clear``: leaving an audience (or being held out in the control group)
    empties the field; the value is written only when the audience changes."""
    if not audiences:
        return ()
    return (
        FieldSpec(
            "audience",
            AUDIENCE_SOURCE,
            "enumeration",
            "Marketing audience",
            "acct_audience",
            "Audience__c",
            options=tuple(audiences),
            nulls="clear",
            description="the marketing audience the account is in (model audiences); empty: "
            "in none, kept out by a cap or cool-down, or in the control group",
        ),
    )


@lru_cache(maxsize=8)
def _audience_names_in(path: str, mtime_ns: int) -> tuple[str, ...]:
    try:
        actions = load_actions(Path(path))
    except ValueError as exc:  # names the file and the key
        raise MappingError(f"field mapping (audience options): {exc}") from None
    return tuple(a.name for a in actions.audiences)


def model_audience_names() -> tuple[str, ...]:
    """The audience names of the scoring model in use (``$ACCT_MODEL`` or the default), in the
    model's order; empty when it defines none."""
    path = model_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return ()
    return _audience_names_in(str(path), stamp)


def _engagement_field(name: str, label: str, hubspot: str, salesforce: str) -> FieldSpec:
    return FieldSpec(
        name,
        name,
        "number",
        label,
        hubspot,
        salesforce,
        decimals=0,
        tolerance=5,
        description=f"{label} 0-100 (empty: no data); moves under 5 points are not re-sent alone",
    )


# Fields a mapping file may name without spelling them out (``- name: engagement_email``): the
# engagement score and its five categories (scoring/engagement.py). Not sent by default. A
# category with no data for the account is NULL, so the CRM field is left alone (``nulls: skip``).
OPTIONAL_FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        _engagement_field(
            "engagement_score", "Engagement score", "acct_engagement_score", "Engagement_Score__c"
        ),
        *(
            _engagement_field(
                engagement.score_column(c),
                f"Engagement: {engagement.label(c)}",
                f"acct_{engagement.score_column(c)}",
                f"Engagement_{''.join(p.title() for p in c.split('_'))}__c",
            )
            for c in engagement.CATEGORIES
        ),
    )
}


@dataclass(frozen=True)
class FieldMapping:
    """The allow-list of fields, in a fixed order."""

    fields: tuple[FieldSpec, ...] = field(default_factory=default_fields)
    origin: str = "default mapping"

    def __post_init__(self) -> None:
        validate(self.fields, self.origin)

    @property
    def diff_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.diff)

    @property
    def stamp_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if not f.diff)

    def for_target(self, target: str) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.sends_to(target))

    def crm_names(self, target: str) -> list[str]:
        return [f.crm_name(target) for f in self.for_target(target)]

    def by_name(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    # -- SQL -----------------------------------------------------------------------------------

    def value_sql(self, spec: FieldSpec, columns: Mapping[str, str]) -> str:
        """A SQL expression giving the field's value as canonical VARCHAR (NULL when missing).

        ``columns``: lower-cased column name -> DuckDB type of the scores table.
        """
        base = self._value_of(spec, spec.source, columns)
        if spec.override_source and spec.override_source.lower() in columns:
            return f"coalesce({self._value_of(spec, spec.override_source, columns)}, {base})"
        return base

    def _value_of(self, spec: FieldSpec, source: str, columns: Mapping[str, str]) -> str:
        ctype = columns.get(source.lower())
        if ctype is None:
            return "CAST(NULL AS VARCHAR)"
        col = '"' + source.replace('"', '""') + '"'
        if spec.type == "number":
            x = f"TRY_CAST({col} AS DOUBLE)"
            if spec.decimals == 0:
                expr = f"CAST(CAST(round({x}) AS BIGINT) AS VARCHAR)"
            elif spec.decimals is not None:
                expr = f"CAST(round({x}, {int(spec.decimals)}) AS VARCHAR)"
            else:
                expr = f"CAST({x} AS VARCHAR)"
            return f"CASE WHEN isfinite({x}) THEN {expr} END"
        if spec.type == "date":
            return f"strftime(TRY_CAST({col} AS DATE), '%Y-%m-%d')"
        if ctype.endswith("[]"):
            items = f"list_slice({col}, 1, {int(spec.top)})" if spec.top else col
            sep = spec.separator.replace("'", "''")
            kept = f"list_filter({items}, lambda s: s IS NOT NULL AND s <> '')"
            expr = f"array_to_string({kept}, '{sep}')"
        else:
            expr = f"trim(CAST({col} AS VARCHAR))"
        if spec.max_length:
            expr = f"left({expr}, {int(spec.max_length)})"
        return f"nullif({expr}, '')"

    def missing_sources(self, columns: Mapping[str, str]) -> list[str]:
        return [f"{f.name} <- {f.source}" for f in self.fields if f.source.lower() not in columns]


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def validate(specs: Sequence[FieldSpec], origin: str) -> None:
    if not specs:
        raise MappingError(f"field mapping {origin}: no fields — the sync would write nothing")
    seen: set[str] = set()
    crm_seen: dict[str, set[str]] = {"hubspot": set(), "salesforce": set()}
    for f in specs:
        where = f"field mapping {origin}: field {f.name!r}"
        if not f.name or not f.name.replace("_", "").isalnum():
            raise MappingError(f"{where}: name must be letters, digits and '_'")
        if f.name in seen:
            raise MappingError(f"{where}: defined twice")
        seen.add(f.name)
        if not f.source:
            raise MappingError(f"{where}: 'source' (a column of the scores table) is required")
        if f.type not in FIELD_TYPES:
            raise MappingError(f"{where}: type {f.type!r} is not one of {', '.join(FIELD_TYPES)}")
        if f.tolerance is not None and (f.type != "number" or f.tolerance < 0):
            raise MappingError(f"{where}: tolerance must be a number >= 0 on a number field")
        if f.nulls not in NULL_POLICIES:
            raise MappingError(
                f"{where}: nulls {f.nulls!r} is not one of {', '.join(NULL_POLICIES)}"
            )
        for target in crm_seen:
            name = f.crm_name(target)
            if name and name in crm_seen[target]:
                raise MappingError(f"{where}: {target} field {name!r} is mapped twice")
            if name:
                crm_seen[target].add(name)
    if not any(f.diff for f in specs):
        raise MappingError(
            f"field mapping {origin}: every field has diff: false — nothing can change"
        )


_KEYS = {f.name for f in fields(FieldSpec)}


def _spec_from(raw: Mapping[str, Any], origin: str, name: str | None = None) -> FieldSpec:
    data = dict(raw)
    if name is not None:
        data.setdefault("name", name)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise MappingError(
            f"field mapping {origin}: field {data.get('name')!r} has unknown key(s) {unknown}; "
            f"allowed: {sorted(_KEYS)}"
        )
    if "options" in data:
        data["options"] = _tuple(data["options"])
    if "name" not in data:
        raise MappingError(f"field mapping {origin}: a field has no 'name'")
    preset = OPTIONAL_FIELDS.get(data["name"])
    if preset is not None:  # a named optional field: its defaults, overridden by what is given
        data = {**{f.name: getattr(preset, f.name) for f in fields(FieldSpec)}, **data}
    data.setdefault("source", data["name"])
    try:
        return FieldSpec(**data)
    except TypeError as exc:
        raise MappingError(f"field mapping {origin}: field {data.get('name')!r}: {exc}") from None


def mapping_from_dict(doc: Mapping[str, Any], origin: str = "mapping") -> FieldMapping:
    """``{"fields": [ {name, source, ...}, ... ]}`` or ``{"fields": {name: {...}}}``."""
    if not isinstance(doc, Mapping) or "fields" not in doc:
        raise MappingError(f"field mapping {origin}: expected a top-level 'fields' list")
    raw = doc["fields"]
    if isinstance(raw, Mapping):
        specs = [_spec_from(v or {}, origin, k) for k, v in raw.items()]
    elif isinstance(raw, list):
        specs = [_spec_from(v, origin) for v in raw]
    else:
        raise MappingError(f"field mapping {origin}: 'fields' must be a list or a mapping")
    return FieldMapping(tuple(specs), origin)


def load_mapping(path: str | Path | None) -> FieldMapping:
    """The mapping in ``path`` (YAML or JSON), or the defaults when ``path`` is None."""
    if path is None:
        return FieldMapping()
    p = Path(path)
    if not p.exists():
        raise MappingError(f"field mapping {p}: file not found (ACCT_SYNC_FIELD_MAPPING)")
    text = p.read_text()
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise MappingError(f"field mapping {p}: cannot parse: {exc}") from None
    return mapping_from_dict(doc, str(p))


def mapping_to_dict(mapping: FieldMapping) -> dict[str, list[dict[str, Any]]]:
    out = []
    for f in mapping.fields:
        d = {k.name: getattr(f, k.name) for k in fields(FieldSpec)}
        d["options"] = list(f.options)
        out.append(d)
    return {"fields": out}


def names(specs: Iterable[FieldSpec]) -> list[str]:
    return [f.name for f in specs]
