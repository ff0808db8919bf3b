"""Persistence and exposure as checklist items, and the order of work.

``items(case, credentials)`` runs ``queries/credentials/actions.sql`` for the credentials in scope and
gives one item per thing the attacker created or changed (with its undo command) and per secret,
parameter, KMS key or S3 bucket it read (with "rotate" and who else reads it). ``plan(rows, items)``
orders everything as a responder acts: contain the live paths (revoke credentials, highest rank
first), undo persistence, rotate what was read or exposed, then clean up (delete what was only
deactivated, once the evidence is kept).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from forensics.checklist.commands import PHASES, Step, q, steps

DOC_IAM_USERS = "AWS IAM User Guide: Remove or deactivate an IAM user (delete-user after its keys, password, MFA and policies)"
DOC_IAM_POLICIES = "AWS IAM User Guide: Adding and removing IAM identity permissions (detach/delete policies)"
DOC_TRUST = "AWS IAM User Guide: Modifying a role trust policy (update-assume-role-policy)"
DOC_MFA = "AWS IAM User Guide: Deactivate and delete MFA devices"
DOC_KEYPAIR = "AWS EC2 User Guide: Delete your key pair (instances keep the public key in authorized_keys)"
DOC_SECRETS = "AWS Secrets Manager User Guide: Rotate AWS Secrets Manager secrets"
DOC_SSM = "AWS Systems Manager User Guide: Parameter Store (put-parameter --overwrite)"
DOC_KMS = "AWS KMS Developer Guide: Rotating AWS KMS keys"
DOC_K8S_RBAC = "Kubernetes: Using RBAC Authorization (delete the binding)"


def _undo(r: dict) -> list[Step]:
    """The undo steps of one persistence act."""
    item, user, role = r["item"], q(r.get("user_name"), "<USER_NAME>"), q(r.get("role_name"), "<ROLE_NAME>")
    group = q(r.get("group_name"), "<GROUP_NAME>")
    on = (
        ("user", "--user-name", user)
        if r.get("user_name")
        else ("role", "--role-name", role)
        if r.get("role_name")
        else ("group", "--group-name", group)
    )
    if item == "iam_user":
        return [
            Step(
                "persistence",
                f"aws iam delete-login-profile --user-name {user}; aws iam list-access-keys --user-name {user}",
                "removes the password and lists the keys to deactivate (their items follow)",
                "nothing legitimate: the attacker created this user",
                f"aws iam get-login-profile --user-name {user} returns NoSuchEntity",
                DOC_IAM_USERS,
            ),
            Step(
                "cleanup",
                f"aws iam delete-user --user-name {user}  # after its keys, MFA devices and policies are removed",
                "deletes the attacker's user",
                "nothing legitimate",
                f"aws iam get-user --user-name {user} returns NoSuchEntity",
                DOC_IAM_USERS,
            ),
        ]
    if item == "access_key":
        key = q(r.get("access_key_id"), "<ACCESS_KEY_ID>")
        return [
            Step(
                "persistence",
                f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive",
                "the key minted by the attacker stops working",
                "nothing legitimate, unless a real user adopted it",
                f"aws iam list-access-keys --user-name {user} shows it Inactive",
                DOC_IAM_USERS,
            ),
            Step(
                "cleanup",
                f"aws iam delete-access-key --user-name {user} --access-key-id {key}",
                "deletes it after the evidence is kept",
                "nothing more",
                f"aws iam list-access-keys --user-name {user} no longer lists it",
                DOC_IAM_USERS,
            ),
        ]
    if item == "login_profile":
        return [
            Step(
                "persistence",
                f"aws iam delete-login-profile --user-name {user}",
                "removes the console password the attacker set",
                "the user cannot sign in to the console until a new password is set (create-login-profile --password-reset-required)",
                f"aws iam get-login-profile --user-name {user} returns NoSuchEntity",
                DOC_IAM_USERS,
            )
        ]
    if item == "attached_policy":
        kind, flag, name = on
        arn = q(r.get("policy_arn"), "<POLICY_ARN>")
        return [
            Step(
                "persistence",
                f"aws iam detach-{kind}-policy {flag} {name} --policy-arn {arn}",
                f"removes the managed policy the attacker attached to the {kind}",
                f"the {kind} loses those permissions (check that it had them before the incident)",
                f"aws iam list-attached-{kind}-policies {flag} {name} no longer lists it",
                DOC_IAM_POLICIES,
            )
        ]
    if item == "inline_policy":
        kind, flag, name = on
        pol = q(r.get("policy_name"), "<POLICY_NAME>")
        return [
            Step(
                "persistence",
                f"aws iam delete-{kind}-policy {flag} {name} --policy-name {pol}",
                f"removes the inline policy the attacker put on the {kind}",
                f"the {kind} loses those permissions",
                f"aws iam list-{kind}-policies {flag} {name} no longer lists it",
                DOC_IAM_POLICIES,
            )
        ]
    if item in ("mfa_device", "mfa_enabled"):
        serial = q(r.get("serial_number"), "<SERIAL_NUMBER>")
        return [
            Step(
                "persistence",
                f"aws iam deactivate-mfa-device --user-name {user} --serial-number {serial}; "
                f"aws iam delete-virtual-mfa-device --serial-number {serial}",
                "removes the MFA device the attacker registered (their second factor)",
                "the user MFA is unaffected unless this was it",
                f"aws iam list-mfa-devices --user-name {user} no longer lists it",
                DOC_MFA,
            )
        ]
    if item == "trust_policy":
        foreign = ", ".join(r.get("foreign_accounts") or []) or "none seen"
        return [
            Step(
                "persistence",
                f"aws iam update-assume-role-policy --role-name {role} --policy-document file://trust-before.json",
                f"restores the trust policy from before the change (foreign accounts trusted: {foreign}); the previous "
                "document is in the role's CreateRole or earlier UpdateAssumeRolePolicy record, or in AWS Config",
                "whoever the new policy trusted can no longer assume the role",
                f"aws iam get-role --role-name {role} --query Role.AssumeRolePolicyDocument",
                DOC_TRUST,
            ),
            *steps(
                {
                    "kind": "aws_temporary_key",
                    "credential_id": "",
                    "role_arn": f"arn:aws:iam::0:role/{r.get('role_name') or ''}",
                }
            )[:1],
        ]
    if item == "iam_role":
        return [
            Step(
                "cleanup",
                f"aws iam delete-role --role-name {role}  # after its policies and instance profiles are removed",
                "deletes the role the attacker created",
                "nothing legitimate",
                f"aws iam get-role --role-name {role} returns NoSuchEntity",
                DOC_IAM_USERS,
            )
        ]
    if item == "key_pair":
        return [
            Step(
                "persistence",
                f"aws ec2 delete-key-pair --key-name {q(r.get('key_name'), '<KEY_NAME>')} --region {q(r.get('region') or None, '<REGION>')}",
                "removes the imported key pair so no new instance is launched with it",
                "nothing legitimate; instances already launched with it keep the key in ~/.ssh/authorized_keys",
                f"aws ec2 describe-key-pairs --key-names {q(r.get('key_name'), '<KEY_NAME>')} returns InvalidKeyPair.NotFound",
                DOC_KEYPAIR,
            )
        ]
    if item == "ssh_public_key":
        return [
            Step(
                "persistence",
                f"aws iam delete-ssh-public-key --user-name {user} --ssh-public-key-id {q(r.get('ssh_key_id'), '<SSH_KEY_ID>')}",
                "removes the SSH key uploaded for CodeCommit access",
                "nothing legitimate",
                f"aws iam list-ssh-public-keys --user-name {user}",
                DOC_IAM_USERS,
            )
        ]
    if item == "group_membership":
        return [
            Step(
                "persistence",
                f"aws iam remove-user-from-group --user-name {user} --group-name {group}",
                "removes the user from the group the attacker added it to",
                "the user loses the group's permissions",
                f"aws iam list-groups-for-user --user-name {user}",
                DOC_IAM_POLICIES,
            )
        ]
    if item.startswith("k8s_"):
        ns = r.get("k8s_namespace")
        nsflag = f"-n {q(ns, '<NAMESPACE>')} " if ns else ""
        kind = {
            "k8s_binding": r.get("k8s_kind") or "clusterrolebindings",
            "k8s_service_account": "serviceaccount",
        }.get(item, "secret")
        return [
            Step(
                "persistence",
                f"kubectl {nsflag}delete {q(kind, '<KIND>')} {q(r.get('k8s_name'), '<NAME>')}",
                "deletes the binding, service account or token the attacker created",
                "anything that relies on it loses access",
                f"kubectl {nsflag}get {q(kind, '<KIND>')} {q(r.get('k8s_name'), '<NAME>')} returns NotFound",
                DOC_K8S_RBAC,
            )
        ]
    return []


def _rotate(item: str, resource: str, region: str | None) -> Step:
    res, reg = q(resource, "<RESOURCE>"), q(region or None, "<REGION>")
    if item == "secret":
        return Step(
            "rotate",
            f"aws secretsmanager rotate-secret --secret-id {res} --region {reg}",
            "replaces the secret's value (its rotation function also changes it where it is used)",
            "clients holding the old value fail until they read the new one",
            f"aws secretsmanager describe-secret --secret-id {res} shows a new LastRotatedDate",
            DOC_SECRETS,
        )
    if item == "parameter":
        return Step(
            "rotate",
            f"aws ssm put-parameter --name {res} --type SecureString --overwrite --value <NEW_VALUE> --region {reg}",
            "replaces the parameter's value; change the credential it holds at its issuer first",
            "readers of the old value fail until they read the new one",
            f"aws ssm get-parameter --name {res} shows a higher Version",
            DOC_SSM,
        )
    if item == "kms_key":
        return Step(
            "rotate",
            f"aws kms describe-key --key-id {res} --region {reg}  # find what it protects; re-encrypt and rotate those secrets",
            "the attacker decrypted data with this key: the data is exposed, rotating the key does not undo that",
            "nothing by itself",
            "each secret it protected has a new value",
            DOC_KMS,
        )
    return Step(
        "rotate",
        f"# S3 objects read: {resource}; review what they hold and rotate any secret in them",
        "nothing to run: reading is done; this is the list of what left",
        "nothing",
        "each secret found in the objects is rotated",
        "AWS S3 User Guide: Logging Amazon S3 API calls using AWS CloudTrail (GetObject data events)",
    )


def items(case, credentials: list[str]) -> pl.DataFrame:
    """Persistence and exposure items of the credentials in scope, with their commands."""
    schema: dict[str, Any] = {
        "phase": pl.String,
        "item": pl.String,
        "what": pl.String,
        "credential_id": pl.String,
        "actor": pl.String,
        "first_time": pl.Datetime("us", "UTC"),
        "events": pl.List(pl.String),
        "bytes_out": pl.Float64,
        "also_read_by": pl.List(pl.String),
        "steps": pl.List(
            pl.Struct({k: pl.String for k in ("phase", "command", "does", "breaks", "verify", "doc")})
        ),
    }
    if not credentials:
        return pl.DataFrame(schema=schema)
    raw = case.query("credentials/actions", credentials=list(credentials))
    out = []
    for r in raw.filter(pl.col("phase") == "persistence").to_dicts():
        what = " ".join(
            str(v)
            for v in (
                r["action"],
                r.get("user_name") or r.get("role_name") or r.get("group_name") or r.get("k8s_name"),
                r.get("policy_arn")
                or r.get("policy_name")
                or r.get("access_key_id")
                or r.get("serial_number")
                or r.get("key_name"),
            )
            if v
        )
        out.append(
            {
                "phase": "persistence",
                "item": r["item"],
                "what": what,
                "credential_id": r["credential_id"],
                "actor": r["actor"],
                "first_time": r["time"],
                "events": [r["event_id"]],
                "bytes_out": None,
                "also_read_by": [],
                "steps": [s.as_dict() for s in _undo(r)],
            }
        )
    exp = raw.filter(pl.col("phase") == "rotate")
    if exp.height:
        # one item per secret/parameter/key; S3 objects grouped per bucket, with the bytes that left
        exp = exp.with_columns(
            pl.when(pl.col("item") == "s3_object")
            .then(pl.col("resource").str.extract(r"^(s3://[^/]+)/", 1))
            .otherwise(pl.col("resource"))
            .alias("what")
        )
        grouped = exp.group_by("item", "what", maintain_order=True).agg(
            pl.col("credential_id").first(),
            pl.col("actor").first(),
            pl.col("region").first(),
            pl.col("time").min().alias("first_time"),
            pl.col("event_id").alias("events"),
            pl.col("bytes_out").sum().alias("bytes_out"),
            pl.col("resource").unique().sort().alias("resources"),
            pl.col("also_read_by").explode().drop_nulls().unique().sort().alias("also_read_by"),
        )
        for g in grouped.to_dicts():
            desc = g["what"]
            if g["item"] == "s3_object":
                desc = f"{g['what']}: {len(g['resources'])} objects ({', '.join(g['resources'][:5])})"
                if g["bytes_out"]:
                    desc += f", {int(g['bytes_out'])} bytes out"
            out.append(
                {
                    "phase": "rotate",
                    "item": g["item"],
                    "what": desc,
                    "credential_id": g["credential_id"],
                    "actor": g["actor"],
                    "first_time": g["first_time"],
                    "events": g["events"],
                    "bytes_out": g["bytes_out"] if g["item"] == "s3_object" else None,
                    "also_read_by": g["also_read_by"] or [],
                    "steps": [_rotate(g["item"], g["what"], g["region"]).as_dict()],
                }
            )
    return pl.DataFrame(out, schema=schema)


def plan(rows: pl.DataFrame, acts: pl.DataFrame) -> list[dict]:
    """Every step in the order a responder acts: phase (contain, persistence, rotate, cleanup), then
    the credential's rank or the item's time. Credentials already revoked with no successful use
    after it need nothing but their clean-up."""
    work: list[tuple[int, float, dict]] = []
    for r in rows.to_dicts():
        done = r.get("status") == "revoked" and not r.get("successful_uses_after_revocation")
        deleted = any(str(e).startswith("deleted ") for e in r.get("state_events") or [])
        for s in steps(r):
            if done and (s.phase == "contain" or deleted):  # nothing left to do for it
                continue
            phase = s.phase
            work.append(
                (
                    PHASES.index(phase),
                    float(r.get("risk_rank") or 0),
                    {
                        **s.as_dict(),
                        "phase": phase,
                        "subject": f"{r.get('kind')} {r.get('credential_id')}",
                        "why": "; ".join(r.get("rank_reasons") or []) or None,
                        "rank": r.get("risk_rank"),
                    },
                )
            )
    for i, a in enumerate(acts.to_dicts()):
        for s in a["steps"]:
            work.append(
                (
                    PHASES.index(s["phase"]),
                    1e9 + i,
                    {
                        **s,
                        "subject": f"{a['item']} {a['what']}",
                        "why": f"{a['actor']} with {a['credential_id']}"
                        + (f"; also read by {', '.join(a['also_read_by'])}" if a["also_read_by"] else ""),
                        "rank": None,
                    },
                )
            )
    work.sort(key=lambda w: (w[0], w[1]))
    # one command serves several credentials (a user-level session deny covers all of its sessions):
    # it is listed once, at its most urgent place, naming every credential it covers
    merged: dict[str, dict] = {}
    for _, _, w in work:
        key = w["command"]
        if key in merged and not key.startswith("#"):
            merged[key]["also_for"].append(w["subject"])
        else:
            merged[key if key not in merged else f"{key}#{len(merged)}"] = {**w, "also_for": []}
    return [{"order": n + 1, **w} for n, w in enumerate(merged.values())]
