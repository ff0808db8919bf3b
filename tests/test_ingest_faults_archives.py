"""Archives are evidence: zip and tar (gzip'd too) members are read with the archive's sha256 as parent;
a member that is a link is a skipped entry; a field-mapping sidecar is hashed into the evidence row that
used it and cannot claim a built-in source's name."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile

import pytest

from forensics.errors import ForensicsError


def _jsonl(n: int, tag: str) -> bytes:
    return "".join(
        json.dumps({"time": f"2026-03-14T09:00:{i % 60:02d}Z", "action": f"{tag}{i}"}) + "\n"
        for i in range(n)
    ).encode()


def test_zip_members_are_evidence_with_the_archive_as_parent(case, tmp_path):
    z = tmp_path / "evidence.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("logs/a.jsonl", _jsonl(12, "a"))
        f.writestr("../../escape.jsonl", _jsonl(3, "e"))  # a hostile name: shown, never a path
        f.writestr("notes.bin", b"\x00\x01\x02" * 100)
    sha = hashlib.sha256(z.read_bytes()).hexdigest()
    results = case.ingest([z])
    assert results[0].status == "archive"
    rows = case.sql("SELECT path, parent_sha256, records_loaded FROM evidence ORDER BY path").rows()
    assert rows == [(f"{z}!../../escape.jsonl", sha, 3), (f"{z}!logs/a.jsonl", sha, 12)]
    assert not (tmp_path.parent / "escape.jsonl").exists()
    skipped = case.sql("SELECT path, kind, parent_sha256 FROM skipped_entries").rows()
    assert skipped == [(f"{z}!notes.bin", "archive-member", sha)]
    # members' bytes are hashed as read
    assert (
        case.sql("SELECT sha256 FROM evidence WHERE path LIKE '%a.jsonl'").item()
        == hashlib.sha256(_jsonl(12, "a")).hexdigest()
    )
    # again: nothing new
    case.ingest([z])
    assert case.sql("SELECT count(*) FROM evidence").item() == 2


def test_tar_gz_members_and_links(case, tmp_path):
    t = tmp_path / "bundle.tar.gz"
    with tarfile.open(t, "w:gz") as f:
        data = _jsonl(9, "t")
        info = tarfile.TarInfo("x/t.jsonl")
        info.size = len(data)
        f.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("x/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/dev/zero"
        f.addfile(link)
    sha = hashlib.sha256(t.read_bytes()).hexdigest()
    case.ingest([t])
    assert case.sql("SELECT path, parent_sha256, records_loaded FROM evidence").rows() == [
        (f"{t}!x/t.jsonl", sha, 9)
    ]
    assert case.sql("SELECT path, kind FROM skipped_entries").rows() == [(f"{t}!x/link", "archive-link")]


def test_a_member_over_the_cap_is_recorded_not_read(case, tmp_path, monkeypatch):
    import forensics.ingest.limits as limits

    monkeypatch.setattr(limits, "MAX_MEMBER_BYTES", 1000)
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("big.jsonl", b"\n" * 100_000)
        f.writestr("small.jsonl", _jsonl(2, "s"))
    case.ingest([z])
    assert case.sql("SELECT kind FROM skipped_entries").item() == "over-cap"
    assert case.sql("SELECT records_loaded FROM evidence").item() == 2


def test_a_sidecar_mapping_is_hashed_into_the_evidence_row(case, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.log").write_bytes(
        b"".join(json.dumps({"ts": "2026-03-14T09:00:00Z", "op": f"x{i}"}).encode() + b"\n" for i in range(4))
    )
    sidecar = tree / "app.log.mapping.toml"
    sidecar.write_text('name = "payments-app"\n[fields]\ntime = "ts"\naction = "op"\n')
    case.ingest([tree])
    row = case.sql("SELECT loader, mapping_path, mapping_sha256 FROM evidence").row(0)
    assert row == ("payments-app", str(sidecar), hashlib.sha256(sidecar.read_bytes()).hexdigest())
    from forensics import incident

    assert incident.evidence_table(case)["mapping_sha256"].to_list() == [row[2]]


@pytest.mark.parametrize("name", ["cloudtrail", "CloudTrail"])
def test_a_mapping_cannot_claim_a_built_in_source_name(case, tmp_path, name):
    p = tmp_path / "x.jsonl"
    p.write_bytes(_jsonl(2, "x"))
    m = tmp_path / "x.jsonl.mapping.toml"
    m.write_text(f'name = "{name}"\n[fields]\ntime = "time"\n')
    with pytest.raises(ForensicsError, match="built-in source"):
        case.ingest([p])
    assert case.sql("SELECT count(*) FROM events").item() == 0
