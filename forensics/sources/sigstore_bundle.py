"""Sigstore bundles: media types v0.1, v0.2 and v0.3 (``.sigstore``, ``.sigstore.json``) and JSON
Lines of bundles (GitHub artifact attestations, ``*.intoto.jsonl`` from slsa-github-generator).

A bundle carries either a DSSE envelope (an in-toto Statement: its subjects become rows) or a
message signature (its message digest becomes the one subject row). The certificate, Rekor entry
and timestamps stay in ``attestations.envelope``; ``forensics.verify`` reads them from there.
"""

from __future__ import annotations

from forensics.sources.contract import Batch, Detection, Probe, Source
from forensics.sources.intoto import load_attestations

MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"


class SigstoreBundleSource(Source):
    name = "sigstore_bundle"
    category = "provenance"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        if objs and str(objs[0].get("mediaType", "")).startswith(MEDIA_PREFIX):
            return Detection.CERTAIN
        return Detection.NO

    def load_batch(self, batch: Batch) -> None:
        normalized = """
            SELECT r.record_no, r.line_no, r.doc, r.doc AS bundle, r.doc->'dsseEnvelope' AS env,
                   CAST(NULL AS JSON) AS stmt_direct, CAST(NULL AS JSON) AS pred_direct,
                   CAST(NULL AS JSON) AS link, r.doc->'messageSignature' AS msg
            FROM {batch} r"""
        unusable = f"""
            SELECT r.record_no,
                   CASE WHEN NOT starts_with(coalesce(r.doc->>'mediaType', ''), '{MEDIA_PREFIX}')
                        THEN 'not a sigstore bundle (mediaType is not {MEDIA_PREFIX}...)'
                        ELSE 'sigstore bundle with neither a DSSE envelope nor a message signature' END AS reason
            FROM {{batch}} r
            WHERE NOT starts_with(coalesce(r.doc->>'mediaType', ''), '{MEDIA_PREFIX}')
               OR ((r.doc->'dsseEnvelope') IS NULL AND (r.doc->'messageSignature') IS NULL)"""
        load_attestations(batch, normalized, "'sigstore_bundle'", unusable)


SOURCES = [SigstoreBundleSource()]
