-- Where an evidence file came from beyond its path: the archive that held it (its sha256), and the
-- field-mapping sidecar that read it (its path and sha256). Columns are documented in docs/schema.md.

ALTER TABLE evidence ADD COLUMN IF NOT EXISTS parent_sha256 VARCHAR;
ALTER TABLE evidence ADD COLUMN IF NOT EXISTS mapping_path VARCHAR;
ALTER TABLE evidence ADD COLUMN IF NOT EXISTS mapping_sha256 VARCHAR;
