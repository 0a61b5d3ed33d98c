"""Source selection: every connector is registered and configured from the environment."""

from __future__ import annotations

import pytest

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.registry import source_for

ENV = {
    "hubspot": {"ACCT_CRM_SOURCE": "hubspot", "HUBSPOT_ACCESS_TOKEN": "pat-na1-x"},
    "salesforce": {
        "ACCT_CRM_SOURCE": "salesforce",
        "SALESFORCE_ACCESS_TOKEN": "00D!x",
        "SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
    },
    "stripe": {"ACCT_BILLING_SOURCE": "stripe", "STRIPE_API_KEY": "rk_test_x"},
    "mixpanel": {
        "ACCT_PRODUCT_SOURCE": "mixpanel",
        "MIXPANEL_PROJECT_ID": "1",
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME": "u",
        "MIXPANEL_SERVICE_ACCOUNT_SECRET": "s",
    },
    "amplitude": {
        "ACCT_PRODUCT_SOURCE": "amplitude",
        "AMPLITUDE_API_KEY": "k",
        "AMPLITUDE_SECRET_KEY": "s",
    },
    "segment": {"ACCT_PRODUCT_SOURCE": "segment", "SEGMENT_EXPORT_DIR": "/tmp/segment"},
}
TABLE = {
    "hubspot": "crm_companies",
    "salesforce": "crm_companies",
    "stripe": "billing_customers",
    "mixpanel": "product_events",
    "amplitude": "product_events",
    "segment": "product_events",
}
REQUIRED = {
    "hubspot": "HUBSPOT_ACCESS_TOKEN",
    "salesforce": "SALESFORCE_ACCESS_TOKEN",
    "stripe": "STRIPE_API_KEY",
    "mixpanel": "MIXPANEL_SERVICE_ACCOUNT_USERNAME",
    "amplitude": "AMPLITUDE_API_KEY",
    "segment": "SEGMENT_EXPORT_DIR",
}


@pytest.mark.parametrize("name", sorted(ENV))
def test_each_source_is_built_from_its_variables(name: str) -> None:
    source = source_for(TABLE[name], ENV[name])
    assert source.name == name
    assert TABLE[name] in source.tables()


@pytest.mark.parametrize("name", sorted(ENV))
def test_a_missing_variable_is_named(name: str) -> None:
    env = {k: v for k, v in ENV[name].items() if k != REQUIRED[name]}
    with pytest.raises(SourceError, match=REQUIRED[name]):
        source_for(TABLE[name], env)


def test_hubspot_base_path_is_checked() -> None:
    env = {**ENV["hubspot"], "HUBSPOT_BASE_PATH": "/v3/companies"}
    with pytest.raises(SourceError, match="HUBSPOT_BASE_PATH"):
        source_for("crm_companies", env)
