-- Clock skew between services, solved per trace from synchronous client/server pairs only
-- (derive/traces.py): skew_us is what to add to the service's clock to line it up with the trace's
-- reference (root) service. Summarised per service pair over the traces that start in the window.
-- pairs is the sample count (client/server pairs touching the service); confidence the share of
-- them the corrections make consistent (server inside its client), averaged over traces.
-- Params: $min_abs_us (ignore corrections smaller than this, default 0), $start, $end (trace start,
-- in corrected time).
-- Non-empty means some service's clock disagrees with its caller's; ordering claims between
-- those services that rest on less than max_abs_skew_ms are not safe.
-- @engines: duckdb, spark
WITH t AS (SELECT trace_id, min(start_corrected) AS trace_start FROM spans
           WHERE trace_id IN (SELECT trace_id FROM trace_skew) GROUP BY trace_id)
SELECT service, reference_service, count(*) AS traces, sum(pairs) AS pairs,
       median(skew_us) / 1000.0 AS median_skew_ms, min(skew_us) / 1000.0 AS min_skew_ms,
       max(skew_us) / 1000.0 AS max_skew_ms, max(abs(skew_us)) / 1000.0 AS max_abs_skew_ms,
       avg(confidence) AS confidence, list(DISTINCT method) AS methods
FROM trace_skew k JOIN t USING (trace_id)
WHERE abs(skew_us) >= coalesce($min_abs_us, 0)
  AND ($start IS NULL OR t.trace_start >= $start) AND ($end IS NULL OR t.trace_start < $end)
GROUP BY ALL ORDER BY max_abs_skew_ms DESC
