-- What the case cannot see: each coverage gap (queries/coverage/gaps.sql, kept in coverage_gaps) is a
-- finding. A CloudTrail log file that a digest lists but the evidence lacks, or a break in the digest
-- chain, is what an attacker who deletes logs leaves (medium); a source silent past the threshold
-- learned from its own rate is what disabled logging or a broken shipper leaves (low); spans whose
-- parents were not collected and files no loader read are noted (info). Either way the case cannot
-- see that window, and a conclusion resting on it says so.
-- Parameters: none. Non-empty: one finding per gap; evidence is the digest file, the events on either
-- side of a silence, the orphaned spans, or the skipped file.
-- @severity: low
-- @title: Gap in log coverage
-- @engines: duckdb
-- @not-spark: date_diff/date_trunc over an interval value has no Spark form
SELECT gap_id AS group_key, kind AS rule_id, start AS time, "end", severity,
       CASE kind WHEN 'digest_missing_file' THEN 'CloudTrail log file missing from the evidence'
                 WHEN 'digest_chain_break' THEN 'CloudTrail digest chain broken'
                 WHEN 'silence' THEN source || ' silent for ' || CAST(date_trunc('minute', "end" - start) AS VARCHAR)
                 WHEN 'missing_parent' THEN 'Spans of ' || coalesce(nullif(scope, ''), '?') || ' whose parents were not collected'
                 ELSE 'Evidence file not read: ' || scope END AS title,
       statement AS summary,
       CASE WHEN kind IN ('digest_missing_file', 'digest_chain_break', 'silence') THEN 'T1562.008' END AS technique,
       [struct_pack(kind := 'resource', id := 'source:' || source)] AS entities,
       evidence, 1 AS matches,
       json_merge_patch(coalesce(detail, '{}'), json_object('kind', kind, 'scope', scope)) AS attributes
FROM coverage_gaps
