-- Double-apply: one logical request whose server-side side effect succeeded twice after a client
-- timed out (the retry-after-timeout hazard). A side effect is a span marked side_effect (a database
-- write, or an internal/server span naming a capture, refund, payout or transfer; docs/traces.md).
-- Two side effects of the same name belong to one logical request when they share a token: a value
-- of any request key ($keys) on the span or on any span above it in its trace (so a capture keyed
-- by order id joins the client call keyed by idempotency key that caused it), or the same calling
-- handler in the same trace (the client's parent span: the trace itself links a retry's server
-- spans). Side effects with different values for the same key are different requests.
-- Params: $keys (attribute names of idempotency and business keys; default the list below),
--         $start, $end (window on the second apply, optional).
-- Healthy: zero rows. A row is a request applied more than once, with the evidence.
-- @denominator: side_effect_requests
-- @time: second_applied_at
-- @engines: duckdb
-- @not-spark: a recursive CTE with UNION (not UNION ALL) is not supported by Spark
WITH RECURSIVE key_names AS (
    SELECT unnest(coalesce(CAST($keys AS VARCHAR[]),
                           ['idempotency.key', 'http.request.header.idempotency-key', 'idempotency_key',
                            'app.idempotency.key', 'app.order.id', 'order.id', 'order_id', 'app.payment.id',
                            'payment.id', 'payment_id', 'app.transaction.id', 'transaction.id'])) AS key),
tree AS (SELECT DISTINCT trace_id, span_id, parent_span_id FROM spans),
origins AS (
    SELECT trace_id, span_id, name, service, start, coalesce("end", start) AS done, kind, outcome, side_effect
    FROM spans
    WHERE (side_effect AND outcome = 'success') OR (kind = 'client' AND outcome = 'timeout')),
-- every origin and the spans above it (Zipkin's shared client/server spans share an id, so a
-- server span's keys include its client's); depth bounded against cyclic parent ids
up AS (
    SELECT o.trace_id, o.span_id AS origin, o.span_id AS cur, 0 AS depth FROM origins o
    UNION
    SELECT u.trace_id, u.origin, t.parent_span_id, u.depth + 1
    FROM up u JOIN tree t ON t.trace_id = u.trace_id AND t.span_id = u.cur
    WHERE t.parent_span_id IS NOT NULL AND t.parent_span_id <> t.span_id AND u.depth < 64),
-- the nearest client span at or above the origin: its parent is the handler that issued the call
caller AS (
    SELECT u.trace_id, u.origin, arg_min(t.parent_span_id, u.depth) AS handler
    FROM up u JOIN spans c ON c.trace_id = u.trace_id AND c.span_id = u.cur AND c.kind = 'client'
    JOIN tree t ON t.trace_id = u.trace_id AND t.span_id = u.cur AND t.parent_span_id IS NOT NULL
    GROUP BY ALL),
tokens AS (
    SELECT DISTINCT u.trace_id, u.origin, a.key, a.value
    FROM up u JOIN span_attributes a ON a.trace_id = u.trace_id AND a.span_id = u.cur AND a.scope = 'span'
    WHERE a.key IN (SELECT key FROM key_names) AND nullif(trim(a.value), '') IS NOT NULL
    UNION ALL
    SELECT trace_id, origin, 'same handler in trace', trace_id || '/' || handler FROM caller),
effects AS (SELECT o.*, t.key, t.value FROM origins o JOIN tokens t ON t.trace_id = o.trace_id AND t.origin = o.span_id
            WHERE o.side_effect AND o.outcome = 'success'),
timeouts AS (SELECT o.*, t.key, t.value FROM origins o JOIN tokens t ON t.trace_id = o.trace_id AND t.origin = o.span_id
             WHERE o.kind = 'client' AND o.outcome = 'timeout'),
-- a later apply of the same side effect sharing a token with an earlier one, and no key in conflict
pairs AS (
    SELECT DISTINCT a.trace_id AS a_trace, a.span_id AS a_span, b.trace_id AS b_trace, b.span_id AS b_span,
           a.name, a.service, a.start AS a_start, b.start AS b_start, a.key, a.value
    FROM effects a JOIN effects b
      ON a.name = b.name AND a.key = b.key AND a.value = b.value
     AND (a.start < b.start OR (a.start = b.start AND a.trace_id || a.span_id < b.trace_id || b.span_id))
    WHERE NOT EXISTS (
        SELECT 1 FROM tokens x JOIN tokens y ON x.key = y.key AND x.key <> 'same handler in trace'
        WHERE x.trace_id = a.trace_id AND x.origin = a.span_id AND y.trace_id = b.trace_id AND y.origin = b.span_id
        GROUP BY x.key HAVING NOT bool_or(x.value = y.value))),
-- the client timeout behind the pair: one sharing a token with either apply, before the second
timed AS (
    SELECT p.*, min(t.done) AS timed_out_at, count(DISTINCT t.trace_id || '/' || t.span_id) AS client_timeouts
    FROM pairs p JOIN timeouts t
      ON t.key = p.key AND t.value = p.value AND t.done <= p.b_start
    GROUP BY ALL),
-- one row per first apply: the token it was matched on, preferring request keys over the handler
firsts AS (
    SELECT a_trace, a_span, name, arg_min(value, (key = 'same handler in trace', key)) AS request_key,
           arg_min(key, (key = 'same handler in trace', key)) AS matched_on, min(service) AS service,
           min(a_start) AS first_applied_at, min(b_start) AS second_applied_at,
           min(timed_out_at) AS client_timed_out_at, max(client_timeouts) AS client_timeouts,
           list(DISTINCT b_trace || ':' || b_span) AS later
    FROM timed GROUP BY a_trace, a_span, name),
-- a later apply is reported under the earliest apply it matches, not again as a first of its own
r AS (
    SELECT f.* FROM firsts f
    WHERE NOT EXISTS (SELECT 1 FROM timed t WHERE t.b_trace = f.a_trace AND t.b_span = f.a_span AND t.name = f.name))
SELECT request_key, max(1 + len(later)) AS applies, min(service) AS service, list(DISTINCT name ORDER BY name) AS side_effects,
       min(matched_on) AS matched_on, min(first_applied_at) AS first_applied_at,
       min(second_applied_at) AS second_applied_at, min(client_timed_out_at) AS client_timed_out_at,
       max(client_timeouts) AS client_timeouts,
       list_distinct(flatten(list([a_trace] || list_transform(later, lambda x: split_part(x, ':', 1)))))[1:5] AS trace_ids,
       flatten(list([a_span] || list_transform(later, lambda x: split_part(x, ':', 2)))) AS side_effect_span_ids
FROM r
GROUP BY request_key, matched_on
HAVING ($start IS NULL OR min(second_applied_at) >= $start) AND ($end IS NULL OR min(second_applied_at) < $end)
ORDER BY first_applied_at
