"""Pytest fixtures for the fakes. Import the names you need into a test module or conftest::

    from acct_pipeline_tests.fakes.fixtures import fake_clock, fake_hubspot  # noqa: F401

Each fake fixture yields a started, empty server (call ``load_landing(dir)`` to fill it) and stops
it after the test. ``fake_clock`` is a ``FakeClock`` the fakes share: pass ``fake_clock.sleep``
as the client's ``sleep`` so rate-limit waits pass instantly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import FakeHubSpot
from acct_pipeline_tests.fakes.salesforce import FakeSalesforce


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_hubspot(fake_clock: FakeClock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(clock=fake_clock) as server:
        yield server


@pytest.fixture
def fake_salesforce(fake_clock: FakeClock) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(clock=fake_clock) as server:
        yield server
