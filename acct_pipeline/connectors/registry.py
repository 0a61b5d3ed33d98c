"""Which source fills which raw table, chosen by configuration (the domains: ``catalogue.py``).

``BUILDERS`` is the explicit table of every source: name -> (module, class). A connector's module
is imported only when it is configured, so the ``files`` default never pays for the API clients;
each class builds itself from the environment mapping with ``from_env(env)`` (its variables are
documented in its module and in the README):

- ``hubspot``: ``HUBSPOT_ACCESS_TOKEN``
- ``salesforce``: ``SALESFORCE_INSTANCE_URL``, ``SALESFORCE_ACCESS_TOKEN``
- ``stripe``: ``STRIPE_API_KEY``
- ``mixpanel``: ``MIXPANEL_PROJECT_ID``, ``MIXPANEL_SERVICE_ACCOUNT_USERNAME``,
  ``MIXPANEL_SERVICE_ACCOUNT_SECRET``
- ``amplitude``: ``AMPLITUDE_API_KEY``, ``AMPLITUDE_SECRET_KEY``
- ``segment``: ``SEGMENT_EXPORT_DIR``
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import cast

from acct_pipeline import settings
from acct_pipeline.connectors.base import Source, SourceError
from acct_pipeline.connectors.catalogue import CHOICES, DOMAIN_ENV, DOMAIN_OF_TABLE, landing_dir
from acct_pipeline.connectors.files import FilesSource

BUILDERS: dict[str, tuple[str, str]] = {
    "hubspot": ("acct_pipeline.connectors.hubspot", "HubSpotSource"),
    "salesforce": ("acct_pipeline.connectors.salesforce", "SalesforceSource"),
    "stripe": ("acct_pipeline.connectors.stripe", "StripeSource"),
    "mixpanel": ("acct_pipeline.connectors.mixpanel", "MixpanelSource"),
    "amplitude": ("acct_pipeline.connectors.amplitude", "AmplitudeSource"),
    "segment": ("acct_pipeline.connectors.segment", "SegmentSource"),
}


def source_name_for(table: str, env: Mapping[str, str] | None = None) -> str:
    """The configured source name for a raw table (``files`` unless configured otherwise)."""
    env = settings.environ(env)
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
    env = settings.environ(env)
    name = source_name_for(table, env)
    if name == "files":
        return FilesSource(landing_dir(env))
    if name not in BUILDERS:
        raise SourceError(f"source {name!r} is not available in this installation")
    module, cls = BUILDERS[name]
    return cast(Source, getattr(importlib.import_module(module), cls).from_env(env))
