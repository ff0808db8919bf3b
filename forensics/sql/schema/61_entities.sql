-- Entities linked across sources, and the responder's annotations (docs/findings.md).
-- entity_links is rebuilt by forensics.findings.derive from explicit evidence only; annotations are
-- written by the responder and never rebuilt.

-- One row per link between two identities (actor, credential, host, ...), with the reason and the
-- record that proves it. same_principal: the two act as one principal (a key and its user, a role
-- session and the key that assumed it); false for "created" links (a key minted for another user).
CREATE TABLE IF NOT EXISTS entity_links (
    kind           VARCHAR NOT NULL,
    id             VARCHAR NOT NULL,
    linked_kind    VARCHAR NOT NULL,
    linked_id      VARCHAR NOT NULL,
    same_principal BOOLEAN NOT NULL,
    reason         VARCHAR NOT NULL,
    evidence_kind  VARCHAR,
    evidence_id    VARCHAR
);

-- Declared aliases (an alias file): kept apart from entity_links so a rederive never drops them.
CREATE TABLE IF NOT EXISTS entity_aliases (
    id        VARCHAR NOT NULL,
    alias     VARCHAR NOT NULL,
    reason    VARCHAR NOT NULL,
    declared_in VARCHAR
);

-- Responder annotations on a finding or an event: star, tag, comment, status (open, acknowledged,
-- false_positive). Evidence is never changed; the latest status annotation is the finding's status.
CREATE SEQUENCE IF NOT EXISTS annotation_seq;
CREATE TABLE IF NOT EXISTS annotations (
    annotation_id BIGINT PRIMARY KEY DEFAULT nextval('annotation_seq'),
    target_kind   VARCHAR NOT NULL,   -- finding | event
    target_id     VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,   -- star | unstar | tag | comment | status
    value         VARCHAR,
    author        VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Findings with what the responder said about them: status (latest status annotation, else open),
-- starred (latest star/unstar), tags and comments.
CREATE OR REPLACE VIEW findings_status AS
WITH a AS (SELECT * FROM annotations WHERE target_kind = 'finding')
SELECT f.*,
       coalesce((SELECT arg_max(value, annotation_id) FROM a WHERE a.target_id = f.finding_id AND a.action = 'status'),
                'open') AS status,
       coalesce((SELECT arg_max(action = 'star', annotation_id) FROM a
                 WHERE a.target_id = f.finding_id AND a.action IN ('star', 'unstar')), false) AS starred,
       (SELECT list(DISTINCT value) FROM a WHERE a.target_id = f.finding_id AND a.action = 'tag') AS tags,
       (SELECT list(author || ' ' || strftime(created_at, '%Y-%m-%dT%H:%M:%SZ') || ': ' || value ORDER BY annotation_id)
        FROM a WHERE a.target_id = f.finding_id AND a.action = 'comment') AS comments
FROM findings f;
