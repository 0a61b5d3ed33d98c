"""Deterministic synthetic sample data: a B2B SaaS company written as a landing folder."""

from acct_pipeline.sample.generator import generate_sample

__all__ = ["generate_sample"]
