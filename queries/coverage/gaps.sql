-- What the evidence cannot see: one row per gap (docs/coverage.md). Kinds:
--   digest_missing_file: a CloudTrail digest lists a log file that no evidence file is (matched by
--     file name, with or without .gz, or by the digest's hash); window: that file's oldest..newest event.
--   digest_chain_break: a digest names a previous digest that the case lacks while an earlier digest of
--     the same account and region is present, or two consecutive digests leave time uncovered.
--   silence: a source (per scope: account, cluster, service) with >= $min_events events is silent for
--     longer than its learned threshold: 3 x the 95th percentile of its own gaps between active
--     minutes, and at least $floor_minutes (default 10). Snapshots (pods, workloads) are points in
--     time, not streams, and are not checked.
--   missing_parent: spans whose parent span is not in the evidence (per service): part of those
--     traces was not collected.
--   skipped_file: a file of the ledger that no loader read, that loaded no record, or whose ingest
--     was cut short: whatever it held is not in the case.
-- Params: $floor_minutes (default 10), $min_events (default 30).
-- Non-empty: each row is "no evidence for X between T1 and T2" (statement) and why.
-- @engines: duckdb
-- @not-spark: UNION ALL BY NAME has no Spark SQL form
WITH RECURSIVE lf AS (
    SELECT d.account_id, d.evidence_sha256 AS digest_sha, f->>'s3Object' AS obj,
           regexp_extract(f->>'s3Object', '[^/]+$') AS name, lower(f->>'hashValue') AS hash,
           fx_time(f->>'oldestEventTime', true) AS t0, fx_time(f->>'newestEventTime', true) AS t1
    FROM (SELECT *, unnest(CAST(coalesce(log_files, '[]') AS JSON[])) AS f FROM cloudtrail_digests) d
), files AS (
    SELECT sha256, regexp_extract(path, '[^/\\]+$') AS name FROM evidence
    UNION ALL SELECT sha256, name FROM artifact_files
), missing AS (
    SELECT 'digest_missing_file' AS kind, 'cloudtrail' AS source, coalesce(account_id, '') AS scope,
           t0 AS start, t1 AS "end", 'medium' AS severity,
           'no evidence for CloudTrail account ' || coalesce(account_id, '?') || ' between '
               || coalesce(strftime(t0, '%Y-%m-%dT%H:%M:%SZ'), '?') || ' and ' || coalesce(strftime(t1, '%Y-%m-%dT%H:%M:%SZ'), '?')
               || ': the digest lists log file ' || name || ', which the evidence lacks' AS statement,
           json_object('log_file', obj, 'hash', hash) AS detail,
           [struct_pack(kind := 'evidence', id := digest_sha)] AS evidence
    FROM lf
    WHERE obj IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM files e
        WHERE e.name = lf.name OR e.name = regexp_replace(lf.name, '\.gz$', '') OR e.sha256 = lf.hash)
), dg AS (
    SELECT *, coalesce(nullif(regexp_extract(s3_object, '/CloudTrail-Digest/([^/]+)/', 1), ''), '?') AS region,
           lag(digest_end) OVER w AS prev_end, lag(evidence_sha256) OVER w AS prev_sha,
           count(*) OVER (PARTITION BY account_id, coalesce(nullif(regexp_extract(s3_object, '/CloudTrail-Digest/([^/]+)/', 1), ''), '?')
                          ORDER BY digest_start ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier
    FROM cloudtrail_digests
    WINDOW w AS (PARTITION BY account_id, coalesce(nullif(regexp_extract(s3_object, '/CloudTrail-Digest/([^/]+)/', 1), ''), '?')
                 ORDER BY digest_start)
), chain AS (
    SELECT 'digest_chain_break' AS kind, 'cloudtrail' AS source,
           coalesce(account_id, '') AS scope,
           prev_end AS start, digest_start AS "end", 'medium' AS severity,
           'no evidence for the CloudTrail digest chain of account ' || coalesce(account_id, '?') || ' ' || region
               || ' between ' || coalesce(strftime(prev_end, '%Y-%m-%dT%H:%M:%SZ'), '?') || ' and '
               || coalesce(strftime(digest_start, '%Y-%m-%dT%H:%M:%SZ'), '?') || ': '
               || CASE WHEN previous_digest_s3_object IS NOT NULL AND earlier > 0
                            AND previous_digest_s3_object NOT IN (SELECT s3_object FROM cloudtrail_digests WHERE s3_object IS NOT NULL)
                       THEN 'the digest names previous digest ' || previous_digest_s3_object || ', which the evidence lacks'
                       ELSE 'consecutive digests leave this time uncovered' END AS statement,
           json_object('digest', s3_object, 'previous_digest', previous_digest_s3_object, 'region', region) AS detail,
           list_filter([struct_pack(kind := 'evidence', id := prev_sha), struct_pack(kind := 'evidence', id := evidence_sha256)],
                       lambda x: x.id IS NOT NULL) AS evidence
    FROM dg
    WHERE earlier > 0
      AND ((previous_digest_s3_object IS NOT NULL
            AND previous_digest_s3_object NOT IN (SELECT s3_object FROM cloudtrail_digests WHERE s3_object IS NOT NULL))
           OR digest_start > prev_end + INTERVAL 1 MINUTE)
), ev AS (
    SELECT source, coalesce(environment, service, '') AS scope, time, event_id
    FROM events WHERE source NOT IN ('k8s_pods', 'k8s_workloads') AND NOT coalesce(time_raw LIKE 'approx:%', false)
), big AS (
    SELECT source, scope FROM ev GROUP BY ALL HAVING count(*) >= coalesce($min_events, 30)
), mins AS (
    SELECT ev.source, ev.scope, time_bucket(INTERVAL 1 MINUTE, ev.time) AS minute, min(ev.time) AS t0, max(ev.time) AS t1,
           arg_min(ev.event_id, ev.time) AS first_id, arg_max(ev.event_id, ev.time) AS last_id
    FROM ev JOIN big USING (source, scope) GROUP BY ALL
), steps AS (
    SELECT *, lead(t0) OVER w AS next_t0, lead(first_id) OVER w AS next_id,
           lead(minute) OVER w - minute AS step
    FROM mins WINDOW w AS (PARTITION BY source, scope ORDER BY minute)
), learned AS (
    SELECT source, scope, greatest(to_minutes(CAST(coalesce($floor_minutes, 10) AS BIGINT)),
                                   3 * to_seconds(CAST(quantile_cont(epoch(step), 0.95) AS BIGINT))) AS threshold,
           to_seconds(CAST(median(epoch(step)) AS BIGINT)) AS typical
    FROM steps WHERE step IS NOT NULL GROUP BY ALL
), silence AS (
    SELECT 'silence' AS kind, s.source, s.scope, s.t1 AS start, s.next_t0 AS "end", 'low' AS severity,
           'no evidence for ' || s.source || coalesce(' ' || nullif(s.scope, ''), '') || ' between '
               || strftime(s.t1, '%Y-%m-%dT%H:%M:%SZ') || ' and ' || strftime(s.next_t0, '%Y-%m-%dT%H:%M:%SZ')
               || ': silent for ' || CAST(date_trunc('second', s.next_t0 - s.t1) AS VARCHAR)
               || ', past its learned threshold of ' || CAST(l.threshold AS VARCHAR)
               || ' (typical step between active minutes ' || CAST(l.typical AS VARCHAR) || ')' AS statement,
           json_object('threshold', CAST(l.threshold AS VARCHAR), 'typical', CAST(l.typical AS VARCHAR)) AS detail,
           [struct_pack(kind := 'event', id := s.last_id), struct_pack(kind := 'event', id := s.next_id)] AS evidence
    FROM steps s JOIN learned l USING (source, scope)
    WHERE s.next_t0 IS NOT NULL AND s.next_t0 - s.t1 > l.threshold
), orphans AS (
    SELECT 'missing_parent' AS kind, s.source, coalesce(s.service, '') AS scope, min(s.start) AS start,
           max(coalesce(s."end", s.start)) AS "end", 'info' AS severity,
           'no evidence for the parents of ' || count(*) || ' span(s) of ' || coalesce(s.service, '?') || ' in '
               || count(DISTINCT s.trace_id) || ' trace(s) between ' || strftime(min(s.start), '%Y-%m-%dT%H:%M:%SZ')
               || ' and ' || strftime(max(coalesce(s."end", s.start)), '%Y-%m-%dT%H:%M:%SZ')
               || ': their parent spans were not collected' AS statement,
           json_object('spans', count(*), 'traces', count(DISTINCT s.trace_id)) AS detail,
           list(struct_pack(kind := 'span', id := s.trace_id || ':' || s.span_id) ORDER BY s.start)[1:20] AS evidence
    FROM spans s
    WHERE nullif(ltrim(coalesce(s.parent_span_id, ''), '0'), '') IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
    GROUP BY s.source, s.service
), skipped AS (
    SELECT 'skipped_file' AS kind, 'ledger' AS source, path AS scope, NULL::TIMESTAMPTZ AS start,
           NULL::TIMESTAMPTZ AS "end", 'info' AS severity,
           'no evidence from ' || path || ': no loader reads it (kept as an artifact file)' AS statement,
           json_object('sha256', sha256, 'size_bytes', size_bytes) AS detail,
           [struct_pack(kind := 'evidence', id := sha256)] AS evidence
    FROM artifact_files
    UNION ALL
    SELECT 'skipped_file', 'ledger', path, NULL, NULL, 'low',
           'no evidence from ' || path || ': ' || records_read || ' record(s) read, none loaded ('
               || records_rejected || ' rejected, see the rejects ledger)',
           json_object('sha256', sha256, 'loader', loader), [struct_pack(kind := 'evidence', id := sha256)]
    FROM evidence WHERE records_loaded = 0 AND records_read > 0
    UNION ALL
    SELECT 'skipped_file', 'ledger', j.path, NULL, NULL, 'medium',
           'no evidence from ' || j.path || ': its ingest was cut short (started ' || strftime(j.started_at, '%Y-%m-%dT%H:%M:%SZ') || ')',
           json_object('sha256', j.evidence_sha256), [struct_pack(kind := 'evidence', id := j.evidence_sha256)]
    FROM ingest_journal j WHERE NOT EXISTS (SELECT 1 FROM evidence e WHERE e.sha256 = j.evidence_sha256)
), g AS (
    SELECT * FROM missing UNION ALL BY NAME SELECT * FROM chain UNION ALL BY NAME SELECT * FROM silence
    UNION ALL BY NAME SELECT * FROM orphans UNION ALL BY NAME SELECT * FROM skipped
)
SELECT 'G-' || left(sha256(kind || '|' || source || '|' || coalesce(scope, '') || '|' || coalesce(CAST(start AS VARCHAR), '')
                            || '|' || statement), 12) AS gap_id,
       kind, source, scope, start, "end", severity, statement, CAST(detail AS JSON) AS detail,
       CAST(evidence AS STRUCT(kind VARCHAR, id VARCHAR)[]) AS evidence
FROM g
ORDER BY start NULLS LAST, kind, source, scope
