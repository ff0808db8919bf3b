-- Which credentials must responders revoke, what could each reach, and is each proven revoked?
-- One row per credential in scope. Scope: credentials listed; used by or issued to the listed
-- principals; used from the listed addresses, or with a user agent seen only from them; used on or
-- exposed on the listed runners; long-lived credentials created in the window; every credential
-- exposed in ingested text; and everything minted by any of these (credentials.issued_by chains).
-- With no principal, credential, runner or address given, every credential in the case is in scope.
-- A credential is 'revoked' only when its revocation event exists in events; otherwise it is
-- 'expired, not revoked' (past its expiry) or 'not proven revoked'.
-- Parameters: $principals, $credentials, $runners, $ips (VARCHAR[] or NULL), $start, $end (window,
-- TIMESTAMPTZ or NULL; end exclusive).
-- State (column state): revoked (its revocation event is in events, and no reactivation followed),
-- reactivated (revoked, then made active again), expired (past expires_at, or an AWS temporary key
-- issued more than 36 hours ago: no STS credential lives longer), still valid (expires later),
-- unknown (no expiry known and no revocation seen). Events that change a credential's state are never
-- counted as its uses. Failures are classified: denied, not found, throttled, error.
-- Rank: credentials that need no action (revoked, never used successfully after) last; then the
-- strongest finding tied to the credential (findings.entities), then risk_score; rank_reasons says why.
-- Non-empty means: these credentials are in scope; every row whose status is not 'revoked' needs action.
-- @engines: duckdb
-- @not-spark: UNION ALL BY NAME is not Spark SQL
WITH RECURSIVE
win AS (SELECT CAST($start AS TIMESTAMPTZ) AS t0, CAST($end AS TIMESTAMPTZ) AS t1),
p_principals AS (SELECT unnest(coalesce(CAST($principals AS VARCHAR[]), [])) AS v),
p_credentials AS (SELECT unnest(coalesce(CAST($credentials AS VARCHAR[]), [])) AS v),
p_runners AS (SELECT unnest(coalesce(CAST($runners AS VARCHAR[]), [])) AS v),
p_ips AS (SELECT unnest(coalesce(CAST($ips AS VARCHAR[]), [])) AS v),
unscoped AS (
    SELECT (SELECT count(*) FROM p_principals) + (SELECT count(*) FROM p_credentials)
         + (SELECT count(*) FROM p_runners) + (SELECT count(*) FROM p_ips) = 0 AS yes
),
inwin AS (
    SELECT e.* FROM events e, win
    WHERE (win.t0 IS NULL OR e.time >= win.t0) AND (win.t1 IS NULL OR e.time < win.t1)
),
exposed AS (
    SELECT coalesce(x.credential_id, x.redacted) AS credential_id, x.*  EXCLUDE (credential_id),
           CASE WHEN x.kind IN ('aws_access_key_id', 'aws_secret_access_key') THEN 'aws_access_key'
                WHEN x.kind = 'github_token' AND x.redacted LIKE '[github\_token ghp\_%' ESCAPE '\' THEN 'github_pat'
                WHEN x.kind = 'github_token' AND x.redacted LIKE '[github\_token ghs\_%' ESCAPE '\' THEN 'github_installation'
                WHEN x.kind = 'github_token' THEN 'github_oauth'
                WHEN x.kind = 'github_fine_grained_pat' THEN 'github_pat'
                WHEN x.kind = 'private_key_pem' THEN 'private_key'
                ELSE x.kind END AS cred_kind
    FROM secret_exposures x
),
cred AS (
    SELECT credential_id, kind, principal, issued_at, expires_at, issued_by, issued_event_id,
           revoked_at, revoked_how, revoked_event_id, identity_type, role_arn, session_name, console_session,
           issued_at_source, reactivated_at, reactivated_event_id, 'credentials' AS known_from
    FROM credentials
    UNION ALL BY NAME
    SELECT credential_id,
           CASE WHEN credential_id LIKE 'AKIA%' THEN 'aws_access_key'
                WHEN credential_id LIKE 'ASIA%' THEN 'aws_temporary_key' ELSE 'other' END AS kind,
           'events' AS known_from
    FROM events
    WHERE credential_id IS NOT NULL AND credential_id NOT IN (SELECT credential_id FROM credentials)
    GROUP BY credential_id
    UNION ALL BY NAME
    SELECT credential_id, any_value(cred_kind) AS kind, 'secret exposure' AS known_from
    FROM exposed
    WHERE credential_id NOT IN (SELECT credential_id FROM credentials)
      AND credential_id NOT IN (SELECT credential_id FROM events WHERE credential_id IS NOT NULL)
    GROUP BY credential_id
),
scope_uas AS (  -- user agents seen in the window from the listed addresses and from no other address
    SELECT user_agent FROM inwin WHERE src_ip IN (SELECT v FROM p_ips) AND user_agent IS NOT NULL
    EXCEPT
    SELECT user_agent FROM inwin WHERE src_ip NOT IN (SELECT v FROM p_ips) AND user_agent IS NOT NULL
),
seeds(credential_id, reason) AS (
    SELECT credential_id, 'no scope given: every credential in the case' FROM cred WHERE (SELECT yes FROM unscoped)
    UNION ALL
    SELECT v, 'listed as compromised' FROM p_credentials
    UNION ALL
    SELECT DISTINCT e.credential_id, 'used by ' || p.v
    FROM inwin e JOIN p_principals p ON e.actor = p.v OR ends_with(e.actor, '/' || p.v)
    WHERE e.credential_id IS NOT NULL
    UNION ALL
    SELECT c.credential_id, 'issued to ' || p.v
    FROM cred c JOIN p_principals p ON c.principal = p.v OR ends_with(c.principal, '/' || p.v)
    UNION ALL
    SELECT DISTINCT e.credential_id, 'used from ' || e.src_ip
    FROM inwin e JOIN p_ips i ON e.src_ip = i.v
    WHERE e.credential_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT e.credential_id, 'used with a user agent seen only from the listed addresses'
    FROM inwin e JOIN scope_uas u USING (user_agent)
    WHERE e.credential_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT e.credential_id, 'used on runner ' || r.v
    FROM inwin e JOIN p_runners r ON e.actor = r.v OR e.environment = r.v
    WHERE e.credential_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT x.credential_id, 'exposed on runner ' || r.v
    FROM exposed x JOIN p_runners r ON x.actor = r.v
    UNION ALL
    SELECT DISTINCT credential_id, 'exposed in ingested text' FROM exposed
    UNION ALL
    SELECT c.credential_id, 'long-lived credential created in the window'
    FROM cred c, win
    WHERE (win.t0 IS NOT NULL OR win.t1 IS NOT NULL) AND c.kind <> 'aws_temporary_key' AND c.expires_at IS NULL
      AND c.issued_at IS NOT NULL
      AND (win.t0 IS NULL OR c.issued_at >= win.t0) AND (win.t1 IS NULL OR c.issued_at < win.t1)
),
chain(credential_id, reason, depth) AS (
    SELECT credential_id, reason, 0 FROM seeds WHERE credential_id IS NOT NULL
    UNION
    SELECT c.credential_id, 'minted by ' || ch.credential_id, ch.depth + 1
    FROM cred c JOIN chain ch ON c.issued_by = ch.credential_id
    WHERE ch.depth < 16
),
scope AS (
    SELECT credential_id, list(DISTINCT reason ORDER BY reason) AS scope_reasons
    FROM chain GROUP BY credential_id
),
c AS (  -- one row per credential in scope (a listed credential the case never saw is kept)
    SELECT s.credential_id, s.scope_reasons, any_value(cr.kind) AS kind, any_value(cr.principal) AS principal,
           any_value(cr.issued_at) AS issued_at, any_value(cr.expires_at) AS expires_at,
           any_value(cr.issued_by) AS issued_by, any_value(cr.issued_event_id) AS issued_event_id,
           any_value(cr.revoked_at) AS revoked_at, any_value(cr.revoked_how) AS revoked_how,
           any_value(cr.revoked_event_id) AS revoked_event_id, any_value(cr.known_from) AS known_from,
           any_value(cr.identity_type) AS identity_type, any_value(cr.role_arn) AS role_arn,
           any_value(cr.session_name) AS session_name, any_value(cr.console_session) AS console_session,
           any_value(cr.issued_at_source) AS issued_at_source, any_value(cr.reactivated_at) AS reactivated_at,
           any_value(cr.reactivated_event_id) AS reactivated_event_id
    FROM scope s LEFT JOIN cred cr USING (credential_id)
    GROUP BY s.credential_id, s.scope_reasons
),
rev AS (  -- revocation is proven only by an event the case holds
    SELECT c.credential_id, e.event_id AS rev_event_id, e.time AS rev_event_time, e.action AS rev_event_action,
           e.evidence_sha256 AS rev_sha256, e.evidence_line AS rev_line
    FROM c JOIN events e ON e.event_id = c.revoked_event_id
),
state_events AS (  -- what changed each credential's state, with the proof
    SELECT s.credential_id,
           list(s.change || ' ' || strftime(s.time, '%Y-%m-%d %H:%M:%S') || ' by ' || s.how || ' (event ' || s.event_id || ')'
                ORDER BY s.time, s.event_id) AS state_events
    FROM credential_state_events s JOIN c USING (credential_id) GROUP BY s.credential_id
),
u AS (
    SELECT e.*, coalesce(e.service, CASE WHEN e.action LIKE '%:%' THEN split_part(e.action, ':', 1) END) AS svc,
           CASE WHEN e.outcome = 'timeout' THEN 'throttled'
                WHEN e.outcome <> 'failure' THEN NULL
                WHEN regexp_matches(coalesce(e.raw->>'$.errorCode', e.outcome_reason, ''),
                                    '(?i)(Throttl|RequestLimitExceeded|TooManyRequests|SlowDown|Rate ?exceeded|\b429\b)') THEN 'throttled'
                WHEN regexp_matches(coalesce(e.raw->>'$.errorCode', e.outcome_reason, ''),
                                    '(?i)(^NoSuch|NotFound|Not ?Found|does not exist|\b404\b)') THEN 'not found'
                WHEN regexp_matches(coalesce(e.raw->>'$.errorCode', e.outcome_reason, ''),
                                    '(?i)(AccessDenied|Unauthorized|Forbidden|NotAuthorized|AuthFailure|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch|\b40[13]\b|denied)') THEN 'denied'
                ELSE 'error' END AS fail_class,
           regexp_matches(coalesce(e.action, ''),
                          '(?i)(^|:)(Create|Put|Delete|Attach|Detach|Update|Assume|Pass|Run|Patch|Add|Set|Modify|Upload|Push|Deploy|Write)|(^|[.:])(create|update|patch|delete|write|push)')
               AS privileged
    FROM events e JOIN c USING (credential_id)
    WHERE NOT EXISTS (SELECT 1 FROM credential_state_events s
                      WHERE s.event_id = e.event_id AND s.credential_id = e.credential_id)
),
st AS (
    SELECT u.credential_id,
           count(*) AS uses,
           count(*) FILTER (WHERE u.outcome = 'success') AS successful_uses,
           min(u.time) AS first_use, max(u.time) AS last_use,
           arg_max(u.actor, u.time) AS last_actor,
           list(DISTINCT u.src_ip ORDER BY u.src_ip) FILTER (WHERE u.src_ip IS NOT NULL) AS src_ips,
           list(DISTINCT u.user_agent ORDER BY u.user_agent) FILTER (WHERE u.user_agent IS NOT NULL) AS user_agents,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.action IS NOT NULL) AS actions,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.outcome = 'success' AND u.action IS NOT NULL) AS privileges_seen,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.fail_class = 'denied' AND u.action IS NOT NULL) AS denied_actions,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.fail_class = 'not found' AND u.action IS NOT NULL) AS not_found_actions,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.fail_class = 'throttled' AND u.action IS NOT NULL) AS throttled_actions,
           list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.fail_class = 'error' AND u.action IS NOT NULL) AS error_actions,
           list(DISTINCT u.svc ORDER BY u.svc) FILTER (WHERE u.svc IS NOT NULL) AS services,
           count(DISTINCT u.target) AS distinct_targets,
           list(DISTINCT u.target ORDER BY u.target) FILTER (WHERE u.target IS NOT NULL) AS targets,
           list(DISTINCT u.artifact_digest ORDER BY u.artifact_digest) FILTER (WHERE u.artifact_digest IS NOT NULL) AS artifacts,
           count(*) FILTER (WHERE u.privileged AND u.outcome = 'success') AS privileged_successes,
           count(*) FILTER (WHERE u.src_ip IN (SELECT v FROM p_ips)) AS uses_from_listed_ips,
           count(*) FILTER (WHERE regexp_matches(coalesce(u.actor, ''), '^arn:aws:sts::\d+:assumed-role/[^/]+/i-[0-9a-f]{8,17}$')
                              AND u.src_ip IS NOT NULL AND NOT ends_with(u.src_ip, '.amazonaws.com')
                              AND NOT regexp_matches(u.src_ip, '^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)')
                              AND NOT contains(coalesce(u.user_agent, ''), 'amazonaws.com')) AS instance_role_uses_outside_aws
    FROM u GROUP BY u.credential_id
),
after AS (
    SELECT c.credential_id,
           count(*) FILTER (WHERE r.rev_event_time IS NOT NULL AND e.time > coalesce(c.revoked_at, r.rev_event_time)
                            AND e.event_id <> r.rev_event_id) AS uses_after_revocation,
           count(*) FILTER (WHERE r.rev_event_time IS NOT NULL AND e.time > coalesce(c.revoked_at, r.rev_event_time)
                            AND e.event_id <> r.rev_event_id AND e.outcome = 'success') AS successful_uses_after_revocation,
           count(*) FILTER (WHERE c.expires_at IS NOT NULL AND e.time > c.expires_at) AS uses_after_expiry,
           count(*) FILTER (WHERE c.expires_at IS NOT NULL AND e.time > c.expires_at AND e.outcome = 'success') AS successful_uses_after_expiry
    FROM c LEFT JOIN rev r USING (credential_id) JOIN events e ON e.credential_id = c.credential_id
    WHERE NOT EXISTS (SELECT 1 FROM credential_state_events s
                      WHERE s.event_id = e.event_id AND s.credential_id = e.credential_id)
    GROUP BY c.credential_id
),
tied AS (  -- findings naming the credential (findings.entities kind credential)
    SELECT c.credential_id, max(f.severity_rank) AS finding_severity_rank,
           list(DISTINCT f.finding_id ORDER BY f.finding_id) AS finding_ids,
           list(DISTINCT f.severity || ': ' || f.title || ' (' || f.finding_id || ')'
                ORDER BY f.severity || ': ' || f.title || ' (' || f.finding_id || ')') AS finding_reasons
    FROM c JOIN (SELECT finding_id, severity, severity_rank, title, unnest(entities) AS ent FROM findings) f
      ON f.ent.kind = 'credential' AND f.ent.id = c.credential_id
    GROUP BY c.credential_id
),
ex AS (
    SELECT credential_id, count(*) AS exposures,
           bool_or(kind <> 'aws_access_key_id' OR coalesce(secret_nearby, false)) AS secret_exposed,
           list(DISTINCT redacted ORDER BY redacted) AS exposed_as,
           list(DISTINCT coalesce(source, location) || ' ' || left(evidence_sha256, 12) || coalesce(' line ' || evidence_line, '')
                || coalesce(' ' || field, '') ORDER BY 1) AS exposed_in
    FROM exposed GROUP BY credential_id
),
rows AS (
    SELECT c.credential_id,
           coalesce(c.kind, 'unknown') AS kind,
           coalesce(c.principal, st.last_actor) AS principal,
           c.identity_type, c.role_arn, c.session_name, c.console_session, c.issued_at_source,
           CASE WHEN c.expires_at IS NOT NULL OR c.kind IN ('aws_temporary_key', 'github_installation', 'jwt')
                THEN 'short-lived' ELSE 'long-lived' END AS lifetime,
           c.issued_at, c.expires_at, c.issued_by,
           c.scope_reasons,
           coalesce(st.uses, 0) AS uses, coalesce(st.successful_uses, 0) AS successful_uses,
           st.first_use, st.last_use,
           coalesce(st.privileges_seen, []) AS privileges_seen, coalesce(st.denied_actions, []) AS denied_actions,
           coalesce(st.not_found_actions, []) AS not_found_actions, coalesce(st.throttled_actions, []) AS throttled_actions,
           coalesce(st.error_actions, []) AS error_actions,
           coalesce(st.actions, []) AS actions, coalesce(st.services, []) AS services,
           coalesce(st.distinct_targets, 0) AS distinct_targets, coalesce(st.targets, []) AS targets,
           coalesce(st.artifacts, []) AS artifacts,
           coalesce(st.src_ips, []) AS src_ips, coalesce(st.user_agents, []) AS user_agents,
           coalesce(st.privileged_successes, 0) AS privileged_successes,
           coalesce(st.uses_from_listed_ips, 0) AS uses_from_listed_ips,
           coalesce(st.instance_role_uses_outside_aws, 0) AS instance_role_uses_outside_aws,
           coalesce(ex.exposures, 0) AS exposures, coalesce(ex.secret_exposed, false) AS secret_exposed,
           coalesce(ex.exposed_as, []) AS exposed_as, coalesce(ex.exposed_in, []) AS exposed_in,
           CASE WHEN r.rev_event_id IS NOT NULL THEN 'revoked'
                WHEN c.expires_at IS NOT NULL AND c.expires_at <= now() THEN 'expired, not revoked'
                WHEN c.reactivated_at IS NOT NULL THEN 'reactivated'
                ELSE 'not proven revoked' END AS status,
           CASE WHEN r.rev_event_id IS NOT NULL THEN 'revoked'
                WHEN c.reactivated_at IS NOT NULL THEN 'reactivated'
                WHEN c.expires_at IS NOT NULL AND c.expires_at <= now() THEN 'expired'
                WHEN c.expires_at IS NOT NULL THEN 'still valid'
                WHEN c.kind = 'aws_temporary_key' AND c.issued_at IS NOT NULL
                     AND c.issued_at + INTERVAL 36 HOUR <= now() THEN 'expired'
                ELSE 'unknown' END AS state,
           CASE WHEN r.rev_event_id IS NOT NULL THEN 'revocation event ' || r.rev_event_id || ' is in the case'
                WHEN c.reactivated_at IS NOT NULL THEN 'revoked, then reactivated by event ' || c.reactivated_event_id
                WHEN c.expires_at IS NOT NULL AND c.expires_at <= now() THEN 'expired ' || strftime(c.expires_at, '%Y-%m-%d %H:%M:%S') || ' UTC (minting event ' || coalesce(c.issued_event_id, '?') || ')'
                WHEN c.expires_at IS NOT NULL THEN 'expires ' || strftime(c.expires_at, '%Y-%m-%d %H:%M:%S') || ' UTC'
                WHEN c.kind = 'aws_temporary_key' AND c.issued_at IS NOT NULL
                     AND c.issued_at + INTERVAL 36 HOUR <= now()
                    THEN 'issued ' || strftime(c.issued_at, '%Y-%m-%d %H:%M:%S') || ' UTC (' || coalesce(c.issued_at_source, '?')
                         || '); no AWS temporary credential lives longer than 36 hours'
                WHEN c.kind = 'aws_temporary_key' THEN 'no expiry and no issue time in the logs (the minting sts call or a record with sessionContext would give it)'
                ELSE 'no expiry in the logs and no revocation event: assume it works' END AS state_reason,
           coalesce(se.state_events, []) AS state_events,
           coalesce(t.finding_severity_rank, 0) AS finding_severity_rank, coalesce(t.finding_ids, []) AS finding_ids,
           coalesce(t.finding_reasons, []) AS finding_reasons,
           CASE WHEN r.rev_event_id IS NOT NULL THEN coalesce(c.revoked_at, r.rev_event_time) END AS revoked_at,
           CASE WHEN r.rev_event_id IS NOT NULL THEN coalesce(c.revoked_how, r.rev_event_action) END AS revoked_how,
           r.rev_event_id AS revocation_event_id, r.rev_sha256 AS revocation_evidence_sha256, r.rev_line AS revocation_evidence_line,
           CASE WHEN r.rev_event_id IS NULL AND c.revoked_at IS NOT NULL
                THEN 'a revocation time is recorded but its event is not in the case' END AS revocation_note,
           coalesce(a.uses_after_revocation, 0) AS uses_after_revocation,
           coalesce(a.successful_uses_after_revocation, 0) AS successful_uses_after_revocation,
           coalesce(a.uses_after_expiry, 0) AS uses_after_expiry,
           coalesce(a.successful_uses_after_expiry, 0) AS successful_uses_after_expiry,
           c.known_from
    FROM c LEFT JOIN st USING (credential_id) LEFT JOIN rev r USING (credential_id)
           LEFT JOIN after a USING (credential_id) LEFT JOIN ex USING (credential_id)
           LEFT JOIN state_events se USING (credential_id) LEFT JOIN tied t USING (credential_id)
),
scored AS (
    SELECT *,
           CASE WHEN state = 'revoked' THEN 0 WHEN state = 'expired' THEN 10 ELSE 40 END
         + CASE WHEN lifetime = 'long-lived' THEN 15 ELSE 0 END
         + CASE WHEN secret_exposed THEN 15 WHEN exposures > 0 THEN 5 ELSE 0 END
         + CASE WHEN successful_uses_after_revocation > 0 THEN 40 WHEN uses_after_revocation > 0 THEN 10 ELSE 0 END
         + CASE WHEN successful_uses_after_expiry > 0 THEN 30 WHEN uses_after_expiry > 0 THEN 5 ELSE 0 END
         + CASE WHEN instance_role_uses_outside_aws > 0 THEN 20 ELSE 0 END
         + CASE WHEN uses_from_listed_ips > 0 THEN 10 ELSE 0 END
         + CASE WHEN privileged_successes > 0 THEN 10 ELSE 0 END
         + CASE WHEN len(artifacts) > 0 THEN 10 ELSE 0 END
         + least(distinct_targets, 10) AS risk_score,
           state = 'revoked' AND successful_uses_after_revocation = 0 AS done,
           finding_reasons || list_filter([
               CASE WHEN state = 'revoked' AND successful_uses_after_revocation = 0 THEN 'revoked, no successful use after: ranked last' END,
               CASE WHEN state = 'reactivated' THEN 'revoked, then reactivated' END,
               CASE WHEN successful_uses_after_revocation > 0 THEN 'used successfully ' || successful_uses_after_revocation || ' times after revocation'
                    WHEN uses_after_revocation > 0 THEN 'tried ' || uses_after_revocation || ' times after revocation' END,
               CASE WHEN successful_uses_after_expiry > 0 THEN 'used successfully ' || successful_uses_after_expiry || ' times after expiry' END,
               CASE WHEN instance_role_uses_outside_aws > 0 THEN 'instance-role session used ' || instance_role_uses_outside_aws || ' times from outside AWS' END,
               CASE WHEN secret_exposed THEN 'secret exposed in ingested text' END,
               CASE WHEN uses_from_listed_ips > 0 THEN 'used from a listed address' END,
               CASE WHEN privileged_successes > 0 THEN privileged_successes || ' successful writes' END,
               CASE WHEN len(artifacts) > 0 THEN 'built or pushed artifacts' END,
               CASE WHEN lifetime = 'long-lived' AND state NOT IN ('revoked', 'expired') THEN 'long-lived and not revoked' END,
               CASE WHEN state = 'expired' THEN 'expired: ' || state_reason END,
               CASE WHEN state = 'unknown' AND lifetime = 'short-lived' THEN 'short-lived, expiry unknown' END
           ], lambda x: x IS NOT NULL) AS rank_reasons
    FROM rows
)
SELECT row_number() OVER (ORDER BY done, finding_severity_rank DESC, risk_score DESC, last_use DESC NULLS LAST, credential_id) AS risk_rank, *
FROM scored
ORDER BY risk_rank
