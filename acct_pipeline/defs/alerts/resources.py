"""The alert channels resource, declared once and merged into the code location."""

from __future__ import annotations

import os

import dagster as dg

from acct_pipeline.alerts.config import (
    CHANNELS_ENV,
    LOG_ENV,
    MAX_PER_DAY_ENV,
    WEBHOOK_URL_ENV,
    WINDOW_ENV,
    AlertSettings,
)


class AlertChannelsResource(dg.ConfigurableResource):
    """Where score-drop alerts go. Every field left empty falls back to its environment variable
    (``ACCT_ALERT_CHANNELS``, ``ACCT_ALERT_LOG``, ``ACCT_ALERT_WEBHOOK_URL``,
    ``ACCT_ALERT_WINDOW_DAYS``, ``ACCT_ALERT_MAX_PER_DAY``), read when a run starts. The webhook
    secret and CRM credentials are read from the environment only, so they never appear in run
    configuration or the UI.
    """

    channels: str = ""
    log_path: str = ""
    webhook_url: str = ""
    window_days: int = 0
    max_per_day: int = 0

    def settings(self) -> AlertSettings:
        env = dict(os.environ)
        overrides = {
            CHANNELS_ENV: self.channels,
            LOG_ENV: self.log_path,
            WEBHOOK_URL_ENV: self.webhook_url,
            WINDOW_ENV: str(self.window_days) if self.window_days else "",
            MAX_PER_DAY_ENV: str(self.max_per_day) if self.max_per_day else "",
        }
        env.update({k: v for k, v in overrides.items() if v})
        return AlertSettings.from_env(env)


defs = dg.Definitions(resources={"alert_channels": AlertChannelsResource()})
