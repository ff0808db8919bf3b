"""The credential inventory on the sample incident (ground truth in forensics.sample.scenario), and
the audit part of the sample rendered with the scenario's exact identities, keys, IPs and times."""

from __future__ import annotations

import json

from forensics.sample import scenario as S


def _cred(case, cid: str) -> dict:
    rows = case.sql("SELECT * FROM credentials WHERE credential_id = $c", {"c": cid}).to_dicts()
    assert len(rows) == 1, cid
    return rows[0]


def test_every_scenario_credential_is_in_the_inventory_with_its_kind_and_principal(sample_case):
    for c in S.CREDENTIALS:
        row = _cred(sample_case, c.id)
        assert (row["kind"], row["principal"]) == (c.kind, c.principal), c.id


def test_revocation_status_matches_the_scenario(sample_case):
    for c in S.CREDENTIALS:
        row = _cred(sample_case, c.id)
        assert row["revoked_at"] == c.revoked_at, c.id
        assert row["used_after_revoke"] == c.used_after_revoke, c.id


def test_temporary_key_used_after_revocation_and_persistence_key_never_revoked(sample_case):
    temp = _cred(sample_case, S.TEMP_KEY)
    assert temp["used_after_revoke"] >= 1
    assert "AWSRevokeOlderSessions" in temp["revoked_how"]
    persist = _cred(sample_case, S.PERSIST_KEY)
    assert persist["revoked_at"] is None and persist["revoked_how"] is None
    assert persist["last_seen"] == S.t("10:45") and list(persist["src_ips"]) == [S.ATTACKER_IP_2]


def test_assume_role_chain_links_temporary_key_to_the_caller_key(sample_case):
    temp = _cred(sample_case, S.TEMP_KEY)
    assert (temp["issued_by"], temp["issued_at"], temp["expires_at"]) == (
        S.DEPLOY_BOT_KEY,
        S.t("09:26"),
        S.t("10:26"),
    )
    persist = _cred(sample_case, S.PERSIST_KEY)
    assert (persist["issued_by"], persist["issued_at"]) == (S.TEMP_KEY, S.t("09:33"))
    link = sample_case.sql(
        "SELECT issuer_principal, principal FROM credential_links WHERE credential_id = $c", {"c": S.TEMP_KEY}
    ).row(0)
    assert link == (S.DEPLOY_BOT_ARN, S.ASSUMED_ROLE_ARN)


def test_every_audit_event_links_to_a_credential_row(sample_case):
    orphans = sample_case.sql("""SELECT count(*) AS n FROM events e WHERE e.credential_id IS NOT NULL
                                 AND e.credential_id NOT IN (SELECT credential_id FROM credentials)""")
    assert orphans["n"][0] == 0


def test_sample_cloudtrail_key_events_carry_the_scenario_facts(sample_case):
    def one(sql, **p):
        rows = sample_case.sql(sql, p).rows()
        assert len(rows) == 1, (sql, p, rows)
        return rows[0]

    q = "SELECT credential_id, src_ip FROM events WHERE source = 'cloudtrail' AND time = $t AND action = $a"
    assert one(q, t=S.t("09:25"), a="sts:GetCallerIdentity") == (S.DEPLOY_BOT_KEY, S.ATTACKER_IP)
    assert one(q, t=S.t("09:26"), a="sts:AssumeRole") == (S.DEPLOY_BOT_KEY, S.ATTACKER_IP)
    assert one(q, t=S.t("09:33"), a="iam:CreateAccessKey") == (S.TEMP_KEY, S.ATTACKER_IP)
    assert one(q, t=S.t("09:35"), a="s3:GetObject") == (S.TEMP_KEY, S.ATTACKER_IP)
    assert one(q, t=S.t("10:45"), a="s3:GetObject") == (S.PERSIST_KEY, S.ATTACKER_IP_2)
    put = one(
        """SELECT credential_id, artifact_digest FROM events
                 WHERE source = 'cloudtrail' AND time = $t AND action = 'ecr:PutImage'""",
        t=S.t("09:30"),
    )
    assert put == (S.TEMP_KEY, S.PAYMENTS_ROGUE.digest)
    denied = one(
        "SELECT outcome, outcome_reason FROM events WHERE source = 'cloudtrail' AND time = $t", t=S.t("10:33")
    )
    assert denied[0] == "failure" and denied[1].startswith("access denied: AccessDenied")


def test_sample_cloudtrail_overlapping_file_is_deduplicated(sample_case):
    ev = sample_case.evidence()
    ct = ev.filter(ev["loader"] == "cloudtrail")
    assert ct["records_duplicate"].sum() >= 1
    assert ct["path"].str.contains("AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/14/").any()
    n = sample_case.sql(
        "SELECT count(*) AS n FROM events WHERE action = 'ecr:PutImage' AND time = $t", {"t": S.t("09:30")}
    )
    assert n["n"][0] == 1


def test_sample_k8s_rogue_patch_by_deploy_bot_with_its_credential(sample_case):
    row = sample_case.sql(
        """SELECT actor, credential_id, src_ip, target, artifact_digest, raw FROM events
                             WHERE source = 'k8s_audit' AND time = $t AND action = 'patch deployments'""",
        {"t": S.ROGUE_DEPLOY.time},
    ).to_dicts()
    assert len(row) == 1
    r = row[0]
    assert (r["actor"], r["credential_id"], r["src_ip"], r["target"], r["artifact_digest"]) == (
        S.K8S_DEPLOY_BOT,
        S.K8S_DEPLOY_BOT_CRED,
        S.ATTACKER_IP,
        f"{S.NAMESPACE}/deployments/payments",
        S.PAYMENTS_ROGUE.digest,
    )
    raw = json.loads(r["raw"])
    assert raw["stage"] == "ResponseComplete"
    assert raw["requestObject"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        S.PAYMENTS_ROGUE.digest
    )


def test_sample_k8s_keeps_only_complete_stages(sample_case):
    stages = sample_case.sql("SELECT DISTINCT raw->>'stage' AS s FROM events WHERE source = 'k8s_audit'")[
        "s"
    ].to_list()
    assert stages == ["ResponseComplete"]


def test_sample_github_pat_used_from_attacker_ip_and_revoked(sample_case):
    row = sample_case.sql(
        """SELECT actor, credential_id, src_ip FROM events
                             WHERE source = 'github_audit' AND time = $t AND action = 'git.clone'""",
        {"t": S.t("09:20")},
    ).rows()
    assert row == [(S.DEPLOY_BOT_GH_USER, S.GH_DEPLOY_PAT_HASHED, S.ATTACKER_IP)]
    pat = _cred(sample_case, S.GH_DEPLOY_PAT_HASHED)
    assert S.ATTACKER_IP in list(pat["src_ips"]) and pat["revoked_how"].startswith(
        "personal_access_token.access_revoked"
    )


def test_credentials_rebuild_is_idempotent(case, tmp_path):
    import random

    from forensics.sample.writers import cloudtrail

    cloudtrail.write(tmp_path, random.Random(3), 1)
    case.ingest(tmp_path)
    before = case.sql("SELECT * FROM credentials ORDER BY credential_id")
    case.rederive()
    case.ingest(tmp_path)  # same bytes: nothing new
    assert case.sql("SELECT * FROM credentials ORDER BY credential_id").equals(before)
    assert case.sql("SELECT count(*) AS n FROM credential_links")["n"][0] == 2
