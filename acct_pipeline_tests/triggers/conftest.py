"""Trigger and follow-up fixtures: the fake HubSpot."""

from acct_pipeline_tests.fakes.fixtures import fake_clock, fake_hubspot  # noqa: F401
