-- Credential inventory (filled by the audit loaders' derivation; issue: audit loaders).
-- Rebuilt from events after every ingest. One row per credential observed.
CREATE TABLE IF NOT EXISTS credentials (
    credential_id     VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL,   -- aws_access_key | aws_temporary_key | k8s_service_account_token | k8s_client_certificate | github_pat | github_oauth | github_app | github_installation | gcp_service_account_key | other
    principal         VARCHAR,
    first_seen        TIMESTAMPTZ,
    last_seen         TIMESTAMPTZ,
    event_count       BIGINT,
    distinct_src_ips  BIGINT,
    sample_actions    VARCHAR[],
    issued_at         TIMESTAMPTZ,
    expires_at        TIMESTAMPTZ,
    issued_by         VARCHAR,            -- the credential that minted this one (AssumeRole chains)
    issued_event_id   VARCHAR,
    revoked_at        TIMESTAMPTZ,
    revoked_how       VARCHAR,
    revoked_event_id  VARCHAR,
    used_after_revoke BIGINT NOT NULL DEFAULT 0
);
