"""Nothing leaked: a corpus of secrets of every kind planted in the fields the loaders map, ingested,
then every output (timeline in each format, every query, invariants, checklist files, derived
tables, a report notebook and its HTML) grepped for each secret in full."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path

import pytest

import forensics
from forensics import checklist
from forensics.cli import main

GHP = "ghp_" + "Qm7Zr2Lx9Kp4Wn8Tc1Vb6Hd3Fs5Gj0Ay2Eu9"
GHO = "gho_" + "Yt4Rn7Mk2Pw9Lc5Xv8Bq1Hs6Dj3Fg0Za7Ne4"
PAT = (
    "github_pat_11AQXW3ZA0"
    + "rT5yU8iO2pL6kJ9hG3fD1sA4zX7cV0bN"
    + "_mQ2wE5rT8yU1iO4pA7sD0fG3hJ6kL9zX2cV5bN8mQ1wE4rT7y"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLWp3dCIsIm5hbWUiOiJjb3JwdXMifQ"
    ".Xq3LpW8nR2vT6yK0mB4cF7hJ1dS5gA9zE3uI6oP2wQ8"
)
SLACK = "xoxb-2048409165-5566778899-Zc4Vb8Nm2Qw6Er0Ty"
AWS = "Jk8Lp2Qr6St0Uv4Wx8Yz2Ab6Cd0Ef4Gh8Ij2KlMn"
URL_PW = "Pl4nted-Pa55word"
GLPAT = "glpat-Zx8Cv2Bn6Mq0Wp4Er8Ty"
K8S_VALUE = "c3VwZXItc2VjcmV0LWRhdGFiYXNlLXBhc3N3b3JkLTQyNDI="  # base64 of a password
SECRETS = {
    "ghp": GHP,
    "gho": GHO,
    "pat": PAT,
    "jwt": JWT,
    "slack": SLACK,
    "aws": AWS,
    "url_password": URL_PW,
    "glpat": GLPAT,
    "k8s": K8S_VALUE,
    "k8s_decoded": base64.b64decode(K8S_VALUE).decode(),
}
PLANTS = [
    GHP,
    f"Mozilla/5.0 (token {GHO})",
    PAT,
    f"Bearer {JWT}",
    SLACK,
    f"The security token {AWS} is invalid",
    f"https://deploy:{URL_PW}@git.example.com/x.git",
    GLPAT,
]
# the free-text and name fields the loaders map (actor, user agent, target, messages, names)
PLANT_KEYS = {
    "userAgent",
    "user_agent",
    "errorMessage",
    "errorCode",
    "actor",
    "client",
    "order_id",
    "username",
    "requestURI",
    "repo",
    "name",
    "stringValue",
    "sourceIPAddress",
    "arn",
    "userName",
    "bucketName",
}


def _plant(value, counter: list[int]):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in PLANT_KEYS and isinstance(v, str):
                counter[0] += 1
                out[k] = f"{v} {PLANTS[counter[0] % len(PLANTS)]}"
            else:
                out[k] = _plant(v, counter)
        return out
    if isinstance(value, list):
        return [_plant(v, counter) for v in value]
    return value


def _plant_file(path: Path, counter: list[int]) -> None:
    if path.suffix == ".gz":
        if "Digest" in path.name:
            return
        doc = json.loads(gzip.decompress(path.read_bytes()))
        path.write_bytes(gzip.compress(json.dumps(_plant(doc, counter)).encode()))
    elif path.suffix in (".jsonl", ".log") and path.read_text()[:1] == "{":
        lines = [
            json.dumps(_plant(json.loads(x), counter)) for x in path.read_text().splitlines() if x.strip()
        ]
        path.write_text("\n".join(lines) + "\n")
    elif path.suffix == ".json":
        path.write_text(json.dumps(_plant(json.loads(path.read_text()), counter)))
    elif path.suffix == ".log":
        with path.open("a") as f:
            for p in PLANTS:
                f.write(f"2026-03-14T09:12:00.0000000Z echo {p}\n")


@pytest.fixture(scope="module")
def planted(sample_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    data = root / "data"
    shutil.copytree(sample_dir, data, ignore=shutil.ignore_patterns("provenance", "*.prom", "*.md"))
    counter = [0]
    for p in sorted(data.rglob("*")):
        if p.is_file() and not p.name.endswith(".toml"):
            _plant_file(p, counter)
    secret_obj = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "db"},
        "data": {"password": K8S_VALUE},
    }
    k8s = next(data.glob("k8s/*.log"))
    event = json.loads(k8s.read_text().splitlines()[0])
    event.update(
        auditID="planted-secret-create",
        verb="create",
        level="RequestResponse",
        stage="ResponseComplete",
        objectRef={"resource": "secrets", "namespace": "prod", "name": "db", "apiVersion": "v1"},
        requestObject=secret_obj,
        responseObject=secret_obj,
    )
    with k8s.open("a") as f:
        f.write(json.dumps(event) + "\n")
    assert counter[0] > 50
    case_path = root / "case.duckdb"
    with forensics.open_case(case_path) as case:
        case.ingest([data])
    return root, case_path


def _assert_clean(text: str, where: str) -> None:
    leaked = [k for k, s in SECRETS.items() if s in text]
    assert not leaked, f"{where} shows {leaked} in full"


def test_the_planted_secrets_are_in_the_evidence(planted):
    root, case_path = planted
    with forensics.open_case(case_path, read_only=True) as case:
        raw = "\n".join(case.sql("SELECT CAST(raw AS VARCHAR) AS r FROM events")["r"].to_list())
        kinds = set(case.sql("SELECT DISTINCT kind FROM secret_exposures")["kind"].to_list())
    for key in ("ghp", "gho", "pat", "jwt", "slack", "aws", "url_password", "glpat", "k8s"):
        assert SECRETS[key] in raw, key
    assert {"github_token", "jwt", "slack_token", "url_password", "kubernetes_secret", "gitlab_pat"} <= kinds


def test_cli_outputs_show_no_secret_in_full(planted, capsys):
    _, case_path = planted
    for fmt in ("table", "csv", "json"):
        assert main(["timeline", "--case", str(case_path), "--format", fmt]) == 0
        _assert_clean(capsys.readouterr().out, f"timeline --format {fmt}")
    main(["invariants", "--case", str(case_path)])
    _assert_clean(capsys.readouterr().out, "invariants")
    for name in forensics.queries.names():
        for fmt in ("csv", "json"):
            main(["query", name, "--case", str(case_path), "--format", fmt])
            out = capsys.readouterr()
            _assert_clean(out.out + out.err, f"query {name} --format {fmt}")


def test_library_frames_and_derived_tables_show_no_secret_in_full(planted):
    _, case_path = planted
    with forensics.open_case(case_path) as case:
        _assert_clean(case.timeline().write_ndjson(), "Case.timeline")
        _assert_clean(case.timeline(raw=True).write_ndjson(), "Case.timeline(raw=True)")
        for name, df in case.invariants().items():
            _assert_clean(df.write_ndjson(), f"invariant {name}")
        for table in ("attribute_value_counts", "secret_exposures", "credentials"):
            _assert_clean(case.table(table).write_ndjson(), f"table {table}")
        raw_id = case.sql("SELECT event_id FROM events WHERE source LIKE 'k8s%' ORDER BY time DESC LIMIT 1")
        assert case.raw_event(raw_id["event_id"][0]) is not None


def test_checklist_files_show_no_secret_in_full(planted, tmp_path):
    _, case_path = planted
    with forensics.open_case(case_path) as case:
        df = checklist.build(case)
        files = checklist.write(df, checklist.Scope.of(), tmp_path)
    for path in (files.markdown, files.json, files.csv):
        _assert_clean(Path(path).read_text(), str(path))


def test_report_notebook_and_html_show_no_secret_in_full(planted, tmp_path):
    from forensics.report import run_report

    _, case_path = planted
    res = run_report("credential_revocation", case_path, {}, tmp_path / "reports")
    for path in (res.notebook, res.html):
        _assert_clean(Path(path).read_text(), str(path))
