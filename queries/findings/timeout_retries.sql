-- Client timeouts followed by retries: a call timed out and the client sent it again. Without an
-- idempotency key the server may apply it twice (the double-apply invariant says whether it did).
-- Parameters: none. Non-empty: each row is one caller -> callee endpoint, with the timed-out and retry spans.
-- @severity: medium
-- @title: Timeouts retried
-- @engines: duckdb
-- @not-spark: list slicing x[a:b] on a column is not mapped (list or text is not known before run time)
WITH t AS (
    SELECT c.trace_id, c.span_id, c.service, c.name, c.start, c.request_key, r.span_id AS retry_span_id,
           r.trace_id AS retry_trace_id, r.attributes AS retry_attributes
    FROM spans c JOIN spans r ON r.retry_of_span_id = c.span_id AND r.trace_id = c.trace_id
    WHERE c.kind = 'client' AND c.outcome = 'timeout'
)
SELECT service || '|' || name AS group_key, NULL AS rule_id, min(start) AS time, max(start) AS "end", NULL AS severity,
       count(*) || ' timed-out call(s) from ' || service || ' retried: ' || name AS title,
       service || ' timed out ' || count(*) || ' time(s) calling ' || name || ' and retried each; requests '
           || string_agg(DISTINCT coalesce(request_key, '?'), ', ' ORDER BY coalesce(request_key, '?')) AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'service', id := service)]
                   || list(DISTINCT struct_pack(kind := 'request', id := request_key)), lambda x: x.id IS NOT NULL) AS entities,
       (list(struct_pack(kind := 'span', id := trace_id || ':' || span_id) ORDER BY start)
        || list(struct_pack(kind := 'span', id := retry_trace_id || ':' || retry_span_id) ORDER BY start))[1:500] AS evidence,
       count(*) AS matches,
       json_object('requests', list(DISTINCT request_key)) AS attributes
FROM t GROUP BY service, name
