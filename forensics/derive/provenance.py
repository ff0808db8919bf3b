"""Rebuild ``deploys`` and ``ci_runs`` from events, then verify new attestations (issue 7).

Deploys and CI runs are the facts the sources give (``Source.deploys_sql``, ``Source.ci_runs_sql``:
today the deploy log, GitHub deployments, Argo CD history, Kubernetes audit changes of a workload's
image, and GitHub Actions runs and jobs). A deploy a source only ``inferred`` (a cluster saw the image
change) is dropped when a recorded deploy has the same digest within 5 minutes. The stored policy's
``ci_actors`` are the session variable ``fx_ci_actors`` (NULL without a policy) for the sources that
tell a pipeline from a person by actor.
"""

from __future__ import annotations

import duckdb

from forensics import verify
from forensics.derive import facts

ORDER = 30
READS = ("events", "attestations")

_DEPLOYS = """
CREATE OR REPLACE TEMP TABLE _fx_deploys AS
WITH facts AS ({deploys})
SELECT * EXCLUDE (inferred, fact_source)
          REPLACE (fx_redact(actor) AS actor, fx_redact(image) AS image, fx_redact(instance) AS instance,
                   fx_redact(version) AS version, fx_redact(status_detail) AS status_detail)
FROM facts f
WHERE NOT f.inferred OR NOT EXISTS (
    SELECT 1 FROM facts r WHERE NOT r.inferred AND r.artifact_digest = f.artifact_digest
      AND abs(epoch(r.time) - epoch(f.time)) <= 300)
"""


def derive(con: duckdb.DuckDBPyConnection) -> None:
    policy = verify.stored_policy(con)
    ci_actors = list(policy.get("ci_actors") or []) or None if policy else None
    con.execute("SET VARIABLE fx_ci_actors = ?", [ci_actors]).fetchall()
    con.execute(_DEPLOYS.format(deploys=facts.union("deploys_sql"))).fetchall()
    con.execute("DELETE FROM deploys").fetchall()
    # environment names normalised through the case's alias table (prod = production; docs/runtime.md)
    con.execute(
        """INSERT INTO deploys BY NAME
           SELECT d.event_id AS deploy_id, d.* EXCLUDE (event_id, environment),
                  coalesce(a.canonical, d.environment) AS environment, d.environment AS environment_raw
           FROM _fx_deploys d LEFT JOIN environment_aliases a ON a.alias = lower(d.environment)"""
    ).fetchall()
    con.execute("DROP TABLE _fx_deploys").fetchall()
    con.execute("DELETE FROM ci_runs").fetchall()
    if facts.answers("ci_runs_sql"):
        con.execute(
            "INSERT INTO ci_runs BY NAME SELECT * EXCLUDE (fact_source) REPLACE (fx_redact(job_name) AS job_name,"
            " fx_redact(workflow_name) AS workflow_name, fx_redact(actor) AS actor, fx_redact(runner_name) AS runner_name)"
            f" FROM ({facts.union('ci_runs_sql')})"
        ).fetchall()
    verify.refresh(con)
