"""Deterministic synthetic sample data: a B2B SaaS company written as a landing folder."""

from acct_pipeline.sample.scenarios import SCENARIOS, generate_sample

__all__ = ["SCENARIOS", "generate_sample"]
