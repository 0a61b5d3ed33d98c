-- features.account_signals for one as-of day D: one row per CRM account that existed on D.
--
-- Point-in-time: every source row is filtered to timestamps before the end of D ($as_of + 1 day),
-- and snapshot rows are read "as they were" on D where the source keeps the history (ticket
-- open/closed, subscription active/ended, invoice paid or not, contact left or not).
-- Windows first: product usage is read only from the daily rollups of the last 35 days
-- (``acct_pipeline.scoring.usage``, refreshed before this runs), CRM activities only from the decay window, so a day costs the same with a year of
-- history as with a month.
-- NULL means "we cannot know" (no product workspace / billing customer linked, no CSAT ever);
-- 0 means "we know it is none".
--
-- Written once, in DuckDB's dialect; the Spark engine runs it transpiled by SQLGlot
-- (acct_pipeline/engine/sql.py), so it keeps to constructs both engines have.
-- Parameters: $as_of DATE, $key_features VARCHAR[] (empty = every event name counts),
-- $activity_types VARCHAR[], $activity_weights DOUBLE[], $half_life_days DOUBLE (NULL = no decay),
-- $lookback_days INTEGER (CRM activity / ticket window), $touch_types VARCHAR[];
-- engagement categories: $engagement_window_days INTEGER, $engagement_first_day DATE,
-- $engagement_categories / $engagement_types VARCHAR[], $engagement_weights DOUBLE[],
-- $ticket_activity / $product_activity VARCHAR.
WITH
params AS (
    SELECT CAST($as_of AS DATE) AS d,
           CAST(CAST($as_of AS DATE) + INTERVAL 1 DAY AS TIMESTAMP) AS d_end
),
accounts AS (
    SELECT a.account_id, a.lifecycle_stage, a.employees, a.created_at
    FROM staging.accounts a, params p
    WHERE a.created_at < p.d_end
),
product_links AS (
    SELECT DISTINCT source_id AS group_id, account_id
    FROM staging.identity_map WHERE source_system = 'product'
),
billing_links AS (
    SELECT DISTINCT source_id AS customer_id, account_id
    FROM staging.identity_map WHERE source_system = 'billing'
),

-- ---------------------------------------------------------------- usage (product events)
-- Read from the daily rollups (acct_pipeline/scoring/usage.py: one row per day, workspace and
-- user, and per day, workspace and event name), not from the raw events: the same numbers for a
-- fraction of the rows. One row per workspace and user with a 35-bit mask of the days they were
-- active (bit k = k days before D): grouping users, not user-days, keeps the hash table small.
-- Workspaces, users and event names are their 64-bit hash (as the rollups store them).
user_masks AS (
    SELECT u.gh, u.uh,
           bit_or(CAST(1 AS BIGINT) << CAST(date_diff('day', u.event_date, CAST($as_of AS DATE)) AS INTEGER)) AS days,
           sum(u.events) FILTER (WHERE u.event_date > CAST($as_of AS DATE) - 30) AS events_30d
    FROM features.product_usage_daily u
    -- bounds from the parameter, not from a join, so the scan skips other days' row groups
    WHERE u.event_date BETWEEN CAST($as_of AS DATE) - 34 AND CAST($as_of AS DATE)
      AND u.visible_from <= CAST($as_of AS DATE)
    GROUP BY ALL
),
product_link_hashes AS (SELECT DISTINCT hash(group_id) AS gh, account_id FROM product_links),
per_user AS (   -- a user of several workspaces of one account counts once
    SELECT l.account_id, m.uh, bit_or(m.days) AS days, sum(m.events_30d) AS events_30d
    FROM user_masks m
    JOIN product_link_hashes l USING (gh)
    GROUP BY ALL
),
usage AS (
    SELECT account_id,
           count(*) FILTER (WHERE days & 127 <> 0)                      AS active_users_7d,
           count(*) FILTER (WHERE days & 1073741823 <> 0)               AS active_users_30d,
           bit_count(bit_or(days) & 1073741823)                          AS active_days_30d,
           sum(events_30d)                                               AS events_30d,
           sum(bit_count(days & 127))                                    AS user_days_7d,
           sum(bit_count(days >> 7))                                     AS user_days_prior_28d
    FROM per_user
    GROUP BY account_id
),
features AS (
    SELECT l.account_id, count(DISTINCT f.nh) AS key_features_used_30d
    FROM (
        SELECT DISTINCT d.gh, d.nh
        FROM features.product_features_daily d
        WHERE d.event_date BETWEEN CAST($as_of AS DATE) - 29 AND CAST($as_of AS DATE)
          AND d.visible_from <= CAST($as_of AS DATE)
          AND (array_length(CAST($key_features AS VARCHAR[])) = 0
               OR d.nh IN (SELECT hash(kf.k)
                           FROM (SELECT unnest(CAST($key_features AS VARCHAR[])) AS k) kf))
    ) f
    JOIN product_link_hashes l USING (gh)
    GROUP BY l.account_id
),
product_accounts AS (SELECT DISTINCT account_id FROM product_links),

-- ---------------------------------------------------------------- billing
subs AS (
    SELECT b.account_id, s.*,
           -- the renewal date as it stood on D: if the current term began after D, the term
           -- running on D ended when this one started
           CASE WHEN s.term_start IS NOT NULL AND s.term_start >= p.d_end THEN s.term_start
                ELSE s.term_end END AS term_end_on_d
    FROM ingest.billing_subscriptions s
    JOIN billing_links b ON b.customer_id = s.customer_id, params p
),
invoices AS NOT MATERIALIZED (
    SELECT b.account_id, i.*, coalesce(i.period_start, i.created_at) AS period_on
    FROM ingest.billing_invoices i
    JOIN billing_links b ON b.customer_id = i.customer_id, params p
    WHERE i.created_at < p.d_end AND coalesce(i.status, 'open') NOT IN ('void', 'draft')
),
-- subscriptions live on D and on D - 90, each with its latest invoice on or before that day
-- (the invoice history is the point-in-time record of plan, seats and MRR)
sub_state AS (
    SELECT s.account_id, s.subscription_id, k.k,
           coalesce(arg_max(i.mrr, i.period_on), any_value(s.mrr))     AS mrr,
           coalesce(arg_max(i.seats, i.period_on), any_value(s.seats)) AS seats,
           coalesce(arg_max(i.plan, i.period_on), any_value(s.plan))   AS plan,
           any_value(s.term_end_on_d) AS term_end_on_d,
           bool_or(s.canceled_at IS NOT NULL AND s.canceled_at < p.d_end) AS notice_given
    FROM subs s
    CROSS JOIN (VALUES (0), (90)) k(k)
    CROSS JOIN params p
    LEFT JOIN invoices i
           ON i.subscription_id = s.subscription_id
          AND i.period_on < p.d_end - to_days(k.k)
    WHERE s.started_at < p.d_end - to_days(k.k)
      AND (s.ended_at IS NULL OR s.ended_at >= p.d_end - to_days(k.k))
    GROUP BY s.account_id, s.subscription_id, k.k
),
-- the subscription history as it stood on D: has the account ever been a customer, and when
-- did its last subscription end (a churned account: subscriptions started, none live on D)
sub_history AS (
    SELECT s.account_id,
           count(*) FILTER (WHERE s.started_at < p.d_end)                 AS started,
           min(CAST(s.started_at AS DATE)) FILTER (WHERE s.started_at < p.d_end) AS customer_since,
           max(CAST(s.ended_at AS DATE)) FILTER (WHERE s.ended_at < p.d_end) AS last_ended_on
    FROM subs s, params p
    GROUP BY s.account_id
),
billing AS (
    SELECT b.account_id,
           coalesce(sum(st.mrr) FILTER (WHERE st.k = 0), 0)          AS mrr,
           sum(st.mrr) FILTER (WHERE st.k = 90)                        AS mrr_90d_ago,
           sum(st.seats) FILTER (WHERE st.k = 0)                       AS seats,
           sum(st.seats) FILTER (WHERE st.k = 90)                      AS seats_90d_ago,
           arg_max(st.plan, st.mrr) FILTER (WHERE st.k = 0)            AS plan,
           count(*) FILTER (WHERE st.k = 0) > 0                        AS has_active_subscription,
           min(st.term_end_on_d) FILTER (WHERE st.k = 0)               AS renewal_at,
           coalesce(bool_or(st.notice_given) FILTER (WHERE st.k = 0), false) AS cancellation_notice
    FROM (SELECT DISTINCT account_id FROM billing_links) b
    LEFT JOIN sub_state st USING (account_id)
    GROUP BY b.account_id
),
payments AS (
    SELECT i.account_id,
           count(*) FILTER (WHERE i.created_at >= p.d_end - INTERVAL 30 DAY
                              AND coalesce(i.attempt_count, 1) > 1)     AS failed_payments_30d,
           count(*) FILTER (WHERE i.due_date < p.d
                              AND (i.paid_at IS NULL OR i.paid_at >= p.d_end)
                              AND coalesce(i.amount_due, 0) > 0)        AS overdue_invoices,
           sum(i.amount_due - coalesce(CASE WHEN i.paid_at < p.d_end THEN i.amount_paid END, 0))
               FILTER (WHERE i.due_date < p.d
                         AND (i.paid_at IS NULL OR i.paid_at >= p.d_end)
                         AND coalesce(i.amount_due, 0) > 0)             AS overdue_amount,
           max(date_diff('day', CAST(i.due_date AS DATE), p.d))
               FILTER (WHERE i.due_date < p.d
                         AND (i.paid_at IS NULL OR i.paid_at >= p.d_end)
                         AND coalesce(i.amount_due, 0) > 0)             AS max_days_overdue
    FROM invoices i, params p
    GROUP BY i.account_id
),

-- ---------------------------------------------------------------- CRM engagement
activities AS NOT MATERIALIZED (
    SELECT a.company_id AS account_id, a.contact_id, a.activity_type, a.occurred_at, a.value,
           date_diff('day', CAST(a.occurred_at AS DATE), p.d) AS age_days
    FROM ingest.crm_activities a, params p
    WHERE a.occurred_at < p.d_end
      AND a.occurred_at >= p.d_end - to_days(CAST($lookback_days AS INTEGER))
),
-- the model's weight per activity type and the decay factor per age in days: small tables
-- joined to the activities, so no row computes a list lookup or a power
activity_weights AS (
    SELECT list_extract(CAST($activity_types AS VARCHAR[]), ix.i) AS activity_type,
           list_extract(CAST($activity_weights AS DOUBLE[]), ix.i) AS weight
    FROM (SELECT unnest(range(1, array_length(CAST($activity_types AS VARCHAR[])) + 1)) AS i) ix
),
decay AS (
    SELECT CAST(age AS BIGINT) AS age_days,
           CASE WHEN $half_life_days IS NULL THEN 1.0
                ELSE pow(0.5, age / CAST($half_life_days AS DOUBLE)) END AS factor
    FROM (SELECT unnest(range(0, CAST($lookback_days AS INTEGER) + 2)) AS age) r
),
engagement AS (
    SELECT a.account_id,
           count(*) FILTER (WHERE a.activity_type = 'email_reply' AND a.age_days < 30) AS emails_replied_30d,
           count(*) FILTER (WHERE a.activity_type = 'meeting' AND a.age_days < 30)     AS meetings_30d,
           count(*) FILTER (WHERE a.activity_type = 'call' AND a.age_days < 30)        AS calls_30d,
           min(a.age_days) FILTER (WHERE list_contains($touch_types, a.activity_type)) AS days_since_last_touch,
           sum(coalesce(w.weight, 0) * coalesce(dc.factor, 1.0))                        AS engagement_decayed
    FROM activities a
    LEFT JOIN activity_weights w USING (activity_type)
    LEFT JOIN decay dc USING (age_days)
    GROUP BY a.account_id
),
engaged_contacts AS (
    SELECT account_id, count(DISTINCT contact_id) AS engaged_contacts_30d
    FROM activities
    WHERE age_days < 30 AND list_contains($touch_types, activity_type)
    GROUP BY account_id
),
nps AS (
    SELECT account_id, arg_max(value, occurred_at) AS nps_latest
    FROM activities
    WHERE activity_type = 'nps_response' AND value IS NOT NULL
    GROUP BY account_id
),

-- ---------------------------------------------------------------- support
tickets AS (
    SELECT t.*, t.company_id AS account_id
    FROM ingest.crm_tickets t, params p
    WHERE t.created_at < p.d_end
      AND (t.closed_at IS NULL OR t.closed_at >= p.d_end - to_days(CAST($lookback_days AS INTEGER)))
),
support AS (
    SELECT t.account_id,
           count(*) FILTER (WHERE t.closed_at IS NULL OR t.closed_at >= p.d_end) AS open_tickets,
           count(*) FILTER (WHERE (t.closed_at IS NULL OR t.closed_at >= p.d_end)
                              AND t.severity IN ('high', 'urgent'))             AS open_high_severity_tickets,
           count(*) FILTER (WHERE t.created_at >= p.d_end - INTERVAL 30 DAY)   AS tickets_30d,
           count(*) FILTER (WHERE coalesce(t.escalated, false)
                              AND t.created_at >= p.d_end - INTERVAL 90 DAY)   AS escalations_90d,
           median((epoch(t.closed_at) - epoch(t.created_at)) / 3600.0) FILTER (
               WHERE t.closed_at < p.d_end
                 AND t.closed_at >= p.d_end - INTERVAL 90 DAY)                 AS median_resolution_hours_90d,
           arg_max(t.csat_score, t.closed_at) FILTER (
               WHERE t.closed_at < p.d_end AND t.csat_score IS NOT NULL)       AS csat_latest
    FROM tickets t, params p
    GROUP BY t.account_id
),

-- ---------------------------------------------------------------- relationship
relationship AS (
    SELECT c.company_id AS account_id,
           count(*) FILTER (WHERE c.left_company_at IS NULL OR c.left_company_at >= p.d_end) AS contacts,
           count(*) FILTER (WHERE coalesce(c.is_champion, false)
                              AND (c.left_company_at IS NULL OR c.left_company_at >= p.d_end)) AS champions,
           bool_or(coalesce(c.is_champion, false)
                   AND c.left_company_at < p.d_end
                   AND c.left_company_at >= p.d_end - INTERVAL 90 DAY)                        AS champion_left_90d,
           count(*) FILTER (WHERE c.created_at >= p.d_end - INTERVAL 90 DAY)                  AS new_contacts_90d
    FROM ingest.crm_contacts c, params p
    WHERE c.created_at < p.d_end AND c.company_id IS NOT NULL
    GROUP BY c.company_id
),

-- ---------------------------------------------------------------- engagement categories
-- acct_pipeline/scoring/engagement.py: weighted activity per category (web, email, product,
-- sales_support, social) over the window W ($engagement_window_days) ending on D and the window
-- before it ($engagement_first_day is D - (2W - 1)). A category the account has no record of on
-- or before D stays NULL (not zero): the score leaves it out.
eng_params AS (
    SELECT CAST($engagement_window_days AS INTEGER) AS w,
           CAST(CAST($engagement_first_day AS DATE) AS TIMESTAMP) AS first_ts
),
eng_weights AS (
    SELECT list_extract(CAST($engagement_categories AS VARCHAR[]), ix.i) AS category,
           list_extract(CAST($engagement_types AS VARCHAR[]), ix.i)      AS activity_type,
           list_extract(CAST($engagement_weights AS DOUBLE[]), ix.i)     AS weight
    FROM (SELECT unnest(range(1, array_length(CAST($engagement_types AS VARCHAR[])) + 1)) AS i) ix
),
-- a touch reaches the account it names, else the company of the contact it names. The touches
-- are many (every e-mail event): the window's bounds are constants, so the scan reads only the
-- window's rows before any join
touches AS (
    SELECT coalesce(ta.account_id, c.company_id) AS account_id,
           t.contact_id, t.category, t.activity_type,
           date_diff('day', CAST(t.occurred_at AS DATE), CAST($as_of AS DATE)) AS age_days
    FROM ingest.marketing_touches t
    LEFT JOIN accounts ta ON ta.account_id = t.account_id
    LEFT JOIN ingest.crm_contacts c ON c.contact_id = t.contact_id
    WHERE t.occurred_at >= CAST(CAST($engagement_first_day AS DATE) AS TIMESTAMP)
      AND t.occurred_at < CAST(CAST($as_of AS DATE) + INTERVAL 1 DAY AS TIMESTAMP)
),
eng_events AS (
    SELECT t.account_id, t.category, t.activity_type, t.contact_id AS person, t.age_days
    FROM touches t
    UNION ALL
    SELECT a.company_id, 'sales_support', a.activity_type, a.contact_id,
           date_diff('day', CAST(a.occurred_at AS DATE), p.d)
    FROM ingest.crm_activities a, params p, eng_params e
    WHERE a.occurred_at < p.d_end AND a.occurred_at >= e.first_ts
    UNION ALL
    SELECT t.company_id, 'sales_support', CAST($ticket_activity AS VARCHAR), CAST(NULL AS VARCHAR),
           date_diff('day', CAST(t.created_at AS DATE), p.d)
    FROM ingest.crm_tickets t, params p, eng_params e
    WHERE t.created_at < p.d_end AND t.created_at >= e.first_ts
    UNION ALL
    SELECT l.account_id, 'product', CAST($product_activity AS VARCHAR), CAST(u.uh AS VARCHAR),
           date_diff('day', u.event_date, CAST($as_of AS DATE))
    FROM features.product_usage_daily u
    JOIN product_link_hashes l USING (gh)
    WHERE u.event_date BETWEEN CAST($engagement_first_day AS DATE) AND CAST($as_of AS DATE)
      AND u.visible_from <= CAST($as_of AS DATE)
),
-- unlisted activity types count 1; weight 0 keeps a record (a bounced email) out of engagement
eng_agg AS (
    SELECT s.account_id, s.category,
           sum(CASE WHEN s.age_days < e.w THEN s.weight ELSE 0 END)        AS weighted,
           sum(CASE WHEN s.age_days >= e.w THEN s.weight ELSE 0 END)       AS weighted_prior,
           count(DISTINCT CASE WHEN s.age_days < e.w THEN s.person END)    AS engaged,
           min(s.age_days)                                                 AS days_since_last
    FROM (
        SELECT ev.account_id, ev.category, ev.person, ev.age_days,
               coalesce(w.weight, 1.0) AS weight
        FROM eng_events ev
        LEFT JOIN eng_weights w
               ON w.category = ev.category AND w.activity_type = ev.activity_type
    ) s, eng_params e
    WHERE s.weight > 0 AND s.account_id IS NOT NULL
    GROUP BY s.account_id, s.category
),
-- the categories each account has a record of on or before D: touches ever, a linked product
-- workspace, and the CRM's own activities for sales & support (a zero there is a real zero)
eng_known AS (
    -- touches ever: each (account, contact, category) once before resolving the contact
    SELECT DISTINCT coalesce(ta.account_id, c.company_id) AS account_id, k.category
    FROM (SELECT DISTINCT t.account_id, t.contact_id, t.category
          FROM ingest.marketing_touches t
          WHERE t.occurred_at < CAST(CAST($as_of AS DATE) + INTERVAL 1 DAY AS TIMESTAMP)) k
    LEFT JOIN accounts ta ON ta.account_id = k.account_id
    LEFT JOIN ingest.crm_contacts c ON c.contact_id = k.contact_id
    WHERE coalesce(ta.account_id, c.company_id) IS NOT NULL
    UNION
    SELECT account_id, 'product' FROM product_accounts
    UNION
    SELECT account_id, 'sales_support' FROM accounts
),
eng_long AS (
    SELECT k.account_id, k.category,
           coalesce(g.weighted, 0)                                          AS weighted,
           -- per person at the account per 30 days: contacts; paid seats (else users) for product
           coalesce(g.weighted, 0) * 30.0 / e.w / greatest(coalesce(
               CASE WHEN k.category = 'product' THEN coalesce(b.seats, u.active_users_30d)
                    ELSE r.contacts END, 0), 1)                             AS rate,
           coalesce(g.engaged, 0)                                           AS engaged_contacts,
           least(1.0, coalesce(g.engaged, 0) / CAST(greatest(coalesce(
               CASE WHEN k.category = 'product' THEN coalesce(b.seats, u.active_users_30d)
                    ELSE r.contacts END, 0), 1) AS DOUBLE))                 AS reach,
           coalesce(g.days_since_last, 2 * e.w)                             AS days_since_last,
           CASE WHEN g.weighted_prior > 0 THEN g.weighted / g.weighted_prior - 1 END AS change_pct
    FROM eng_known k
    CROSS JOIN eng_params e
    LEFT JOIN eng_agg g ON g.account_id = k.account_id AND g.category = k.category
    LEFT JOIN billing b ON b.account_id = k.account_id
    LEFT JOIN usage u ON u.account_id = k.account_id
    LEFT JOIN relationship r ON r.account_id = k.account_id
),
eng_wide AS (
    SELECT account_id,
           max(CASE WHEN category = 'web' THEN weighted END) AS web_weighted,
           max(CASE WHEN category = 'web' THEN rate END) AS web_rate,
           max(CASE WHEN category = 'web' THEN engaged_contacts END) AS web_engaged_contacts,
           max(CASE WHEN category = 'web' THEN reach END) AS web_reach,
           max(CASE WHEN category = 'web' THEN days_since_last END) AS web_days_since_last,
           max(CASE WHEN category = 'web' THEN change_pct END) AS web_change_pct,
           max(CASE WHEN category = 'email' THEN weighted END) AS email_weighted,
           max(CASE WHEN category = 'email' THEN rate END) AS email_rate,
           max(CASE WHEN category = 'email' THEN engaged_contacts END) AS email_engaged_contacts,
           max(CASE WHEN category = 'email' THEN reach END) AS email_reach,
           max(CASE WHEN category = 'email' THEN days_since_last END) AS email_days_since_last,
           max(CASE WHEN category = 'email' THEN change_pct END) AS email_change_pct,
           max(CASE WHEN category = 'product' THEN weighted END) AS product_weighted,
           max(CASE WHEN category = 'product' THEN rate END) AS product_rate,
           max(CASE WHEN category = 'product' THEN engaged_contacts END) AS product_engaged_contacts,
           max(CASE WHEN category = 'product' THEN reach END) AS product_reach,
           max(CASE WHEN category = 'product' THEN days_since_last END) AS product_days_since_last,
           max(CASE WHEN category = 'product' THEN change_pct END) AS product_change_pct,
           max(CASE WHEN category = 'sales_support' THEN weighted END) AS sales_support_weighted,
           max(CASE WHEN category = 'sales_support' THEN rate END) AS sales_support_rate,
           max(CASE WHEN category = 'sales_support' THEN engaged_contacts END) AS sales_support_engaged_contacts,
           max(CASE WHEN category = 'sales_support' THEN reach END) AS sales_support_reach,
           max(CASE WHEN category = 'sales_support' THEN days_since_last END) AS sales_support_days_since_last,
           max(CASE WHEN category = 'sales_support' THEN change_pct END) AS sales_support_change_pct,
           max(CASE WHEN category = 'social' THEN weighted END) AS social_weighted,
           max(CASE WHEN category = 'social' THEN rate END) AS social_rate,
           max(CASE WHEN category = 'social' THEN engaged_contacts END) AS social_engaged_contacts,
           max(CASE WHEN category = 'social' THEN reach END) AS social_reach,
           max(CASE WHEN category = 'social' THEN days_since_last END) AS social_days_since_last,
           max(CASE WHEN category = 'social' THEN change_pct END) AS social_change_pct
    FROM eng_long
    GROUP BY account_id
)

SELECT
    a.account_id,
    p.d                                                        AS as_of_date,
    -- firmographics
    b.plan                                                     AS plan,
    a.lifecycle_stage                                          AS lifecycle_stage,
    CAST(a.employees AS DOUBLE)                                AS employees,
    CAST(date_diff('day', CAST(a.created_at AS DATE), p.d) AS DOUBLE) AS account_age_days,
    CAST(date_diff('day', sh.customer_since, p.d) AS DOUBLE)   AS customer_age_days,
    -- usage
    CAST(CASE WHEN pa.account_id IS NOT NULL THEN coalesce(u.active_users_7d, 0) END AS DOUBLE)  AS active_users_7d,
    CAST(CASE WHEN pa.account_id IS NOT NULL THEN coalesce(u.active_users_30d, 0) END AS DOUBLE) AS active_users_30d,
    CAST(CASE WHEN pa.account_id IS NOT NULL THEN coalesce(u.active_days_30d, 0) END AS DOUBLE)  AS active_days_30d,
    CAST(CASE WHEN pa.account_id IS NOT NULL THEN coalesce(u.events_30d, 0) END AS DOUBLE)       AS events_30d,
    CAST(CASE WHEN pa.account_id IS NOT NULL THEN coalesce(f.key_features_used_30d, 0) END AS DOUBLE)
                                                               AS key_features_used_30d,
    CAST(b.seats AS DOUBLE)                                    AS seats,
    CASE WHEN pa.account_id IS NOT NULL AND b.seats > 0
         THEN coalesce(u.active_users_30d, 0) / CAST(b.seats AS DOUBLE) END AS seat_utilisation,
    CASE WHEN u.user_days_prior_28d > 0
         THEN (coalesce(u.user_days_7d, 0) / 7.0) / (u.user_days_prior_28d / 28.0) - 1 END
                                                               AS usage_trend_pct,
    -- engagement (CRM activities are the CRM's own: zero is a real zero)
    CAST(coalesce(e.emails_replied_30d, 0) AS DOUBLE)          AS emails_replied_30d,
    CAST(coalesce(e.meetings_30d, 0) AS DOUBLE)                AS meetings_30d,
    CAST(coalesce(e.calls_30d, 0) AS DOUBLE)                   AS calls_30d,
    CAST(coalesce(ec.engaged_contacts_30d, 0) AS DOUBLE)       AS engaged_contacts_30d,
    CAST(e.days_since_last_touch AS DOUBLE)                    AS days_since_last_touch,
    CAST(coalesce(e.engagement_decayed, 0) AS DOUBLE)          AS engagement_decayed,
    CAST(n.nps_latest AS DOUBLE)                               AS nps_latest,
    -- support
    CAST(coalesce(s.open_tickets, 0) AS DOUBLE)                AS open_tickets,
    CAST(coalesce(s.open_high_severity_tickets, 0) AS DOUBLE)  AS open_high_severity_tickets,
    CAST(coalesce(s.tickets_30d, 0) AS DOUBLE)                 AS tickets_30d,
    CAST(coalesce(s.escalations_90d, 0) AS DOUBLE)             AS escalations_90d,
    CAST(s.median_resolution_hours_90d AS DOUBLE)              AS median_resolution_hours_90d,
    CAST(s.csat_latest AS DOUBLE)                              AS csat_latest,
    -- billing (NULL when no billing customer is linked to the account)
    CAST(b.mrr AS DOUBLE)                                      AS mrr,
    CASE WHEN b.mrr_90d_ago > 0 THEN b.mrr / b.mrr_90d_ago - 1 END AS mrr_change_90d_pct,
    CASE WHEN b.seats_90d_ago > 0 THEN b.seats / CAST(b.seats_90d_ago AS DOUBLE) - 1 END
                                                               AS seats_change_90d_pct,
    CAST(CASE WHEN b.account_id IS NOT NULL THEN coalesce(pm.failed_payments_30d, 0) END AS DOUBLE)
                                                               AS failed_payments_30d,
    CAST(CASE WHEN b.account_id IS NOT NULL THEN coalesce(pm.overdue_invoices, 0) END AS DOUBLE)
                                                               AS overdue_invoices,
    CAST(CASE WHEN b.account_id IS NOT NULL THEN coalesce(pm.overdue_amount, 0) END AS DOUBLE)
                                                               AS overdue_amount,
    CAST(CASE WHEN b.account_id IS NOT NULL THEN coalesce(pm.max_days_overdue, 0) END AS DOUBLE)
                                                               AS max_days_overdue,
    CAST(date_diff('day', p.d, CAST(b.renewal_at AS DATE)) AS DOUBLE) AS days_to_renewal,
    CAST(b.cancellation_notice AS DOUBLE)                      AS cancellation_notice,
    CAST(b.has_active_subscription AS DOUBLE)                  AS has_active_subscription,
    CAST(CASE WHEN sh.started > 0 THEN date_diff('day', sh.last_ended_on, p.d) END AS DOUBLE)
                                                               AS days_since_subscription_ended,
    -- relationship
    CAST(coalesce(r.contacts, 0) AS DOUBLE)                    AS contacts,
    CAST(coalesce(r.champions, 0) AS DOUBLE)                   AS champions,
    CAST(coalesce(r.champion_left_90d, false) AS DOUBLE)       AS champion_left_90d,
    CAST(coalesce(r.new_contacts_90d, 0) AS DOUBLE)            AS new_contacts_90d,
    -- engagement categories (NULL: no record of the category for the account)
    CAST(ew.web_weighted AS DOUBLE)         AS web_weighted,
    CAST(ew.web_rate AS DOUBLE)             AS web_rate,
    CAST(ew.web_engaged_contacts AS DOUBLE) AS web_engaged_contacts,
    CAST(ew.web_reach AS DOUBLE)            AS web_reach,
    CAST(ew.web_days_since_last AS DOUBLE)  AS web_days_since_last,
    CAST(ew.web_change_pct AS DOUBLE)       AS web_change_pct,
    CAST(ew.email_weighted AS DOUBLE)       AS email_weighted,
    CAST(ew.email_rate AS DOUBLE)           AS email_rate,
    CAST(ew.email_engaged_contacts AS DOUBLE) AS email_engaged_contacts,
    CAST(ew.email_reach AS DOUBLE)          AS email_reach,
    CAST(ew.email_days_since_last AS DOUBLE) AS email_days_since_last,
    CAST(ew.email_change_pct AS DOUBLE)     AS email_change_pct,
    CAST(ew.product_weighted AS DOUBLE)     AS product_weighted,
    CAST(ew.product_rate AS DOUBLE)         AS product_rate,
    CAST(ew.product_engaged_contacts AS DOUBLE) AS product_engaged_contacts,
    CAST(ew.product_reach AS DOUBLE)        AS product_reach,
    CAST(ew.product_days_since_last AS DOUBLE) AS product_days_since_last,
    CAST(ew.product_change_pct AS DOUBLE)   AS product_change_pct,
    CAST(ew.sales_support_weighted AS DOUBLE) AS sales_support_weighted,
    CAST(ew.sales_support_rate AS DOUBLE)   AS sales_support_rate,
    CAST(ew.sales_support_engaged_contacts AS DOUBLE) AS sales_support_engaged_contacts,
    CAST(ew.sales_support_reach AS DOUBLE)  AS sales_support_reach,
    CAST(ew.sales_support_days_since_last AS DOUBLE) AS sales_support_days_since_last,
    CAST(ew.sales_support_change_pct AS DOUBLE) AS sales_support_change_pct,
    CAST(ew.social_weighted AS DOUBLE)      AS social_weighted,
    CAST(ew.social_rate AS DOUBLE)          AS social_rate,
    CAST(ew.social_engaged_contacts AS DOUBLE) AS social_engaged_contacts,
    CAST(ew.social_reach AS DOUBLE)         AS social_reach,
    CAST(ew.social_days_since_last AS DOUBLE) AS social_days_since_last,
    CAST(ew.social_change_pct AS DOUBLE)    AS social_change_pct
FROM accounts a
CROSS JOIN params p
LEFT JOIN product_accounts pa USING (account_id)
LEFT JOIN usage u USING (account_id)
LEFT JOIN features f USING (account_id)
LEFT JOIN billing b USING (account_id)
LEFT JOIN sub_history sh USING (account_id)
LEFT JOIN payments pm USING (account_id)
LEFT JOIN engagement e USING (account_id)
LEFT JOIN engaged_contacts ec USING (account_id)
LEFT JOIN nps n USING (account_id)
LEFT JOIN support s USING (account_id)
LEFT JOIN relationship r USING (account_id)
LEFT JOIN eng_wide ew USING (account_id)
ORDER BY a.account_id
