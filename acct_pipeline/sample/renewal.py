"""The ``renewal`` scenario: an independent B2B book whose churn is decided at renewal.

It reuses the default simulation (``generator.py``: identities, contacts, billing, tickets, dirt,
the event writer) and changes what drives it, the way a different company's data differs:

* **Adoption, not health.** Each account has a hidden *adoption* level (log-scale): a personal
  baseline spread wide (small happy accounts use the product little), a little day-to-day noise,
  and *phases*. Now and then adoption starts to fade (a team stops using it: the level drops by
  1-2 over 45-120 days) and afterwards comes back (half-life about 70 days); or it grows for good
  (a new team). 60-160 days before a renewal, 30 % of the accounts start a fade that lasts until
  the renewal. Product usage (share of seats that use it at all, down to 3 %; active days, events
  per session, breadth of features) follows adoption as usage follows health in the default.
* **Champion loss.** Now and then an account's champion leaves the company
  (``left_company_at``); 60 % are replaced by an ordinary contact weeks later. Their CRM activities
  stop, and in 70 % of cases the champion's team drifts away (an adoption fade starts).
* **Renewal decides churn.** Contracts are annual; 15-75 days before the renewal date the
  customer decides. The churn probability rises with the *fall* of adoption over the last 90 days
  (mean of the last 14 days vs the 14 days 90 days earlier) and with a champion lost in the last 180
  days, not with the adoption level: ``sigmoid(-2.6 - 3.0 * change + 1.9 * champion_lost)``.
  A churning account fades faster (0.03 a day) until its subscription ends at the renewal date,
  after notice. The level still differs between churners and renewers (a fade lowers it), but
  less than the trend does.
* **What a different book lacks.** No NPS at all (no ``nps_response`` activity); CSAT on about 5 %
  of closed tickets; a quarter of the accounts never files tickets; about 20 % of the accounts have
  no product tracking (no product group, no events); about 30 % of the accounts' activities are
  logged without a contact; about 12 % of the subscriptions and invoices have no seat count.
  Product events are named the Segment / Amplitude way (``Logged In``, ``Report Generated``, ...),
  plans are team / business / scale with other prices. CSM e-mails, replies (likelier while the
  champion is there and adoption rises), quarterly business reviews before renewal, calls.
* **Marketing without social.** Web and e-mail touches (``marketing/touches.csv``) as in the
  default, following adoption; no social touches at all.
* **Same contract, same truth.** Files, planted dirt, manifest and ``_truth/outcomes.csv`` have
  the default's layout; the manifest names the scenario, its mechanics
  and the accounts that are untracked, contact-less, without tickets, without seats, or lost a
  champion during the period.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from acct_pipeline.sample.csvout import CsvFile
from acct_pipeline.sample.generator import _S_CRM, _S_HEALTH, Simulation, _sigmoid

NAME = "renewal"

EVENT_NAMES = (
    "Logged In",
    "Page Viewed",
    "Report Generated",
    "Dashboard Opened",
    "Data Exported",
    "Integration Connected",
    "User Invited",
    "API Request Sent",
    "Alert Created",
)
_EVENT_PROPS = (
    ('"{""method"": ""sso""}"', '"{""method"": ""password""}"'),
    ('"{""path"": ""/app""}"', '"{""path"": ""/settings""}"'),
    ('"{""report"": ""Revenue""}"', '"{""report"": ""Funnel""}"'),
    ("", ""),
    ('"{""format"": ""CSV""}"', '"{""format"": ""PDF""}"'),
    ('"{""integration"": ""HubSpot""}"', '"{""integration"": ""Snowflake""}"'),
    ("", ""),
    ("", ""),
    ('"{""channel"": ""email""}"', '"{""channel"": ""Slack""}"'),
)
PLANS = ("team", "business", "scale")
PLAN_MIX = (0.45, 0.4, 0.15)
PRICE_CENTS = np.array([3000, 5500, 9900])  # per seat per month
SEAT_RANGE = ((3, 12), (10, 41), (30, 121))

UNTRACKED_SHARE = 0.2  # accounts without product tracking
CONTACTLESS_SHARE = 0.3  # accounts whose activities carry no contact
NO_SUPPORT_SHARE = 0.25  # accounts that never file a ticket
SEATS_UNKNOWN_SHARE = 0.12  # subscriptions / invoices without a seat count
CSAT_SHARE = 0.05

# Adoption (log-scale, drives usage like the default's health does).
BASE_MEAN, BASE_SD = 0.0, 1.2
NOISE_PERSISTENCE, NOISE_SD = 0.98, 0.04
RECOVERY = 0.99  # after a fade, adoption comes back (half-life about 70 days); growth stays
FADE_HAZARD, GROWTH_HAZARD = 0.004, 0.0015  # per day, for an account not in a phase
# Before a renewal, a share of the accounts starts to fade and keeps fading until the renewal.
RENEWAL_FADE_SHARE, RENEWAL_FADE_LEAD = 0.3, (60, 161)
FADE_DROP, GROWTH_RISE = (1.0, 2.0), (0.3, 0.8)
PHASE_DAYS = (45, 121)
CHAMPION_HAZARD = 0.0008  # per day, while the account has a champion
CHAMPION_FADE_SHARE = 0.7
LEAVING_DRIFT = 0.03  # extra daily fall once the customer decided to leave
# Churn at renewal: p = sigmoid(CHURN_BASE - TREND_WEIGHT * change + CHAMPION_WEIGHT * lost).
TREND_LAG, TREND_WINDOW = 90, 14
CHAMPION_MEMORY_DAYS = 180
CHURN_BASE, TREND_WEIGHT, CHAMPION_WEIGHT = -2.6, 3.0, 1.9
QBR_DAYS = 60  # the quarterly business review before renewal
_HISTORY = 128  # days of adoption kept per account (>= TREND_LAG + TREND_WINDOW)

_S_SCENARIO = 8  # a random stream the default scenario does not use

MECHANICS = [
    "annual contracts; churn decided 15-75 days before renewal",
    "churn probability rises with the 90-day fall of hidden adoption and with a champion lost "
    "in the last 180 days; the adoption level itself does not enter",
    "adoption fades (then recovers) and grows in phases; 30 % of accounts start a fade 60-160 "
    "days before renewal; a champion leaving starts a fade in 70 % of cases",
    "a churning account keeps fading after its decision until the renewal date",
    "no NPS; CSAT on about 5 % of closed tickets; about 25 % of accounts file no tickets",
    "about 20 % of accounts have no product tracking (no product group, no events)",
    "about 30 % of accounts log activities without a contact",
    "about 12 % of subscriptions and invoices have no seat count",
    "Title Case event names (Logged In, Report Generated, ...); plans team / business / scale",
]


class RenewalSimulation(Simulation):
    """See the module docstring."""

    # this book's marketing tools record web and email, no social at all: a whole engagement
    # category is missing (the scores leave it out and re-weight the others)
    touch_channels = ("web", "email")

    event_names = EVENT_NAMES
    event_props = _EVENT_PROPS
    plans = PLANS
    plan_mix = PLAN_MIX
    price_cents = PRICE_CENTS
    seat_range = SEAT_RANGE
    csat_share = CSAT_SHARE
    adopter_floor, adopter_span = 0.03, 0.92  # a fading account can drop to almost no users

    def setup_accounts(self) -> None:
        super().setup_accounts()
        n, rng = self.n, self.rng(_S_SCENARIO)

        def share(p: float) -> np.ndarray:
            mask = np.zeros(n, bool)
            mask[rng.choice(n, int(round(p * n)), replace=False)] = True
            return mask

        self.tracked = ~share(UNTRACKED_SHARE)
        self.contactless = share(CONTACTLESS_SHARE)
        self.has_support = ~share(NO_SUPPORT_SHARE)
        self.seats_unknown = share(SEATS_UNKNOWN_SHARE)
        self.pay = rng.normal(0.8, 0.5, n)  # payment reliability, unrelated to adoption
        self.base = rng.normal(BASE_MEAN, BASE_SD, n)
        self.x = rng.normal(0.0, NOISE_SD / np.sqrt(1 - NOISE_PERSISTENCE**2), n)
        self.phase = np.zeros(n)  # how far adoption has faded (<= 0)
        self.slope = np.zeros(n)  # daily change of the current phase
        self.phase_left = np.zeros(n, np.int64)
        self.champ_lost_t = np.full(n, -(10**6), np.int64)
        self.fade_lead = rng.integers(*RENEWAL_FADE_LEAD, n)
        self.h = self.base + self.x
        self.history = np.repeat(self.h[:, None], _HISTORY, axis=1)
        self.calibrate_usage()

    def step_health(self, t: int) -> None:
        rng, n = self.rng(_S_HEALTH, t), self.n
        alive = self.alive(t)
        idle = self.phase_left <= 0
        fade = alive & idle & (rng.random(n) < FADE_HAZARD)
        before_renewal = (self.renew_t - t == self.fade_lead) & ~self.is_new
        pre = alive & before_renewal & (rng.random(n) < RENEWAL_FADE_SHARE)
        grow = alive & idle & ~fade & (rng.random(n) < GROWTH_HAZARD)
        leaves = alive & (self.champ_left_n < self.n_champ) & (rng.random(n) < CHAMPION_HAZARD)
        self.champions_leave(t, rng, np.flatnonzero(leaves))
        self.champ_lost_t[leaves] = t
        fade |= pre | (leaves & (self.slope >= 0) & (rng.random(n) < CHAMPION_FADE_SHARE))
        grow &= ~fade
        days = np.where(pre, self.fade_lead, rng.integers(*PHASE_DAYS, n))
        drop, rise = rng.uniform(*FADE_DROP, n), rng.uniform(*GROWTH_RISE, n)
        started = fade | grow
        self.slope = np.where(fade, -drop / days, np.where(grow, rise / days, self.slope))
        self.phase_left = np.where(started, days, self.phase_left - 1)
        self.slope = np.where(self.phase_left > 0, self.slope, 0.0)
        growing = self.slope > 0
        self.base += np.where(growing, self.slope, 0.0)
        calm = (self.phase_left <= 0) & ~self.leaving
        self.phase = np.where(calm, RECOVERY * self.phase, self.phase)
        self.phase += np.where(growing, 0.0, self.slope) - LEAVING_DRIFT * self.leaving
        self.x = NOISE_PERSISTENCE * self.x + rng.normal(0.0, NOISE_SD, n)
        self.h = self.base + self.x + self.phase
        self.history[:, t % _HISTORY] = self.h
        self.renewals(t, rng, alive)

    def adoption_change(self, idx: np.ndarray, t: int, lag: int = TREND_LAG) -> np.ndarray:
        """Mean adoption of the last ``TREND_WINDOW`` days minus the same ``lag`` days earlier."""
        recent = np.arange(t - TREND_WINDOW + 1, t + 1) % _HISTORY
        before = np.arange(t - lag - TREND_WINDOW + 1, t - lag + 1) % _HISTORY
        rows = self.history[idx]
        return rows[:, recent].mean(axis=1) - rows[:, before].mean(axis=1)

    def churn_probability(self, idx: np.ndarray, t: int) -> np.ndarray:
        lost = (t - self.champ_lost_t[idx]) <= CHAMPION_MEMORY_DAYS
        change = self.adoption_change(idx, t)
        return _sigmoid(CHURN_BASE - TREND_WEIGHT * change + CHAMPION_WEIGHT * lost)

    def billing_health(self, idx: np.ndarray) -> np.ndarray:
        # Payment trouble is its own trait; seats follow adoption relative to the account's norm.
        return self.pay[idx] + 0.7 * (self.h[idx] - self.base[idx])

    def activities_for_day(self, t: int, f: CsvFile) -> None:
        rng = self.rng(_S_CRM, t)
        idx = np.flatnonzero(self.alive(t))
        if not len(idx):
            return
        mult = np.array([1.0, 1.3, 1.8])[self.plan[idx]]
        champ = self.champ_left_n[idx] < self.n_champ[idx]
        change = self.h[idx] - self.history[idx, (t - 30) % _HISTORY]
        qbr = (self.renew_t[idx] - QBR_DAYS == t) & (rng.random(len(idx)) < 0.5 + 0.4 * champ)
        per_type = (  # activity type index (see ACTIVITY_TYPES) -> count per account
            (0, rng.poisson(0.07 * mult)),
            (2, rng.poisson(0.008 * mult) + qbr),
            (3, rng.poisson(0.01 * mult)),
        )
        pos = np.concatenate([np.repeat(np.arange(len(idx)), c) for _, c in per_type])
        typ = np.concatenate([np.full(int(c.sum()), k) for k, c in per_type])
        when = self.sec(t) + rng.integers(7 * 3600, 20 * 3600, len(pos))
        acct = idx[pos]
        # The champion gets most of the attention while there; anyone else otherwise.
        to_champ = champ[pos] & (rng.random(len(pos)) < 0.6)
        anyone = (rng.random(len(pos)) * self.n_contacts[acct]).astype(np.int64)
        contact = self.contact_start[acct] + np.where(to_champ, self.champ_left_n[acct], anyone)
        # Replies to e-mails: likelier with a champion and rising adoption.
        sent = np.flatnonzero(typ == 0)
        p_reply = 0.1 + 0.35 * champ[pos[sent]] + 0.25 * _sigmoid(4.0 * change[pos[sent]])
        replied = sent[rng.random(len(sent)) < p_reply]
        reply_when = when[replied] + (rng.exponential(10.0, len(replied)) * 3600).astype(np.int64)
        acct = np.concatenate([acct, acct[replied]])
        contact = np.concatenate([contact, contact[replied]])
        typ = np.concatenate([typ, np.ones(len(replied), np.int64)])
        when = np.concatenate([when, reply_when])
        # Nothing is logged with a contact who has left; no reply arrives after the end.
        gone = (self.c_left[contact] >= 0) & (self.c_left[contact] <= when)
        keep = ~gone & (when < self.end_sec) & (when < self.sec(self.end_t[acct]))
        acct, contact, typ, when = acct[keep], contact[keep], typ[keep], when[keep]
        if not len(acct):
            return
        order = np.lexsort((typ, when))
        acct, contact, typ, when = acct[order], contact[order], typ[order], when[order]
        contact = np.where(self.contactless[acct], -1, contact)
        self.write_activities(t, f, acct, contact, typ, when, np.full(len(acct), -1.0))

    def scenario_info(self) -> dict:
        def accounts(mask: np.ndarray) -> list[str]:
            return sorted(self.company_id.filter(pa.array(mask)).to_pylist())

        lost = self.champ_lost_t >= 0
        return {
            "scenario": {
                "name": NAME,
                "mechanics": MECHANICS,
                "event_names": list(EVENT_NAMES),
                "untracked_accounts": accounts(~self.tracked),
                "contactless_accounts": accounts(self.contactless),
                "no_support_accounts": accounts(~self.has_support),
                "seats_unknown_accounts": accounts(self.seats_unknown),
                "champion_left_accounts": accounts(lost),
            }
        }
