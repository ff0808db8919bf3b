-- Core case schema: the evidence ledger, the rejects ledger and the normalized events.
-- Every statement is idempotent; files in this folder run in name order when a case opens.
-- Columns are documented once, in docs/schema.md.

CREATE TABLE IF NOT EXISTS evidence (
    evidence_id      BIGINT PRIMARY KEY,
    path             VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL UNIQUE,
    size_bytes       BIGINT NOT NULL,
    compression      VARCHAR NOT NULL,
    format           VARCHAR NOT NULL,
    loader           VARCHAR NOT NULL,
    ingested_at      TIMESTAMPTZ NOT NULL,
    records_read     BIGINT NOT NULL,
    records_loaded   BIGINT NOT NULL,
    records_rejected BIGINT NOT NULL,
    records_duplicate BIGINT NOT NULL DEFAULT 0,
    blank_lines      BIGINT NOT NULL DEFAULT 0,
    note             VARCHAR
);

CREATE TABLE IF NOT EXISTS rejects (
    evidence_sha256 VARCHAR NOT NULL,
    line            BIGINT,
    byte_offset     BIGINT,
    record_index    BIGINT,
    reason          VARCHAR NOT NULL,
    raw_text        VARCHAR,
    raw_length      BIGINT
);

CREATE TABLE IF NOT EXISTS events (
    event_id         VARCHAR NOT NULL,
    time             TIMESTAMPTZ NOT NULL,
    time_raw         VARCHAR,
    end_time         TIMESTAMPTZ,
    source           VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    action           VARCHAR,
    actor            VARCHAR,
    actor_type       VARCHAR,
    credential_id    VARCHAR,
    src_ip           VARCHAR,
    user_agent       VARCHAR,
    target           VARCHAR,
    service          VARCHAR,
    environment      VARCHAR,
    outcome          VARCHAR NOT NULL,
    outcome_reason   VARCHAR,
    request_id       VARCHAR,
    trace_id         VARCHAR,
    span_id          VARCHAR,
    artifact_digest  VARCHAR,
    event_uid        VARCHAR,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_line    BIGINT,
    evidence_record  BIGINT NOT NULL,
    event_seq        INTEGER NOT NULL DEFAULT 0,
    event_rank       SMALLINT NOT NULL DEFAULT 0,
    raw              JSON USING COMPRESSION zstd
);

CREATE TABLE IF NOT EXISTS case_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- A file that commits partway (a large line file commits every 128 MB) is listed here from its first
-- commit until its evidence row is written; a listed file without an evidence row was cut short,
-- and its rows are purged before anything else is read.
CREATE TABLE IF NOT EXISTS ingest_journal (
    evidence_sha256 VARCHAR PRIMARY KEY,
    path            VARCHAR NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL
);
