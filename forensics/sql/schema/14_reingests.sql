-- Every re-ingest (forensics ingest --reingest REASON): a file's rows were removed and the file was read
-- again (for example with the right loader or mapping). The evidence row is replaced; this ledger keeps
-- what it said before and why it was replaced.
CREATE TABLE IF NOT EXISTS reingests (
    reingested_at            TIMESTAMPTZ NOT NULL,
    sha256                   VARCHAR NOT NULL,
    path                     VARCHAR NOT NULL,
    reason                   VARCHAR NOT NULL,
    previous_loader          VARCHAR NOT NULL,
    previous_records_read    BIGINT NOT NULL,
    previous_records_loaded  BIGINT NOT NULL,
    previous_records_rejected BIGINT NOT NULL,
    previous_ingested_at     TIMESTAMPTZ NOT NULL
);
