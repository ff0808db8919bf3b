-- Network flows: the byte and packet counts of flow records (VPC Flow Logs), one row per flow record,
-- so that an exfiltration can be sized with SQL. Its event (same evidence_sha256 and evidence_record) is
-- in events. Columns are documented in docs/network.md.
CREATE TABLE IF NOT EXISTS network_flows (
    evidence_sha256 VARCHAR NOT NULL,
    evidence_record BIGINT NOT NULL,
    time            TIMESTAMPTZ NOT NULL,
    end_time        TIMESTAMPTZ,
    src_ip          VARCHAR,
    src_port        INTEGER,
    dst_ip          VARCHAR,
    dst_port        INTEGER,
    protocol        VARCHAR,
    packets         BIGINT,
    bytes           BIGINT,
    action          VARCHAR,
    interface_id    VARCHAR,
    account_id      VARCHAR
);
