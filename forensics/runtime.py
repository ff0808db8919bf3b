"""What ran, next to what was deployed (docs/runtime.md).

    from forensics import runtime
    runtime.state(case)                        # runtime_state: observed and desired containers
    runtime.drift(case)                        # pods running a digest other than the desired one
    runtime.aliases(case)                      # the environment alias table
    runtime.set_alias(case, "prod", "production")   # then every derivation reruns
    runtime.observed_at(case, sha256, "2026-03-14T10:30:00Z")  # a snapshot's capture time

Observed rows come from Kubernetes pod and ReplicaSet snapshots, kubelet ``pods/status`` patches in
the audit log and Events ``Pulled``/``Created``; desired rows from deploys (deploy log, GitHub
deployments, Argo CD, Kubernetes audit) and Deployment specs. Environment names are compared after
normalisation through ``environment_aliases`` (``prod`` = ``production`` by default).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from forensics.timewindow import parse_user_time


def state(case, service: str | None = None, kind: str | None = None) -> pl.DataFrame:
    """``runtime_state`` rows in time order (``kind``: observed or desired)."""
    return case.sql(
        """SELECT * FROM runtime_state
           WHERE ($service IS NULL OR workload = $service) AND ($kind IS NULL OR kind = $kind)
           ORDER BY time, workload, pod, container""",
        {"service": service, "kind": kind},
    )


def drift(case, at: str | datetime | None = None, grace_minutes: int = 5) -> pl.DataFrame:
    """Drift: one row per pod, container, observed digest and desired state (queries/provenance/runtime_drift)."""
    t = parse_user_time(at) if isinstance(at, str) else at
    return case.query("provenance/runtime_drift", at=t, grace_minutes=grace_minutes)


def aliases(case) -> pl.DataFrame:
    return case.sql("SELECT alias, canonical, note FROM environment_aliases ORDER BY alias")


def set_alias(case, alias: str, canonical: str, note: str = "set for this case") -> None:
    """Make ``alias`` another name of ``canonical`` in this case (an alias mapped to itself turns a
    default off); rederives deploys, runtime state and findings."""
    if not alias.strip() or not canonical.strip():
        raise ValueError("an environment alias and its canonical name must not be empty")
    case.con.complete()
    case.con.execute(
        """INSERT INTO environment_aliases VALUES (lower($a), $c, $n)
           ON CONFLICT (alias) DO UPDATE SET canonical = excluded.canonical, note = excluded.note""",
        {"a": alias.strip(), "c": canonical.strip(), "n": note},
    ).fetchall()
    case.rederive()


def load_aliases(case, mapping: dict[str, str]) -> None:
    """Several aliases at once (``{"prod": "production", ...}``), one rederive."""
    case.con.complete()
    for alias, canonical in mapping.items():
        case.con.execute(
            """INSERT INTO environment_aliases VALUES (lower($a), $c, 'set for this case')
               ON CONFLICT (alias) DO UPDATE SET canonical = excluded.canonical, note = excluded.note""",
            {"a": str(alias).strip(), "c": str(canonical).strip()},
        ).fetchall()
    case.rederive()


def observed_at(case, sha256s: list[str], when: str | datetime, given_as: str | None = None) -> int:
    """Record the capture time of snapshot files (their evidence sha256): their runtime rows take it
    instead of the time approximated from the newest status time. Rederives."""
    t = parse_user_time(when) if isinstance(when, str) else when
    if t is None:
        raise ValueError("an observation time is required")
    case.con.complete()
    for sha in sha256s:
        case.con.execute(
            """INSERT INTO snapshot_observations VALUES ($s, $t, $g)
               ON CONFLICT (evidence_sha256) DO UPDATE SET observed_at = excluded.observed_at,
                                                          given_as = excluded.given_as""",
            {"s": sha, "t": t, "g": given_as if given_as is not None else str(when)},
        ).fetchall()
    case.rederive()
    return len(sha256s)
