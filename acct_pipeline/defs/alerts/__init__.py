"""Score-drop alerts and the scores freshness check (wiring; logic in acct_pipeline.alerts)."""
