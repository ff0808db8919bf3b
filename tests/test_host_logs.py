"""Linux host logs (issue 21 a, c): auth.log/sshd syslog and auditd, on the real files of ../shared/data/host
and on small files written here for the time rules (--year, the file's own context, --tz)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import forensics
from forensics.errors import ForensicsError

AUDIT_HEAD = re.compile(r"^(?:node=\S+ )?type=(\S+) msg=audit\(([0-9.]+):([0-9]+)\)")


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _events(case, path: Path) -> list[dict]:
    cur = case.con.cursor()
    cur.execute(
        """SELECT e.action, e.actor, e.src_ip, e.outcome, e.outcome_reason, e.credential_id, e.time
           FROM events e JOIN evidence v ON v.sha256 = e.evidence_sha256 WHERE v.path = ?
           ORDER BY e.evidence_record""",
        [str(path)],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def host_case(shared_data, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("host") / "host.duckdb")
    # the files' years: BOTS v3 is 2018; the CrowdSec snippets have none, so one is given
    res = {r.path: r for r in c.ingest([shared_data / "host"], year=2018)}
    yield c, res
    c.close()


def test_every_host_file_is_placed_and_reconciles(host_case, shared_data):
    c, res = host_case
    files = sorted((shared_data / "host").rglob("*.*"))
    assert files
    for f in files:
        r = res[str(f)]
        want = "auditd" if f.parent.name == "auditd" else "auth_log"
        assert r.loader == want, f.name
        assert r.records_read == len(_lines(f)), f.name
        assert (r.records_loaded, r.records_rejected) == (r.records_read, 0), (f.name, r.note)


def test_sshd_logins_actors_and_outcomes(host_case, shared_data):
    c, _ = host_case
    for f in sorted((shared_data / "host" / "auth_log").glob("*.log")):
        lines = _lines(f)
        ev = _events(c, f)
        assert len(ev) == len(lines)
        accepted = [re.search(r"Accepted (\S+) for (\S+) from (\S+)", ln) for ln in lines]
        failed = [
            bool(re.search(r"(?:^|: )(?:input_userauth_request: )?[Ii]nvalid user|: Failed \S+ for ", ln))
            for ln in lines
        ]
        for ln, e, acc, bad in zip(lines, ev, accepted, failed, strict=True):
            if acc:
                assert (e["action"], e["outcome"], e["actor"], e["src_ip"]) == (
                    "ssh.login",
                    "success",
                    acc.group(2),
                    acc.group(3),
                ), ln
                assert e["outcome_reason"].startswith("accepted " + acc.group(1))
                fp = re.search(r"(SHA256:\S+)", ln)
                assert e["credential_id"] == (fp.group(1) if fp else None)
            elif bad:
                assert (e["action"], e["outcome"]) == ("ssh.login", "failure"), ln
                user = re.search(r"[Ii]nvalid user (\S+)|for (?:invalid user )?(\S+) from", ln)
                assert user and e["actor"] == (user.group(1) or user.group(2))
            if "[preauth]" in ln and re.search(r"Disconnected from|Connection closed by", ln):
                assert (e["action"], e["outcome"]) == ("ssh.disconnect", "failure"), ln
            assert e["outcome"] in ("success", "failure", "timeout", "unknown") and e["outcome_reason"]


def test_auditd_records_grouped_by_serial(host_case, shared_data):
    c, _ = host_case
    f = shared_data / "host" / "auditd" / "msticpy__auditd_log.txt"
    groups: dict[tuple[str, str], list[str]] = {}
    for ln in _lines(f):
        m = AUDIT_HEAD.match(ln)
        assert m
        groups.setdefault((m.group(2), m.group(3)), []).append(ln)
    ev = _events(c, f)
    assert len(ev) == len(groups)
    failed = sum(1 for recs in groups.values() if any("res=failed" in r or "success=no" in r for r in recs))
    assert sum(1 for e in ev if e["outcome"] == "failure") == failed
    # every USER_AUTH failure names its account and the remote address
    auth = [
        (re.search(r'acct="([^"]+)"', r[0]).group(1), re.search(r"addr=(\S+)", r[0]).group(1))  # type: ignore[union-attr]
        for r in groups.values()
        if r[0].startswith("type=USER_AUTH") and "res=failed" in r[0]
    ]
    got = sorted(
        (e["actor"], e["src_ip"]) for e in ev if e["action"] == "user_auth" and e["outcome"] == "failure"
    )
    assert got == sorted(auth) and auth
    first = min(float(k[0]) for k in groups)
    assert min(e["time"] for e in ev) == datetime.fromtimestamp(first, UTC)


def test_auditd_command_decoded(tmp_path):
    p = tmp_path / "audit.log"
    cmd = "wget https://example.invalid/x.sh"
    p.write_text(
        "type=USER_CMD msg=audit(1551486631.701:557): pid=17969 uid=1000 auid=1000 ses=237"
        f" msg='cwd=\"/home/a\" cmd={cmd.encode().hex().upper()} terminal=pts/0 res=success'\n"
    )
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p)
        assert (r.loader, r.records_loaded) == ("auditd", 1)
        row = c.con.sql("SELECT action, actor, target, outcome FROM events").fetchall()
    assert row == [("user_cmd", "uid:1000", cmd, "success")]


LINE = "Dec 31 23:59:58 h sshd[1]: Accepted password for bob from 10.0.0.1 port 22 ssh2\n"
LINE2 = "Jan  1 00:00:03 h sshd[1]: Failed password for bob from 10.0.0.1 port 22 ssh2\n"


def _times(path: Path, **opts) -> tuple[list[datetime], list[str]]:
    with forensics.open_case(":memory:") as c:
        c.ingest(path, **opts)
        times = [t for (t,) in c.con.sql("SELECT time FROM events ORDER BY evidence_record").fetchall()]
        reasons = [r for (r,) in c.con.sql("SELECT reason FROM rejects").fetchall()]
    return times, reasons


def test_no_year_in_the_file_takes_its_modification_time_never_the_clock(tmp_path):
    import json
    import os

    p = tmp_path / "auth.log"
    p.write_text(LINE + LINE2)
    # the file was last written on 2024-01-01 12:00Z: the Jan line is of 2024, the Dec line of the year before
    stamp = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(p, (stamp, stamp))
    times, reasons = _times(p)
    assert reasons == []
    assert times == [
        datetime(2023, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC),
    ]
    with forensics.open_case(":memory:") as c:
        c.ingest(p)
        (raw,) = c.con.sql("SELECT raw FROM events LIMIT 1").fetchall()[0]
    assert "modification time" in json.loads(raw)["year_from"]


def test_year_option_and_zone(tmp_path):
    p = tmp_path / "auth.log"
    p.write_text(LINE)
    times, _ = _times(p, year=2025, tz="Europe/Berlin")
    assert times == [datetime(2025, 12, 31, 22, 59, 58, tzinfo=UTC)]
    times, _ = _times(p, year=2025)  # default UTC
    assert times == [datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC)]


def test_year_from_rotation_name_spans_new_year(tmp_path):
    p = tmp_path / "secure-20260102"
    p.write_text(LINE + LINE2)
    times, reasons = _times(p)
    assert reasons == []
    assert times == [
        datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC),
    ]


def test_year_from_a_later_full_date(tmp_path):
    p = tmp_path / "auth.log"
    p.write_text(
        LINE + LINE2 + "2027-01-01T00:00:09.5+01:00 h sshd[2]: Invalid user x from 10.0.0.2 port 2\n"
    )
    times, reasons = _times(p)
    assert reasons == []
    assert times == [
        datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, 3, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 0, 9, 500000, tzinfo=UTC),
    ]


def test_bad_options_fail_before_work(tmp_path):
    p = tmp_path / "auth.log"
    p.write_text(LINE)
    with forensics.open_case(":memory:") as c:
        with pytest.raises(ForensicsError, match="IANA"):
            c.ingest(p, tz="Mars/Olympus")
        with pytest.raises(ForensicsError, match="ISO 8601"):
            c.ingest(p, observed_at="yesterday at nine")
        assert c.con.sql("SELECT count(*) FROM evidence").fetchall() == [(0,)]


def test_cli_year_tz_and_reingest(tmp_path, capsys):
    from forensics.cli import main

    p = tmp_path / "auth.log"
    p.write_text(LINE)
    case = str(tmp_path / "c.duckdb")
    assert main(["ingest", "--case", case, str(p)]) == 0  # no year: the file's mtime gives one
    assert (
        main(
            [
                "ingest",
                "--case",
                case,
                "--reingest",
                "year learned",
                "--year",
                "2025",
                "--tz",
                "Asia/Tokyo",
                str(p),
            ]
        )
        == 0
    )
    with forensics.open_case(case, read_only=True) as c:
        assert c.con.execute("SELECT time FROM events").fetchall() == [
            (datetime(2025, 12, 31, 14, 59, 58, tzinfo=UTC),)
        ]
        assert c.con.execute("SELECT reason FROM reingests").fetchall() == [("year learned",)]
        assert c.con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]


def test_auditd_enriched_and_node(tmp_path):
    p = tmp_path / "audit.log"
    p.write_text(
        "node=web-1 type=SYSCALL msg=audit(1773480000.123:4242): arch=c000003e syscall=59 success=yes exit=0 "
        'auid=1000 uid=0 comm="curl" exe="/usr/bin/curl" key="exec"\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"\n'
        'node=web-1 type=EXECVE msg=audit(1773480000.123:4242): argc=2 a0="curl" a1="http://203.0.113.66/x"\n'
    )
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p)
        assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == ("auditd", 2, 2, 0)
        row = c.con.execute("SELECT actor, target, environment, outcome, event_uid FROM events").fetchall()
    assert row == [("alice", "curl http://203.0.113.66/x", "web-1", "success", "web-1:1773480000.123:4242")]


def test_observed_at_gives_a_snapshot_its_capture_time(tmp_path):
    pod = {
        "apiVersion": "v1",
        "kind": "PodList",
        "items": [
            {
                "kind": "Pod",
                "metadata": {"name": "payments-1", "namespace": "prod", "uid": "u1",
                             "creationTimestamp": "2026-03-14T08:00:00Z"},
                "spec": {"containers": [{"name": "app", "image": "registry.acme.example/payments:1"}]},
                "status": {"phase": "Running", "startTime": "2026-03-14T08:00:05Z",
                           "containerStatuses": [{"name": "app", "image": "registry.acme.example/payments:1",
                                                  "imageID": "registry.acme.example/payments@sha256:" + "a" * 64,
                                                  "state": {"running": {"startedAt": "2026-03-14T08:00:09Z"}}}]},
            }
        ],
    }  # fmt: skip
    p = tmp_path / "pods.json"
    p.write_text(json.dumps(pod))
    with forensics.open_case(":memory:") as c:
        c.ingest(p)
        approx = c.con.execute("SELECT time, time_raw FROM events").fetchall()
    with forensics.open_case(":memory:") as c:
        c.ingest(p, observed_at="2026-03-14T10:40:00Z")
        given = c.con.execute("SELECT time, time_raw, outcome_reason FROM events").fetchall()
    assert approx == [(datetime(2026, 3, 14, 8, 0, 9, tzinfo=UTC), "approx:2026-03-14T08:00:09Z")]
    assert given[0][:2] == (datetime(2026, 3, 14, 10, 40, tzinfo=UTC), "observed:2026-03-14T10:40:00.000000Z")
    assert "--observed-at" in given[0][2]
