-- An SLO burn-rate alert that fired (SRE workbook multiwindow rule, as queries/traces/burn_rate):
-- page when the 1 h and 5 m burn rates both exceed 14.4, ticket when the 6 h and 30 m both exceed 6.
-- A bad request is trace_requests.slo_bad (a timeout, or a failure other than a 4xx).
-- Parameters: $slo (default 0.999). Non-empty: each row is one server service whose budget burned,
-- from the first to the last minute an alert fired, with the bad requests as evidence.
-- @severity: high
-- @title: Error budget burning
-- @engines: duckdb
-- @not-spark: its evidence is the first items of a list built without an order; Spark keeps other members
WITH m AS (
    SELECT service, time_bucket(INTERVAL 1 MINUTE, start) AS minute,
           count(*) FILTER (WHERE outcome <> 'unknown') AS n, count(*) FILTER (WHERE slo_bad) AS bad
    FROM trace_requests GROUP BY ALL
), w AS (
    SELECT service, minute, n, bad,
           sum(bad) OVER h1 / nullif(sum(n) OVER h1, 0) AS r1h, sum(bad) OVER m5 / nullif(sum(n) OVER m5, 0) AS r5m,
           sum(bad) OVER h6 / nullif(sum(n) OVER h6, 0) AS r6h, sum(bad) OVER m30 / nullif(sum(n) OVER m30, 0) AS r30m
    FROM m
    WINDOW h1 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 59 MINUTE PRECEDING AND CURRENT ROW),
           m5 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 4 MINUTE PRECEDING AND CURRENT ROW),
           h6 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 359 MINUTE PRECEDING AND CURRENT ROW),
           m30 AS (PARTITION BY service ORDER BY minute RANGE BETWEEN INTERVAL 29 MINUTE PRECEDING AND CURRENT ROW)
), a AS (
    SELECT w.*, (1 - coalesce($slo, 0.999)) AS budget FROM w
), fired AS (
    SELECT service, minute, r1h / budget AS burn_1h,
           r1h > 14.4 * budget AND r5m > 14.4 * budget AS page, r6h > 6 * budget AND r30m > 6 * budget AS ticket
    FROM a
), per AS (
    SELECT service, min(minute) AS t0, max(minute) + INTERVAL 1 MINUTE AS t1, bool_or(page) AS page,
           max(burn_1h) AS peak, count(*) AS minutes
    FROM fired WHERE page OR ticket GROUP BY service
), bad AS (
    SELECT r.service, count(*) AS n,
           list(struct_pack(kind := 'span', id := r.trace_id || ':' || coalesce(r.client_span_id, r.span_id))
                ORDER BY r.start)[1:500] AS evidence,
           list(DISTINCT r.client_service) AS callers
    FROM trace_requests r JOIN per p ON p.service = r.service AND r.start >= p.t0 - INTERVAL 1 HOUR AND r.start < p.t1
    WHERE r.slo_bad GROUP BY r.service
)
SELECT p.service AS group_key, NULL AS rule_id, p.t0 AS time, p.t1 AS "end",
       CASE WHEN p.page THEN NULL ELSE 'medium' END AS severity,
       p.service || ' burned its error budget (' || CASE WHEN p.page THEN 'page' ELSE 'ticket' END || ' alert)' AS title,
       'burn-rate alert fired for ' || p.minutes || ' minute(s) from ' || strftime(p.t0, '%Y-%m-%dT%H:%MZ')
           || '; peak 1 h burn ' || round(p.peak, 1) || 'x against SLO ' || coalesce($slo, 0.999) || '; '
           || b.n || ' bad request(s)' AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'service', id := p.service)]
                   || [struct_pack(kind := 'service', id := c) for c in b.callers], lambda x: x.id IS NOT NULL) AS entities,
       b.evidence, b.n AS matches,
       json_object('peak_burn_1h', p.peak, 'alert', CASE WHEN p.page THEN 'page' ELSE 'ticket' END) AS attributes
FROM per p JOIN bad b USING (service)
