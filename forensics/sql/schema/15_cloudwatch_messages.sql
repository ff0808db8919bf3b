-- The place of every message read out of a CloudWatch Logs subscription payload (docs/network.md): its
-- events carry the same evidence_sha256 and evidence_record. path is the message's JSON path in the file
-- ('$.logEvents[3]', or '$[7].awslogs.data -> $.logEvents[12]' inside an encoded payload); routed_to the
-- loader that read it (NULL: kept as a cloudwatch_logs event).
CREATE TABLE IF NOT EXISTS cloudwatch_messages (
    evidence_sha256 VARCHAR NOT NULL,
    evidence_record BIGINT NOT NULL,
    wrapper_record  BIGINT NOT NULL,
    path            VARCHAR NOT NULL,
    log_group       VARCHAR,
    log_stream      VARCHAR,
    message_id      VARCHAR,
    routed_to       VARCHAR
);
