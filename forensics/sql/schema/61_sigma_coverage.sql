-- Sigma coverage: what the last `forensics sigma` run made of each rule on each source it applies to.
-- status: matched / no_match (ran, zero matches) / cannot_match (a field it needs is in no record of
-- the source) / no_records / no_loader / unsupported / error (indeterminate) / invalid. docs/sigma.md.
CREATE TABLE IF NOT EXISTS sigma_coverage (
    rule_id       VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,
    logsource     VARCHAR,
    source        VARCHAR,
    status        VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    matches       BIGINT NOT NULL,
    findings      BIGINT NOT NULL,
    fields_absent VARCHAR[],
    level         VARCHAR,
    author        VARCHAR,
    run_at        TIMESTAMPTZ NOT NULL
);
