"""Marketing engagement touches: what the API connectors deliver for ``marketing_touches``.

The landing contract (``marketing/touches.csv``, documented in ``docs/landing-format.md`` and
defined by the ``MARKETING_TOUCHES`` table spec) has one row per engagement touch:
``touch_id, account_id, contact_id, category, activity_type, occurred_at, value, source``.
This module is the connectors' half of it: the raw table's name, the categories and activity
types, and the one row builder every marketing connector uses. It is a leaf (it imports nothing
from the package), so the HubSpot and Salesforce connectors can share it.

Which source record becomes which touch (each connector's docstring has the details):

==============================================  ==========  =============================
source record                                   category    activity_type
==============================================  ==========  =============================
HubSpot marketing email event OPEN / CLICK /    ``email``   ``email_open`` / ``email_click``
BOUNCE (``/email/public/v1/events``)                        / ``email_bounce``
HubSpot form submission                         ``web``     ``form_submission``
HubSpot web analytics page view (``/events``)   ``web``     ``page_view``
Salesforce CampaignMember of a Webinar          ``web``     ``webinar_attended`` (responded)
                                                            / ``webinar_registered``
Salesforce CampaignMember of a Conference /     ``web``     ``event_attended`` (responded)
Trade Show / Event / Seminar
Salesforce CampaignMember of an Email campaign  ``email``   by status: ``email_open``,
                                                            ``email_click``, ``email_reply``,
                                                            ``email_bounce``
==============================================  ==========  =============================

Replies to sales e-mails stay in ``crm_activities`` (``email_reply``): HubSpot's marketing
e-mail events have no reply event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The raw table's name: equal to ``acct_pipeline.warehouse.MARKETING_TOUCHES.name``.
TOUCHES_TABLE = "marketing_touches"
TOUCH_COLUMNS = (
    "touch_id",
    "account_id",
    "contact_id",
    "category",
    "activity_type",
    "occurred_at",
    "value",
    "source",
)
CATEGORIES = ("web", "email", "product", "sales_support", "social")

WEB = "web"
EMAIL = "email"

PAGE_VIEW = "page_view"
FORM_SUBMISSION = "form_submission"
WEBINAR_REGISTERED = "webinar_registered"
WEBINAR_ATTENDED = "webinar_attended"
EVENT_ATTENDED = "event_attended"
EMAIL_OPEN = "email_open"
EMAIL_CLICK = "email_click"
EMAIL_REPLY = "email_reply"
EMAIL_BOUNCE = "email_bounce"

# touch_id prefixes: ids stay unique across the sources that fill one table
PREFIX_HUBSPOT_EMAIL = "hs-email-"
PREFIX_HUBSPOT_FORM = "hs-form-"
PREFIX_HUBSPOT_WEB = "hs-web-"
PREFIX_SALESFORCE_CAMPAIGN_MEMBER = "sf-cm-"


def touch(
    touch_id: str,
    *,
    category: str,
    activity_type: str,
    occurred_at: str | None,
    source: str,
    account_id: str | None = None,
    contact_id: str | None = None,
    value: Any = None,
) -> dict[str, Any]:
    """One ``marketing_touches`` row (values as text; the loader casts and checks them)."""
    return {
        "touch_id": touch_id,
        "account_id": account_id,
        "contact_id": contact_id,
        "category": category,
        "activity_type": activity_type,
        "occurred_at": occurred_at,
        "value": value,
        "source": source,
    }


def iso_from_ms(value: Any) -> str | None:
    """Epoch milliseconds (HubSpot's ``created`` / ``submittedAt``) as ISO 8601 UTC with ms;
    a value that is not a number is passed on as it is (the loader quarantines it)."""
    if value is None or value == "":
        return None
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return str(value)
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
