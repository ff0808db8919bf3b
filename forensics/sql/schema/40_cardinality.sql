-- Cardinality and cost (issue: cardinality). Metric samples and log records, each with its
-- attributes in long form for per-key analysis; spans come from 20_spans.sql (read only here).
-- Columns are documented in docs/cardinality.md.

CREATE TABLE IF NOT EXISTS metric_samples (
    metric          VARCHAR NOT NULL,   -- sample name as exposed (http_requests_total, x_bucket, ...)
    family          VARCHAR,            -- metric family (name in # TYPE / OTLP metric name)
    type            VARCHAR,            -- counter | gauge | histogram | summary | unknown | ... (as declared)
    labels          JSON NOT NULL,      -- the label set, keys sorted
    series_hash     VARCHAR NOT NULL,   -- md5 of metric and sorted labels: one value per series
    value           DOUBLE,
    time            TIMESTAMPTZ,        -- sample time; NULL when the exposition carried none
    time_raw        VARCHAR,            -- the timestamp as written (ms for Prometheus text, s for OpenMetrics, ns for OTLP)
    sample_bytes    BIGINT NOT NULL,    -- bytes of the sample as exposed (line length, or name + labels + value)
    source          VARCHAR NOT NULL,   -- prometheus | openmetrics | otlp-metrics
    evidence_sha256 VARCHAR NOT NULL,
    evidence_line   BIGINT,
    evidence_record BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS metric_labels (
    metric          VARCHAR NOT NULL,
    series_hash     VARCHAR NOT NULL,
    key             VARCHAR NOT NULL,
    value           VARCHAR,
    time            TIMESTAMPTZ,
    evidence_sha256 VARCHAR NOT NULL,
    evidence_line   BIGINT
);

CREATE TABLE IF NOT EXISTS log_records (
    log_id              VARCHAR NOT NULL,   -- evidence sha256[:16] : record : index within the record
    time                TIMESTAMPTZ,        -- timeUnixNano, else observedTimeUnixNano
    time_raw            VARCHAR,
    observed_time       TIMESTAMPTZ,
    severity_number     INTEGER,
    severity_text       VARCHAR,
    body                VARCHAR,            -- the body as text (stringValue, or the AnyValue as JSON)
    service             VARCHAR,            -- resource attribute service.name
    trace_id            VARCHAR,            -- lowercase hex
    span_id             VARCHAR,
    attributes          JSON,               -- OTLP key/value list as given
    resource_attributes JSON,
    record_bytes        BIGINT NOT NULL,    -- bytes of the log record as JSON text
    source              VARCHAR NOT NULL,   -- otlp-logs
    evidence_sha256     VARCHAR NOT NULL,
    evidence_line       BIGINT,
    evidence_record     BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS log_attributes (
    log_id          VARCHAR NOT NULL,
    scope           VARCHAR NOT NULL,   -- log | resource | scope
    key             VARCHAR NOT NULL,
    value           VARCHAR,            -- stringValue as is; other AnyValues as their JSON text
    time            TIMESTAMPTZ,
    evidence_sha256 VARCHAR NOT NULL
);
