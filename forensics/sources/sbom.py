"""SBOMs into ``sbom_components``: CycloneDX JSON and XML, SPDX 2.x JSON, SPDX 3.0 JSON-LD.

What counts as a component (and so what the row count of one SBOM is):

* CycloneDX: every entry of ``components``, nested ``components`` included (the document's own
  ``metadata.component`` is the subject, not a component).
* SPDX 2.x: every entry of ``packages`` (files and snippets are not components).
* SPDX 3.0: every ``@graph`` element whose ``type`` is ``software_Package``.

CycloneDX XML: the engine's container sniff calls XML ``text``, so this source declares
``containers = ("text",)`` with ``reads_text_lines``: each line arrives as a record, the batch's
lines are joined back into the document and parsed with ``defusedxml`` (no entities, no external
references: the input is hostile). The engine may split the lines into several batches, so the
source re-reads the evidence file (after checking its sha256 against the evidence) and
parses the whole document once. Every line is then a loaded record (the document's) and the
components point at line 1. An XML SBOM that does not parse is rejected line by line with the
parser's reason.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from forensics.sources.contract import Batch, Detection, Probe, Source

_CDX_NS = "http://cyclonedx.org/schema/bom/"


class SbomJsonSource(Source):
    name = "sbom"
    category = "other"
    containers = ("json",)

    def detect(self, probe: Probe) -> Detection:
        d = probe.document
        if not isinstance(d, dict):
            return Detection.NO
        if d.get("bomFormat") == "CycloneDX":
            return Detection.CERTAIN
        if str(d.get("spdxVersion", "")).startswith("SPDX-2"):
            return Detection.CERTAIN
        ctx = d.get("@context")
        if isinstance(ctx, str) and "spdx.org/rdf/3" in ctx and isinstance(d.get("@graph"), list):
            return Detection.CERTAIN
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        return "$"

    def load_batch(self, batch: Batch) -> None:
        sha = batch.file_sha256
        batch.reject("""SELECT record_no, 'not an SBOM (no bomFormat CycloneDX, spdxVersion SPDX-2 or SPDX 3 @graph)' AS reason
                        FROM {batch} r WHERE coalesce(r.doc->>'bomFormat', '') <> 'CycloneDX'
                          AND NOT starts_with(coalesce(r.doc->>'spdxVersion', ''), 'SPDX-2')
                          AND json_type(r.doc, '$."@graph"') IS DISTINCT FROM 'ARRAY'""")
        cdx = """
        WITH RECURSIVE d AS MATERIALIZED (
            SELECT r.record_no, r.doc->>'specVersion' AS spec_version,
                   coalesce(r.doc->'metadata'->'component'->>'name', r.doc->>'serialNumber') AS document_name
            FROM {batch} r WHERE (r.doc->>'bomFormat') = 'CycloneDX'
        ), c(record_no, ord, comp) AS (
            SELECT r.record_no, [CAST(e.key AS INTEGER)], e.value FROM {batch} r, json_each(r.doc, '$.components') e
            WHERE (r.doc->>'bomFormat') = 'CycloneDX'
            UNION ALL
            SELECT c.record_no, list_append(c.ord, CAST(e.key AS INTEGER)), e.value
            FROM c, json_each(c.comp, '$.components') e
        ), t AS (
            SELECT record_no, ord, comp, json_transform(comp, '{"hashes": [{"alg": "VARCHAR", "content": "VARCHAR"}],
                     "licenses": [{"license": {"id": "VARCHAR", "name": "VARCHAR"}, "expression": "VARCHAR"}]}') AS s
            FROM c
        )
        SELECT t.record_no, ? || ':' || t.record_no AS sbom_id, 'cyclonedx' AS sbom_format,
               d.spec_version, d.document_name,
               CAST(row_number() OVER (PARTITION BY t.record_no ORDER BY t.ord) - 1 AS INTEGER) AS component_index,
               t.comp->>'bom-ref' AS component_ref, t.comp->>'type' AS component_type,
               t.comp->>'name' AS name, t.comp->>'version' AS version, t.comp->>'purl' AS purl,
               lower(list_filter(s.hashes, lambda x: x.alg = 'SHA-256')[1].content) AS sha256,
               CASE WHEN len(s.hashes) > 0 THEN to_json(map_from_entries(
                   list_transform(list_filter(s.hashes, lambda x: x.alg IS NOT NULL), lambda x: {'k': x.alg, 'v': x.content}))) END AS hashes,
               list_filter(list_transform(s.licenses, lambda x: coalesce(x.license.id, x.license.name, x.expression)),
                           lambda x: x IS NOT NULL) AS licenses,
               coalesce(t.comp->'supplier'->>'name', t.comp->>'publisher') AS supplier,
               ? AS evidence_sha256, t.record_no AS evidence_record
        FROM t JOIN d USING (record_no)"""
        spdx2 = """
        SELECT r.record_no, ? || ':' || r.record_no AS sbom_id, 'spdx' AS sbom_format, r.doc->>'spdxVersion' AS spec_version,
               r.doc->>'name' AS document_name, CAST(e.key AS INTEGER) AS component_index,
               e.value->>'SPDXID' AS component_ref, e.value->>'primaryPackagePurpose' AS component_type,
               e.value->>'name' AS name, e.value->>'versionInfo' AS version,
               (SELECT x->>'referenceLocator' FROM json_each(e.value, '$.externalRefs') AS t(k, x)
                WHERE (x->>'referenceType') = 'purl' LIMIT 1) AS purl,
               (SELECT lower(x->>'checksumValue') FROM json_each(e.value, '$.checksums') AS t(k, x)
                WHERE (x->>'algorithm') = 'SHA256' LIMIT 1) AS sha256,
               (SELECT json_group_object(x->>'algorithm', x->>'checksumValue') FROM json_each(e.value, '$.checksums') AS t(k, x)) AS hashes,
               list_filter([nullif(e.value->>'licenseConcluded', 'NOASSERTION'), nullif(e.value->>'licenseDeclared', 'NOASSERTION')],
                           lambda x: x IS NOT NULL) AS licenses,
               e.value->>'supplier' AS supplier, ? AS evidence_sha256, r.record_no AS evidence_record
        FROM {batch} r, json_each(r.doc, '$.packages') e
        WHERE starts_with(coalesce(r.doc->>'spdxVersion', ''), 'SPDX-2')"""
        spdx3 = """
        WITH g AS (
            SELECT r.record_no, r.doc, e.value AS el FROM {batch} r, json_each(r.doc, '$."@graph"') e
            WHERE json_type(r.doc, '$."@graph"') = 'ARRAY'
        )
        SELECT g.record_no, ? || ':' || g.record_no AS sbom_id, 'spdx' AS sbom_format,
               coalesce((SELECT x->'creationInfo'->>'specVersion' FROM g AS h(rn, d, x)
                         WHERE h.rn = g.record_no AND (x->>'type') = 'CreationInfo' LIMIT 1), '3.0') AS spec_version,
               (SELECT x->>'name' FROM g AS h(rn, d, x) WHERE h.rn = g.record_no
                AND (x->>'type') IN ('SpdxDocument', 'software_Sbom') LIMIT 1) AS document_name,
               CAST(row_number() OVER (PARTITION BY g.record_no ORDER BY el->>'spdxId') - 1 AS INTEGER) AS component_index,
               el->>'spdxId' AS component_ref, el->>'software_primaryPurpose' AS component_type,
               el->>'name' AS name, el->>'software_packageVersion' AS version, el->>'software_packageUrl' AS purl,
               (SELECT lower(x->>'hashValue') FROM json_each(el, '$.verifiedUsing') AS t(k, x)
                WHERE (x->>'algorithm') = 'sha256' LIMIT 1) AS sha256,
               (SELECT json_group_object(x->>'algorithm', x->>'hashValue') FROM json_each(el, '$.verifiedUsing') AS t(k, x)) AS hashes,
               CAST(NULL AS VARCHAR[]) AS licenses, CAST(el->'suppliedBy' AS VARCHAR) AS supplier,
               ? AS evidence_sha256, g.record_no AS evidence_record
        FROM g WHERE (el->>'type') = 'software_Package'"""
        for sql in (cdx, spdx2, spdx3):
            batch.insert_rows("sbom_components", sql, [sha[:16], sha])
        # an SBOM with no components is still a loaded document
        batch.mark_loaded("""SELECT record_no FROM {batch} r WHERE (r.doc->>'bomFormat') = 'CycloneDX'
                             OR starts_with(coalesce(r.doc->>'spdxVersion', ''), 'SPDX-2')
                             OR json_type(r.doc, '$."@graph"') = 'ARRAY'""")


class CycloneDxXmlSource(Source):
    name = "sbom_xml"
    category = "other"
    containers = ("text",)
    reads_text_lines = True

    def __init__(self) -> None:
        self._parsed: tuple[str, list[dict[str, Any]] | str] | None = None  # (evidence sha256, rows or error)

    def detect(self, probe: Probe) -> Detection:
        head = probe.head.lstrip()
        return (
            Detection.STRONG if head.startswith("<") and "<bom" in head and _CDX_NS in head else Detection.NO
        )

    def _document(self, batch: Batch) -> list[dict[str, Any]] | str:
        """The parsed document (rows) or the reason it does not parse, once per file. The engine may
        hand the lines over in several batches, so the whole file is read again, from the batch's
        evidence path, after checking that its sha256 is still the evidence's; otherwise the batch's
        own lines are the document."""
        sha = batch.file_sha256
        if self._parsed and self._parsed[0] == sha:
            return self._parsed[1]
        text = None
        raw = batch.read_evidence()
        if raw is not None:
            text = raw.decode("utf-8", errors="strict") if raw else ""
        if text is None:
            text = batch.con.execute(
                f"SELECT string_agg(doc->>'$', chr(10) ORDER BY record_no) FROM {batch.table}"
            ).fetchall()[0][0]
        try:
            result: list[dict[str, Any]] | str = parse_cyclonedx_xml(text or "")
        except Exception as e:  # noqa: BLE001 - defusedxml and ElementTree errors: the document is rejected with the reason
            result = f"CycloneDX XML document does not parse: {type(e).__name__}: {e}"[:500]
        self._parsed = (sha, result)
        return result

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        first = con.execute(f"SELECT min(record_no) FROM {batch.table}").fetchall()[0][0]
        if first is None:
            return
        doc = self._document(batch)
        if isinstance(doc, str):
            batch.reject("SELECT record_no, ? AS reason FROM {batch}", [doc])
            return
        sha = batch.file_sha256
        if first == 1 and doc:  # components once, pointing at the document's first line
            rows = [
                dict(r, record_no=1, sbom_id=f"{sha[:16]}:1", evidence_sha256=sha, evidence_record=1)
                for r in doc
            ]
            con.register("_fx_sbom_xml", pa.Table.from_pylist(rows))
            batch.insert_rows(
                "sbom_components", "SELECT * REPLACE (CAST(hashes AS JSON) AS hashes) FROM _fx_sbom_xml"
            )
            con.unregister("_fx_sbom_xml")
        batch.mark_loaded("SELECT record_no FROM {batch}")


def parse_cyclonedx_xml(text: str) -> list[dict[str, Any]]:
    """Components of a CycloneDX XML document (any schema version), nested ones included."""
    from defusedxml import ElementTree

    root = ElementTree.fromstring(text.encode("utf-8"))
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    q = (lambda t: f"{{{ns}}}{t}") if ns else (lambda t: t)
    spec = ns.rsplit("/", 1)[-1] if ns else None
    meta = root.find(f"{q('metadata')}/{q('component')}")
    doc_name = meta.findtext(q("name")) if meta is not None else root.get("serialNumber")
    out: list[dict[str, Any]] = []

    def walk(parent: Any) -> None:
        comps = parent.find(q("components"))
        if comps is None:
            return
        for c in comps.findall(q("component")):
            hashes = {h.get("alg"): (h.text or "").strip() for h in c.findall(f"{q('hashes')}/{q('hash')}")}
            lic = [
                x.findtext(q("id")) or x.findtext(q("name"))
                for x in c.findall(f"{q('licenses')}/{q('license')}")
            ]
            lic += [(x.text or "").strip() for x in c.findall(f"{q('licenses')}/{q('expression')}")]
            sup = c.find(q("supplier"))
            out.append(
                {
                    "sbom_format": "cyclonedx",
                    "spec_version": spec,
                    "document_name": doc_name,
                    "component_index": len(out),
                    "component_ref": c.get("bom-ref"),
                    "component_type": c.get("type"),
                    "name": c.findtext(q("name")),
                    "version": c.findtext(q("version")),
                    "purl": c.findtext(q("purl")),
                    "sha256": (hashes.get("SHA-256") or "").lower() or None,
                    "hashes": json.dumps(hashes),
                    "licenses": [x for x in lic if x],
                    "supplier": sup.findtext(q("name")) if sup is not None else c.findtext(q("publisher")),
                }
            )
            walk(c)

    walk(root)
    return out


SOURCES = [SbomJsonSource(), CycloneDxXmlSource()]
