-- Findings: what the kit concludes, one row per finding, each with the evidence that proves it.
-- Every producer replaces only its own detector's rows. Columns are documented in docs/findings.md.
CREATE TABLE IF NOT EXISTS findings (
    finding_id    VARCHAR PRIMARY KEY,
    detector      VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    time          TIMESTAMPTZ,
    "end"         TIMESTAMPTZ,
    severity      VARCHAR NOT NULL,
    severity_rank SMALLINT NOT NULL,
    title         VARCHAR NOT NULL,
    summary       VARCHAR,
    technique     VARCHAR,
    entities      STRUCT(kind VARCHAR, id VARCHAR)[],
    evidence      STRUCT(kind VARCHAR, id VARCHAR)[],
    matches       BIGINT,
    attributes    JSON
);
