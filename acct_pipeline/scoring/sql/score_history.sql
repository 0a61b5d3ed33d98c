-- What scoring day D needs from the days before it (strictly before D, so re-scoring one day
-- reads exactly what the original run read): the previous tier, the scores 7 and 30 days ago,
-- the scores of the hysteresis dwell window, and the sums for the trend's least-squares slope.
-- Parameters: $as_of DATE, $dwell INTEGER (days before D in the dwell window),
-- $window INTEGER (days before D in the trend window), $lookback INTEGER.
SELECT
    account_id,
    arg_max(tier, as_of_date)                                            AS previous_tier,
    max(health_score) FILTER (WHERE as_of_date = CAST($as_of AS DATE) - 7)  AS score_7d_ago,
    max(health_score) FILTER (WHERE as_of_date = CAST($as_of AS DATE) - 30) AS score_30d_ago,
    count(health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $dwell) AS recent_n,
    min(health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $dwell)   AS recent_min,
    max(health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $dwell)   AS recent_max,
    count(health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $window) AS trend_n,
    sum(x) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $window)              AS trend_sx,
    sum(health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $window)   AS trend_sy,
    sum(x * health_score) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $window) AS trend_sxy,
    sum(x * x) FILTER (WHERE as_of_date >= CAST($as_of AS DATE) - $window)          AS trend_sxx
FROM (
    SELECT account_id, as_of_date, tier, health_score,
           CAST(date_diff('day', CAST($as_of AS DATE), as_of_date) AS DOUBLE) AS x
    FROM scores.account_scores
    WHERE as_of_date < CAST($as_of AS DATE)
      AND as_of_date >= CAST($as_of AS DATE) - $lookback
      AND health_score IS NOT NULL
)
GROUP BY account_id
