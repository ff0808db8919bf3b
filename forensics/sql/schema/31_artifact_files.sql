-- Files in the evidence that no loader reads (release tarballs, wheels, binaries): their sha256 is
-- matched to attestation subjects by forensics.verify (artifact_match), by file name or digest.
CREATE TABLE IF NOT EXISTS artifact_files (
    path        VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,   -- the file name, the subject name it may match
    sha256      VARCHAR NOT NULL,   -- of the bytes read
    size_bytes  BIGINT,
    PRIMARY KEY (path, sha256)
);
