-- A long-lived credential (access key, PAT, OAuth token, client certificate, SA key) used from an
-- address it had never been used from, after it had a history elsewhere: the classic sign of a
-- stolen key (MITRE T1078). ASN data is not available offline, so the network is approximated by the
-- address's /16 (IPv4) or first four groups (IPv6): a new network is high, a new address in a known
-- network medium, a new private address low.
-- The credential's own revocation event is not a use (the responder revokes from their own desk).
-- Parameters: $min_prior (uses before the new address that make a history; default 2).
-- Non-empty: each row is one (credential, new address) pair, with every event from that address.
-- @severity: medium
-- @technique: T1078
-- @title: Long-lived credential used from a new address
-- @engines: duckdb, spark
WITH uses AS (
    SELECT e.credential_id, e.src_ip, e.time, e.event_id, e.actor, c.kind, c.principal,
           CASE WHEN e.src_ip LIKE '%:%' THEN array_to_string(string_split(e.src_ip, ':')[1:4], ':')
                ELSE array_to_string(string_split(e.src_ip, '.')[1:2], '.') END AS net,
           count(*) OVER (PARTITION BY e.credential_id ORDER BY e.time, e.event_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior
    FROM events e JOIN credentials c ON c.credential_id = e.credential_id
    WHERE c.kind IN ('aws_access_key', 'github_pat', 'github_oauth', 'gcp_service_account_key',
                     'k8s_client_certificate')
      AND c.distinct_src_ips >= 2  -- one address in all: nothing new; skips the window for most keys
      AND e.src_ip IS NOT NULL AND e.src_ip <> 'AWS Internal' AND e.src_ip NOT LIKE '%.amazonaws.com'
      AND regexp_matches(e.src_ip, '^[0-9a-fA-F:.]+$') AND e.event_id IS DISTINCT FROM c.revoked_event_id
), pairs AS (
    SELECT credential_id, src_ip, any_value(kind) AS kind, any_value(principal) AS principal,
           any_value(net) AS net, min(time) AS first_time, max(time) AS last_time, count(*) AS n,
           arg_min(prior, time) AS prior_uses, list(DISTINCT actor) AS actors,
           list(event_id ORDER BY time, event_id)[1:500] AS event_ids
    FROM uses GROUP BY credential_id, src_ip
), nets AS (
    SELECT credential_id, net, min(time) AS net_first FROM uses GROUP BY credential_id, net
)
SELECT p.credential_id || '|' || p.src_ip AS group_key, NULL AS rule_id, p.first_time AS time,
       p.last_time AS "end",
       CASE WHEN regexp_matches(p.src_ip, '^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|f[cd])') THEN 'low'
            WHEN n2.net_first = p.first_time THEN 'high' ELSE 'medium' END AS severity,
       p.kind || ' ' || p.credential_id || ' used from new address ' || p.src_ip AS title,
       p.kind || ' ' || p.credential_id || ' of ' || coalesce(p.principal, '?') || ' was used ' || p.prior_uses
           || ' times from other addresses, then from ' || p.src_ip || ' (' || p.n || ' events, first '
           || strftime(p.first_time, '%Y-%m-%dT%H:%M:%SZ') || ')'
           || CASE WHEN n2.net_first = p.first_time THEN '; its network was never seen for this credential' ELSE '' END
           AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := p.credential_id), struct_pack(kind := 'ip', id := p.src_ip),
                    struct_pack(kind := 'actor', id := p.principal)]
                   || [struct_pack(kind := 'actor', id := a) for a in p.actors], lambda x: x.id IS NOT NULL) AS entities,
       [struct_pack(kind := 'event', id := i) for i in p.event_ids] AS evidence,
       p.n AS matches,
       json_object('prior_uses', p.prior_uses, 'network', p.net) AS attributes
FROM pairs p JOIN nets n2 ON n2.credential_id = p.credential_id AND n2.net = p.net
WHERE p.prior_uses >= coalesce($min_prior, 2)
