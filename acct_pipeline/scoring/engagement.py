"""Account engagement in five categories: web, email, product, sales & support, social.

What practitioners call an account engagement score: weighted activities of the account's
people over a rolling window (30, 60 or 90 days, ``engagement.window_days`` in the model YAML),
per category, compared with the window before. A leaf module (constants and parameters only):
the signal SQL (``sql/signals.sql``, the ``engagement categories`` section) computes, per account
and category ``<c>``:

``<c>_weighted``          weighted activity count in the window (weights per activity type:
                          ``engagement.weights.<category>.<activity_type>``; unlisted types 1,
                          weight 0 = kept but not engagement, e.g. a bounced email)
``<c>_rate``              that count per person at the account per 30 days (contacts at the
                          company; paid seats for product): what makes a 20-person and a
                          2,000-person account comparable
``<c>_engaged_contacts``  distinct people with an engagement in the window (product: users)
``<c>_reach``             those people / the people at the account
``<c>_days_since_last``   days since the last engagement (capped at twice the window)
``<c>_change_pct``        the weighted count vs the previous window (-1 .. +inf; NULL when the
                          previous window had none)

Where the data comes from:

- web, email, social: ``marketing/touches.csv`` (``ingest.marketing_touches``); a touch on a
  contact reaches the account through the contact's company (``crm_contacts``);
- product: active user-days from the daily usage rollups, plus any ``product`` touches;
- sales_support: CRM activities (meetings, calls, email replies) and tickets opened, plus any
  ``sales_support`` touches.

"No data" is not "no engagement": a category's signals are NULL for an account that has never
had a record of that category (no touch of it on or before D; no product workspace linked for
product), so the score leaves the category out and re-weights the others. Sales & support is
the CRM's own record: a zero there is a real zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from acct_pipeline.warehouse import TOUCH_CATEGORIES

CATEGORIES: tuple[str, ...] = TOUCH_CATEGORIES
# The model's score whose components of these names are the category scores.
ENGAGEMENT_SCORE = "engagement"
ALLOWED_WINDOWS: tuple[int, ...] = (30, 60, 90)
DEFAULT_WINDOW_DAYS = 30

# Activity types of the CRM and the product that feed a category besides the touches file.
TICKET_ACTIVITY = "ticket_opened"  # a support ticket opened (sales_support)
PRODUCT_ACTIVITY = "active_user_day"  # one user active on one day (product)

# Points per activity type (Demandbase-style): what one touch is worth in its category.
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "web": {
        "page_view": 1,
        "content_download": 4,
        "form_submission": 5,
        "webinar_registered": 3,
        "webinar_attended": 8,
        "event_attended": 8,
    },
    "email": {"email_open": 1, "email_click": 3, "email_reply": 5, "email_bounce": 0},
    "product": {PRODUCT_ACTIVITY: 1},
    "sales_support": {
        "meeting": 5,
        "call": 3,
        "email_reply": 2,
        "email_sent": 0,
        "nps_response": 1,
        TICKET_ACTIVITY: 1,
    },
    "social": {"social_mention": 2, "social_share": 3, "social_comment": 3},
}

# The suffixes of the per-category signals (``<category>_<suffix>``), with their meaning.
SIGNAL_SUFFIXES: dict[str, str] = {
    "weighted": "weighted {c} activity in the engagement window",
    "rate": "weighted {c} activity per person at the account per 30 days",
    "engaged_contacts": "people with {c} engagement in the window",
    "reach": "share of the account's people with {c} engagement in the window",
    "days_since_last": "days since the last {c} engagement (capped at twice the window)",
    "change_pct": "weighted {c} activity vs the previous window (-1 .. +inf)",
}


def signal_name(category: str, suffix: str) -> str:
    """``email`` + ``change_pct`` -> ``email_change_pct`` (a column of account_signals)."""
    return f"{category}_{suffix}"


def score_column(category: str) -> str:
    """The category's 0-100 score column in ``scores.account_scores`` (``engagement_email``)."""
    return f"engagement_{category}"


SCORE_COLUMNS: tuple[str, ...] = tuple(score_column(c) for c in CATEGORIES)


def label(category: str) -> str:
    """How people call the category in reasons and reports: ``sales & support``."""
    return category.replace("_", " & ") if category == "sales_support" else category


# A category's fall is a reason when its weighted activity fell by at least this share vs the
# previous window, from at least this many points (a fall from 2 touches to none is noise).
REASON_MIN_DROP = 0.5
REASON_MIN_PRIOR_POINTS = 5.0


def weight_rows(
    weights: Mapping[str, Mapping[str, float]],
) -> tuple[list[str], list[str], list[float]]:
    """The weights as three parallel lists (category, activity type, weight) for the SQL."""
    cats, types, values = [], [], []
    for category in CATEGORIES:
        for activity, w in weights.get(category, {}).items():
            cats.append(category)
            types.append(activity)
            values.append(float(w))
    return cats, types, values
