"""Write a landing folder as a Segment / RudderStack warehouse export (``tracks`` + ``groups``).

``write_segment_export(landing_dir, out_dir, fmt="parquet"|"csv")`` writes ``tracks/<day>.<fmt>``
(id, anonymous_id, user_id, event, event_text, timestamp, received_at, properties) — the group id
is **not** on the track, as in Segment — and ``groups/groups.<fmt>`` with one group call per
(user, group) an hour before the user's first event, plus one anonymous call per workspace without
users, carrying the flattened traits ``name``, ``domain``, ``crm_company_id``, ``created_at``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_segment_export(landing: str | Path, out: str | Path, fmt: str = "parquet") -> Path:
    landing, out = Path(landing), Path(out)
    (out / "tracks").mkdir(parents=True, exist_ok=True)
    (out / "groups").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    opts = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
    events = sorted((landing / "events").glob("events_*.csv"))
    for path in events:
        day = path.stem.removeprefix("events_")
        con.execute(
            f"""
            COPY (
                SELECT event_id AS id, 'anon-' || user_id AS anonymous_id, user_id,
                       event_name AS event,
                       replace(lower(event_name), ' ', '_') AS event_text, occurred_at AS timestamp,
                       occurred_at AS received_at, properties
                FROM read_csv('{path.as_posix()}', all_varchar = true, header = true)
            ) TO '{(out / "tracks" / f"{day}.{fmt}").as_posix()}' {opts}
            """
        )
    files = ", ".join(f"'{p.as_posix()}'" for p in events)
    groups_csv = (landing / "product" / "groups.csv").as_posix()
    con.execute(
        f"""
        COPY (
            WITH ev AS (
                SELECT user_id, group_id, min(TRY_CAST(occurred_at AS TIMESTAMPTZ)) AS first_seen
                FROM read_csv([{files}], all_varchar = true, header = true)
                WHERE user_id IS NOT NULL AND group_id IS NOT NULL
                GROUP BY ALL
            ),
            g AS (
                SELECT * FROM read_csv('{groups_csv}', all_varchar = true, header = true)
            ),
            calls AS (
                SELECT ev.user_id, NULL AS anonymous_id, g.group_id,
                       strftime(ev.first_seen - INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS timestamp
                FROM ev JOIN g USING (group_id)
                UNION ALL
                SELECT NULL, 'system', g.group_id, g.created_at
                FROM g WHERE g.group_id NOT IN (SELECT group_id FROM ev)
            )
            SELECT md5(coalesce(user_id, anonymous_id) || group_id) AS id, calls.*,
                   g.name, g.domain, g.crm_company_id, g.created_at
            FROM calls JOIN g USING (group_id)
            ORDER BY group_id, timestamp
        ) TO '{(out / "groups" / f"groups.{fmt}").as_posix()}' {opts}
        """
    )
    con.close()
    return out
