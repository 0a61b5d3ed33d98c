"""Contract tests (issue #26): the vendors' own SDKs drive the fakes and must parse every answer.

The SDKs are dev-only dependencies (``pyproject.toml`` ``dev`` extras); our clients stay on
``requests``. A test here proves a fake answers what the real API would — shapes the SDK's models
accept, errors the SDK turns into its own exception types.
"""
