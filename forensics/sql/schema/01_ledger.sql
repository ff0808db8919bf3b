-- The tree ledger: every entry of an input that is not read as evidence (a FIFO, a device, a broken or
-- directory link, an unreadable file, a hidden file, a file that changed while it was read, the remains
-- of an ingest that was cut short), with its reason. Columns are documented in docs/schema.md.

CREATE TABLE IF NOT EXISTS skipped_entries (
    path          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    sha256        VARCHAR,
    size_bytes    BIGINT,
    parent_sha256 VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL
);
