"""Dagster wiring only: each asset calls one function of the layers below."""
