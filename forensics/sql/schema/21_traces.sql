-- Traces (issue 4): columns added to spans beside those of 20_spans.sql, and the derived skew table.
-- Raw times stay as the source wrote them (start_raw/end_raw); start/end are UTC microseconds;
-- start_corrected/end_corrected add the estimated clock correction (skew_us) for the span's service.
ALTER TABLE spans ADD COLUMN IF NOT EXISTS start_raw VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS end_raw VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS start_corrected TIMESTAMPTZ;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS end_corrected TIMESTAMPTZ;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS http_status INTEGER;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS grpc_status INTEGER;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS error_type VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS endpoint VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS service_version VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS user_agent VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS request_key VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS request_id VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS side_effect BOOLEAN;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS base_outcome VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS base_outcome_reason VARCHAR;

-- Per trace and service: the clock correction estimated from parent/child pairs (derive/traces.py).
CREATE TABLE IF NOT EXISTS trace_skew (
    trace_id          VARCHAR NOT NULL,
    service           VARCHAR,
    reference_service VARCHAR,
    skew_us           BIGINT NOT NULL,   -- add to this service's times to align with the reference
    pairs             INTEGER NOT NULL,
    method            VARCHAR NOT NULL
);
