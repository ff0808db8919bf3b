-- Span outcomes with their reasons, per service, kind and outcome: what the trace loaders and
-- derive rules decided, and why. Params: $start, $end (span start, optional; spans without a
-- start are included only when no window is given). Non-empty when the case holds spans.
-- @engines: duckdb, spark
SELECT service, kind, outcome, outcome_reason, count(*) AS spans, min(start) AS first, max(start) AS last
FROM spans
WHERE ($start IS NULL AND $end IS NULL)
   OR (($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end))
GROUP BY ALL ORDER BY service, kind, outcome, spans DESC
