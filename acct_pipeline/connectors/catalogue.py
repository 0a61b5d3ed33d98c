"""Which raw table belongs to which source domain, and where the landing files are (a leaf module).

Four domains, each with its own setting (environment variable or resource config):

- crm (``ACCT_CRM_SOURCE``: files, hubspot, salesforce): crm_companies, crm_contacts,
  crm_activities, crm_tickets
- billing (``ACCT_BILLING_SOURCE``: files, stripe): billing_customers, billing_subscriptions,
  billing_invoices
- product (``ACCT_PRODUCT_SOURCE``: files, mixpanel, amplitude, segment): product_groups,
  product_events
- marketing (``ACCT_MARKETING_SOURCE``: files, hubspot, salesforce): marketing_touches (the
  landing file is optional: without one there is simply no marketing data)

``files`` (the landing folder, ``ACCT_LANDING_DIR``, default ``data/sample``) is the default.
Connectors and the registry both import this module; it imports no connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from acct_pipeline import settings

DOMAIN_OF_TABLE: dict[str, str] = {
    "crm_companies": "crm",
    "crm_contacts": "crm",
    "crm_activities": "crm",
    "crm_tickets": "crm",
    "billing_customers": "billing",
    "billing_subscriptions": "billing",
    "billing_invoices": "billing",
    "product_groups": "product",
    "product_events": "product",
    "marketing_touches": "marketing",
}

DOMAIN_ENV = {
    "crm": "ACCT_CRM_SOURCE",
    "billing": "ACCT_BILLING_SOURCE",
    "product": "ACCT_PRODUCT_SOURCE",
    "marketing": "ACCT_MARKETING_SOURCE",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "crm": ("files", "hubspot", "salesforce"),
    "billing": ("files", "stripe"),
    "product": ("files", "mixpanel", "amplitude", "segment"),
    "marketing": ("files", "hubspot", "salesforce"),
}
LANDING_DIR_ENV = "ACCT_LANDING_DIR"
DEFAULT_LANDING_DIR = "data/sample"


def landing_dir(env: Mapping[str, str] | None = None) -> Path:
    """The landing folder of the ``files`` source (``ACCT_LANDING_DIR``, default data/sample)."""
    return Path(settings.environ(env).get(LANDING_DIR_ENV) or DEFAULT_LANDING_DIR)
