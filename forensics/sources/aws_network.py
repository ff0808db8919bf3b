"""AWS network and edge logs: VPC Flow Logs, ALB/ELB access logs, S3 server access logs, CloudFront
standard logs (text, one record per line) and Route 53 Resolver query logs (JSON).

Text formats set ``reads_text_lines``: the engine hands each non-blank line over, and the line is
split in SQL (``string_split`` or one regular expression per format). A line that does not split
into the format's fields has no time and is rejected with its line number, as any record is.
Header lines (a VPC Flow ``version account-id ...`` line, CloudFront ``#Version`` / ``#Fields``) are
records too: they are counted as loaded and produce no event. ``raw`` is ``{"line": <the line>}``.

- **VPC Flow Logs** (``vpc_flow``, category ``network``), versions 2 to 5: the header line names the
  fields of a custom format; without a header (a continuation, or a cut file) the default version-2
  order is used (``version account-id interface-id srcaddr dstaddr srcport dstport protocol packets
  bytes start end action log-status``). ``start`` (epoch seconds) -> time, ``end`` -> end_time;
  ``srcaddr`` -> src_ip; ``dstaddr:dstport/protocol`` -> target; ``interface-id`` -> service;
  ``account-id`` -> environment; ACCEPT -> success, REJECT -> failure ("rejected by a security group or
  network ACL"), ``NODATA`` / ``SKIPDATA`` -> unknown. Bytes and packets go to ``network_flows``.
- **ALB access logs** (``alb_access``): ``time`` (RFC 3339 ``Z``) -> time; ``client`` -> src_ip; the
  request line -> action (method) and target (URL); user agent; ``elb_status_code`` -> outcome (2xx/3xx
  success, 4xx/5xx failure, ``-`` unknown), ``target_processing_time`` of -1 with a 504 is a timeout;
  ``error_reason`` and the status follow in outcome_reason; ``trace_id`` -> request_id.
- **S3 server access logs** (``s3_access``): ``[06/Feb/2019:00:00:38 +0000]`` -> time; ``remote_ip``
  -> src_ip; ``requester`` (an ARN, or ``-`` for anonymous) -> actor; ``operation`` -> action;
  ``bucket/key`` -> target; HTTP status and ``error_code`` -> outcome (403 access denied, 404 not
  found as a failure); ``request_id`` -> request_id; ``bytes_sent`` to ``network_flows``.
- **CloudFront standard logs** (``cloudfront``): ``date`` + ``time`` (UTC by AWS's definition) -> time;
  ``c-ip`` -> src_ip; ``cs-method`` -> action; host + URI stem -> target; user agent (URL-decoded);
  ``sc-status`` -> outcome; ``x-edge-request-id`` -> request_id. The ``#Fields`` header is not needed:
  the 33 fields are in their documented order.
- **Route 53 Resolver query logs** (``route53_resolver``, JSON): ``query_timestamp`` -> time;
  ``srcaddr`` -> src_ip; ``srcids.instance`` -> actor; ``query_name`` / ``query_type`` -> target and
  action; a DNS Firewall BLOCK -> failure ("blocked by DNS Firewall"), ``rcode`` NOERROR success, else
  failure with the rcode.
"""

from __future__ import annotations

from forensics.sources.contract import Batch, Detection, Probe, Source

_V2 = (
    "['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', "
    "'packets', 'bytes', 'start', 'end', 'action', 'log-status']"
)

_LINES = "SELECT r.record_no, r.doc->>'$' AS line FROM {batch} r"

_VPC_HEADER = "regexp_matches(line, '^\\s*version\\s+account-id\\s')"

_VPC = f"""
WITH l AS ({_LINES}),
hdr AS (SELECT string_split(trim(line), ' ') AS names FROM l WHERE {_VPC_HEADER} LIMIT 1),
p AS (
    SELECT record_no, line, string_split(trim(line), ' ') AS v,
           coalesce((SELECT names FROM hdr), {_V2}) AS names
    FROM l WHERE NOT {_VPC_HEADER}),
f AS (
    SELECT record_no, line, v, names,
           CASE WHEN len(v) = len(names) THEN v[list_position(names, 'start')] END AS t_start,
           CASE WHEN len(v) = len(names) THEN v[list_position(names, 'end')] END AS t_end,
           v[list_position(names, 'action')] AS act, v[list_position(names, 'log-status')] AS st
    FROM p)
SELECT record_no,
       fx_time(t_start, false) AS time,
       CASE WHEN len(v) <> len(names) THEN 'a VPC Flow record has ' || len(names) || ' fields, this line ' || len(v)
            ELSE fx_time_problem(t_start, false) END AS time_problem,
       t_start AS time_raw, fx_time(t_end, false) AS end_time,
       'network' AS category,
       'flow.' || lower(coalesce(nullif(act, '-'), st)) AS action,
       nullif(v[list_position(names, 'srcaddr')], '-') AS src_ip,
       v[list_position(names, 'dstaddr')] || ':' || v[list_position(names, 'dstport')] || '/'
           || CASE v[list_position(names, 'protocol')] WHEN '6' THEN 'tcp' WHEN '17' THEN 'udp' WHEN '1' THEN 'icmp'
                   ELSE v[list_position(names, 'protocol')] END AS target,
       v[list_position(names, 'interface-id')] AS service,
       v[list_position(names, 'account-id')] AS environment,
       CASE act WHEN 'ACCEPT' THEN 'success' WHEN 'REJECT' THEN 'failure' ELSE 'unknown' END AS outcome,
       CASE act WHEN 'ACCEPT' THEN 'accepted' WHEN 'REJECT' THEN 'rejected by a security group or network ACL'
                ELSE 'log-status ' || coalesce(st, '?') END
           || ', ' || coalesce(v[list_position(names, 'bytes')], '-') || ' bytes in '
           || coalesce(v[list_position(names, 'packets')], '-') || ' packets' AS outcome_reason,
       json_object('line', line) AS raw
FROM f
"""

_VPC_FLOWS = f"""
WITH l AS ({_LINES}),
hdr AS (SELECT string_split(trim(line), ' ') AS names FROM l WHERE {_VPC_HEADER} LIMIT 1),
p AS (SELECT record_no, string_split(trim(line), ' ') AS v, coalesce((SELECT names FROM hdr), {_V2}) AS names
      FROM l WHERE NOT {_VPC_HEADER})
SELECT $sha AS evidence_sha256, record_no AS evidence_record,
       fx_time(v[list_position(names, 'start')], false) AS time, fx_time(v[list_position(names, 'end')], false) AS end_time,
       nullif(v[list_position(names, 'srcaddr')], '-') AS src_ip, try_cast(v[list_position(names, 'srcport')] AS INTEGER) AS src_port,
       nullif(v[list_position(names, 'dstaddr')], '-') AS dst_ip, try_cast(v[list_position(names, 'dstport')] AS INTEGER) AS dst_port,
       v[list_position(names, 'protocol')] AS protocol, try_cast(v[list_position(names, 'packets')] AS BIGINT) AS packets,
       try_cast(v[list_position(names, 'bytes')] AS BIGINT) AS bytes, v[list_position(names, 'action')] AS action,
       v[list_position(names, 'interface-id')] AS interface_id, v[list_position(names, 'account-id')] AS account_id
FROM p WHERE len(v) = len(names) AND fx_time(v[list_position(names, 'start')], false) IS NOT NULL
"""

_ALB_RE = (
    r"^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) \"([^\"]*)\" \"([^\"]*)\" "
    r"(\S+) (\S+) (\S+) \"([^\"]*)\"(?: \"([^\"]*)\" \"([^\"]*)\" (\S+) (\S+) \"([^\"]*)\" \"([^\"]*)\" \"([^\"]*)\")?"
)
_ALB_NAMES = (
    "['type', 'time', 'elb', 'client', 'target', 'req_t', 'target_t', 'resp_t', 'elb_status', 'target_status', "
    "'received', 'sent', 'request', 'ua', 'cipher', 'proto', 'tg', 'trace', 'domain', 'cert', 'rule', "
    "'created', 'actions', 'redirect', 'error_reason']"
)

_ALB = f"""
WITH l AS ({_LINES}),
f AS (SELECT record_no, line, regexp_extract(line, '{_ALB_RE}', {_ALB_NAMES}) AS m FROM l)
SELECT record_no,
       CASE WHEN m.time <> '' THEN fx_time(m.time, false) END AS time,
       CASE WHEN m.time = '' THEN 'not an ALB access log line (fields do not match the documented format)'
            ELSE fx_time_problem(m.time, false) END AS time_problem,
       nullif(m.time, '') AS time_raw,
       'network' AS category,
       'http.' || lower(split_part(m.request, ' ', 1)) AS action,
       nullif(split_part(m.client, ':', 1), '') AS src_ip,
       nullif(m.ua, '-') AS user_agent,
       split_part(m.request, ' ', 2) AS target,
       m.elb AS service,
       CASE WHEN m.elb_status = '504' AND m.target_t = '-1' THEN 'timeout'
            WHEN m.elb_status LIKE '2%' OR m.elb_status LIKE '3%' THEN 'success'
            WHEN m.elb_status LIKE '4%' OR m.elb_status LIKE '5%' THEN 'failure'
            ELSE 'unknown' END AS outcome,
       'HTTP ' || m.elb_status || coalesce(' (target ' || nullif(m.target_status, '-') || ')', '')
           || coalesce(': ' || nullif(nullif(m.error_reason, '-'), ''), '')
           || CASE WHEN m.elb_status = '504' AND m.target_t = '-1' THEN ': the target did not answer in time'
                   ELSE '' END AS outcome_reason,
       nullif(m.trace, '-') AS request_id,
       json_object('line', line) AS raw
FROM f
"""

_S3_RE = (
    r"^(\S+) (\S+) \[([^\]]+)\] (\S+) (\S+) (\S+) (\S+) (\S+) \"([^\"]*)\" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r"\"([^\"]*)\" \"([^\"]*)\""
)
_S3_NAMES = (
    "['owner', 'bucket', 'time', 'ip', 'requester', 'request_id', 'operation', 'key', 'uri', 'status', "
    "'error', 'sent', 'size', 'total', 'turnaround', 'referer', 'ua']"
)

_S3 = f"""
WITH l AS ({_LINES}),
f AS (SELECT record_no, line, regexp_extract(line, '{_S3_RE}', {_S3_NAMES}) AS m FROM l),
t AS (SELECT *, try_strptime(m.time, '%d/%b/%Y:%H:%M:%S %z') AS ts FROM f)
SELECT record_no,
       CAST(ts AS TIMESTAMPTZ) AS time,
       CASE WHEN m.time = '' THEN 'not an S3 server access log line (fields do not match the documented format)'
            WHEN ts IS NULL THEN 'unparseable time' END AS time_problem,
       nullif(m.time, '') AS time_raw,
       'network' AS category,
       m.operation AS action,
       CASE WHEN m.requester = '-' THEN 'anonymous' ELSE m.requester END AS actor,
       CASE WHEN m.requester = '-' THEN 'anonymous' WHEN m.requester LIKE 'arn:%' THEN 'aws_principal'
            ELSE 'canonical_user' END AS actor_type,
       nullif(m.ip, '-') AS src_ip,
       nullif(m.ua, '-') AS user_agent,
       m.bucket || CASE WHEN m.key <> '-' THEN '/' || m.key ELSE '' END AS target,
       's3' AS service,
       CASE WHEN m.status LIKE '2%' OR m.status LIKE '3%' THEN 'success'
            WHEN m.status LIKE '4%' OR m.status LIKE '5%' THEN 'failure' ELSE 'unknown' END AS outcome,
       CASE WHEN m.status = '403' THEN 'access denied: ' ELSE '' END || 'HTTP ' || m.status
           || coalesce(' ' || nullif(m.error, '-'), '') || ', ' || m.sent || ' bytes sent' AS outcome_reason,
       m.request_id AS request_id,
       json_object('line', line) AS raw
FROM t
"""

_CF = f"""
WITH l AS ({_LINES}),
f AS (SELECT record_no, line, string_split(line, chr(9)) AS v FROM l WHERE NOT starts_with(line, '#')),
t AS (SELECT *, CASE WHEN len(v) >= 19 THEN v[1] || 'T' || v[2] || 'Z' END AS ts FROM f)
SELECT record_no,
       fx_time(ts, false) AS time,
       CASE WHEN ts IS NULL THEN 'not a CloudFront standard log line (' || len(v) || ' tab-separated fields)'
            ELSE fx_time_problem(ts, false) END AS time_problem,
       v[1] || ' ' || v[2] AS time_raw,
       'network' AS category,
       'http.' || lower(v[6]) AS action,
       nullif(v[5], '-') AS src_ip,
       nullif(url_decode(v[11]), '-') AS user_agent,
       v[7] || v[8] || coalesce('?' || nullif(v[12], '-'), '') AS target,
       v[7] AS service,
       CASE WHEN v[9] LIKE '2%' OR v[9] LIKE '3%' THEN 'success'
            WHEN v[9] LIKE '4%' OR v[9] LIKE '5%' THEN 'failure' ELSE 'unknown' END AS outcome,
       'HTTP ' || v[9] || ', edge result ' || coalesce(v[14], '?') || ', ' || v[4] || ' bytes sent' AS outcome_reason,
       v[15] AS request_id,
       json_object('line', line) AS raw
FROM t
"""

_ROUTE53 = """
SELECT record_no,
       fx_time(doc->>'query_timestamp', false) AS time, fx_time_problem(doc->>'query_timestamp', false) AS time_problem,
       doc->>'query_timestamp' AS time_raw,
       'network' AS category,
       'dns.' || lower(coalesce(doc->>'query_type', '?')) AS action,
       coalesce(doc->>'$.srcids.instance', doc->>'$.srcids.resolver_endpoint') AS actor,
       CASE WHEN doc->>'$.srcids.instance' IS NOT NULL THEN 'ec2_instance' END AS actor_type,
       doc->>'srcaddr' AS src_ip,
       doc->>'query_name' AS target,
       'route53resolver' AS service,
       doc->>'account_id' AS environment, doc->>'region' AS region,
       CASE WHEN doc->>'firewall_rule_action' = 'BLOCK' THEN 'failure'
            WHEN doc->>'rcode' = 'NOERROR' THEN 'success' ELSE 'failure' END AS outcome,
       CASE WHEN doc->>'firewall_rule_action' = 'BLOCK' THEN 'blocked by DNS Firewall rule group '
                 || coalesce(doc->>'firewall_rule_group_id', '?')
            ELSE 'rcode ' || coalesce(doc->>'rcode', '?') END AS outcome_reason
FROM {batch}
"""


def _lines(probe: Probe) -> list[str]:
    lines = [ln for ln in probe.head.splitlines() if ln.strip()][:100]
    if len(lines) > 1 and not probe.head.endswith("\n"):
        lines = lines[:-1]
    return lines


class _TextLog(Source):
    category = "network"
    containers = ("text", "csv")
    reads_text_lines = True
    header_sql: str | None = None

    def _is_line(self, line: str) -> bool:
        raise NotImplementedError

    def _is_header(self, line: str) -> bool:
        return False

    def detect(self, probe: Probe) -> Detection:
        head = _lines(probe)
        if (
            head
            and self._is_header(head[0])
            and self.header_sql
            and any(self._is_line(ln) for ln in head[1:])
        ):
            return Detection.CERTAIN  # the format's own header line, then its records
        lines = [ln for ln in head if not self._is_header(ln)]
        if not lines:
            return Detection.NO
        hits = sum(1 for ln in lines if self._is_line(ln))
        if hits == len(lines):
            return Detection.STRONG
        return Detection.LIKELY if hits * 5 >= len(lines) * 4 else Detection.NO

    def load_batch(self, batch: Batch) -> None:
        if self.header_sql:
            batch.mark_loaded(f"SELECT record_no FROM ({_LINES}) WHERE {self.header_sql}")
        super().load_batch(batch)


class VpcFlowSource(_TextLog):
    name = "vpc_flow"
    header_sql = _VPC_HEADER

    def _is_header(self, line: str) -> bool:
        return line.lstrip().startswith("version account-id ")

    def _is_line(self, line: str) -> bool:
        v = line.split()
        return len(v) >= 14 and v[0].isdigit() and v[1].isdigit() and (v[2].startswith("eni-") or v[2] == "-")

    def events_sql(self) -> str:
        return _VPC

    def load_batch(self, batch: Batch) -> None:
        super().load_batch(batch)
        batch.insert_into("network_flows", _VPC_FLOWS, {"sha": batch.evidence_sha256})


class AlbSource(_TextLog):
    name = "alb_access"

    def _is_line(self, line: str) -> bool:
        v = line.split(" ", 5)
        return len(v) > 5 and v[0] in ("http", "https", "h2", "grpcs", "ws", "wss") and v[1][:2] == "20"

    def events_sql(self) -> str:
        return _ALB


class S3AccessSource(_TextLog):
    name = "s3_access"

    def _is_line(self, line: str) -> bool:
        v = line.split(" ", 3)
        return len(v) > 3 and len(v[0]) == 64 and v[2].startswith("[") and "/" in v[2]

    def events_sql(self) -> str:
        return _S3


class CloudFrontSource(_TextLog):
    name = "cloudfront"
    header_sql = "starts_with(line, '#')"

    def _is_header(self, line: str) -> bool:
        return line.startswith("#")

    def _is_line(self, line: str) -> bool:
        v = line.split("\t")
        return len(v) >= 19 and v[0][:2] == "20" and len(v[0]) == 10 and v[5].isalpha()

    def events_sql(self) -> str:
        return _CF


class Route53ResolverSource(Source):
    name = "route53_resolver"
    category = "network"
    containers = ("jsonl", "json")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        if not objs:
            return Detection.NO
        keys = {"query_timestamp", "query_name", "query_type", "srcaddr"}
        return Detection.STRONG if sum(1 for o in objs if keys <= o.keys()) * 2 >= len(objs) else Detection.NO

    def events_sql(self) -> str:
        return _ROUTE53


SOURCES = [AlbSource(), CloudFrontSource(), Route53ResolverSource(), S3AccessSource(), VpcFlowSource()]
