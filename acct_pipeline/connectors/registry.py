"""Which source fills which raw table, chosen by configuration.

Three domains, each with its own setting (environment variable or resource config):

- crm (``ACCT_CRM_SOURCE``: files, hubspot, salesforce): crm_companies, crm_contacts,
  crm_activities, crm_tickets
- billing (``ACCT_BILLING_SOURCE``: files, stripe): billing_customers, billing_subscriptions,
  billing_invoices
- product (``ACCT_PRODUCT_SOURCE``: files, mixpanel, amplitude, segment): product_groups,
  product_events

``files`` (the landing folder, ``ACCT_LANDING_DIR``, default ``data/sample``) is the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from acct_pipeline.connectors.base import Source, SourceError
from acct_pipeline.connectors.files import FilesSource

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
}

DOMAIN_ENV = {
    "crm": "ACCT_CRM_SOURCE",
    "billing": "ACCT_BILLING_SOURCE",
    "product": "ACCT_PRODUCT_SOURCE",
}
LANDING_DIR_ENV = "ACCT_LANDING_DIR"
DEFAULT_LANDING_DIR = "data/sample"


def landing_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(LANDING_DIR_ENV) or DEFAULT_LANDING_DIR)


def _files(env: Mapping[str, str]) -> Source:
    return FilesSource(landing_dir(env))


# name -> builder(env). Connectors for external systems register themselves here.
BUILDERS: dict[str, Callable[[Mapping[str, str]], Source]] = {"files": _files}
CHOICES: dict[str, tuple[str, ...]] = {
    "crm": ("files", "hubspot", "salesforce"),
    "billing": ("files", "stripe"),
    "product": ("files", "mixpanel", "amplitude", "segment"),
}


def source_name_for(table: str, env: Mapping[str, str] | None = None) -> str:
    """The configured source name for a raw table (``files`` unless configured otherwise)."""
    env = os.environ if env is None else env
    domain = DOMAIN_OF_TABLE[table]
    name = (env.get(DOMAIN_ENV[domain]) or "files").strip().lower()
    if name not in CHOICES[domain]:
        raise SourceError(
            f"{DOMAIN_ENV[domain]}={name!r} is not a {domain} source; choose one of "
            f"{', '.join(CHOICES[domain])}"
        )
    return name


def source_for(table: str, env: Mapping[str, str] | None = None) -> Source:
    """Build the source configured for ``table``."""
    env = os.environ if env is None else env
    name = source_name_for(table, env)
    if name not in BUILDERS:
        _register_connectors()
    if name not in BUILDERS:
        raise SourceError(f"source {name!r} is not available in this installation")
    return BUILDERS[name](env)


def _register_connectors() -> None:
    """Import the API connectors lazily so the files default never pays for them."""
    from acct_pipeline.connectors import sources  # noqa: F401  (registers into BUILDERS)
