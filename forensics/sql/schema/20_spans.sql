-- Spans (issue: traces). One row per span; attributes also in long form for per-key analysis.
CREATE TABLE IF NOT EXISTS spans (
    trace_id            VARCHAR NOT NULL,   -- lowercase hex
    span_id             VARCHAR NOT NULL,   -- lowercase hex
    parent_span_id      VARCHAR,
    service             VARCHAR,
    name                VARCHAR,
    kind                VARCHAR,            -- server | client | producer | consumer | internal | unspecified
    start               TIMESTAMPTZ,
    "end"               TIMESTAMPTZ,
    duration_us         BIGINT,
    status_code         VARCHAR,            -- unset | ok | error
    status_message      VARCHAR,
    outcome             VARCHAR NOT NULL,   -- success | failure | timeout | unknown
    outcome_reason      VARCHAR NOT NULL,
    attributes          JSON,
    resource_attributes JSON,
    events              JSON,
    links               JSON,
    skew_us             BIGINT,             -- estimated clock correction for this span's service (NULL: none)
    source              VARCHAR NOT NULL,   -- otlp | zipkin | jaeger
    evidence_sha256     VARCHAR NOT NULL,
    evidence_line       BIGINT,
    evidence_record     BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS span_attributes (
    trace_id   VARCHAR NOT NULL,
    span_id    VARCHAR NOT NULL,
    scope      VARCHAR NOT NULL,            -- span | resource
    key        VARCHAR NOT NULL,
    value      VARCHAR,
    evidence_sha256 VARCHAR NOT NULL
);
