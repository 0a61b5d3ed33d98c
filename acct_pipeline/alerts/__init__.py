"""Score-drop alerts, without Dagster: detect drops in SQL, deliver them, remember what was sent.

``detect``   which accounts dropped on a day (``drop_counts`` for the scores asset's metadata,
             ``write_alerts`` for ``alerts.score_drop_alerts``)
``channels`` where alerts go: the JSONL log (default), a signed webhook, CRM tasks
``ledger``   the delivery ledger keyed by (event key, channel): nothing is sent twice
``deliver``  the loop that ties them together
``timing``   the calendar rules: which day a tick runs, the recent window, the freshness deadline
``config``   thresholds from the scoring model file and settings from the environment
"""

from acct_pipeline.alerts.config import AlertSettings, AlertThresholds, load_thresholds
from acct_pipeline.alerts.detect import Alert, count_drops, drop_counts, load_alerts, write_alerts

__all__ = [
    "Alert",
    "AlertSettings",
    "AlertThresholds",
    "count_drops",
    "drop_counts",
    "load_alerts",
    "load_thresholds",
    "write_alerts",
]
