"""Trigger and follow-up fixtures: the fake HubSpot and the fake Salesforce."""

from acct_pipeline_tests.fakes.fixtures import fake_clock, fake_hubspot, fake_salesforce  # noqa: F401
