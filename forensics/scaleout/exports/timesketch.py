"""The case's timeline as Timesketch JSONL (its "import from JSONL" format): each event one line with
the three fields Timesketch requires, ``message``, ``datetime`` (ISO 8601 with its UTC offset) and
``timestamp_desc``, plus ``timestamp`` (microseconds since the epoch), every column of the kit's
``events`` table but ``raw`` (the evidence's record, kept in the case), and ``tag``: the event's
annotation tags, ``starred`` when starred, and ``finding:<id>`` for each finding citing it. Redacted."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from forensics.case import TIMELINE_ORDER
from forensics.scaleout.exports import write_jsonl

_SQL = f"""
WITH tags AS (
    SELECT target_id AS event_id, list(DISTINCT value ORDER BY value) AS tag
    FROM (SELECT target_id, CASE action WHEN 'star' THEN 'starred' ELSE value END AS value, action,
                 row_number() OVER (PARTITION BY target_id, action IN ('star', 'unstar') ORDER BY annotation_id DESC) AS last
          FROM annotations WHERE target_kind = 'event')
    WHERE action = 'tag' OR (action = 'star' AND last = 1)
    GROUP BY ALL
), cited AS (
    SELECT e.id AS event_id, list(DISTINCT 'finding:' || f.finding_id ORDER BY 'finding:' || f.finding_id) AS tag
    FROM findings f, unnest(f.evidence) AS u(e) WHERE e.kind = 'event' GROUP BY ALL
)
SELECT ev.* EXCLUDE (raw), list_sort(list_distinct(flatten([coalesce(t.tag, []), coalesce(c.tag, [])]))) AS tag
FROM events ev LEFT JOIN tags t USING (event_id) LEFT JOIN cited c USING (event_id)
ORDER BY {TIMELINE_ORDER}
"""


def message(row: dict[str, Any]) -> str:
    """One readable line: who did what, from where, to what, and how it ended."""
    parts = [f"[{row['source']}] {row.get('action') or row['category']}"]
    for label, key in (("by", "actor"), ("from", "src_ip"), ("on", "target"), ("in", "service")):
        if row.get(key):
            parts.append(f"{label} {row[key]}")
    reason = f" ({row['outcome_reason']})" if row.get("outcome_reason") else ""
    return " ".join(parts) + f": {row['outcome']}{reason}"


def record(row: dict[str, Any]) -> dict[str, Any]:
    t: dt.datetime = row["time"].astimezone(dt.UTC)
    fields = {
        k: (v.astimezone(dt.UTC).isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()
    }
    fields.pop("tag", None)
    return {
        "message": message(row),
        "datetime": t.isoformat(),
        "timestamp": int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1)),
        "timestamp_desc": "Event Recorded" if row["category"] == "audit" else "Event Time",
        "data_type": f"forensics:{row['source']}:{row['category']}",
        **{k: v for k, v in fields.items() if v is not None},
        "tag": row.get("tag") or [],
    }


def write(case: Any, path: str | os.PathLike[str]) -> int:
    """Write the timeline to ``path``; returns the events written (every event of the case)."""
    return write_jsonl(case.con, _SQL, path, record)
