-- Double-apply: one logical request whose server-side side effect succeeded twice after a client
-- timed out (the retry-after-timeout hazard). A side effect is a span marked side_effect (a database
-- write, or an internal/server span naming a capture, refund, payout or transfer; docs/traces.md).
-- The logical request is the span's request key (idempotency key or order id), else its trace's.
-- Params: none. Healthy: zero rows. A row is a request applied more than once, with the evidence.
WITH trace_key AS (
    SELECT trace_id, min(request_key) AS request_key FROM spans WHERE request_key IS NOT NULL GROUP BY trace_id),
keyed AS (
    SELECT s.*, coalesce(s.request_key, k.request_key) AS logical_request
    FROM spans s LEFT JOIN trace_key k USING (trace_id)),
effects AS (
    SELECT logical_request, name, count(*) AS applies, list(span_id ORDER BY start) AS span_ids,
           list(start ORDER BY start) AS applied_at, list(DISTINCT trace_id) AS trace_ids, min(service) AS service
    FROM keyed WHERE side_effect AND outcome = 'success' AND logical_request IS NOT NULL
    GROUP BY logical_request, name),
timeouts AS (
    SELECT logical_request, min(coalesce("end", start)) AS timed_out_at, count(*) AS client_timeouts
    FROM keyed WHERE kind = 'client' AND outcome = 'timeout' AND logical_request IS NOT NULL
    GROUP BY logical_request)
SELECT e.logical_request AS request_key, max(e.applies) AS applies, min(e.service) AS service,
       list(e.name ORDER BY e.name) AS side_effects, min(e.applied_at[1]) AS first_applied_at,
       min(e.applied_at[2]) AS second_applied_at, t.timed_out_at AS client_timed_out_at, t.client_timeouts,
       flatten(list(e.trace_ids))[1:5] AS trace_ids, flatten(list(e.span_ids)) AS side_effect_span_ids
FROM effects e JOIN timeouts t USING (logical_request)
WHERE e.applies >= 2 AND t.timed_out_at <= e.applied_at[2]
GROUP BY e.logical_request, t.timed_out_at, t.client_timeouts
ORDER BY first_applied_at
