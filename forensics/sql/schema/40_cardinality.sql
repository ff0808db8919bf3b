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

-- Every attribute occurrence of every signal, one row each, for per-key analysis:
-- metrics (labels of each sample), logs (OTLP log attributes, and the top-level fields of events
-- of category 'other', i.e. generic JSON Lines logs), spans (span and resource attributes).
-- bytes = bytes of key and value as text: what the occurrence adds to ingested volume.
CREATE OR REPLACE VIEW telemetry_attributes AS
SELECT 'metrics' AS signal, l.metric AS subject, l.key, l.value, l.time,
       strlen(l.key) + coalesce(strlen(l.value), 0) AS bytes, l.evidence_sha256
FROM metric_labels l
UNION ALL
SELECT 'logs', a.scope, a.key, a.value, a.time,
       strlen(a.key) + coalesce(strlen(a.value), 0), a.evidence_sha256
FROM log_attributes a
UNION ALL
SELECT 'logs', e.source, j.key,
       -- a value over 64 KiB (one huge document's field) is counted by its size, not grouped by its text
       CASE WHEN strlen(CAST(j.value AS VARCHAR)) > 65536
            THEN '(' || strlen(CAST(j.value AS VARCHAR)) || ' bytes: too long to count by value)'
            WHEN j.type = 'VARCHAR' THEN j.value ->> '$' ELSE CAST(j.value AS VARCHAR) END,
       e.time, strlen(j.key) + strlen(CAST(j.value AS VARCHAR)), e.evidence_sha256
FROM (SELECT * FROM events WHERE category = 'other' AND raw IS NOT NULL
        AND strlen(CAST(raw AS VARCHAR)) <= 16777216) e,  -- a record over 16 MiB is not walked (parsing it needs GBs)
     json_each(e.raw) j
UNION ALL
SELECT 'spans', coalesce(s.service, a.scope), a.key, a.value, s.start,
       strlen(a.key) + coalesce(strlen(a.value), 0), a.evidence_sha256
FROM span_attributes a
LEFT JOIN spans s ON s.trace_id = a.trace_id AND s.span_id = a.span_id AND s.evidence_sha256 = a.evidence_sha256;

-- Per metric and label: distinct values, series, and the series left if the label were dropped
-- (label sets with the label removed, counted distinct).
CREATE OR REPLACE VIEW metric_label_impact AS
WITH series AS (
    SELECT metric, series_hash, any_value(labels) AS labels FROM metric_samples GROUP BY metric, series_hash
),
keys AS (
    SELECT metric, key, count(DISTINCT value) AS distinct_values,
           CAST(sum(strlen(key) + coalesce(strlen(value), 0)) AS BIGINT) AS bytes
    FROM metric_labels GROUP BY metric, key
)
SELECT k.metric, k.key AS label, k.distinct_values, k.bytes,
       count(*) AS series,
       count(DISTINCT CAST(json_merge_patch(s.labels, json_object(k.key, NULL)) AS VARCHAR)) AS series_if_dropped
FROM keys k JOIN series s ON s.metric = k.metric
GROUP BY k.metric, k.key, k.distinct_values, k.bytes;

-- The same occurrences without their time, for analyses that need none: spans are read from
-- span_attributes alone (no join to spans), which keeps per-key counting over tens of millions of
-- rows fast. subject for spans is the attribute scope (span | resource) here.
CREATE OR REPLACE VIEW attribute_values AS
SELECT signal, subject, key, value, bytes, evidence_sha256 FROM telemetry_attributes WHERE signal <> 'spans'
UNION ALL
SELECT 'spans', a.scope, a.key, a.value, strlen(a.key) + coalesce(strlen(a.value), 0), a.evidence_sha256
FROM span_attributes a;

-- Per signal, the first and last time it observed (for projecting observed volume to a month).
CREATE OR REPLACE VIEW signal_periods AS
SELECT 'metrics' AS signal, min(time) AS first_time, max(time) AS last_time FROM metric_samples
UNION ALL
SELECT 'logs', min(t0), max(t1) FROM (
    SELECT min(time) AS t0, max(time) AS t1 FROM log_records
    UNION ALL SELECT min(time), max(time) FROM events WHERE category = 'other')
UNION ALL
SELECT 'spans', min(start), max(start) FROM spans;

-- Derived (forensics/derive/cardinality.py, after every ingest): telemetry_attributes grouped by
-- signal, key and value, so that per-key analyses read one row per distinct value. Exact: the
-- table is added to for new evidence files and a signal is recounted when a file it counted
-- changed. Spans are counted from span_attributes alone (as attribute_values); their time is the
-- start of the span they belong to.
CREATE TABLE IF NOT EXISTS attribute_value_counts (
    signal      VARCHAR NOT NULL,   -- metrics | logs | spans
    key         VARCHAR NOT NULL,
    value       VARCHAR,            -- NULL: occurrences without a value (counted, not a distinct value)
    occurrences BIGINT NOT NULL,    -- rows of telemetry_attributes with this signal, key and value
    bytes       BIGINT NOT NULL,    -- their bytes (key + value as text), summed
    first_seen  TIMESTAMPTZ,        -- earliest time of an occurrence (NULL: none has a time)
    last_seen   TIMESTAMPTZ         -- latest
);

-- What attribute_value_counts counted: per source table and evidence file, its rows (signal
-- set), and per source table its total rows at the time (sha256 and signal NULL). The column is
-- not named evidence_sha256 on purpose: purging a killed ingest's rows must not erase the record
-- that they were counted.
CREATE TABLE IF NOT EXISTS attribute_value_counts_sources (
    source_table VARCHAR NOT NULL,   -- metric_labels | log_attributes | events | span_attributes | spans | evidence
    sha256       VARCHAR,            -- the evidence file (evidence_sha256 of its rows)
    signal       VARCHAR,            -- metrics | logs | spans
    row_count    BIGINT NOT NULL
);
