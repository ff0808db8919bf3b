-- Clock skew between services, estimated per trace from parent/child pairs where the child falls
-- outside its parent's interval (derive/traces.py): skew_us is what to add to the service's
-- clock to line it up with the reference service. Summarised per service pair over all traces.
-- Params: $min_abs_us (ignore corrections smaller than this, default 0).
-- Non-empty means some service's clock disagrees with its caller's; ordering claims between
-- those services that rest on less than max_abs_skew_ms are not safe.
SELECT service, reference_service, count(*) AS traces, sum(pairs) AS pairs,
       median(skew_us) / 1000.0 AS median_skew_ms, min(skew_us) / 1000.0 AS min_skew_ms,
       max(skew_us) / 1000.0 AS max_skew_ms, max(abs(skew_us)) / 1000.0 AS max_abs_skew_ms,
       list(DISTINCT method) AS methods
FROM trace_skew
WHERE abs(skew_us) >= coalesce($min_abs_us, 0)
GROUP BY ALL ORDER BY max_abs_skew_ms DESC
