"""The model file's sections for acting on scores: the control group, the audiences, the caps.

Every key is optional and a file without these sections keeps the behaviour of before (no
control group, no caps, no audiences); the default model turns them on. A leaf module (pydantic and
yaml only): ``scoring/model.py`` validates the sections with these classes as
part of the whole model, and ``alerts/`` reads them without loading the rest of the model::

    experiment:                   # measured lift: a random share held out of the automation
      name: automation            # the experiment's name in alerts.experiment_assignments
      control_share: 0.1          # share of alerted / audience accounts held out (0 = none)
      seed: 20260501              # with the account id decides the arm, reproducibly
      min_per_arm: 30             # fewer accounts in an arm: "too small to conclude"
      max_ci_width: 0.25          # a wider 95% interval of the difference: "too small to conclude"
      horizon_days: 90            # outcomes counted within this many days after assignment
    audiences:                    # first match wins; an account in none is in no audience
      - name: expansion_sequence
        tiers: [<tier>]           # tier names of tiers.bands; omit or [] for any tier
        trends: [improving]       # improving / stable / declining; omit for any
        playbook_contains: ""     # text the recommended playbook must contain (optional)
    caps:
      alerts:   {account_cooldown_days: 7, per_owner_per_day: 20, per_channel_per_day: {}}
      audiences: {account_cooldown_days: 14, per_owner_per_day: 0}   # 0: no cap
    followup:
      no_action_days: 7           # time to action: no action within N days = unanswered
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TRENDS = ("improving", "stable", "declining")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Experiment(_Strict):
    name: str = "automation"
    control_share: float = Field(default=0.0, ge=0, lt=1)  # off unless the model turns it on
    seed: int = 20260501
    min_per_arm: int = Field(default=30, ge=1)
    max_ci_width: float = Field(default=0.25, gt=0, le=2)
    horizon_days: int = Field(default=90, ge=1)


class AudienceDef(_Strict):
    name: str
    tiers: list[str] = Field(default_factory=list)
    trends: list[str] = Field(default_factory=list)
    playbook_contains: str = ""
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"audience name '{v}' must be lower_snake_case (it becomes a CRM option value)"
            )
        return v

    @field_validator("trends")
    @classmethod
    def _trends(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in TRENDS]
        if bad:
            raise ValueError(f"unknown trend(s) {bad} (use {', '.join(TRENDS)})")
        return v

    def matches(self, tier: str | None, trend: str | None, playbook: str | None) -> bool:
        """Whether an account with this tier, trend and playbook belongs to the audience."""
        if self.tiers and tier not in self.tiers:
            return False
        if self.trends and trend not in self.trends:
            return False
        return not self.playbook_contains or self.playbook_contains in (playbook or "")


class CapRule(_Strict):
    account_cooldown_days: int = Field(default=0, ge=0)  # after one, none for N days
    per_owner_per_day: int = Field(default=0, ge=0)  # 0: no cap
    per_channel_per_day: dict[str, int] = Field(default_factory=dict)


class Caps(_Strict):
    """No caps unless the model sets them (a model file without ``caps`` alerts as before)."""

    alerts: CapRule = CapRule()
    audiences: CapRule = CapRule()


def check_audience_tiers(audiences: Sequence[AudienceDef], tier_names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the audience when it refers to a tier the model lacks, or when
    two audiences share a name."""
    seen: set[str] = set()
    for a in audiences:
        if a.name in seen:
            raise ValueError(f"audiences: '{a.name}' is defined twice")
        seen.add(a.name)
        bad = [t for t in a.tiers if t not in tier_names]
        if bad:
            raise ValueError(
                f"audiences.{a.name}: unknown tier(s) {bad} (tiers: {', '.join(tier_names)})"
            )


class FollowupConfig(_Strict):
    """Time to action (``alerts/followup.py``): an alert without an action within
    ``no_action_days`` days counts as unanswered."""

    no_action_days: int = Field(default=7, ge=1)


class Actions(_Strict):
    """The three sections, as read from a model file."""

    experiment: Experiment = Experiment()
    audiences: list[AudienceDef] = Field(default_factory=list)
    caps: Caps = Caps()
    followup: FollowupConfig = FollowupConfig()


def load_actions(path: Path) -> Actions:
    """The ``experiment``, ``audiences`` and ``caps`` sections of the model file at ``path``
    (defaults for what it leaves out); a wrong value raises ``ValueError`` naming file and key."""
    doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    doc = doc if isinstance(doc, dict) else {}
    section = {
        k: doc[k] for k in ("experiment", "audiences", "caps", "followup") if doc.get(k) is not None
    }
    try:
        return Actions.model_validate(section)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"scoring model {path.name}: {errors}") from None
