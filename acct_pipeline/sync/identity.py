"""Which CRM instance a sync writes to: the key of its rows in the ledger (``ledger.TargetKey``).

- ``outbox``: the outbox folder's absolute path (``ACCT_SYNC_OUTBOX_DIR`` resolved);
- ``salesforce``: the instance URL from the settings (scheme and host lower-cased, no trailing
  ``/``) — an org has one My Domain URL, and reading it costs no request;
- ``hubspot``: the portal id (``portalId`` of ``GET /account-info/v3/details``). It is read once
  per HubSpot base URL and token and cached in ``sync.crm_sync_targets``, so a daily run that has
  nothing to send still makes no request; a new token (rotation) costs one read and, being for the
  same portal, finds the same ledger rows. A server without that endpoint (404) is keyed by its
  base URL, with a warning.

The cache never stores the token. It stores ``HMAC-SHA256(salt, token)`` cut to 32 hex characters,
with a random 16-byte salt per row: a HubSpot private-app token carries a random UUID (122 bits),
so the digest cannot be reversed or brute-forced, and the salt rules out precomputed tables and
stops the same token from being recognisable across warehouses or rows. It is only ever compared
with the digest of the configured token, never logged or reported.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from acct_pipeline.sync.ledger import TargetKey
from acct_pipeline.sync.settings import HUBSPOT_TOKEN_ENV, SyncConfigError, SyncSettings
from acct_pipeline.sync.targets.base import SyncTarget
from acct_pipeline.warehouse import CRM_SYNC_TARGETS, table_exists

TARGETS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CRM_SYNC_TARGETS} (
    target      VARCHAR NOT NULL,   -- hubspot
    base_url    VARCHAR NOT NULL,   -- normalised API base URL
    salt        VARCHAR NOT NULL,   -- random, per row (hex)
    fingerprint VARCHAR NOT NULL,   -- HMAC-SHA256(salt, token), first 32 hex characters
    identity    VARCHAR NOT NULL,   -- the portal id
    resolved_at TIMESTAMP NOT NULL
)
"""


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip().rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _fingerprint(salt: str, token: str) -> str:
    return hmac.new(bytes.fromhex(salt), token.encode(), hashlib.sha256).hexdigest()[:32]


def _cached(con: duckdb.DuckDBPyConnection, target: str, base_url: str, token: str) -> str | None:
    if not table_exists(con, CRM_SYNC_TARGETS):
        return None
    rows = con.execute(
        f"""SELECT salt, fingerprint, identity FROM {CRM_SYNC_TARGETS}
            WHERE target = ? AND base_url = ? ORDER BY resolved_at DESC""",
        [target, base_url],
    ).fetchall()
    for salt, fingerprint, ident in rows:
        if hmac.compare_digest(_fingerprint(salt, token), fingerprint):
            return str(ident)
    return None


def _remember(
    con: duckdb.DuckDBPyConnection, target: str, base_url: str, token: str, ident: str
) -> None:
    con.execute(TARGETS_DDL)
    salt = os.urandom(16).hex()
    con.execute(
        f"INSERT INTO {CRM_SYNC_TARGETS} VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [target, base_url, salt, _fingerprint(salt, token), ident],
    )


def resolve(
    con: duckdb.DuckDBPyConnection,
    settings: SyncSettings,
    get_target: Callable[[], SyncTarget],
    *,
    store: bool = True,
) -> tuple[TargetKey, list[str]]:
    """The ledger key of the configured target, and warnings for the report.

    ``get_target``: builds (or returns) the target, called only when the HubSpot portal id is not
    cached. ``store``: remember a portal id read now (False for dry runs: they write nothing).
    """
    if settings.target == "outbox":
        return TargetKey("outbox", str(Path(settings.outbox_dir).expanduser().resolve())), []
    if settings.target == "salesforce":
        url = settings.salesforce_instance_url or ""
        return TargetKey("salesforce", normalise_url(url)), []
    base_url = normalise_url(settings.hubspot_base_url)
    token = settings.hubspot_token
    if not token:
        raise SyncConfigError(f"sync target hubspot: no access token — set {HUBSPOT_TOKEN_ENV}")
    ident = _cached(con, "hubspot", base_url, token)
    if ident is not None:
        return TargetKey("hubspot", ident), []
    portal = get_target().identity()
    if portal is None:
        return TargetKey("hubspot", base_url), [
            "hubspot: the portal id could not be read (GET /account-info/v3/details): the "
            f"ledger is keyed by the base URL {base_url}"
        ]
    if store:
        _remember(con, "hubspot", base_url, token, portal)
    return TargetKey("hubspot", portal), []
