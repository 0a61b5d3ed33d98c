-- Training / evaluation rows for the churn model: one row per billed account that is a customer
-- on as-of day D (it has started and has not churned yet), for the sampled days D, with D's
-- signals and D's scores, and the label "churned within the following $horizon days".
-- Needs the TEMP table account_outcomes (acct_pipeline.scoring.outcomes.create_outcome_tables).
-- Parameters: $dates DATE[], $horizon INTEGER.
SELECT sg.*,
       sc.* EXCLUDE (account_id, as_of_date),
       o.churned_on,
       CAST(o.churned_on IS NOT NULL
            AND o.churned_on <= sg.as_of_date + to_days(CAST($horizon AS INTEGER)) AS INTEGER) AS churned
FROM features.account_signals sg
JOIN scores.account_scores sc USING (account_id, as_of_date)
JOIN account_outcomes o USING (account_id)
WHERE sg.as_of_date IN (SELECT unnest(CAST($dates AS DATE[])))
  AND o.customer_since <= sg.as_of_date
  AND (o.churned_on IS NULL OR o.churned_on > sg.as_of_date)
ORDER BY sg.as_of_date, sg.account_id
