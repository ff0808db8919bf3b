-- Credential facts and state changes for the revocation checklist (issue 19). Columns are
-- documented in docs/credentials.md and docs/schema.md.

-- Who the credential acts as, from the records that use it (CloudTrail userIdentity).
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS identity_type VARCHAR;   -- IAMUser | AssumedRole | Root | FederatedUser | AWSService | ...
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS role_arn VARCHAR;        -- the role of an assumed-role session (sessionIssuer.arn or AssumeRole roleArn)
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS session_name VARCHAR;    -- roleSessionName (an instance id for an EC2 instance role)
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS console_session BOOLEAN; -- sessionCredentialFromConsole: a console sign-in's keys
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS issued_at_source VARCHAR; -- minting event | sessionContext.attributes.creationDate
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS reactivated_at TIMESTAMPTZ;   -- the last reactivation, when no revocation followed it
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS reactivated_event_id VARCHAR;

-- Every event that changed a credential's state, one row per (credential, event). These events are
-- never counted as uses of the credential they change.
CREATE TABLE IF NOT EXISTS credential_state_events (
    credential_id VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,
    time          TIMESTAMPTZ,
    change        VARCHAR NOT NULL,   -- revoked | reactivated | deleted
    how           VARCHAR NOT NULL
);
