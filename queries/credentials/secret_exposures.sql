-- Which credential-shaped secrets appear in ingested text, and where (evidence, line, field)?
-- Scans every string leaf of events.raw (log fields, CI job log lines), span attribute values and
-- the raw text of rejected records, with RE2 patterns (one branch of raw_hits per pattern, so that
-- each compiles once; docs/credentials.md lists them).
-- The secret itself never leaves this query: only kind, fingerprint, redacted form and length.
-- An AWS access key id or GCP key id counts only when its secret is exposed beside it; an unlabelled
-- AWS-secret-shaped token counts only beside an access key id. A Kubernetes Secret's data values are
-- secrets (kind kubernetes_secret) and their base64-decoded text is scanned too. URL passwords
-- (scheme://user:password@) and JWTs with any payload are found; the patterns mirror forensics.redact.
-- Parameters: $only_new (true: only evidence files not yet in secret_scans; false/NULL: everything).
-- Non-empty means: secrets were exposed in the evidence; each must be revoked or rotated.
-- @engines: duckdb
-- @not-spark: TRY() (an error as NULL) is not mapped
WITH
texts AS (  -- the cheap prefilter runs on whole records first, then on each string leaf
    SELECT 'events' AS location, e.event_id, e.source, e.evidence_sha256, e.evidence_line, e.evidence_record,
           e.time, e.actor, j.fullkey AS field,
           coalesce(j.key || '=', '') || (j.value->>'$') AS text, NULL::VARCHAR AS secret_data
    FROM (SELECT * FROM events WHERE (NOT coalesce($only_new, false) OR evidence_sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans))
            AND strlen(CAST(raw AS VARCHAR)) <= 8388608  -- larger records: scanned whole, below
            -- a key id alone is no exposure, and every audit record logs the one that signed it: an audit
            -- record must hold something secret-shaped; free-text logs keep the key id, since its secret
            -- may sit on a neighbouring line
            AND (regexp_matches(CAST(raw AS VARCHAR), '(?i)gh[pousr]_|github_pat_|glpat-|xox[abposr]-|ey[A-Za-z0-9_-]{8,}\.ey|://[^/\s@]*:[^/\s@]*@|PRIVATE KEY|private_key_id|secret|[A-Za-z0-9/+]{40}')
                 OR (category <> 'audit' AND regexp_matches(CAST(raw AS VARCHAR), 'AKIA|ASIA')))) e,
         json_tree(e.raw) j
    WHERE j.type = 'VARCHAR'
      AND regexp_matches(coalesce(j.key || '=', '') || (j.value->>'$'), '(?i)AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|ey[A-Za-z0-9_-]{8,}\.ey|://[^/\s@]*:[^/\s@]*@|PRIVATE KEY|private_key_id|secret|[A-Za-z0-9/+]{40}')
    UNION ALL
    -- a record over 8 MB (one huge JSON document) is scanned as its JSON text, not leaf by leaf: json_tree
    -- copies every subtree, and for a 200 MB document that exhausted memory in every later ingest
    SELECT 'events', e.event_id, e.source, e.evidence_sha256, e.evidence_line, e.evidence_record,
           e.time, e.actor, '$' AS field, CAST(e.raw AS VARCHAR) AS text, NULL::VARCHAR AS secret_data
    FROM events e
    WHERE (NOT coalesce($only_new, false) OR e.evidence_sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans))
      AND strlen(CAST(e.raw AS VARCHAR)) > 8388608
    UNION ALL
    SELECT 'span_attributes', NULL, 'spans', a.evidence_sha256, NULL, NULL, s.start, s.service,
           a.scope || ':' || a.key, a.key || '=' || a.value, NULL
    FROM span_attributes a LEFT JOIN spans s USING (trace_id, span_id)
    WHERE (NOT coalesce($only_new, false) OR a.evidence_sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans))
      AND regexp_matches(a.value, '(?i)AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|ey[A-Za-z0-9_-]{8,}\.ey|://[^/\s@]*:[^/\s@]*@|PRIVATE KEY|private_key_id|secret|[A-Za-z0-9/+]{40}')
    UNION ALL
    SELECT 'rejects', NULL, 'rejects', r.evidence_sha256, r.line, r.record_index, NULL, NULL, 'raw_text', r.raw_text, NULL
    FROM rejects r
    WHERE (NOT coalesce($only_new, false) OR r.evidence_sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans))
      AND regexp_matches(r.raw_text, '(?i)AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|ey[A-Za-z0-9_-]{8,}\.ey|://[^/\s@]*:[^/\s@]*@|PRIVATE KEY|private_key_id|secret|[A-Za-z0-9/+]{40}')
    UNION ALL
    -- a Kubernetes Secret's data values are secrets whatever they look like; the decoded text is scanned too
    SELECT 'events', e.event_id, e.source, e.evidence_sha256, e.evidence_line, e.evidence_record, e.time, e.actor,
           j.fullkey, coalesce(try(decode(try(from_base64(j.value->>'$')))), j.value->>'$'), j.value->>'$'
    FROM (SELECT * FROM events WHERE (NOT coalesce($only_new, false) OR evidence_sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans))
            AND strlen(CAST(raw AS VARCHAR)) <= 8388608 AND contains(CAST(raw AS VARCHAR), '"Secret"')) e,
         json_tree(e.raw) j
    WHERE j.type = 'VARCHAR' AND regexp_matches(j.path, '\.(data|stringData)$')
      AND json_extract_string(e.raw, regexp_replace(j.path, '\.(data|stringData)$', '') || '.kind') = 'Secret'
),
numbered AS (SELECT row_number() OVER () AS text_no, * FROM texts),
raw_hits AS (
    SELECT t.* EXCLUDE (text, secret_data), 'kubernetes_secret' AS kind, false AS needs_key, t.secret_data AS secret
    FROM numbered t WHERE t.secret_data IS NOT NULL
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'url_password' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?i)(?:^|[^a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s:@"''<>]*:([^/\s@"''<>]+)@', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?i)(?:^|[^a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s:@"''<>]*:([^/\s@"''<>]+)@')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'aws_access_key_id' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?:^|[^A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?:[^A-Z0-9]|$)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?:^|[^A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?:[^A-Z0-9]|$)')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'aws_secret_access_key' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key|secretaccesskey)["'']?\s*[:=]\s*["'']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key|secretaccesskey)["'']?\s*[:=]\s*["'']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)')
    UNION ALL
    -- an unlabelled 40-character key-alphabet token counts only beside an access key id (same text, same
    -- record or within 5 lines: see near; an errorMessage quoting the secret of the record's key id)
    SELECT t.* EXCLUDE (text, secret_data), 'aws_secret_access_key' AS kind, true AS needs_key,
           unnest(regexp_extract_all(t.text, '(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'github_token' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?:^|[^A-Za-z0-9_])((?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,251})(?:[^A-Za-z0-9_]|$)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?:^|[^A-Za-z0-9_])((?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,251})(?:[^A-Za-z0-9_]|$)')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'github_fine_grained_pat' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?:^|[^A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{22,255})', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?:^|[^A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{22,255})')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'gitlab_pat' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(glpat-[A-Za-z0-9_-]{20,})', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(glpat-[A-Za-z0-9_-]{20,})')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'slack_token' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(xox[abposr]-[A-Za-z0-9-]{10,})', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(xox[abposr]-[A-Za-z0-9-]{10,})')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'jwt' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(?:^|[^A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(?:^|[^A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'private_key_pem' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '(-----BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9+/=\s\\]*(?:-----END [A-Z ]*PRIVATE KEY-----)?)', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '(-----BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9+/=\s\\]*(?:-----END [A-Z ]*PRIVATE KEY-----)?)')
    UNION ALL
    SELECT t.* EXCLUDE (text, secret_data), 'gcp_service_account_key' AS kind, false AS needs_key,
           unnest(regexp_extract_all(t.text, '"?private_key_id"?\s*[:=]\s*"?([0-9a-f]{40})', 1)) AS secret
    FROM numbered t WHERE regexp_matches(t.text, '"?private_key_id"?\s*[:=]\s*"?([0-9a-f]{40})')
),
hits AS (  -- a secret found both labelled and unlabelled is one hit, labelled
    SELECT * EXCLUDE (needs_key), bool_and(needs_key) AS needs_key FROM raw_hits
    WHERE NOT needs_key
       OR (regexp_matches(secret, '[A-Z]') AND regexp_matches(secret, '[a-z]') AND regexp_matches(secret, '[0-9/+]')
           AND NOT regexp_matches(secret, '^(?:AKIA|ASIA)'))
    GROUP BY ALL
),
numbered_hits AS (SELECT row_number() OVER (ORDER BY evidence_sha256, evidence_line, evidence_record, field, kind, secret) AS hit_no, * FROM hits),
near AS (  -- an AWS secret and the access key ids in the same record or within 5 lines of the same file; the nearest is its pair
    SELECT s.hit_no AS secret_hit, k.hit_no AS key_hit, k.secret AS key_id,
           row_number() OVER (PARTITION BY s.hit_no
                              ORDER BY abs(coalesce(s.evidence_line, 0) - coalesce(k.evidence_line, 0)), k.hit_no) AS rank_for_secret
    FROM numbered_hits s JOIN numbered_hits k
      ON s.kind = 'aws_secret_access_key' AND k.kind = 'aws_access_key_id'
     AND s.evidence_sha256 = k.evidence_sha256 AND s.location = k.location
     AND (s.text_no = k.text_no OR s.evidence_record = k.evidence_record
          OR abs(s.evidence_line - k.evidence_line) <= 5)
),
enriched AS (
    SELECT h.*,
           'sha256:' || left(sha256(h.secret), 12) AS fp,
           CASE WHEN h.kind = 'aws_access_key_id' THEN h.secret
                WHEN h.kind = 'aws_secret_access_key' THEN (SELECT n.key_id FROM near n WHERE n.secret_hit = h.hit_no AND n.rank_for_secret = 1)
                WHEN h.kind = 'gcp_service_account_key' THEN h.secret
                WHEN h.kind IN ('github_token', 'github_fine_grained_pat') THEN
                     (SELECT c.credential_id FROM credentials c WHERE c.credential_id = to_base64(unhex(sha256(h.secret))))
           END AS credential_id,
           CASE WHEN h.kind = 'aws_access_key_id' THEN EXISTS (SELECT 1 FROM near n WHERE n.key_hit = h.hit_no AND n.rank_for_secret = 1) END AS secret_nearby
    FROM numbered_hits h
)
SELECT hit_no + (SELECT coalesce(max(exposure_id), 0) FROM secret_exposures) AS exposure_id, kind, fp AS fingerprint,
       '[' || kind || ' ' || CASE WHEN length(secret) > 8 THEN left(secret, 4) ELSE '' END || '… ' || fp || ']' AS redacted,
       CAST(length(secret) AS INTEGER) AS secret_length,
       credential_id, secret_nearby, location, source, event_id, evidence_sha256, evidence_line, evidence_record,
       field, time, fx_redact(actor) AS actor
FROM enriched h
-- an access key id or a GCP key id alone is an identifier that every audit log records: it is an
-- exposure only with its secret beside it (the secret access key; the private key in the same record)
WHERE NOT (kind = 'aws_access_key_id' AND NOT secret_nearby)
  AND NOT (needs_key AND NOT EXISTS (SELECT 1 FROM near n WHERE n.secret_hit = h.hit_no))
  AND NOT (kind = 'gcp_service_account_key' AND NOT EXISTS (
           SELECT 1 FROM numbered_hits k
           WHERE k.kind = 'private_key_pem' AND k.evidence_sha256 = h.evidence_sha256 AND k.location = h.location
             AND k.evidence_record IS NOT DISTINCT FROM h.evidence_record))
ORDER BY exposure_id
