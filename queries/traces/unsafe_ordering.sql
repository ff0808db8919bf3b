-- Ordering claims the clocks cannot support: pairs of consecutive trace events on the timeline,
-- from two services with an estimated skew between them, that are closer together than that skew
-- (the largest |skew_us| seen for the pair in trace_skew). Their order may be an artefact of the
-- clocks; corrected times (spans.start_corrected) are given beside the raw ones.
-- Params: $start, $end (optional). Non-empty means some "A happened before B" claims are unsafe.
-- @engines: duckdb, spark
WITH bound AS (
    SELECT least(service, reference_service) AS a, greatest(service, reference_service) AS b,
           max(abs(skew_us)) AS skew_bound_us
    FROM trace_skew GROUP BY ALL),
ev AS (
    SELECT e.event_id, e.time, e.service, e.action, e.trace_id, e.span_id,
           lead(e.event_id) OVER w AS next_id, lead(e.time) OVER w AS next_time,
           lead(e.service) OVER w AS next_service, lead(e.action) OVER w AS next_action
    FROM events e WHERE e.category = 'trace'
      AND ($start IS NULL OR e.time >= $start) AND ($end IS NULL OR e.time < $end)
    WINDOW w AS (ORDER BY e.time, e.event_id))
SELECT ev.time AS first_time, ev.service AS first_service, ev.action AS first_action,
       ev.next_time AS second_time, ev.next_service AS second_service, ev.next_action AS second_action,
       (epoch_us(ev.next_time) - epoch_us(ev.time)) / 1000.0 AS gap_ms, b.skew_bound_us / 1000.0 AS skew_bound_ms
FROM ev JOIN bound b ON b.a = least(ev.service, ev.next_service) AND b.b = greatest(ev.service, ev.next_service)
WHERE ev.service <> ev.next_service
  AND epoch_us(ev.next_time) - epoch_us(ev.time) < b.skew_bound_us
ORDER BY ev.time
