-- Error-budget burn against an SLO, per minute, with the SRE workbook's multiwindow burn-rate
-- alerts: page when the 1 h and 5 m burn rates both exceed 14.4, ticket when the 6 h and 30 m
-- burn rates both exceed 6. A bad request (trace_requests.slo_bad) is one whose caller saw a
-- timeout, or a failure other than an HTTP 4xx (the caller's own fault); unknown outcomes are
-- counted apart and left out of the ratio (they are neither good nor bad).
-- Burn rate = bad ratio over the window / (1 - $slo). budget_consumed is the share of the error
-- budget of all requests so far (from $start) that bad requests so far have used.
-- Params: $slo (e.g. 0.999; required), $service (server service, optional), $endpoint (optional),
--         $start, $end. A row per minute with traffic; fast_alert / slow_alert true while firing.
WITH m AS (
    SELECT time_bucket(INTERVAL 1 MINUTE, start) AS minute,
           count(*) FILTER (WHERE outcome <> 'unknown') AS requests,
           count(*) FILTER (WHERE slo_bad) AS bad,
           count(*) FILTER (WHERE outcome = 'unknown') AS unknowns
    FROM trace_requests
    WHERE ($service IS NULL OR service = $service) AND ($endpoint IS NULL OR endpoint = $endpoint)
      AND ($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end)
    GROUP BY ALL),
w AS (
    SELECT minute, requests, bad, unknowns,
           sum(bad) OVER w5 / nullif(sum(requests) OVER w5, 0) AS ratio_5m,
           sum(bad) OVER w30 / nullif(sum(requests) OVER w30, 0) AS ratio_30m,
           sum(bad) OVER w60 / nullif(sum(requests) OVER w60, 0) AS ratio_1h,
           sum(bad) OVER w360 / nullif(sum(requests) OVER w360, 0) AS ratio_6h,
           sum(bad) OVER run / nullif(sum(requests) OVER run * (1 - CAST($slo AS DOUBLE)), 0) AS budget_consumed
    FROM m
    WINDOW w5 AS (ORDER BY minute RANGE BETWEEN INTERVAL 4 MINUTE PRECEDING AND CURRENT ROW),
           w30 AS (ORDER BY minute RANGE BETWEEN INTERVAL 29 MINUTE PRECEDING AND CURRENT ROW),
           w60 AS (ORDER BY minute RANGE BETWEEN INTERVAL 59 MINUTE PRECEDING AND CURRENT ROW),
           w360 AS (ORDER BY minute RANGE BETWEEN INTERVAL 359 MINUTE PRECEDING AND CURRENT ROW),
           run AS (ORDER BY minute ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
SELECT minute, requests, bad, unknowns,
       ratio_5m / (1 - CAST($slo AS DOUBLE)) AS burn_5m,
       ratio_30m / (1 - CAST($slo AS DOUBLE)) AS burn_30m,
       ratio_1h / (1 - CAST($slo AS DOUBLE)) AS burn_1h,
       ratio_6h / (1 - CAST($slo AS DOUBLE)) AS burn_6h,
       budget_consumed,
       coalesce(ratio_1h / (1 - CAST($slo AS DOUBLE)) > 14.4 AND ratio_5m / (1 - CAST($slo AS DOUBLE)) > 14.4, false) AS fast_alert,
       coalesce(ratio_6h / (1 - CAST($slo AS DOUBLE)) > 6 AND ratio_30m / (1 - CAST($slo AS DOUBLE)) > 6, false) AS slow_alert
FROM w ORDER BY minute
