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
AWS_LABELLED = "Wq7Rt3Yu9Io1Pa5Sd2Fg8Hj4Kl6Zx0Cv3Bn7Mq9E"
PEM_BODY = "MIIEowIBAAKCAQEAx7PlantedPrivateKeyBodyQm7Zr2Lx9Kp4Wn8Tc1Vb6Hd3Fs5Gj0Ay2Eu9Lk"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
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
    "aws_labelled": AWS_LABELLED,
    "pem": PEM_BODY,
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
    f"aws_secret_access_key = {AWS_LABELLED}",
    PEM,
]
# fields a loader maps to ``events.credential_id``: the token itself becomes the id (issue 16)
CRED_KEYS = {"hashed_token": [PAT, GHP, GHO]}
#: the Kubernetes credential id, a list under user.extra: a JWT as its JTI
K8S_CRED = "authentication.kubernetes.io/credential-id"
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
            if k in CRED_KEYS and isinstance(v, str) and v:
                counter[0] += 1
                out[k] = CRED_KEYS[k][counter[0] % len(CRED_KEYS[k])]
            elif k == K8S_CRED and isinstance(v, list):
                out[k] = [f"JTI={JWT}"]
            elif k in PLANT_KEYS and isinstance(v, str):
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
    for key in (
        "ghp",
        "gho",
        "pat",
        "jwt",
        "slack",
        "aws",
        "url_password",
        "glpat",
        "k8s",
        "aws_labelled",
        "pem",
    ):
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


# Where a secret may stay in full: the evidence's own record (``events.raw``, shown only through
# ``Case.raw_event``, which redacts by default), and the values the loaders extracted from it into the
# loaded tables and the per-value tables copied from them (entity ids, trace requests, attribute counts),
# which analyses match against each other and every output redacts (docs/credentials.md, "Where
# secrets stay"). Redacting them in the case costs microseconds per value (fx_redact) and would change
# paths and names that merely look like keys. ``events.credential_id`` is not among them.
EVIDENCE_COLUMNS = {("events", "raw")}
EVIDENCE_TABLES = {
    "events": "loaded",
    "spans": "loaded",
    "span_attributes": "loaded",
    "log_records": "loaded",
    "log_attributes": "loaded",
    "rejects": "the rejected record's own text",
    "trace_requests": "span columns per request",
    "telemetry_attributes": "attribute values per subject, counted",
    "attribute_values": "attribute values, counted",
    "entity_links": "identity names as the events give them",
}
EVIDENCE_COLUMNS |= {("findings", "entities"), ("findings_status", "entities")}  # the same identity names


def test_events_credential_id_holds_a_fingerprint_not_the_token(planted):
    _, case_path = planted
    with forensics.open_case(case_path, read_only=True) as case:
        ids = case.sql(
            "SELECT DISTINCT source, credential_id FROM events WHERE credential_id IS NOT NULL"
        ).rows()
        kinds = dict(case.sql("SELECT credential_id, kind FROM credentials").rows())
    _assert_clean("\n".join(c for _, c in ids), "events.credential_id")
    shown = {c for s, c in ids if s == "github_audit"}
    # each planted token is there as its fingerprint, and its kind is still known
    from forensics.redact import redact_text

    for token, kind in ((PAT, "github_pat"), (GHP, "github_pat"), (GHO, "github_oauth")):
        fp = redact_text(token)
        assert fp != token and fp in shown, token[:8]
        assert kinds[fp] == kind
    assert any(c.startswith("JTI=<jwt:sha256:") for s, c in ids if s == "k8s_audit")


def test_every_table_and_column_shows_no_secret_in_full(planted):
    """Every column of every case table (derived and loaded), except the evidence's own raw record."""
    _, case_path = planted
    with forensics.open_case(case_path, read_only=True) as case:
        cols = case.sql(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY ALL"
        ).rows()
        assert len({t for t, _ in cols}) > 20
        offenders = []
        for table, column in cols:
            if (table, column) in EVIDENCE_COLUMNS or (
                table in EVIDENCE_TABLES and column != "credential_id"
            ):
                continue
            text = case.sql(f'SELECT string_agg(CAST("{column}" AS VARCHAR), chr(10)) AS t FROM "{table}"')[
                "t"
            ][0]
            leaked = [k for k, secret in SECRETS.items() if secret in (text or "")]
            if leaked:
                offenders.append(f"{table}.{column}: {leaked}")
    assert not offenders, "\n".join(offenders)


def test_findings_sigma_pivots_and_entity_views_show_no_secret_in_full(planted, capsys, tmp_path):
    root, case_path = planted
    rule = tmp_path / "rules" / "planted.yml"
    rule.parent.mkdir()
    rule.write_text(
        "title: Planted token in a user agent\nid: 5f1f7a0e-4a43-4d0e-9a57-3a1b2c3d4e5f\nstatus: test\n"
        "logsource:\n  product: aws\n  service: cloudtrail\n"
        "detection:\n  sel:\n    userAgent|contains: token\n  condition: sel\nlevel: high\n"
    )
    assert main(["sigma", "--case", str(case_path), "--rules", str(rule.parent), "-v"]) in (0, 1)
    out = capsys.readouterr()
    _assert_clean(out.out + out.err, "sigma")
    for fmt in ("table", "csv", "json"):
        main(["findings", "--case", str(case_path), "--format", fmt, "--min-severity", "info"])
        out = capsys.readouterr()
        assert out.out.strip(), fmt
        _assert_clean(out.out + out.err, f"findings --format {fmt}")
    for name in forensics.queries.names():  # the default format (a table) too
        main(["query", name, "--case", str(case_path)])
        out = capsys.readouterr()
        _assert_clean(out.out + out.err, f"query {name}")
    # a token given in full finds its events, which show only its fingerprint
    assert main(["timeline", "--case", str(case_path), "--credential", PAT, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out.strip() not in ("", "[]"), "the pivot by a full token finds its events"
    _assert_clean(out, "timeline --credential")
    with forensics.open_case(case_path) as case:
        sigma_findings = case.sql("SELECT count(*) FROM findings WHERE title LIKE 'Planted token%'").item()
        assert sigma_findings > 0
        _assert_clean(case.chain().write_ndjson(), "Case.chain")
        names = case.sql("SELECT DISTINCT actor FROM events WHERE actor IS NOT NULL")["actor"].to_list()
        for name in names[:40]:
            view = case.entity(name)
            text = "\n".join(
                [
                    view.links.write_ndjson(),
                    view.events.write_ndjson(),
                    view.identities.write_ndjson(),
                    repr(view),
                ]
            )
            _assert_clean(text, f"Case.entity({name[:20]!r})")
        event_id = case.sql(
            "SELECT event_id FROM events WHERE CAST(raw AS VARCHAR) LIKE '%github_pat_%' LIMIT 1"
        )
        eid = event_id["event_id"][0]
        _assert_clean(case.raw_event(eid), "Case.raw_event (redacted by default)")
        assert PAT in case.raw_event(eid, redact=False)  # the explicit raw view keeps the evidence


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["incident_reconstruction", "provenance_audit", "cardinality_costs"])
def test_every_other_report_shows_no_secret_in_full(planted, tmp_path, notebook):
    from forensics.report import run_report

    _, case_path = planted
    res = run_report(notebook, case_path, {}, tmp_path / "reports")
    for path in (res.notebook, res.html):
        _assert_clean(Path(path).read_text(), str(path))
