-- Provenance, SBOM inventory, deploys and CI runs (issue 7: "what code was running").
-- Columns are documented in docs/provenance.md.

-- One row per (attestation, subject, digest algorithm). An attestation is one sigstore bundle, DSSE
-- envelope, in-toto Statement, bare SLSA predicate or classic in-toto link; attestation_id is shared
-- by its subject rows. Filled by the sigstore_bundle and intoto sources; signer identity columns and
-- the verdict are filled by forensics.verify (verdict 'indeterminate' until a check has run).
CREATE TABLE IF NOT EXISTS attestations (
    attestation_id        VARCHAR NOT NULL,
    subject_index         INTEGER,
    subject_name          VARCHAR,
    digest_algorithm      VARCHAR,
    digest_value          VARCHAR,
    subject_digest        VARCHAR,        -- algorithm:value, the join key to deploys.artifact_digest
    kind                  VARCHAR NOT NULL,  -- sigstore_bundle | dsse | statement | predicate | intoto_link
    content               VARCHAR NOT NULL,  -- dsse | message_signature | unsigned | signed_link
    bundle_media_type     VARCHAR,
    payload_type          VARCHAR,
    statement_type        VARCHAR,
    predicate_type        VARCHAR,
    builder_id            VARCHAR,
    build_type            VARCHAR,
    source_repo           VARCHAR,
    source_ref            VARCHAR,
    source_commit         VARCHAR,
    workflow_path         VARCHAR,
    run_id                VARCHAR,
    build_started         TIMESTAMPTZ,
    build_finished        TIMESTAMPTZ,
    signature_count       INTEGER,
    keyid                 VARCHAR,
    signer_san            VARCHAR,
    signer_issuer         VARCHAR,
    cert_repository       VARCHAR,
    cert_workflow_ref     VARCHAR,
    cert_sha              VARCHAR,
    cert_trigger          VARCHAR,
    cert_runner_environment VARCHAR,
    cert_not_before       TIMESTAMPTZ,
    cert_not_after        TIMESTAMPTZ,
    rekor_log_index       BIGINT,
    rekor_integrated_time TIMESTAMPTZ,
    rekor_kind_version    VARCHAR,
    tsa_timestamp_count   INTEGER,
    verdict               VARCHAR NOT NULL DEFAULT 'indeterminate',  -- verified | failed | indeterminate
    verdict_reason        VARCHAR NOT NULL DEFAULT 'not checked yet: run forensics.verify.verify_case(case, policy)',
    verification_path     VARCHAR,        -- sigstore-python | kit-intoto-0.0.2 | keyed-dsse | none
    trust_root            VARCHAR,        -- which trust root the verdict rests on (never implied)
    artifact_match        VARCHAR,        -- match | mismatch | unknown (sha256/sha512 of the known artifact)
    evidence_sha256       VARCHAR NOT NULL,
    evidence_line         BIGINT,
    evidence_record       BIGINT NOT NULL,
    envelope              JSON            -- the record as read (bundle, envelope, statement or link)
);

-- One row per component of an SBOM (CycloneDX JSON/XML, SPDX 2.x JSON, SPDX 3.0 JSON-LD).
CREATE TABLE IF NOT EXISTS sbom_components (
    sbom_id          VARCHAR NOT NULL,     -- evidence sha256 prefix : record
    sbom_format      VARCHAR NOT NULL,     -- cyclonedx | spdx
    spec_version     VARCHAR,
    document_name    VARCHAR,
    component_index  INTEGER NOT NULL,
    component_ref    VARCHAR,              -- bom-ref or SPDXID
    component_type   VARCHAR,
    name             VARCHAR,
    version          VARCHAR,
    purl             VARCHAR,
    sha256           VARCHAR,
    hashes           JSON,                 -- {algorithm: value}
    licenses         VARCHAR[],
    supplier         VARCHAR,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_record  BIGINT NOT NULL
);

-- Deploys, derived from events after every ingest (forensics/derive/provenance.py): the generic
-- deploy log, GitHub deployment/deployment_status, Argo CD history and Kubernetes audit events that
-- change a Deployment or Pod image.
CREATE TABLE IF NOT EXISTS deploys (
    deploy_id        VARCHAR NOT NULL,     -- the event_id it came from
    time             TIMESTAMPTZ NOT NULL,
    time_raw         VARCHAR,
    service          VARCHAR,
    environment      VARCHAR,
    instance         VARCHAR,              -- cluster / region / namespace / app: one rollout lane
    version          VARCHAR,
    artifact_digest  VARCHAR,              -- sha256:<hex> when known
    image            VARCHAR,
    actor            VARCHAR,
    via              VARCHAR,              -- pipeline | manual | unknown
    action           VARCHAR,              -- deploy | rollback | scale | status
    status           VARCHAR,              -- success | failure | timeout | unknown
    status_detail    VARCHAR,
    source           VARCHAR NOT NULL,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_record  BIGINT NOT NULL
);

-- CI runs and jobs (GitHub Actions workflow_run / workflow_job payloads and API captures), derived
-- from events after every ingest.
CREATE TABLE IF NOT EXISTS ci_runs (
    event_id         VARCHAR NOT NULL,
    time             TIMESTAMPTZ NOT NULL,
    kind             VARCHAR NOT NULL,     -- workflow_run | workflow_job
    repository       VARCHAR,
    run_id           VARCHAR,
    run_attempt      VARCHAR,
    job_id           VARCHAR,
    job_name         VARCHAR,
    workflow_name    VARCHAR,
    workflow_path    VARCHAR,
    trigger          VARCHAR,
    head_sha         VARCHAR,
    head_branch      VARCHAR,
    actor            VARCHAR,
    runner_name      VARCHAR,
    runner_group     VARCHAR,
    labels           VARCHAR[],
    status           VARCHAR,
    conclusion       VARCHAR,
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_record  BIGINT NOT NULL
);
