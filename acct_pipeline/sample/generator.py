"""A deterministic synthetic B2B SaaS company, written as a landing folder.

What is simulated, in plain words:

* **Accounts.** Every account is a CRM company with a billing customer, one subscription and a
  product workspace (group). Plans are starter / growth / enterprise, each with its own seat
  range and price per seat (MRR = seats × price). Most accounts existed long before the period;
  about 3 % onboard during it (after a 14-day trial).
* **Hidden health.** Each account has a health value nobody observes directly: a personal
  baseline, plus a slowly mean-reverting random walk (AR(1), daily persistence 0.97), plus a
  *shock* component that decays over about two months. Negative shocks arrive at random
  (an outage, a budget cut, the champion leaving the company); accounts in trouble sometimes
  recover (a positive shock). ``sigmoid(health)`` is the account's "how well it is going" in 0..1.
* **Everything observable is a noisy consequence of health:**
  product usage (the share of paid seats that use the product, how often they log in, how many
  events per session and how many distinct key features they touch all rise with health);
  CRM engagement (the CSM e-mails every account, the reply rate and the number of meetings rise
  with health; NPS answers are 0-10 around ``10 × sigmoid(health)``); support (ticket rate,
  severity, escalations and resolution time rise as health falls; CSAT after close follows
  health); billing (failed payments and overdue invoices are likelier when health is low;
  healthy accounts add seats at invoice time, unhealthy ones remove seats).
* **Renewals and churn.** Contracts are annual. About half of the accounts reach their renewal
  date inside the period. Some 3-10 weeks before it the customer makes up its mind: the churn
  probability rises steeply as the account's recent health (a 3-week moving average) falls. A
  churning account disengages a little more every day from then on, gives notice
  (``canceled_at``) 1-30 days before the renewal date, and its subscription ends on that date
  (``ended_at``); usage, CRM activity, tickets and invoices stop then. Otherwise a new term
  starts. The true outcome of every account is written to ``_truth/outcomes.csv``.
* **Dirt.** A small, deterministic share of rows is broken the way real exports are (exact
  duplicates, malformed timestamps, negative amounts, missing keys), a few companies have missing
  or malformed domains, and some billing customers / product groups match no CRM account. Every
  planted item is listed in ``_manifest.json`` so tests can prove the quality layer catches it.

Determinism: every random draw comes from ``numpy.random.default_rng`` seeded with
``[seed, stream, day]``, so the same arguments give byte-identical files. Memory does not grow
with the number of days: the simulation keeps one state vector per account and writes each
day's events (and each day's CRM activities, tickets and invoices) before moving on.

This is the ``default`` scenario. Other scenarios (``scenarios.py``, e.g. ``renewal.py``) subclass
``Simulation`` and change its class attributes and hooks; the default's output does not change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from acct_pipeline.sample import names
from acct_pipeline.sample.csvout import DAY, CsvFile, booleans, day_number, ids, iso, money, strings
from acct_pipeline.warehouse import (
    BILLING_CUSTOMERS,
    BILLING_INVOICES,
    BILLING_SUBSCRIPTIONS,
    CRM_ACTIVITIES,
    CRM_COMPANIES,
    CRM_CONTACTS,
    CRM_TICKETS,
    MARKETING_TOUCHES,
    PRODUCT_EVENTS,
    PRODUCT_GROUPS,
    SNAPSHOT_TABLES,
    TableSpec,
)

EVENT_NAMES = (
    "session_start",
    "page_view",
    "report_created",
    "dashboard_viewed",
    "export_run",
    "integration_synced",
    "invite_sent",
    "api_call",
    "alert_configured",
)
# JSON properties per event name (two variants each), already quoted for CSV; "" = none.
_EVENT_PROPS = (
    ("", ""),
    ("", '"{""path"": ""/home""}"'),
    ('"{""report_type"": ""pipeline""}"', '"{""report_type"": ""cohort""}"'),
    ("", ""),
    ('"{""format"": ""csv""}"', '"{""format"": ""xlsx""}"'),
    ('"{""integration"": ""salesforce""}"', '"{""integration"": ""slack""}"'),
    ("", ""),
    ('"{""endpoint"": ""/v1/records""}"', '"{""endpoint"": ""/v1/query""}"'),
    ("", ""),
)
PARENT_EVERY = 97  # sample hierarchy: every 97th company is a parent of the next 2-4
ACTIVITY_TYPES = ("email_sent", "email_reply", "meeting", "call", "nps_response")
SEVERITIES = ("low", "medium", "high", "urgent")
PLANS = ("starter", "growth", "enterprise")
PLAN_MIX = (0.5, 0.35, 0.15)
PRICE_CENTS = np.array([2500, 4500, 8500])  # per seat per month
SEAT_RANGE = ((2, 9), (6, 26), (20, 91))

PREHISTORY_DAYS = 120  # billing / CRM history before the period (90-day MRR change on day 1)
TRIAL_DAYS = 14
DEFAULT_EVENTS_PER_ACCOUNT_DAY = 6.0
# Chance that a seat that uses the product at all is active on a given day.
P_ACTIVE_WEEKDAY = 0.3
P_ACTIVE_WEEKEND = 0.07
# Churn at renewal: p = sigmoid(CHURN_INTERCEPT - CHURN_SLOPE * recent health).
CHURN_INTERCEPT = -1.45
CHURN_SLOPE = 2.6

# Dirt rates (share of rows per kind of dirt) and the per-day cap for event files.
DIRT_RATE = 0.003
EVENT_DIRT_RATE = 0.001
EVENT_DIRT_CAP_PER_DAY = 50
BAD_TIMESTAMPS = (
    "2026-13-45T99:00:00Z",
    "yesterday",
    "31/02/2026 25:61",
    "not-a-date",
    "2026-02-30T10:00:00Z",
)

# Random streams (the second element of every seed).
_S_ACCOUNTS, _S_HEALTH, _S_EVENTS, _S_CRM, _S_TICKETS, _S_BILLING, _S_DIRT, _S_SNAPSHOT = range(8)
# marketing touches and their dirt: streams of their own, so the other files do not change
_S_TOUCHES, _S_TOUCH_DIRT = 8, 9

_NULL = pa.scalar(None, pa.string())

# Marketing touches (``marketing/touches.csv``): (category, activity type, source, id prefix,
# touches per contact and day at sigmoid(health) = 0 and = 1). Rates rise with health, but far
# less than an account's own affinity for the channel varies (a lognormal factor per account and
# channel), so a channel alone says little about an account.
TOUCH_KINDS: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("web", "page_view", "segment", "seg-pv-", 0.05, 0.14),
    ("web", "content_download", "hubspot", "hs-form-", 0.002, 0.008),
    ("web", "form_submission", "hubspot", "hs-form-", 0.001, 0.004),
    ("web", "webinar_registered", "salesforce", "sf-cm-", 0.001, 0.003),
    ("web", "webinar_attended", "salesforce", "sf-cm-", 0.0004, 0.002),
    ("email", "email_open", "hubspot", "hs-email-", 0.05, 0.12),
    ("email", "email_click", "hubspot", "hs-email-", 0.006, 0.03),
    ("email", "email_reply", "hubspot", "hs-email-", 0.0005, 0.003),
    ("email", "email_bounce", "hubspot", "hs-email-", 0.002, 0.002),
    ("social", "social_mention", "files", "soc-", 0.002, 0.004),
    ("social", "social_share", "files", "soc-", 0.001, 0.003),
    ("social", "social_comment", "files", "soc-", 0.001, 0.003),
)
NO_MARKETING_SHARE = 0.15  # accounts the marketing tools never see (no touches at all)
CHANNEL_AFFINITY_SIGMA = 0.8  # spread of an account's affinity for a channel (log scale)
TOUCH_CONTACT_ONLY_SHARE = 0.4  # touches that name only the contact (the account through it)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _within(counts: np.ndarray) -> np.ndarray:
    """For ``np.repeat(x, counts)``: the position of each repeated item inside its group."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total) - np.repeat(starts, counts)


def _plant(
    cols: dict[str, pa.Array],
    rng: np.random.Generator,
    *,
    malformed: tuple[str, int] | None = None,
    missing: tuple[str, int] | None = None,
    duplicates: int = 0,
    key: str,
) -> tuple[dict[str, pa.Array], list[tuple[int, str]]]:
    """Break a few rows of one batch, each in exactly one way.

    ``malformed=(col, k)`` gives k rows an unparseable timestamp in ``col``; ``missing=(col, k)``
    empties ``col`` in k rows; ``duplicates`` appends exact copies of clean rows at later
    positions (the copy is the bad row). Returns the new columns and ``(0-based row, rule)``.
    """
    n = len(cols[key])
    k_mal = malformed[1] if malformed else 0
    k_mis = missing[1] if missing else 0
    total = k_mal + k_mis + duplicates
    if n == 0 or total == 0:
        return cols, []
    if total > n // 2:  # tiny batches: keep most rows clean
        scale = (n // 2) / total
        k_mal, k_mis = int(k_mal * scale), int(k_mis * scale)
        duplicates = int(duplicates * scale)
    picked = rng.choice(n, k_mal + k_mis + duplicates, replace=False)
    mal_rows, mis_rows, dup_rows = np.split(picked, [k_mal, k_mal + k_mis])
    cols = dict(cols)
    if malformed and k_mal:
        mask = np.zeros(n, bool)
        mask[mal_rows] = True
        bad = pa.array(np.array(BAD_TIMESTAMPS)[rng.integers(0, len(BAD_TIMESTAMPS), n)])
        cols[malformed[0]] = pc.if_else(pa.array(mask), bad, cols[malformed[0]])
    if missing and k_mis:
        mask = np.zeros(n, bool)
        mask[mis_rows] = True
        cols[missing[0]] = pc.if_else(pa.array(mask), _NULL, cols[missing[0]])
    # Duplicates: a copy of row s goes right before original row p (s < p <= n).
    dup_rows = np.sort(dup_rows)
    insert_at = dup_rows + 1 + (rng.random(len(dup_rows)) * (n - dup_rows)).astype(np.int64)
    sort_key = np.concatenate([2 * np.arange(n), 2 * insert_at - 1])
    source = np.concatenate([np.arange(n), dup_rows])
    is_copy = np.concatenate([np.zeros(n, bool), np.ones(len(dup_rows), bool)])
    order = np.argsort(sort_key, kind="stable")
    take = pa.array(source[order])
    cols = {c: a.take(take) for c, a in cols.items()}
    final_pos = np.empty(n, np.int64)
    positions = np.arange(len(order))
    final_pos[source[order][~is_copy[order]]] = positions[~is_copy[order]]
    planted = (
        [(int(final_pos[r]), f"malformed_timestamp:{malformed[0]}") for r in mal_rows]
        if malformed
        else []
    )
    planted += (
        [(int(final_pos[r]), f"missing_required:{missing[0]}") for r in mis_rows] if missing else []
    )
    planted += [(int(p), f"duplicate_key:{key}") for p in positions[is_copy[order]]]
    return cols, planted


def _dirt_count(rng: np.random.Generator, n: int, rate: float, cap: int | None = None) -> int:
    k = int(rng.binomial(n, rate)) if n else 0
    return min(k, cap) if cap is not None else k


class _Writer:
    """The landing folder: streaming CSV files plus the manifest's planted-items list."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.quarantine: list[dict] = []
        self.counts: dict[str, int] = {}

    def open(self, spec: TableSpec, rel: str | None = None) -> CsvFile:
        return CsvFile(self.root / (rel or spec.landing_path), spec.column_names)

    def add(self, spec: TableSpec, f: CsvFile, planted: list[tuple[int, str]], base: int) -> None:
        rel = f.path.relative_to(self.root).as_posix()
        for row, rule in planted:
            self.quarantine.append(
                {"table": spec.name, "file": rel, "row_number": base + row + 1, "rule": rule}
            )


def generate_sample(
    out_dir: str | Path,
    accounts: int = 2000,
    days: int = 180,
    seed: int = 7,
    end_date: date = date(2026, 10, 31),
    progress: Callable[[str], None] | None = None,
    *,
    events_per_account_day: float = DEFAULT_EVENTS_PER_ACCOUNT_DAY,
) -> dict:
    """Write a synthetic landing folder to ``out_dir`` and return its manifest.

    The period is the ``days`` days ending at ``end_date`` (inclusive); billing and CRM history
    start ``PREHISTORY_DAYS`` earlier, product events cover exactly the period (one file per
    day). ``events_per_account_day`` scales product usage (about that many events per active
    account and day). The manifest (also ``out_dir/_manifest.json``) holds the parameters, the
    period, row counts and every planted quality problem; ``out_dir/_truth/outcomes.csv`` holds
    each account's true renewal outcome (for tests and benchmarks only).
    """
    return run_simulation(
        Simulation, out_dir, accounts, days, seed, end_date, progress, events_per_account_day
    )


def run_simulation(
    simulation: type[Simulation],
    out_dir: str | Path,
    accounts: int,
    days: int,
    seed: int,
    end_date: date,
    progress: Callable[[str], None] | None,
    events_per_account_day: float,
) -> dict:
    """Run one scenario's simulation class (see ``generate_sample`` for the arguments)."""
    if accounts < 1 or days < 1:
        raise ValueError(f"generate_sample: accounts ({accounts}) and days ({days}) must be >= 1")
    say = progress or (lambda _msg: None)
    sim = simulation(Path(out_dir), accounts, days, seed, end_date, events_per_account_day, say)
    return sim.run()


class Simulation:
    """The default scenario. Subclasses (other scenarios) change the class attributes below and
    override the hooks: ``churn_probability``, ``billing_health``, ``scenario_info`` and the
    per-account masks set in ``setup_accounts`` (``tracked``, ``has_support``, ``seats_unknown``).
    """

    event_names: tuple[str, ...] = EVENT_NAMES
    event_props: tuple[tuple[str, str], ...] = _EVENT_PROPS
    plans: tuple[str, ...] = PLANS
    plan_mix: tuple[float, ...] = PLAN_MIX
    price_cents: np.ndarray = PRICE_CENTS
    seat_range: tuple[tuple[int, int], ...] = SEAT_RANGE
    csat_share = 0.65  # share of closed tickets with a CSAT answer
    # Share of paid seats that use the product at all: floor + span * sigmoid(1.3 * health).
    adopter_floor, adopter_span = 0.15, 0.8

    def __init__(
        self,
        root: Path,
        n: int,
        days: int,
        seed: int,
        end_date: date,
        epad: float,
        say: Callable[[str], None],
    ) -> None:
        self.root, self.n, self.days, self.seed, self.say = root, n, days, seed, say
        self.end_date = end_date
        self.start_date = end_date - timedelta(days=days - 1)
        self.d0 = day_number(self.start_date)
        self.end_sec = (self.d0 + days) * DAY  # exclusive: midnight after end_date
        self.epad = float(epad)
        self.out = _Writer(root)
        self.activity_counter = self.ticket_counter = self.invoice_counter = 0
        self.touch_counter = 0

    # -- helpers -------------------------------------------------------------------------------
    def rng(self, stream: int, t: int = -PREHISTORY_DAYS - 1) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, t + PREHISTORY_DAYS + 1])

    def sec(self, t: np.ndarray | int) -> np.ndarray | int:
        return (self.d0 + t) * DAY

    # -- setup ---------------------------------------------------------------------------------
    def setup_accounts(self) -> None:
        n, days, rng = self.n, self.days, self.rng(_S_ACCOUNTS)
        self.plan = rng.choice(3, n, p=self.plan_mix)
        lo = np.array([r[0] for r in self.seat_range])[self.plan]
        hi = np.array([r[1] for r in self.seat_range])[self.plan]
        self.seats = rng.integers(lo, hi)
        self.base = rng.normal(0.5, 0.9, n)
        self.feat_bias = rng.normal(0.0, 0.5, n)
        # Renewal dates: about half of the accounts renew inside the period.
        span = min(days, 365)
        inside_share = min(1.0, max(0.5, days / 365))
        inside = rng.random(n) < inside_share
        late = rng.integers(span, 365, n) if span < 365 else rng.integers(0, 365, n)
        self.renew_t = np.where(inside, rng.integers(0, span, n), late)
        years = rng.integers(0, 4, n)
        self.start_t = self.renew_t - 365 - 365 * years
        self.term_start_t = self.renew_t - 365
        self.first_invoice_t = self.start_t.copy()
        self.is_new = np.zeros(n, bool)
        n_new = int(round(0.03 * n)) if days >= 10 else 0
        if n_new:
            new = rng.choice(n, n_new, replace=False)
            self.is_new[new] = True
            self.start_t[new] = rng.integers(1, days, n_new)
            self.term_start_t[new] = self.start_t[new]
            self.renew_t[new] = self.start_t[new] + 365
            self.first_invoice_t[new] = self.start_t[new] + TRIAL_DAYS
            self.base[new] += 0.3  # new customers start optimistic
        self.start_sec = self.sec(self.start_t) + rng.integers(8 * 3600, 18 * 3600, n)
        first_invoice_day = self.d0 + self.first_invoice_t
        self.bill_dom = np.minimum(
            np.array([(date(1970, 1, 1) + timedelta(days=int(d))).day for d in first_invoice_day]),
            28,
        )
        self.notice = rng.integers(1, 31, n)
        self.lead = rng.integers(14, 46, n)
        self.leaving = np.zeros(n, bool)
        self.end_t = np.full(n, np.iinfo(np.int32).max, np.int64)
        self.cancel_sec = np.full(n, -1, np.int64)
        self.decided = np.zeros(n, bool)
        self.renewed_t = np.full(n, -1, np.int64)  # last renewal inside the period
        self.champ_left_n = np.zeros(n, np.int64)
        self.overdue_open = np.zeros(n, np.int64)  # invoices still open after their due date
        self.price = self.price_cents[self.plan]
        # Who has product tracking, files tickets, has a seat count in billing (all, here).
        self.tracked = np.ones(n, bool)
        self.has_support = np.ones(n, bool)
        self.seats_unknown = np.zeros(n, bool)

        # Health state.
        self.x = rng.normal(0.0, 0.4, n)
        self.shock = np.zeros(n)
        self.h = self.base + self.x
        self.ewm = self.h.copy()

        # Company identity.
        na, nn, nt = len(names.ADJECTIVES), len(names.NOUNS), len(names.TLDS)
        combos = na * nn * nt
        k = rng.permutation(max(n, combos))[:n] if n <= combos else rng.permutation(n)
        combo, rep = k % combos, k // combos
        adj, noun, tld = combo // (nn * nt), (combo // nt) % nn, combo % nt
        kind = rng.integers(0, len(names.KINDS), n)
        self.domain = np.array(
            [
                f"{names.ADJECTIVES[a]}{names.NOUNS[b]}{r if r else ''}.{names.TLDS[c]}"
                for a, b, c, r in zip(adj, noun, tld, rep, strict=True)
            ]
        )
        self.company_name = np.array(
            [
                " ".join(
                    [names.ADJECTIVES[a].title(), names.NOUNS[b].title()]
                    + ([str(r)] if r else [])
                    + [names.KINDS[q]]
                )
                for a, b, r, q in zip(adj, noun, rep, kind, strict=True)
            ]
        )
        self.company_num = rng.permutation(n) + 1
        self.company_id = ids("co_", self.company_num, 6)
        self.customer_id = ids("cus_", rng.permutation(n) + 1, 6)
        self.subscription_id = ids("sub_", rng.permutation(n) + 1, 6)
        self.group_num = rng.permutation(n) + 1
        self.group_id = ids("grp_", self.group_num, 6)
        self.user_prefix = ids("usr_", self.group_num, 6)
        self.user_prefix = pc.binary_join_element_wise(self.user_prefix, "_", "")
        self.created_sec = self.start_sec - rng.integers(1, 90, n) * DAY - rng.integers(0, 3600, n)

        # Product: each account's preferred order of key features (page_view always first).
        rest = np.argsort(rng.random((n, len(self.event_names) - 2)), axis=1) + 2
        self.feat_order = np.concatenate([np.ones((n, 1), np.int64), rest], axis=1)
        self.calibrate_usage()

    def adoption_share(self, h: np.ndarray) -> np.ndarray:
        return self.adopter_floor + self.adopter_span * _sigmoid(1.3 * h)

    def calibrate_usage(self) -> None:
        """Events per active user, so that an active account-day averages ``epad``."""
        # Calibrate events per active user so that an active account-day averages ``epad``.
        s = _sigmoid(self.h)
        adopters = np.maximum(1, np.round(self.seats * self.adoption_share(self.h)))
        p_day = (5 * P_ACTIVE_WEEKDAY + 2 * P_ACTIVE_WEEKEND) / 7 * (0.6 + 0.4 * s)
        dau = adopters * p_day
        mean_dau = float(dau.mean())
        weight = float((dau * (0.5 + s)).sum() / dau.sum())
        ratio = self.epad / mean_dau
        if ratio >= 1.5:
            self.day_scale, self.m0 = 1.0, (ratio - 1.0) / weight
        else:
            self.day_scale, self.m0 = ratio / 1.5, 0.5 / weight

    def setup_contacts(self) -> None:
        n, rng = self.n, self.rng(_S_CRM)
        nc = np.clip(2 + rng.poisson(np.array([0.8, 2.0, 4.0])[self.plan]), 2, 12)
        self.n_champ = 1 + (rng.random(n) < np.array([0.15, 0.35, 0.6])[self.plan])
        self.n_contacts = nc
        self.contact_start = np.cumsum(nc) - nc
        acct = np.repeat(np.arange(n), nc)
        rank = _within(nc)
        m = len(acct)
        self.c_acct = acct
        self.c_champ = rank < self.n_champ[acct]
        # Contacts appear within 60 days of their company (never after the export's last second).
        self.c_created = np.minimum(
            self.created_sec[acct] + rng.integers(0, 60 * DAY, m), self.end_sec - 1
        )
        self.c_first = rng.integers(0, len(names.FIRST_NAMES), m)
        self.c_last = rng.integers(0, len(names.LAST_NAMES), m)
        self.c_title = np.where(
            self.c_champ,
            rng.integers(0, len(names.CHAMPION_TITLES), m),
            rng.integers(0, len(names.CONTACT_TITLES), m),
        )
        # Non-champions leave now and then (no health effect); champions leave as a shock.
        leave = self.sec(-PREHISTORY_DAYS) + (rng.exponential(3000.0, m) * DAY).astype(np.int64)
        self.c_left = np.where(
            ~self.c_champ & (leave < self.end_sec) & (leave > self.c_created), leave, -1
        )
        self.new_contacts: list[tuple[np.ndarray, np.ndarray]] = []  # replacements (acct, created)

    # the engagement channels this book's marketing tools record (a scenario may lack one)
    touch_channels: tuple[str, ...] = ("web", "email", "social")

    def setup_marketing(self) -> None:
        """Which accounts the marketing tools see, and each account's affinity per channel."""
        rng = self.rng(_S_TOUCHES)
        self.has_marketing = rng.random(self.n) >= NO_MARKETING_SHARE
        self.channel_affinity = {
            c: np.exp(rng.normal(-0.5 * CHANNEL_AFFINITY_SIGMA**2, CHANNEL_AFFINITY_SIGMA, self.n))
            for c in ("web", "email", "social")
        }

    # -- the daily loop ------------------------------------------------------------------------
    def step_health(self, t: int) -> None:
        rng, n = self.rng(_S_HEALTH, t), self.n
        alive = self.alive(t)
        jumps = np.zeros(n)
        outage = rng.random(n) < 0.0012
        budget = rng.random(n) < 0.0008
        jumps -= outage * rng.uniform(0.5, 1.0, n) + budget * rng.uniform(0.8, 1.5, n)
        # The champion leaves (only while one is still there).
        has_champ = self.champ_left_n < self.n_champ
        leaves = alive & has_champ & (rng.random(n) < 0.0006)
        jumps -= leaves * rng.uniform(1.0, 1.8, n)
        self.champions_leave(t, rng, np.flatnonzero(leaves))
        recover = (self.shock < -0.4) & (rng.random(n) < 0.004)
        jumps += recover * rng.uniform(0.5, 1.2, n)
        # Having decided to leave, the customer disengages a little more every day.
        jumps -= self.leaving * 0.025
        self.shock = 0.985 * self.shock + jumps
        self.x = 0.97 * self.x + rng.normal(0.0, 0.1, n)
        self.h = self.base + self.x + self.shock
        self.ewm += (self.h - self.ewm) / 21.0
        self.renewals(t, rng, alive)

    def champions_leave(self, t: int, rng: np.random.Generator, idx: np.ndarray) -> None:
        """The next champion of each account in ``idx`` leaves on day t; 60 % are replaced."""
        if len(idx):
            contact = self.contact_start[idx] + self.champ_left_n[idx]
            when = self.sec(t) + rng.integers(0, DAY, len(idx))
            when = np.minimum(np.maximum(when, self.c_created[contact] + DAY), self.end_sec - 1)
            self.c_left[contact] = when
            self.champ_left_n[idx] += 1
            replaced = rng.random(len(idx)) < 0.6
            created = when + rng.integers(7, 45, len(idx)) * DAY
            ok = replaced & (created < self.end_sec)
            if ok.any():
                self.new_contacts.append((idx[ok], created[ok]))

    def churn_probability(self, idx: np.ndarray, t: int) -> np.ndarray:
        """Chance that each deciding account in ``idx`` churns at its renewal (decided on day t)."""
        return _sigmoid(CHURN_INTERCEPT - CHURN_SLOPE * self.ewm[idx])

    def renewals(self, t: int, rng: np.random.Generator, alive: np.ndarray) -> None:
        # Renewal decisions: the customer makes up its mind 2-6 weeks before giving notice, and
        # gives notice 1-30 days before the renewal date.
        deciding = alive & ~self.decided & (self.renew_t - self.notice - self.lead == t)
        if deciding.any():
            d_idx = np.flatnonzero(deciding)
            churn = rng.random(len(d_idx)) < self.churn_probability(d_idx, t)
            self.decided[d_idx] = True
            c_idx = d_idx[churn]
            self.leaving[c_idx] = True
            self.end_t[c_idx] = self.renew_t[c_idx]
        notice = alive & self.leaving & (self.cancel_sec < 0) & (self.renew_t - self.notice == t)
        if notice.any():
            n_idx = np.flatnonzero(notice)
            self.cancel_sec[n_idx] = self.sec(t) + rng.integers(6 * 3600, 20 * 3600, len(n_idx))
        renewing = alive & (self.renew_t == t) & ~self.leaving
        if renewing.any():
            r_idx = np.flatnonzero(renewing)
            self.term_start_t[r_idx] = t
            if t >= 0:
                self.renewed_t[r_idx] = t
            self.renew_t[r_idx] += 365
            self.decided[r_idx] = False
            self.notice[r_idx] = rng.integers(1, 31, len(r_idx))
            self.lead[r_idx] = rng.integers(14, 46, len(r_idx))

    def alive(self, t: int) -> np.ndarray:
        return (self.start_t <= t) & (t < self.end_t)

    def events_for_day(self, t: int, f: CsvFile, counter: int) -> int:
        rng = self.rng(_S_EVENTS, t)
        day = self.start_date + timedelta(days=t)
        weekday = day.weekday() < 5
        idx = np.flatnonzero(self.alive(t) & self.tracked)
        h = self.h[idx]
        s = _sigmoid(h)
        adopters = np.minimum(
            self.seats[idx],
            np.maximum(1, np.round(self.seats[idx] * self.adoption_share(h))),
        ).astype(np.int64)
        p_day = (
            (P_ACTIVE_WEEKDAY if weekday else P_ACTIVE_WEEKEND) * (0.6 + 0.4 * s) * self.day_scale
        )
        u_acct = np.repeat(idx, adopters)
        u_j = _within(adopters)
        active = rng.random(len(u_acct)) < np.repeat(p_day, adopters)
        u_acct, u_j = u_acct[active], u_j[active]
        u_pos = np.repeat(np.arange(len(idx)), adopters)[active]
        n_ev = 1 + rng.poisson(self.m0 * (0.5 + s[u_pos]))
        nu = len(u_acct)
        # Sessions start around the account's working hours (UTC spread), events follow.
        start = np.clip(rng.normal(14.0 * 3600, 3.5 * 3600, nu), 0, DAY - 3600).astype(np.int64)
        gap = rng.integers(20, 400, nu)
        e_acct = np.repeat(u_acct, n_ev)
        e_user = np.repeat(u_j, n_ev)
        e_pos = np.repeat(u_pos, n_ev)
        k = _within(n_ev)
        ne = len(e_acct)
        offset = np.repeat(start, n_ev) + k * np.repeat(gap, n_ev) + rng.integers(0, 20, ne)
        e_sec = np.minimum(offset, DAY - 1)
        n_feat = np.clip(2 + np.floor(7 * _sigmoid(1.2 * h + self.feat_bias[idx])), 2, 8).astype(
            np.int64
        )
        rank = np.floor(n_feat[e_pos] * rng.random(ne) ** 1.7).astype(np.int64)
        name = np.where(k == 0, 0, self.feat_order[e_acct, np.minimum(rank, 7)])
        variant = rng.integers(0, 2, ne)
        order = np.argsort(e_sec, kind="stable")
        e_acct, e_user, e_sec, name, variant = (
            a[order] for a in (e_acct, e_user, e_sec, name, variant)
        )
        props_table = pa.array(
            [p[v] or None for p in self.event_props for v in (0, 1)], pa.string()
        )
        acct_pa = pa.array(e_acct)
        cols = {
            "event_id": ids("evt_", counter + np.arange(ne), 9),
            "event_name": pa.array(np.array(self.event_names)[name]),
            "occurred_at": iso(self.sec(t) + e_sec),
            "user_id": pc.binary_join_element_wise(
                self.user_prefix.take(acct_pa), pc.cast(pa.array(e_user), pa.string()), ""
            ),
            "group_id": self.group_id.take(acct_pa),
            "properties": props_table.take(pa.array(name * 2 + variant)),
        }
        drng = self.rng(_S_DIRT, t)
        k_each = [_dirt_count(drng, ne, EVENT_DIRT_RATE, EVENT_DIRT_CAP_PER_DAY) for _ in range(3)]
        cols, planted = _plant(
            cols,
            drng,
            malformed=("occurred_at", k_each[0]),
            missing=("event_id", k_each[1]),
            duplicates=k_each[2],
            key="event_id",
        )
        self.out.add(PRODUCT_EVENTS, f, planted, f.rows)
        f.write(cols)
        return ne

    def activities_for_day(self, t: int, f: CsvFile) -> None:
        rng = self.rng(_S_CRM, t)
        idx = np.flatnonzero(self.alive(t))
        if not len(idx):
            return
        h, plan = self.h[idx], self.plan[idx]
        mult = np.array([1.0, 1.3, 1.8])[plan]
        s = _sigmoid(h)
        day0 = self.sec(t)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

        def add(counts: np.ndarray, type_idx: int, secs: np.ndarray | None = None) -> np.ndarray:
            acct = np.repeat(idx, counts)
            when = secs if secs is not None else day0 + rng.integers(7 * 3600, 20 * 3600, len(acct))
            parts.append((acct, np.full(len(acct), type_idx), when, np.full(len(acct), -1.0)))
            return acct

        sent = rng.poisson(0.08 * mult)
        sent_acct = add(sent, 0)
        sent_when = parts[-1][2]
        replied = rng.random(len(sent_acct)) < 0.08 + 0.62 * _sigmoid(
            1.6 * (np.repeat(h, sent) - 0.3)
        )
        reply_when = sent_when[replied] + (rng.exponential(8.0, int(replied.sum())) * 3600).astype(
            np.int64
        )
        r_acct = sent_acct[replied]
        keep = (reply_when < self.end_sec) & (reply_when < self.sec(self.end_t[r_acct]))
        parts.append(
            (
                r_acct[keep],
                np.full(int(keep.sum()), 1),
                reply_when[keep],
                np.full(int(keep.sum()), -1.0),
            )
        )
        add(rng.poisson(0.015 * mult * (0.3 + 1.4 * s)), 2)
        add(rng.poisson(0.012 * mult), 3)
        nps = rng.poisson(np.full(len(idx), 1 / 150))
        nps_acct = add(nps, 4)
        nps_h = np.repeat(h, nps)
        value = np.clip(
            np.round(10 * _sigmoid(1.4 * nps_h + rng.normal(0, 0.8, len(nps_acct)))), 0, 10
        )
        parts[-1] = (parts[-1][0], parts[-1][1], parts[-1][2], value)

        acct = np.concatenate([p[0] for p in parts])
        typ = np.concatenate([p[1] for p in parts])
        when = np.concatenate([p[2] for p in parts])
        val = np.concatenate([p[3] for p in parts])
        if not len(acct):
            return
        order = np.lexsort((typ, when))
        acct, typ, when, val = acct[order], typ[order], when[order], val[order]
        m = len(acct)
        contact = self.contact_start[acct] + (rng.random(m) * self.n_contacts[acct]).astype(
            np.int64
        )
        gone = (self.c_left[contact] >= 0) & (self.c_left[contact] <= when)
        self.write_activities(t, f, acct, np.where(gone, -1, contact), typ, when, val)

    def write_activities(
        self,
        t: int,
        f: CsvFile,
        acct: np.ndarray,
        contact: np.ndarray,
        typ: np.ndarray,
        when: np.ndarray,
        val: np.ndarray,
    ) -> None:
        """Append one day's activities (``contact`` -1 = none, ``val`` < 0 = none) with dirt."""
        m = len(acct)
        cols = {
            "activity_id": ids("act_", self.activity_counter + np.arange(m), 8),
            "company_id": self.company_id.take(pa.array(acct)),
            "contact_id": ids("ct_", contact + 1, 7),
            "activity_type": pa.array(np.array(ACTIVITY_TYPES)[typ]),
            "occurred_at": iso(when),
            "value": strings(val.astype(np.int64), mask=val < 0),
        }
        if (contact < 0).any():
            cols["contact_id"] = pc.if_else(pa.array(contact < 0), _NULL, cols["contact_id"])
        self.activity_counter += m
        drng = self.rng(_S_DIRT, t)
        cols, planted = _plant(
            cols,
            drng,
            malformed=("occurred_at", _dirt_count(drng, m, DIRT_RATE)),
            missing=("company_id", _dirt_count(drng, m, DIRT_RATE)),
            duplicates=_dirt_count(drng, m, DIRT_RATE),
            key="activity_id",
        )
        self.out.add(CRM_ACTIVITIES, f, planted, f.rows)
        f.write(cols)

    def touches_for_day(self, t: int, f: CsvFile) -> None:
        """One day's marketing touches of the accounts the marketing tools see, with dirt."""
        rng = self.rng(_S_TOUCHES, t)
        idx = np.flatnonzero(self.alive(t) & self.has_marketing)
        if not len(idx):
            return
        s = _sigmoid(self.h[idx])
        people = self.n_contacts[idx]
        acct_parts, kind_parts = [], []
        for k, (cat, _act, _src, _pre, low, high) in enumerate(TOUCH_KINDS):
            if cat not in self.touch_channels:
                continue
            lam = people * (low + (high - low) * s) * self.channel_affinity[cat][idx]
            counts = rng.poisson(lam)
            acct_parts.append(np.repeat(idx, counts))
            kind_parts.append(np.full(int(counts.sum()), k))
        acct = np.concatenate(acct_parts)
        kind = np.concatenate(kind_parts)
        m = len(acct)
        if not m:
            return
        when = self.sec(t) + rng.integers(0, DAY, m)
        order = np.lexsort((kind, when))
        acct, kind, when = acct[order], kind[order], when[order]
        contact = self.contact_start[acct] + (rng.random(m) * self.n_contacts[acct]).astype(
            np.int64
        )
        gone = (self.c_left[contact] >= 0) & (self.c_left[contact] <= when)
        anonymous = np.array([TOUCH_KINDS[k][1] == "page_view" for k in range(len(TOUCH_KINDS))])
        no_contact = gone | (anonymous[kind] & (rng.random(m) < 0.6))
        contact_only = ~no_contact & (rng.random(m) < TOUCH_CONTACT_ONLY_SHARE)
        kinds = np.array(TOUCH_KINDS, dtype=object)
        cols = {
            "touch_id": pc.binary_join_element_wise(
                pa.array(kinds[kind, 3].astype(str)),
                ids("", self.touch_counter + np.arange(m), 9),
                "",
            ),
            "account_id": pc.if_else(
                pa.array(contact_only), _NULL, self.company_id.take(pa.array(acct))
            ),
            "contact_id": pc.if_else(pa.array(no_contact), _NULL, ids("ct_", contact + 1, 7)),
            "category": pa.array(kinds[kind, 0].astype(str)),
            "activity_type": pa.array(kinds[kind, 1].astype(str)),
            "occurred_at": iso(when),
            "value": pa.nulls(m, pa.string()),
            "source": pa.array(kinds[kind, 2].astype(str)),
        }
        self.touch_counter += m
        drng = self.rng(_S_TOUCH_DIRT, t)
        first = t == 0  # one of each planted problem on the period's first day, at least
        cols, planted = _plant(
            cols,
            drng,
            malformed=("occurred_at", max(int(first), _dirt_count(drng, m, DIRT_RATE))),
            duplicates=max(int(first), _dirt_count(drng, m, DIRT_RATE)),
            key="touch_id",
        )
        if first:
            cols, extra = _broken_touches(cols, self.touch_counter, self.company_id[int(idx[0])])
            self.touch_counter += 2
            planted += extra
        self.out.add(MARKETING_TOUCHES, f, planted, f.rows)
        f.write(cols)

    def tickets_for_day(self, t: int, f: CsvFile) -> None:
        rng = self.rng(_S_TICKETS, t)
        idx = np.flatnonzero(self.alive(t) & self.has_support)
        s = _sigmoid(self.h[idx])
        u = 1.0 - s
        size = np.array([0.7, 1.0, 1.6])[self.plan[idx]]
        counts = rng.poisson(0.006 * size * (1 + 6 * u**2))
        acct = np.repeat(idx, counts)
        m = len(acct)
        if not m:
            return
        uu = np.repeat(u, counts)
        hh = self.h[acct]
        created = self.sec(t) + rng.integers(0, DAY, m)
        weights = np.stack(
            [0.5 - 0.3 * uu, np.full(m, 0.33), 0.12 + 0.2 * uu, 0.05 + 0.1 * uu], axis=1
        )
        cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        sev = (rng.random(m)[:, None] > cum).sum(axis=1).clip(0, 3)
        escalated = rng.random(m) < 0.02 + 0.08 * sev + 0.25 * uu
        hours = np.exp(np.log(8.0) + 0.3 * sev + 1.4 * uu + 0.8 * rng.normal(0, 1, m))
        closed = created + (hours * 3600).astype(np.int64)
        is_closed = closed < self.end_sec
        status = np.where(is_closed, 2, np.where(rng.random(m) < 0.3, 1, 0))
        has_csat = is_closed & (rng.random(m) < self.csat_share)
        csat = np.clip(
            np.round(1 + 4 * _sigmoid(1.2 * hh + 0.5 - 0.2 * sev + rng.normal(0, 0.7, m))), 1, 5
        )
        cols = {
            "ticket_id": ids("tk_", self.ticket_counter + np.arange(m), 7),
            "company_id": self.company_id.take(pa.array(acct)),
            "created_at": iso(created),
            "closed_at": iso(closed, mask=~is_closed),
            "severity": pa.array(np.array(SEVERITIES)[sev]),
            "status": pa.array(np.array(["open", "pending", "closed"])[status]),
            "escalated": booleans(escalated),
            "csat_score": strings(csat.astype(np.int64), mask=~has_csat),
        }
        self.ticket_counter += m
        drng = self.rng(_S_DIRT, t)
        cols, planted = _plant(
            cols, drng, missing=("company_id", _dirt_count(drng, m, 0.005)), key="ticket_id"
        )
        self.out.add(CRM_TICKETS, f, planted, f.rows)
        f.write(cols)

    def billing_health(self, idx: np.ndarray) -> np.ndarray:
        """What drives seat changes and failed payments at invoice time (here: health)."""
        return self.h[idx]

    def invoices_for_day(self, t: int, f: CsvFile) -> None:
        day = self.start_date + timedelta(days=t)
        idx = np.flatnonzero(
            self.alive(t) & (self.bill_dom == day.day) & (t >= self.first_invoice_t)
        )
        if not len(idx):
            return
        rng = self.rng(_S_BILLING, t)
        m = len(idx)
        h = self.billing_health(idx)
        s = _sigmoid(h)
        # Seat changes show up on the invoice: healthy accounts expand, unhealthy ones contract.
        grow = rng.random(m) < 0.25 * np.clip((s - 0.6) / 0.4, 0, 1)
        shrink = ~grow & (rng.random(m) < 0.25 * np.clip((0.45 - s) / 0.45, 0, 1))
        step = np.maximum(1, np.round(self.seats[idx] * rng.uniform(0.05, 0.3, m))).astype(np.int64)
        seats = np.where(
            grow, self.seats[idx] + step, np.where(shrink, self.seats[idx] - step, self.seats[idx])
        )
        seats = np.maximum(1, seats)
        self.seats[idx] = seats
        mrr = seats * self.price[idx]
        created = self.sec(t) + rng.integers(0, 6 * 3600, m)
        enterprise = self.plan[idx] == 2
        due = created + np.where(enterprise, 30, 14) * DAY
        fail = rng.random(m) < _sigmoid(-3.4 - 2.6 * (h - 0.3))
        attempts = np.where(fail, 2 + rng.geometric(0.5, m) - 1, 1)
        delay = np.where(
            enterprise,
            rng.uniform(2, 26, m) * DAY * (1 + 1.0 * (1 - s)),
            rng.uniform(0, 2 * 3600, m),
        ) + np.where(fail, (attempts - 1) * 3 * DAY + rng.uniform(0, 4, m) * DAY, 0)
        never = fail & (rng.random(m) < _sigmoid(-2.4 - 2.5 * h))
        void = ~fail & (rng.random(m) < 0.003)
        paid_at = created + delay.astype(np.int64)
        paid = ~never & ~void & (paid_at < self.end_sec)
        old = (self.end_sec - created) > 60 * DAY
        status = np.where(
            paid, "paid", np.where(void, "void", np.where(never & old, "uncollectible", "open"))
        )
        amount_paid = np.where(paid, mrr, 0)
        period_end = created + (day_number(_add_month(day)) - day_number(day)) * DAY
        # Negative amounts (planted): on a paid invoice either column, else amount_due. Both
        # columns are optional: the loader keeps the invoice and sets the amount NULL (a note).
        drng = self.rng(_S_DIRT, t)
        k = _dirt_count(drng, m, 0.004)
        due_cents, paid_cents = mrr.copy(), amount_paid.copy()
        planted: list[tuple[int, str]] = []
        for r in sorted(drng.choice(m, k, replace=False).tolist()) if k else []:
            if paid_cents[r] > 0 and drng.random() < 0.5:
                paid_cents[r] = -paid_cents[r]
                planted.append((r, "negative_amount:amount_paid (nulled)"))
            else:
                due_cents[r] = -due_cents[r]
                planted.append((r, "negative_amount:amount_due (nulled)"))
        np.add.at(self.overdue_open, idx, (status == "open") & (due < self.end_sec))
        cols = {
            "invoice_id": ids("in_", self.invoice_counter + np.arange(m), 7),
            "customer_id": self.customer_id.take(pa.array(idx)),
            "subscription_id": self.subscription_id.take(pa.array(idx)),
            "created_at": iso(created),
            "period_start": iso(created),
            "period_end": iso(period_end),
            "due_date": iso(due),
            "amount_due": money(due_cents),
            "amount_paid": money(paid_cents),
            "status": pa.array(status),
            "attempt_count": strings(attempts),
            "paid_at": iso(paid_at, mask=~paid),
            "plan": pa.array(np.array(self.plans)[self.plan[idx]]),
            "seats": strings(seats, mask=self.seats_unknown[idx]),
            "mrr": money(mrr),
        }
        self.invoice_counter += m
        self.out.add(BILLING_INVOICES, f, planted, f.rows)
        f.write(cols)

    # -- snapshot tables written after the loop --------------------------------------------------
    def write_companies(self) -> None:
        n, rng = self.n, self.rng(_S_SNAPSHOT)
        n_owners = int(np.clip(round(n / 60), 3, 60))
        owner = rng.integers(0, n_owners, n)
        owner_first = rng.integers(0, len(names.FIRST_NAMES), n_owners)
        owner_last = rng.integers(0, len(names.LAST_NAMES), n_owners)
        owner_email = np.array(
            [
                f"{names.FIRST_NAMES[a].lower()}.{names.LAST_NAMES[b].lower()}{i}@saasco.example"
                for i, (a, b) in enumerate(zip(owner_first, owner_last, strict=True))
            ]
        )
        n_bad = max(1, int(round(0.005 * n)))
        self.bad_domain = np.zeros(n, bool)
        self.bad_domain[rng.choice(n, min(n_bad, n), replace=False)] = True
        crm_domain = self.domain.copy().astype(object)
        bad_idx = np.flatnonzero(self.bad_domain)
        for j, i in enumerate(bad_idx):
            crm_domain[i] = names.BAD_DOMAINS[j % len(names.BAD_DOMAINS)]
        www = rng.random(n) < 0.1
        crm_domain = np.where(www & ~self.bad_domain, "www." + self.domain, crm_domain)
        employees = np.round(np.exp(rng.normal(np.array([3.4, 5.0, 7.2])[self.plan], 0.6))).astype(
            np.int64
        )
        stage = np.where(self.is_new, "onboarding", "customer")
        updated = self.created_sec + (rng.random(n) * (self.sec(0) - self.created_sec)).astype(
            np.int64
        )
        updated = np.maximum(updated, self.created_sec)
        cols = {
            "company_id": self.company_id,
            "name": pa.array(self.company_name),
            "domain": strings(crm_domain.astype(str), mask=crm_domain == ""),
            "industry": pa.array(
                np.array(names.INDUSTRIES)[rng.integers(0, len(names.INDUSTRIES), n)]
            ),
            "region": pa.array(np.array(names.REGIONS)[rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])]),
            "employees": strings(employees),
            "lifecycle_stage": pa.array(stage),
            "owner_id": ids("own_", owner + 1, 3),
            "owner_email": pa.array(owner_email[owner]),
            "created_at": iso(self.created_sec),
            "updated_at": iso(updated),
            "parent_account_id": self._parents(n),
        }
        order = pa.array(np.argsort(self.company_num))
        cols = {c: a.take(order) for c, a in cols.items()}
        good = n - int(self.bad_domain.sum())
        cols, planted = _plant(
            cols, rng, duplicates=min(max(1, round(0.005 * n)), good // 2), key="company_id"
        )
        with self.out.open(CRM_COMPANIES) as f:
            self.out.add(CRM_COMPANIES, f, planted, 0)
            f.write(cols)

    def _parents(self, n: int) -> pa.Array:
        """A few groups (no random draws, so the rest of the sample is unchanged): every
        ``PARENT_EVERY``-th company is a parent of the next 2-4 companies."""
        parent = np.full(n, None, dtype=object)
        for g, i in enumerate(range(0, n, PARENT_EVERY)):
            kids = 2 + g % 3
            if i + kids < n:
                parent[i + 1 : i + 1 + kids] = self.company_id[i].as_py()
        return pa.array(parent, type=pa.string())

    def write_contacts(self) -> None:
        rng = self.rng(_S_SNAPSHOT, 0)
        acct, created = self.c_acct, self.c_created
        first, last, title = self.c_first, self.c_last, self.c_title
        champ, left = self.c_champ, self.c_left
        if self.new_contacts:
            na = np.concatenate([a for a, _ in self.new_contacts])
            nc = np.concatenate([c for _, c in self.new_contacts])
            k = len(na)
            acct = np.concatenate([acct, na])
            created = np.concatenate([created, nc])
            first = np.concatenate([first, rng.integers(0, len(names.FIRST_NAMES), k)])
            last = np.concatenate([last, rng.integers(0, len(names.LAST_NAMES), k)])
            title = np.concatenate([title, rng.integers(0, len(names.CONTACT_TITLES), k)])
            champ = np.concatenate([champ, np.zeros(k, bool)])
            left = np.concatenate([left, np.full(k, -1)])
        m = len(acct)
        has_left = left >= 0
        email = np.array(
            [
                f"{names.FIRST_NAMES[a].lower()}.{names.LAST_NAMES[b].lower()}{i}@{self.domain[c]}"
                for i, (a, b, c) in enumerate(zip(first, last, acct, strict=True))
            ]
        )
        titles = np.where(
            champ,
            np.array(names.CHAMPION_TITLES)[np.minimum(title, len(names.CHAMPION_TITLES) - 1)],
            np.array(names.CONTACT_TITLES)[title],
        )
        updated = np.where(has_left, left, created + rng.integers(0, 30 * DAY, m))
        updated = np.minimum(updated, self.end_sec - 1)
        cols = {
            "contact_id": ids("ct_", np.arange(m) + 1, 7),
            "company_id": self.company_id.take(pa.array(acct)),
            "email": pa.array(email),
            "first_name": pa.array(np.array(names.FIRST_NAMES)[first]),
            "last_name": pa.array(np.array(names.LAST_NAMES)[last]),
            "job_title": pa.array(titles),
            "is_champion": booleans(champ),
            "created_at": iso(created),
            "left_company_at": iso(np.maximum(left, 0), mask=~has_left),
            "updated_at": iso(updated),
        }
        cols, planted = _plant(cols, rng, duplicates=max(1, round(0.003 * m)), key="contact_id")
        with self.out.open(CRM_CONTACTS) as f:
            self.out.add(CRM_CONTACTS, f, planted, 0)
            f.write(cols)

    def write_billing_and_groups(self) -> dict[str, list]:
        n, rng = self.n, self.rng(_S_BILLING)
        unmatched: list[dict] = []
        company_domains = set(self.domain.tolist())

        def orphan_domains(count: int, tag: str) -> list[str]:
            out = []
            for i in range(count):
                a = names.ADJECTIVES[int(rng.integers(0, len(names.ADJECTIVES)))]
                b = names.NOUNS[int(rng.integers(0, len(names.NOUNS)))]
                d = f"{a}-{b}-{tag}{i}.net"  # hyphenated: never a company domain
                assert d not in company_domains
                out.append(d)
            return out

        # Billing customers: explicit CRM id for ~70 %, else the billing e-mail's domain.
        explicit = (rng.random(n) < 0.7) | self.bad_domain
        free = np.zeros(n, bool)
        candidates = np.flatnonzero(~self.bad_domain)
        n_free = min(len(candidates), max(1, int(round(0.005 * n))))
        free[rng.choice(candidates, n_free, replace=False)] = True
        explicit &= ~free
        local = np.array(["billing", "finance", "ap", "accounts"])[rng.integers(0, 4, n)]
        fm = np.array(names.FREE_MAIL)[rng.integers(0, len(names.FREE_MAIL), n)]
        email = np.where(
            free,
            np.char.add(np.char.add("owner", np.arange(n).astype(str)), np.char.add("@", fm)),
            np.char.add(np.char.add(local, "@"), self.domain),
        )
        n_orph = max(2, int(round(0.005 * n)))
        o_dom = orphan_domains(n_orph, "shop")
        cnt = self.overdue_open
        delinquent = cnt > 0
        orph_num = np.arange(n_orph) + n + 1
        cust_cols = {
            "customer_id": pa.concat_arrays([self.customer_id, ids("cus_", orph_num, 6)]),
            "crm_company_id": pa.concat_arrays(
                [
                    pc.if_else(pa.array(explicit), self.company_id, _NULL),
                    pa.nulls(n_orph, pa.string()),
                ]
            ),
            "email": pa.array(np.concatenate([email, [f"billing@{d}" for d in o_dom]])),
            "name": pa.array(
                np.concatenate([self.company_name, [f"Customer {d.split('.')[0]}" for d in o_dom]])
            ),
            "currency": pa.array(np.full(n + n_orph, "usd")),
            "delinquent": booleans(np.concatenate([delinquent, np.zeros(n_orph, bool)])),
            "created_at": iso(
                np.concatenate(
                    [self.start_sec - 3600, self.sec(0) - rng.integers(1, 200, n_orph) * DAY]
                )
            ),
        }
        order = pa.array(
            np.argsort(
                pc.cast(cust_cols["customer_id"], pa.string()).to_numpy(zero_copy_only=False)
            )
        )
        cust_cols = {c: a.take(order) for c, a in cust_cols.items()}
        with self.out.open(BILLING_CUSTOMERS) as f:
            f.write(cust_cols)
        for i in np.flatnonzero(free):
            unmatched.append({"table": "billing_customers", "id": self.customer_id[int(i)].as_py()})
        for i in range(n_orph):
            unmatched.append({"table": "billing_customers", "id": f"cus_{orph_num[i]:06d}"})

        # Subscriptions: current state at the end of the period.
        ended = self.end_t < self.days
        canceled = self.cancel_sec >= 0
        trialing = self.is_new & (self.start_t + TRIAL_DAYS >= self.days)
        status = np.where(
            ended,
            "canceled",
            np.where(
                cnt >= 2,
                "unpaid",
                np.where(cnt == 1, "past_due", np.where(trialing, "trialing", "active")),
            ),
        )
        term_start = np.where(ended, self.renew_t - 365, self.term_start_t)
        term_end = np.where(ended, self.renew_t, self.renew_t)
        sub_cols = {
            "subscription_id": self.subscription_id,
            "customer_id": self.customer_id,
            "plan": pa.array(np.array(self.plans)[self.plan]),
            "status": pa.array(status),
            "seats": strings(self.seats, mask=self.seats_unknown),
            "mrr": money(self.seats * self.price),
            "currency": pa.array(np.full(n, "usd")),
            "started_at": iso(self.start_sec),
            "term_start": iso(self.sec(term_start)),
            "term_end": iso(self.sec(term_end)),
            "canceled_at": iso(np.maximum(self.cancel_sec, 0), mask=~canceled),
            "ended_at": iso(self.sec(np.where(ended, self.end_t, 0)), mask=~ended),
        }
        order = pa.array(
            np.argsort(pc.cast(self.subscription_id, pa.string()).to_numpy(zero_copy_only=False))
        )
        sub_cols = {c: a.take(order) for c, a in sub_cols.items()}
        with self.out.open(BILLING_SUBSCRIPTIONS) as f:
            f.write(sub_cols)

        # Product groups: explicit CRM id for ~60 %, else the workspace's domain; only for
        # accounts with product tracking.
        g_explicit = (rng.random(n) < 0.6) | self.bad_domain
        n_gorph = max(2, int(round(0.005 * n)))
        g_dom = orphan_domains(n_gorph, "team")
        gorph_num = np.arange(n_gorph) + n + 1
        grp_cols = {
            "group_id": pa.concat_arrays([self.group_id, ids("grp_", gorph_num, 6)]),
            "name": pa.array(
                np.concatenate([self.company_name, [f"Workspace {d.split('.')[0]}" for d in g_dom]])
            ),
            "domain": pa.array(np.concatenate([self.domain, g_dom])),
            "crm_company_id": pa.concat_arrays(
                [
                    pc.if_else(pa.array(g_explicit), self.company_id, _NULL),
                    pa.nulls(n_gorph, pa.string()),
                ]
            ),
            "created_at": iso(
                np.concatenate(
                    [self.start_sec + 600, self.sec(0) - rng.integers(1, 200, n_gorph) * DAY]
                )
            ),
        }
        if not self.tracked.all():
            keep = pa.array(np.concatenate([self.tracked, np.ones(n_gorph, bool)]))
            grp_cols = {c: a.filter(keep) for c, a in grp_cols.items()}
        order = pa.array(np.argsort(grp_cols["group_id"].to_numpy(zero_copy_only=False)))
        grp_cols = {c: a.take(order) for c, a in grp_cols.items()}
        with self.out.open(PRODUCT_GROUPS) as f:
            f.write(grp_cols)
        for i in range(n_gorph):
            unmatched.append({"table": "product_groups", "id": f"grp_{gorph_num[i]:06d}"})
        return {"unmatched": unmatched}

    def write_truth(self) -> dict[str, int]:
        ended = self.end_t < self.days
        renewed = ~ended & (self.renewed_t >= 0)
        outcome = np.where(ended, "churned", np.where(renewed, "renewed", "open"))
        when = np.where(ended, self.end_t, np.where(renewed, self.renewed_t, self.renew_t))
        dates = iso(self.sec(when))
        cols = {
            "account_id": self.company_id,
            "outcome": pa.array(outcome),
            "renewal_date": pc.utf8_slice_codeunits(dates, 0, 10),
        }
        order = pa.array(np.argsort(self.company_num))
        cols = {c: a.take(order) for c, a in cols.items()}
        with CsvFile(self.root / "_truth" / "outcomes.csv", list(cols)) as f:
            f.write(cols)
        return {o: int((outcome == o).sum()) for o in ("churned", "renewed", "open")}

    # -- the whole run ---------------------------------------------------------------------------
    def scenario_info(self) -> dict:
        """Extra manifest entries of a scenario (``{"scenario": {"name": ...}}``); none here."""
        return {}

    def run(self) -> dict:
        self.root.mkdir(parents=True, exist_ok=True)
        self.say(f"accounts: {self.n:,} ({self.start_date} .. {self.end_date})")
        self.setup_accounts()
        self.setup_contacts()
        self.setup_marketing()
        events_total = event_ids = 0
        with (
            self.out.open(MARKETING_TOUCHES) as f_touch,
            self.out.open(CRM_ACTIVITIES) as f_act,
            self.out.open(CRM_TICKETS) as f_tk,
            self.out.open(BILLING_INVOICES) as f_inv,
        ):
            for t in range(-PREHISTORY_DAYS, self.days):
                self.step_health(t)
                self.activities_for_day(t, f_act)
                self.tickets_for_day(t, f_tk)
                self.invoices_for_day(t, f_inv)
                self.touches_for_day(t, f_touch)
                if t >= 0:
                    day = self.start_date + timedelta(days=t)
                    rel = PRODUCT_EVENTS.landing_path.format(date=day.isoformat())
                    with self.out.open(PRODUCT_EVENTS, rel) as f_ev:
                        event_ids += self.events_for_day(t, f_ev, event_ids)
                    events_total += f_ev.rows
                    if (t + 1) % 10 == 0 or t == self.days - 1:
                        self.say(f"day {t + 1}/{self.days}: {events_total:,} events")
                elif t == -PREHISTORY_DAYS:
                    history = self.start_date - timedelta(days=PREHISTORY_DAYS)
                    self.say(f"billing and CRM history from {history}")
        self.say("companies, contacts, customers, subscriptions, groups")
        self.write_companies()
        self.write_contacts()
        extra = self.write_billing_and_groups()
        outcomes = self.write_truth()
        counts = {spec.name: _count_rows(self.root / spec.landing_path) for spec in _SNAPSHOTS}
        counts[PRODUCT_EVENTS.name] = events_total
        bad_domains = sorted(
            self.company_id[int(i)].as_py() for i in np.flatnonzero(self.bad_domain)
        )
        planted = sorted(self.out.quarantine, key=lambda q: (q["file"], q["row_number"]))
        manifest = {
            "params": {
                "accounts": self.n,
                "days": self.days,
                "seed": self.seed,
                "end_date": self.end_date.isoformat(),
                "events_per_account_day": self.epad,
            },
            **self.scenario_info(),
            "period": {"start": self.start_date.isoformat(), "end": self.end_date.isoformat()},
            "counts": counts,
            "outcomes": outcomes,
            "planted": {
                "quarantine": planted,
                "unmatched": extra["unmatched"],
                "bad_domains": bad_domains,
            },
        }
        if "scenario" in manifest:
            manifest["params"]["scenario"] = manifest["scenario"]["name"]
        (self.root / "_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        self.say(f"done: {counts[PRODUCT_EVENTS.name]:,} events, {len(planted):,} planted bad rows")
        return manifest


_SNAPSHOTS = SNAPSHOT_TABLES


def _broken_touches(
    cols: dict[str, pa.Array], counter: int, account: pa.Scalar
) -> tuple[dict[str, pa.Array], list[tuple[int, str]]]:
    """Append two touches the contract rejects: an unknown category, and neither an account nor
    a contact. Returns the columns and their ``(0-based row, rule)``."""
    n = len(cols["touch_id"])
    when = cols["occurred_at"][0].as_py()
    extra = {
        "touch_id": [f"seg-bad-{counter:09d}", f"seg-bad-{counter + 1:09d}"],
        "account_id": [account.as_py(), None],
        "contact_id": [None, None],
        "category": ["podcast", "web"],
        "activity_type": ["episode_played", "page_view"],
        "occurred_at": [when, when],
        "value": [None, None],
        "source": ["segment", "segment"],
    }
    out = {c: pa.concat_arrays([a, pa.array(extra[c], pa.string())]) for c, a in cols.items()}
    rules = [(n, "unknown_value:category"), (n + 1, "missing_one_of:account_id,contact_id")]
    return out, rules


def _count_rows(path: Path) -> int:
    """Data rows of a generated CSV (no value contains a newline, so lines - header)."""
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1


def _add_month(d: date) -> date:
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return date(year, month, min(d.day, 28))
