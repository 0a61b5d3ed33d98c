"""Registers the API and export connectors with the source registry.

``acct_pipeline.connectors.registry`` imports this module the first time a non-``files`` source
is configured (``ACCT_CRM_SOURCE``, ``ACCT_BILLING_SOURCE``, ``ACCT_PRODUCT_SOURCE``), so the
files default never pays for these imports. Each builder reads its configuration from the
environment mapping it is given; the variables are documented in each connector's module.

- ``hubspot`` (``hubspot.py``): ``HUBSPOT_ACCESS_TOKEN``
- ``salesforce`` (``salesforce.py``): ``SALESFORCE_INSTANCE_URL``, ``SALESFORCE_ACCESS_TOKEN``
- ``stripe`` (``stripe.py``): ``STRIPE_API_KEY``
- ``mixpanel`` (``mixpanel.py``): ``MIXPANEL_PROJECT_ID``, ``MIXPANEL_SERVICE_ACCOUNT_USERNAME``,
  ``MIXPANEL_SERVICE_ACCOUNT_SECRET``
- ``amplitude`` (``amplitude.py``): ``AMPLITUDE_API_KEY``, ``AMPLITUDE_SECRET_KEY``
- ``segment`` (``segment.py``): ``SEGMENT_EXPORT_DIR``
"""

from __future__ import annotations

from collections.abc import Mapping

from acct_pipeline.connectors import registry
from acct_pipeline.connectors.base import Source


def _hubspot(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.hubspot import HubSpotSource

    return HubSpotSource.from_env(env)


def _salesforce(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.salesforce import SalesforceSource

    return SalesforceSource.from_env(env)


def _stripe(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.stripe import StripeSource

    return StripeSource.from_env(env)


def _mixpanel(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.mixpanel import MixpanelSource

    return MixpanelSource.from_env(env)


def _amplitude(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.amplitude import AmplitudeSource

    return AmplitudeSource.from_env(env)


def _segment(env: Mapping[str, str]) -> Source:
    from acct_pipeline.connectors.segment import SegmentSource

    return SegmentSource.from_env(env)


BUILDERS = {
    "hubspot": _hubspot,
    "salesforce": _salesforce,
    "stripe": _stripe,
    "mixpanel": _mixpanel,
    "amplitude": _amplitude,
    "segment": _segment,
}
registry.BUILDERS.update(BUILDERS)
