-- Denominator: side-effect requests. One row per successful side-effect span (a database write, or a
-- capture, refund, payout or transfer; docs/traces.md): each is one application of a request.
-- @title: side-effect requests (successful side-effect spans)
-- @engines: duckdb, spark
SELECT start AS time, trace_id || ':' || span_id AS item FROM spans WHERE side_effect AND outcome = 'success'
