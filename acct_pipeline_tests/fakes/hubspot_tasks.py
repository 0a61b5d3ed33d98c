"""Tasks in the fake HubSpot as an owner leaves them: open, or completed at a given time (the
properties time-to-action reads back: ``hs_task_status``, ``hs_timestamp``,
``hs_task_completion_date``)."""

from __future__ import annotations

from datetime import datetime

from acct_pipeline_tests.fakes.hubspot import FakeHubSpot


def plant_task(
    fake: FakeHubSpot, task_id: str, due: datetime, completed_at: datetime | None = None
) -> None:
    """A task with id ``task_id``, completed at ``completed_at`` (open when None)."""
    props = {
        "hs_task_subject": "health alert",
        "hs_timestamp": due.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "hs_task_status": "COMPLETED" if completed_at else "NOT_STARTED",
    }
    if completed_at is not None:
        props["hs_task_completion_date"] = completed_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.add_record("tasks", task_id, props)
