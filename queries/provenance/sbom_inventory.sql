-- Dependency inventory: SBOM components with purl, version, sha256 and licenses.
-- Params: $purl_prefix (optional, e.g. 'pkg:maven/'), $name (optional, exact).
-- Non-empty is normal.
-- @engines: duckdb, spark
SELECT s.sbom_format, s.spec_version, s.document_name, s.name, s.version, s.purl, s.sha256, s.licenses,
       s.component_type, e.path AS evidence
FROM sbom_components s LEFT JOIN evidence e ON e.sha256 = s.evidence_sha256
WHERE ($purl_prefix IS NULL OR starts_with(s.purl, $purl_prefix)) AND ($name IS NULL OR s.name = $name)
ORDER BY e.path, s.component_index
