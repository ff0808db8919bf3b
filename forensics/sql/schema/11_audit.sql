-- Audit-log loaders (issue 3): CloudTrail digest files, and extra credential-inventory columns.
-- Columns are documented in docs/audit.md.

-- CloudTrail digest files are evidence about the log (hash chain of delivered log files), not events.
CREATE TABLE IF NOT EXISTS cloudtrail_digests (
    evidence_sha256           VARCHAR NOT NULL,
    account_id                VARCHAR,
    digest_start              TIMESTAMPTZ,
    digest_end                TIMESTAMPTZ,
    s3_bucket                 VARCHAR,
    s3_object                 VARCHAR,
    previous_digest_signature VARCHAR,
    public_key_fingerprint    VARCHAR,
    log_file_count            BIGINT,
    log_files                 JSON
);

-- Credential inventory: the source family, the distinct addresses, and how many events failed.
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS src_ips VARCHAR[];
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS failed_events BIGINT;
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS last_used_after_revoke TIMESTAMPTZ;

-- Who minted which credential (AssumeRole / GetSessionToken / CreateAccessKey / TokenRequest), one row per minting event.
CREATE TABLE IF NOT EXISTS credential_links (
    credential_id     VARCHAR NOT NULL,   -- the credential minted
    issued_by         VARCHAR,            -- the credential used to mint it (NULL: unknown)
    issuer_principal  VARCHAR,            -- who called (actor of the minting event)
    principal         VARCHAR,            -- the identity the new credential acts as
    how               VARCHAR NOT NULL,   -- e.g. sts:AssumeRole, iam:CreateAccessKey
    issued_at         TIMESTAMPTZ,
    expires_at        TIMESTAMPTZ,
    event_id          VARCHAR NOT NULL
);
