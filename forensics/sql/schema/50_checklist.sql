-- Secret exposures (issue: credential-revocation checklist). Rebuilt by forensics.secrets.scan
-- from queries/credentials/secret_exposures.sql. A secret is never stored: only its kind, a
-- redacted form (kind, first 4 characters, fingerprint) and its fingerprint.
CREATE TABLE IF NOT EXISTS secret_exposures (
    exposure_id      BIGINT NOT NULL,
    kind             VARCHAR NOT NULL,   -- aws_access_key_id | aws_secret_access_key | github_token | github_fine_grained_pat | gitlab_pat | slack_token | jwt | private_key_pem | gcp_service_account_key
    fingerprint      VARCHAR NOT NULL,   -- 'sha256:' + first 12 hex of sha256(secret), as forensics.display.fingerprint
    redacted         VARCHAR NOT NULL,   -- as forensics.display.redact(secret, kind)
    secret_length    INTEGER NOT NULL,
    credential_id    VARCHAR,            -- the credential it belongs to when known (AWS key id, paired key id, GCP key id, matched token hash)
    secret_nearby    BOOLEAN,            -- AWS key id: a secret access key exposed in the same record or within 5 lines is paired with it (nearest key wins)
    location         VARCHAR NOT NULL,   -- events | span_attributes | rejects
    source           VARCHAR,            -- events.source, 'spans' or 'rejects'
    event_id         VARCHAR,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_line    BIGINT,
    evidence_record  BIGINT,
    field            VARCHAR,            -- JSON path inside events.raw, span attribute scope:key, or raw_text
    time             TIMESTAMPTZ,
    actor            VARCHAR             -- who or what wrote the text (the CI runner for job logs)
);

-- Evidence files whose text has been scanned for secrets (the post-ingest scan is incremental;
-- forensics.secrets.scan(con) without only_new rescans everything).
CREATE TABLE IF NOT EXISTS secret_scans (
    evidence_sha256 VARCHAR PRIMARY KEY
);
