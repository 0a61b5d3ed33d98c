"""Score-drop alerts and the scores freshness check (wiring; the logic is in acct_pipeline.alerts)."""
