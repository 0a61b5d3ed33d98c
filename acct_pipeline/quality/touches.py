"""Marketing touches with the CRM account each one reaches (``staging.marketing_touches``).

A touch names an account, a contact or both (``marketing/touches.csv``). It reaches the account
it names when that account is in the CRM, else the company of the contact it names. A touch that
reaches no account is kept with the reason (reported, never dropped); the signal SQL resolves
touches the same way (``scoring/sql/signals.sql``, ``touches``).
"""

from __future__ import annotations

import duckdb

from acct_pipeline.warehouse import (
    ACCOUNTS,
    CRM_CONTACTS,
    MARKETING_TOUCHES,
    STAGED_TOUCHES,
    replace_table,
)

REASON_UNKNOWN_ACCOUNT = "unknown_account_id"  # names an account the CRM does not have
REASON_UNKNOWN_CONTACT = "unknown_contact_id"  # names only a contact the CRM does not have
REASON_CONTACT_WITHOUT_ACCOUNT = "contact_without_account"  # the contact's company is unknown
TOUCH_UNMATCHED_REASONS = (
    REASON_UNKNOWN_ACCOUNT,
    REASON_UNKNOWN_CONTACT,
    REASON_CONTACT_WITHOUT_ACCOUNT,
)

STAGED_TOUCHES_SQL = f"""
SELECT t.touch_id,
       coalesce(a.account_id, ca.account_id)                    AS account_id,
       CASE WHEN a.account_id IS NOT NULL THEN 'account_id'
            WHEN ca.account_id IS NOT NULL THEN 'contact_id' END AS matched_by,
       CASE WHEN a.account_id IS NOT NULL OR ca.account_id IS NOT NULL THEN NULL
            WHEN t.contact_id IS NOT NULL AND c.contact_id IS NOT NULL
                THEN '{REASON_CONTACT_WITHOUT_ACCOUNT}'
            WHEN t.account_id IS NOT NULL THEN '{REASON_UNKNOWN_ACCOUNT}'
            ELSE '{REASON_UNKNOWN_CONTACT}' END                 AS unmatched_reason,
       t.account_id AS source_account_id, t.contact_id, t.category, t.activity_type,
       t.occurred_at, t.value, t.source
FROM {MARKETING_TOUCHES.qualified} t
LEFT JOIN {ACCOUNTS} a ON a.account_id = t.account_id
LEFT JOIN {CRM_CONTACTS.qualified} c ON c.contact_id = t.contact_id
LEFT JOIN {ACCOUNTS} ca ON ca.account_id = c.company_id
ORDER BY t.touch_id
"""


def build_staged_touches(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Replace ``staging.marketing_touches``; returns touches, matched and unmatched by reason."""
    total = replace_table(con, STAGED_TOUCHES, STAGED_TOUCHES_SQL)
    by_reason = dict(
        con.execute(
            f"SELECT unmatched_reason, count(*) FROM {STAGED_TOUCHES} "
            "WHERE unmatched_reason IS NOT NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    unmatched = sum(int(v) for v in by_reason.values())
    return {
        "touches": total,
        "matched": total - unmatched,
        "unmatched": unmatched,
        **{f"unmatched_{k}": int(v) for k, v in by_reason.items()},
    }
