"""Linux host logs: syslog authentication lines (``/var/log/auth.log``, ``/var/log/secure``: sshd, sudo, su,
PAM, systemd-logind, CRON, useradd, passwd) and auditd logs (``/var/log/audit/audit.log``). docs/host.md.

Both are text, one record per line (``reads_text_lines``); ``raw`` keeps the line.

- **auth.log** (``auth_log``, category ``audit``). A line is ``Mmm dd hh:mm:ss host program[pid]: message``
  (BSD syslog) or starts with an RFC 3339 time (``2023-11-14T00:20:42.738197+01:00 host program[pid]:``,
  rsyslog's file format). The RFC 3339 time is read as given. A BSD time has no year and no zone:
  the zone is ``--tz`` (default UTC); the year is ``--year``, else taken from the file's own context: the
  last full (RFC 3339) date in the file, else a date in the file's name (``secure-20180820``,
  ``auth.log-2018-08-20.gz``). With such an anchor date, a line whose month is later than the anchor's
  belongs to the year before (a file that spans New Year). Else the file's modification time is the
  anchor, as Plaso takes it (approximate: a copy that did not keep times has the copy's); with none of these
  the line is rejected ("syslog time has no year"). The machine's clock is never used. ``raw.year_from`` says where the year
  came from. sshd messages map to ``ssh.login`` (Accepted: success with the method; Failed / Invalid user /
  not allowed: failure), ``ssh.auth`` (PAM authentication failure), ``ssh.disconnect`` (a ``[preauth]``
  disconnect is a failure: the client never authenticated), ``ssh.negotiate`` (no common algorithm:
  failure), ``ssh.connect``; sudo lines to ``sudo.command`` (target the command; "incorrect password" or
  "NOT in sudoers" a failure), su to ``su``, PAM sessions to ``session.open``/``session.close``, useradd /
  userdel / passwd to ``user.create``/``user.delete``/``group.create``/``user.password_change``. Any other
  line is an event ``<program>.message`` with outcome unknown ("unclassified"). actor = the user named
  in the line, src_ip = the remote address, credential_id = the SSH key fingerprint of a publickey login,
  target = ``user@host`` for logins and sessions, service = the program, request_id =
  ``host:program[pid]`` (the lines of one sshd connection share it).
- **auditd** (``auditd``, category ``audit``): ``[node=N] type=T msg=audit(EPOCH.mmm:SERIAL): fields``.
  The records of one serial are one kernel or user-space event (a SYSCALL with its EXECVE, CWD, PATH and
  PROCTITLE records): they become one event, on the record of the first non-auxiliary type; the others
  are loaded with it and listed in ``raw.records``. time = EPOCH (seconds, UTC by definition);
  action = the type in lower case (``user_auth``, ``syscall.59``); actor = ``acct`` (hex-decoded when
  encoded), else the login user's name that the ENRICHED log format appends (``AUID="alice"``), else ``auid``
  (unless unset, 4294967295), else ``uid``, as ``uid:N``; src_ip = ``addr``;
  target = the command (``cmd`` of USER_CMD, the EXECVE arguments or PROCTITLE, hex-decoded), else the
  ``exe``; ``res=success``/``success=yes`` success, ``res=failed``/``success=no`` failure, else unknown;
  event_uid = node, epoch and serial. A serial whose records straddle two reading chunks of a large file
  yields one event per chunk; the second is kept as a duplicate of the first (same event_uid).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

from forensics.ingest import options
from forensics.ingest.files import ByteStream
from forensics.sources.contract import Batch, Detection, Probe, Source

AUTH_NAME = "auth_log"
AUDITD_NAME = "auditd"

_BSD_RE = r"^([A-Z][a-z]{2}) +([0-9]{1,2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) (\S+) ([^\s\[:]+)(?:\[([0-9]+)\])?: ?(.*?)\s*$"
_ISO_RE = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})) (\S+) ([^\s\[:]+)(?:\[([0-9]+)\])?: ?(.*?)\s*$"
_BSD_PY = re.compile(_BSD_RE)
_ISO_PY = re.compile(_ISO_RE)
_ISO_DATE = re.compile(rb"^([0-9]{4})-([0-9]{2})-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.M)
_NAME_DATE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])(?![0-9])")
_AUTH_PROGRAMS = {
    "sshd",
    "sshd-session",
    "sudo",
    "su",
    "login",
    "systemd-logind",
    "CRON",
    "cron",
    "useradd",
    "userdel",
    "usermod",
    "groupadd",
    "passwd",
    "chpasswd",
    "polkitd",
    "pkexec",
}

# the message's kind, its fields, and what they map to; every pattern is matched once per line
_AUTH = r"""
WITH l AS (SELECT r.record_no, r.doc->>'$' AS line FROM {batch} r),
h AS (
    SELECT record_no, line,
           regexp_extract(line, '__BSD__', ['mon', 'day', 'hms', 'host', 'prog', 'pid', 'msg']) AS b,
           regexp_extract(line, '__ISO__', ['ts', 'host', 'prog', 'pid', 'msg']) AS i
    FROM l),
p AS (
    SELECT record_no, line,
           CASE WHEN b.mon <> '' THEN 'bsd' WHEN i.ts <> '' THEN 'iso' END AS kind,
           b.mon, b.day, b.hms, i.ts,
           CASE WHEN b.mon <> '' THEN b.host ELSE i.host END AS host,
           CASE WHEN b.mon <> '' THEN b.prog ELSE i.prog END AS prog,
           nullif(CASE WHEN b.mon <> '' THEN b.pid ELSE i.pid END, '') AS pid,
           CASE WHEN b.mon <> '' THEN b.msg ELSE i.msg END AS msg,
           list_position(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'], b.mon)
               AS mon_no
    FROM h),
y AS (
    SELECT *,
           CASE WHEN kind = 'bsd' THEN coalesce(
               CAST($year AS INTEGER),
               CASE WHEN mon_no > $anchor_month THEN $anchor_year - 1 ELSE $anchor_year END) END AS yr
    FROM p),
t AS (
    SELECT *,
           CASE WHEN kind = 'iso' THEN fx_time(ts, false)
                WHEN kind = 'bsd' AND yr IS NOT NULL THEN
                    timezone($tz, try_strptime(yr || ' ' || mon || ' ' || day || ' ' || hms, '%Y %b %d %H:%M:%S'))
           END AS t,
           CASE WHEN prog IN ('sshd', 'sshd-session') THEN 'ssh' ELSE lower(prog) END AS fam,
           regexp_extract(msg, '^Accepted (\S+) for (\S+) from (\S+) port [0-9]+(?: [^\s:]+)?(?:: (\S+) (\S+))?',
                          ['method', 'user', 'ip', 'keytype', 'fp']) AS acc,
           regexp_extract(msg, '^Failed (\S+) for (invalid user )?(\S+) from (\S+)', ['method', 'inv', 'user', 'ip']) AS fail,
           regexp_extract(msg, '^(?:input_userauth_request: )?[Ii]nvalid user ?(\S*?)(?: from (\S+))?(?: port [0-9]+)?(?: \[preauth\])?$',
                          ['user', 'ip']) AS inv,
           regexp_extract(msg, '^User (\S+) from (\S+) not allowed because (.*)$', ['user', 'ip', 'why']) AS na,
           regexp_extract(msg, '^pam_unix\(([^:)]+):auth\): (authentication failure|check pass; user unknown).*?(?:rhost=(\S*))?(?: user=(\S+))?$',
                          ['svc', 'what', 'ip', 'user']) AS pamf,
           regexp_extract(msg, '^pam_unix\(([^:)]+):session\): session (opened|closed) for user (\S+?)(?:\([^)]*\))?(?: by (.*))?$',
                          ['svc', 'what', 'user', 'by']) AS sess,
           regexp_extract(msg, '^(Disconnected from|Connection closed by|Connection reset by|Received disconnect from) (?:(authenticating|invalid|\S+) user (\S+) |user (\S+) )?(\S+) port [0-9]+',
                          ['what', 'state', 'user', 'user2', 'ip']) AS disc,
           regexp_extract(msg, '^Unable to negotiate with (\S+) port [0-9]+: (.*?)\.? Their offer', ['ip', 'why']) AS neg,
           regexp_extract(msg, '^(?:fatal: )?Timeout before authentication for (\S+)', ['ip']) AS tmo,
           regexp_extract(msg, '^(?:refused connect from (\S+)|Connection from (\S+) port [0-9]+)',
                          ['refused', 'ip']) AS conn,
           regexp_extract(msg, '^\s*(\S+) : (.*?)(?:TTY=(\S*) ; )?PWD=(\S*) ; USER=(\S+) ;(?: .*?;)? COMMAND=(.*)$',
                          ['user', 'pre', 'tty', 'pwd', 'runas', 'cmd']) AS sudo,
           regexp_extract(msg, '^(Successful|FAILED) su for (\S+) by (\S+)', ['what', 'target', 'user']) AS su,
           regexp_extract(msg, '^(new user|new group|delete user|password changed for)[: ]*(?:name=)?''?([^,'' ]+)',
                          ['what', 'name']) AS acct,
           regexp_extract(msg, '^(New session|Removed session) (\S+?)(?: of user (\S+?))?\.$', ['what', 'id', 'user']) AS lgd,
           coalesce(nullif(regexp_extract(msg, '\b([0-9]{1,3}(?:\.[0-9]{1,3}){3})\b', 1), ''), '') AS any_ip
    FROM y),
k AS (
    SELECT *,
           CASE WHEN acc.method <> '' THEN 'login_ok'
                WHEN fail.method <> '' THEN 'login_fail'
                WHEN regexp_matches(msg, '^(?:input_userauth_request: )?[Ii]nvalid user') THEN 'invalid'
                WHEN na.user <> '' THEN 'not_allowed'
                WHEN pamf.svc <> '' THEN 'pam_fail'
                WHEN sess.svc <> '' THEN 'session'
                WHEN disc.what <> '' THEN 'disconnect'
                WHEN neg.ip <> '' THEN 'negotiate'
                WHEN tmo.ip <> '' THEN 'timeout'
                WHEN conn.refused <> '' OR conn.ip <> '' THEN 'connect'
                WHEN sudo.user <> '' THEN 'sudo'
                WHEN msg LIKE '%incorrect password attempt%' OR msg LIKE '%NOT in sudoers%' THEN 'sudo_fail'
                WHEN su.what <> '' THEN 'su'
                WHEN acct.what <> '' THEN 'account'
                WHEN lgd.what <> '' THEN 'logind'
                ELSE 'other' END AS k
    FROM t)
SELECT *, CASE WHEN actor IS NOT NULL THEN 'host_user' END AS actor_type FROM (
SELECT record_no,
       t AS time,
       CASE WHEN kind IS NULL THEN 'not a syslog line (no "Mmm dd hh:mm:ss host program:" or RFC 3339 header)'
            WHEN kind = 'iso' THEN fx_time_problem(ts, false)
            WHEN yr IS NULL THEN 'syslog time has no year: give --year (no full date in the file or its name)'
            WHEN t IS NULL THEN 'not a date: ' || mon || ' ' || day || ' ' || hms || ' in ' || yr END AS time_problem,
       CASE WHEN kind = 'iso' THEN ts ELSE mon || ' ' || day || ' ' || hms END AS time_raw,
       'audit' AS category,
       CASE k WHEN 'login_ok' THEN fam || '.login' WHEN 'login_fail' THEN fam || '.login'
              WHEN 'invalid' THEN fam || '.login' WHEN 'not_allowed' THEN fam || '.login'
              WHEN 'timeout' THEN fam || '.login'
              WHEN 'pam_fail' THEN CASE WHEN pamf.svc = 'sshd' THEN 'ssh' ELSE pamf.svc END || '.auth'
              WHEN 'session' THEN 'session.' || CASE sess.what WHEN 'opened' THEN 'open' ELSE 'close' END
              WHEN 'logind' THEN 'session.' || CASE lgd.what WHEN 'New session' THEN 'open' ELSE 'close' END
              WHEN 'disconnect' THEN fam || '.disconnect'
              WHEN 'negotiate' THEN fam || '.negotiate'
              WHEN 'connect' THEN fam || '.connect'
              WHEN 'sudo' THEN 'sudo.command' WHEN 'sudo_fail' THEN 'sudo.auth'
              WHEN 'su' THEN 'su'
              WHEN 'account' THEN CASE acct.what WHEN 'new user' THEN 'user.create' WHEN 'new group' THEN 'group.create'
                                                 WHEN 'delete user' THEN 'user.delete' ELSE 'user.password_change' END
              ELSE lower(coalesce(prog, 'syslog')) || '.message' END AS action,
       nullif(CASE k WHEN 'login_ok' THEN acc.user WHEN 'login_fail' THEN fail.user WHEN 'invalid' THEN inv.user
              WHEN 'not_allowed' THEN na.user WHEN 'pam_fail' THEN pamf.user WHEN 'session' THEN sess.user
              WHEN 'logind' THEN lgd.user WHEN 'disconnect' THEN coalesce(nullif(disc.user, ''), disc.user2)
              WHEN 'sudo' THEN sudo.user WHEN 'su' THEN su.user
              WHEN 'sudo_fail' THEN regexp_extract(msg, '^\s*(\S+) :', 1) END, '') AS actor,
       CASE WHEN k = 'login_ok' AND acc.fp LIKE 'SHA256:%' THEN acc.fp END AS credential_id,
       nullif(CASE k WHEN 'login_ok' THEN acc.ip WHEN 'login_fail' THEN fail.ip WHEN 'invalid' THEN inv.ip
              WHEN 'not_allowed' THEN na.ip WHEN 'pam_fail' THEN pamf.ip WHEN 'disconnect' THEN disc.ip
              WHEN 'negotiate' THEN neg.ip WHEN 'timeout' THEN tmo.ip
              WHEN 'connect' THEN coalesce(nullif(conn.ip, ''), any_ip) ELSE any_ip END, '') AS src_ip,
       CASE WHEN k = 'sudo' THEN sudo.cmd
            WHEN k = 'su' THEN su.target || '@' || host
            WHEN k = 'account' THEN acct.name
            WHEN k IN ('login_ok', 'login_fail', 'invalid', 'not_allowed', 'session', 'logind')
                 THEN coalesce(nullif(CASE k WHEN 'login_ok' THEN acc.user WHEN 'login_fail' THEN fail.user
                                             WHEN 'invalid' THEN inv.user WHEN 'not_allowed' THEN na.user
                                             WHEN 'session' THEN sess.user ELSE lgd.user END, '') || '@', '') || host
            ELSE host END AS target,
       prog AS service,
       CASE WHEN k IN ('login_ok', 'session', 'logind', 'account') THEN 'success'
            WHEN k = 'connect' THEN CASE WHEN conn.refused <> '' THEN 'failure' ELSE 'success' END
            WHEN k IN ('login_fail', 'invalid', 'not_allowed', 'pam_fail', 'negotiate', 'sudo_fail') THEN 'failure'
            WHEN k = 'timeout' THEN 'timeout'
            WHEN k = 'disconnect' THEN CASE WHEN msg LIKE '%[preauth]%' THEN 'failure' ELSE 'success' END
            WHEN k = 'sudo' THEN CASE WHEN sudo.pre LIKE '%incorrect password%' OR sudo.pre LIKE '%NOT in sudoers%'
                                      OR sudo.pre LIKE '%command not allowed%' THEN 'failure' ELSE 'success' END
            WHEN k = 'su' THEN CASE su.what WHEN 'Successful' THEN 'success' ELSE 'failure' END
            ELSE 'unknown' END AS outcome,
       CASE k WHEN 'login_ok' THEN 'accepted ' || acc.method || coalesce(' (' || nullif(acc.keytype, '') || ' key)', '')
              WHEN 'login_fail' THEN 'failed ' || fail.method || CASE WHEN fail.inv <> '' THEN ' for an invalid user' ELSE '' END
              WHEN 'invalid' THEN 'invalid user'
              WHEN 'not_allowed' THEN 'not allowed because ' || na.why
              WHEN 'pam_fail' THEN 'PAM ' || pamf.what
              WHEN 'session' THEN 'session ' || sess.what || coalesce(' by ' || nullif(sess.by, ''), '')
              WHEN 'logind' THEN lower(lgd.what) || ' ' || lgd.id
              WHEN 'disconnect' THEN CASE WHEN msg LIKE '%[preauth]%' THEN 'disconnected before authentication'
                                          ELSE 'disconnected' END
                                     || coalesce(' (' || nullif(disc.state, '') || ' user)', '')
              WHEN 'negotiate' THEN neg.why
              WHEN 'timeout' THEN 'timeout before authentication'
              WHEN 'connect' THEN CASE WHEN conn.refused <> '' THEN 'refused by host access rules' ELSE 'connection' END
              WHEN 'sudo' THEN CASE WHEN trim(sudo.pre, ' ;') <> '' THEN trim(sudo.pre, ' ;') || '; ' ELSE '' END
                               || 'as ' || sudo.runas
              WHEN 'sudo_fail' THEN trim(regexp_extract(msg, '^\s*\S+ : ([^;]*)', 1))
              WHEN 'su' THEN lower(su.what) || ' su'
              WHEN 'account' THEN acct.what
              ELSE 'unclassified ' || coalesce(prog, 'syslog') || ' message' END AS outcome_reason,
       CASE WHEN host IS NOT NULL THEN host || ':' || prog || coalesce('[' || pid || ']', '') END AS request_id,
       json_object('line', line, 'host', host, 'program', prog, 'pid', pid, 'message', msg,
                   'year_from', CASE WHEN kind = 'bsd' THEN $year_from END, 'zone', CASE WHEN kind = 'bsd' THEN $tz END)
           AS raw
FROM k)
""".replace("__BSD__", _BSD_RE.replace("'", "''")).replace("__ISO__", _ISO_RE.replace("'", "''"))


def _lines(probe: Probe) -> list[str]:
    # split on newlines only: str.splitlines() also splits on the \x1d that auditd's ENRICHED format writes
    lines = [ln.rstrip("\r") for ln in probe.head.split("\n") if ln.strip()][:100]
    if len(lines) > 1 and not probe.head.endswith("\n"):
        lines = lines[:-1]
    return lines


def year_anchor(path: str | None) -> tuple[int | None, int, str | None]:
    """``(year, month, where)`` of the file's anchor date: its last RFC 3339 line, else a date in its name
    (docs/host.md). Reads the (decompressed) file in pieces; bounded memory."""
    if path:
        last: tuple[int, int] | None = None
        tail = b""
        for piece in ByteStream(path):
            buf = tail + piece
            cut = buf.rfind(b"\n") + 1
            for m in _ISO_DATE.finditer(buf, 0, cut):
                last = (int(m.group(1)), int(m.group(2)))
            tail = buf[cut:]
        for m in _ISO_DATE.finditer(tail):
            last = (int(m.group(1)), int(m.group(2)))
        if last:
            return last[0], last[1], "the last full date in the file"
        m2 = _NAME_DATE.search(os.path.basename(path))
        if m2:
            return int(m2.group(1)), int(m2.group(2)), "the date in the file name"
        # As Plaso does: the file's own modification time is the last context a file carries (syslog
        # writes a file up to its mtime). It is evidence metadata, not this machine's clock, but a copy
        # that did not keep times has the copy's; raw.year_from says so, and --year overrides it.
        try:
            mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
        except (OSError, OverflowError, ValueError):
            return None, 12, None
        return mtime.year, mtime.month, "the file's modification time (approximate: give --year to be sure)"
    return None, 12, None


class AuthLogSource(Source):
    name = AUTH_NAME
    category = "audit"
    containers = ("text", "csv")
    reads_text_lines = True

    def __init__(self) -> None:
        #: the anchor of each file being read, by (sha256, path): a file's batches share it
        self._anchors: dict[tuple[str, str], tuple[int | None, int, str | None]] = {}

    def detect(self, probe: Probe) -> Detection:
        lines = _lines(probe)
        if not lines:
            return Detection.NO
        parsed = [_BSD_PY.match(ln) or _ISO_PY.match(ln) for ln in lines]
        hits = [m for m in parsed if m]
        if len(hits) * 5 < len(lines) * 4:
            return Detection.NO
        progs = {m.group(5) if m.re is _BSD_PY else m.group(3) for m in hits}
        return Detection.STRONG if progs & _AUTH_PROGRAMS else Detection.LIKELY

    def _params(self, batch: Batch) -> dict[str, Any]:
        opts = options.current()
        year: int | None
        where: str | None
        if opts.year is not None:
            year, month, where = opts.year, 12, "--year"
        else:
            key = (batch.evidence_sha256 or "", batch.path or "")
            if key not in self._anchors:
                if len(self._anchors) > 64:
                    self._anchors.clear()
                self._anchors[key] = year_anchor(batch.path)
            year, month, where = self._anchors[key]
        return {
            "year": opts.year,
            "anchor_year": None if opts.year is not None else year,
            "anchor_month": month,
            "year_from": where,
            "tz": opts.zone,
        }

    def load_batch(self, batch: Batch) -> None:
        batch.insert_events(_AUTH, self._params(batch))

    def credential_kind_sql(self) -> str:
        return "CASE WHEN credential_id LIKE 'SHA256:%' THEN 'ssh_key' ELSE 'other' END"


_AUDIT_RE = r"^(?:node=(\S+) )?type=(\S+) msg=audit\(([0-9]+(?:\.[0-9]+)?):([0-9]+)\): ?(.*?)\s*$"
_AUX = "('PROCTITLE', 'PATH', 'CWD', 'EXECVE', 'SOCKADDR', 'EOE', 'BPRM_FCAPS', 'OBJ_PID', 'SRCTYPE', 'MMAP', 'CAPSET')"

# a field's value: quoted, or bare (hex-encoded when it is all hex digits of even length and the field is one
# auditd encodes: acct, cmd, proctitle, EXECVE arguments)
_FIELD = "regexp_extract(body, '(?:^|[ ''\x1d]){name}=(\"[^\"]*\"|[^\\s''\x1d]+)', 1)"


def _field(name: str) -> str:
    return _FIELD.format(name=name)


_AUDIT = rf"""
WITH l AS (SELECT r.record_no, r.doc->>'$' AS line FROM {{batch}} r),
p AS (
    SELECT record_no, line, regexp_extract(line, '{_AUDIT_RE}', ['node', 'type', 'epoch', 'serial', 'body']) AS m
    FROM l),
rec AS (
    SELECT record_no, line, nullif(m.node, '') AS node, m.type AS type, m.epoch AS epoch, m.serial AS serial,
           m.body AS body, m.type IN {_AUX} AS aux
    FROM p WHERE m.type <> ''),
f AS (
    SELECT *, {_field("acct")} AS acct, {_field("auid")} AS auid, {_field("uid")} AS uid,
           {_field("addr")} AS addr, {_field("hostname")} AS hostname, {_field("exe")} AS exe,
           {_field("comm")} AS comm, {_field("res")} AS res, {_field("success")} AS ok, {_field("op")} AS op,
           {_field("cmd")} AS cmd, {_field("proctitle")} AS proctitle, {_field("syscall")} AS syscall,
           {_field("key")} AS akey, {_field("name")} AS pname, {_field("terminal")} AS terminal,
           {_field("AUID")} AS auid_name,
           CASE WHEN type = 'EXECVE' THEN regexp_extract_all(body, '(?:^| )a[0-9]+=("[^"]*"|\S+)', 1) END AS args
    FROM rec),
g AS (
    SELECT node, epoch, serial,
           arg_min(record_no, CASE WHEN aux THEN 1 ELSE 0 END * 1e18 + record_no) AS primary_no,
           arg_min(type, CASE WHEN aux THEN 1 ELSE 0 END * 1e18 + record_no) AS type,
           list(line ORDER BY record_no) AS lines,
           list(record_no ORDER BY record_no) AS members,
           first(acct ORDER BY record_no) FILTER (WHERE acct <> '') AS acct,
           first(auid ORDER BY record_no) FILTER (WHERE auid <> '') AS auid,
           first(uid ORDER BY record_no) FILTER (WHERE uid <> '') AS uid,
           first(addr ORDER BY record_no) FILTER (WHERE addr NOT IN ('', '?')) AS addr,
           first(hostname ORDER BY record_no) FILTER (WHERE hostname NOT IN ('', '?')) AS hostname,
           first(exe ORDER BY record_no) FILTER (WHERE exe <> '') AS exe,
           first(comm ORDER BY record_no) FILTER (WHERE comm <> '') AS comm,
           first(res ORDER BY record_no) FILTER (WHERE res <> '') AS res,
           first(ok ORDER BY record_no) FILTER (WHERE ok <> '') AS ok,
           first(op ORDER BY record_no) FILTER (WHERE op <> '') AS op,
           first(cmd ORDER BY record_no) FILTER (WHERE cmd <> '') AS cmd,
           first(proctitle ORDER BY record_no) FILTER (WHERE proctitle <> '') AS proctitle,
           first(syscall ORDER BY record_no) FILTER (WHERE syscall <> '') AS syscall,
           first(akey ORDER BY record_no) FILTER (WHERE akey NOT IN ('', '(null)')) AS akey,
           first(pname ORDER BY record_no) FILTER (WHERE pname <> '' AND type = 'PATH') AS pname,
           first(args ORDER BY record_no) FILTER (WHERE args IS NOT NULL) AS args,
           first(terminal ORDER BY record_no) FILTER (WHERE terminal <> '') AS terminal,
           first(auid_name ORDER BY record_no) FILTER (WHERE auid_name NOT IN ('', '"unset"')) AS auid_name
    FROM f GROUP BY node, epoch, serial),
e AS (
    SELECT *,
           fx_audit_text(acct) AS acct_t,
           coalesce(fx_audit_text(cmd),
                    array_to_string(list_transform(args, lambda x: fx_audit_text(x)), ' '),
                    fx_audit_text(proctitle)) AS command,
           coalesce(res, ok) AS result
    FROM g)
SELECT primary_no AS record_no,
       fx_time(epoch, false) AS time, fx_time_problem(epoch, false) AS time_problem, epoch AS time_raw,
       'audit' AS category,
       lower(type) || CASE WHEN type = 'SYSCALL' THEN '.' || coalesce(syscall, '?') ELSE '' END AS action,
       coalesce(acct_t, trim(auid_name, '"'),
                CASE WHEN auid IS NOT NULL AND auid NOT IN ('4294967295', '-1') THEN 'uid:' || auid END,
                'uid:' || uid) AS actor,
       CASE WHEN acct_t IS NOT NULL OR auid_name IS NOT NULL THEN 'host_user' ELSE 'uid' END AS actor_type,
       coalesce(addr, hostname) AS src_ip,
       coalesce(command, trim(pname, '"'), trim(exe, '"')) AS target,
       coalesce(trim(exe, '"'), trim(comm, '"')) AS service,
       node AS environment,
       CASE WHEN result IN ('success', 'yes', '1') THEN 'success'
            WHEN result IN ('failed', 'no', '0', 'fail') THEN 'failure' ELSE 'unknown' END AS outcome,
       CASE WHEN result IS NULL THEN 'no res= or success= field'
            ELSE coalesce(trim(op, '"') || ': ', '') || 'res=' || result END
           || coalesce(' (key ' || trim(akey, '"') || ')', '') AS outcome_reason,
       coalesce(node, '') || ':' || epoch || ':' || serial AS event_uid,
       json_object('serial', CAST(serial AS BIGINT), 'type', type, 'node', node, 'records', lines,
                   'terminal', terminal, 'command', command) AS raw
FROM e
UNION ALL BY NAME
SELECT record_no, NULL::TIMESTAMPTZ AS time,
       'not an auditd record (no "type=T msg=audit(EPOCH:SERIAL):" header)' AS time_problem, json_object('line', line) AS raw
FROM p WHERE m.type = ''
"""

_AUDIT_MEMBERS = rf"""
WITH l AS (SELECT r.record_no, r.doc->>'$' AS line FROM {{batch}} r),
p AS (SELECT record_no, regexp_extract(line, '{_AUDIT_RE}', ['node', 'type', 'epoch', 'serial']) AS m FROM l),
rec AS (SELECT record_no, m.node AS node, m.epoch AS epoch, m.serial AS serial, m.type IN {_AUX} AS aux
        FROM p WHERE m.type <> ''),
g AS (SELECT node, epoch, serial, arg_min(record_no, CASE WHEN aux THEN 1 ELSE 0 END * 1e18 + record_no) AS primary_no
      FROM rec GROUP BY ALL)
SELECT rec.record_no FROM rec JOIN g USING (node, epoch, serial) WHERE rec.record_no <> g.primary_no
"""

_MACRO = r"""
CREATE OR REPLACE TEMP MACRO fx_audit_text(v) AS (
    CASE WHEN v IS NULL OR v = '' THEN NULL
         WHEN regexp_full_match(v, '([0-9A-F]{2})+') THEN
              trim(replace(coalesce(try(decode(unhex(v))), v), chr(0), ' '))
         ELSE trim(v, '"') END
)
"""


class AuditdSource(Source):
    name = AUDITD_NAME
    category = "audit"
    containers = ("text", "csv")
    reads_text_lines = True

    def detect(self, probe: Probe) -> Detection:
        lines = _lines(probe)
        if not lines:
            return Detection.NO
        pat = re.compile(_AUDIT_RE)
        hits = sum(1 for ln in lines if pat.match(ln))
        if hits == len(lines):
            return Detection.CERTAIN  # "msg=audit(EPOCH:SERIAL)" is written by auditd alone
        return Detection.LIKELY if hits * 5 >= len(lines) * 4 else Detection.NO

    def load_batch(self, batch: Batch) -> None:
        batch.con.execute(_MACRO)
        batch.mark_loaded(_AUDIT_MEMBERS)
        batch.insert_events(_AUDIT)


SOURCES = [AuditdSource(), AuthLogSource()]
