-- Error-budget burn against an SLO, per service and wall-clock minute, with the SRE workbook's
-- multiwindow burn-rate alerts (sre.google/workbook/alerting-on-slos, table 5-8): page when the
-- 1 h and 5 m burn rates both exceed 14.4, ticket when the 6 h and 30 m burn rates both exceed 6.
-- Every minute from the first request (or $start) to the last (or $end) has a row, with or without
-- traffic: a window is wall-clock time, so an alert clears when its short window has rolled past
-- the bad minutes, even when no request came since (a window without requests has no burn rate).
-- A request is a server span as its caller saw it (trace_requests). It is bad (spends budget) when
-- the caller saw a timeout, or a failure that is not the caller's own fault: HTTP statuses in
-- $caller_http and gRPC codes in $caller_grpc are the caller's (docs/traces.md gives the defaults:
-- HTTP 4xx except 408 and 429; gRPC 1, 3, 5, 6, 7, 9, 10, 11, 16). Unknown outcomes are counted
-- apart and left out of the ratio (they are neither good nor bad).
-- Burn rate = bad ratio over the window / (1 - $slo). budget_consumed is the share of the error
-- budget of all requests so far (from the first minute) that bad requests so far have used.
-- Params: $slo (e.g. 0.999; required), $service (server service; NULL: every service apart),
--         $endpoint (optional), $start, $end, $caller_http, $caller_grpc (lists of ints).
-- A row per service and minute; fast_alert / slow_alert true while firing.
-- @engines: duckdb, spark
WITH req AS (
    SELECT service, time_bucket(INTERVAL 1 MINUTE, start) AS minute, outcome,
           outcome = 'timeout'
             OR (outcome = 'failure'
                 AND NOT coalesce(list_contains(coalesce(CAST($caller_http AS INTEGER[]),
                                                         list_filter(range(400, 500), lambda c: c NOT IN (408, 429))),
                                                http_status), false)
                 AND NOT coalesce(list_contains(coalesce(CAST($caller_grpc AS INTEGER[]), [1, 3, 5, 6, 7, 9, 10, 11, 16]),
                                                grpc_status), false)) AS bad
    FROM trace_requests
    WHERE ($service IS NULL OR service = $service) AND ($endpoint IS NULL OR endpoint = $endpoint)
      AND ($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end)),
per AS (
    SELECT service, minute,
           count(*) FILTER (WHERE outcome <> 'unknown') AS requests,
           count(*) FILTER (WHERE bad) AS bad,
           count(*) FILTER (WHERE outcome = 'unknown') AS unknowns
    FROM req GROUP BY ALL),
span AS (
    SELECT service,
           coalesce(time_bucket(INTERVAL 1 MINUTE, CAST($start AS TIMESTAMPTZ)), min(minute)) AS first_minute,
           coalesce(time_bucket(INTERVAL 1 MINUTE, CAST($end AS TIMESTAMPTZ) - INTERVAL 1 MICROSECOND), max(minute)) AS last_minute
    FROM per GROUP BY service),
grid AS (
    SELECT service, unnest(generate_series(first_minute, last_minute, INTERVAL 1 MINUTE)) AS minute FROM span),
m AS (
    SELECT g.service, g.minute, coalesce(p.requests, 0) AS requests, coalesce(p.bad, 0) AS bad,
           coalesce(p.unknowns, 0) AS unknowns
    FROM grid g LEFT JOIN per p USING (service, minute)),
w AS (
    SELECT service, minute, requests, bad, unknowns,
           sum(bad) OVER w5 / nullif(sum(requests) OVER w5, 0) AS ratio_5m,
           sum(bad) OVER w30 / nullif(sum(requests) OVER w30, 0) AS ratio_30m,
           sum(bad) OVER w60 / nullif(sum(requests) OVER w60, 0) AS ratio_1h,
           sum(bad) OVER w360 / nullif(sum(requests) OVER w360, 0) AS ratio_6h,
           sum(bad) OVER run / nullif(sum(requests) OVER run * (1 - CAST($slo AS DOUBLE)), 0) AS budget_consumed
    FROM m
    WINDOW w5 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 4 MINUTE PRECEDING AND CURRENT ROW),
           w30 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 29 MINUTE PRECEDING AND CURRENT ROW),
           w60 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 59 MINUTE PRECEDING AND CURRENT ROW),
           w360 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 359 MINUTE PRECEDING AND CURRENT ROW),
           run AS (PARTITION BY service ORDER BY minute ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
SELECT service, minute, requests, bad, unknowns,
       ratio_5m / (1 - CAST($slo AS DOUBLE)) AS burn_5m,
       ratio_30m / (1 - CAST($slo AS DOUBLE)) AS burn_30m,
       ratio_1h / (1 - CAST($slo AS DOUBLE)) AS burn_1h,
       ratio_6h / (1 - CAST($slo AS DOUBLE)) AS burn_6h,
       budget_consumed,
       coalesce(ratio_1h / (1 - CAST($slo AS DOUBLE)) > 14.4 AND ratio_5m / (1 - CAST($slo AS DOUBLE)) > 14.4, false) AS fast_alert,
       coalesce(ratio_6h / (1 - CAST($slo AS DOUBLE)) > 6 AND ratio_30m / (1 - CAST($slo AS DOUBLE)) > 6, false) AS slow_alert
FROM w ORDER BY service, minute
