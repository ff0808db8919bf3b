"""The revoke steps for one credential, per identity type, each with what it does, what it breaks,
how to check that it worked, and the provider document it follows (docs/credentials.md cites them).

Values the logs name (user, role, session, instance, key id, repository) are filled in and
shell-quoted; a ``<PLACEHOLDER>`` is left only where the case does not hold the value, and the step
then says which log would. Times that must be current when the command runs (the
``aws:TokenIssueTime`` cutoff) are computed by the shell at run time, never frozen in the report.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass

from forensics.display import clean

# the order a responder acts in: stop the live attacker paths, undo persistence, rotate what was
# read or exposed, then delete what was only deactivated once the evidence is kept
PHASES = ("contain", "persistence", "rotate", "cleanup")

# the shell computes the cutoff when the command runs: sessions minted between the report and the
# run are revoked too
NOW = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

DOC_ROLE_SESSIONS = (
    "AWS IAM User Guide: Revoke IAM role temporary security credentials (AWSRevokeOlderSessions)"
)
DOC_TEMP_PERMS = (
    "AWS IAM User Guide: Disabling permissions for temporary security credentials (aws:TokenIssueTime)"
)
DOC_ACCESS_KEYS = "AWS IAM User Guide: Manage access keys for IAM users (deactivate, then delete)"
DOC_LOGIN_PROFILE = "AWS IAM User Guide: Manage passwords for IAM users (delete-login-profile)"
DOC_IMDS = "AWS EC2 User Guide: Configure the instance metadata options (require IMDSv2)"


@dataclass(frozen=True)
class Step:
    phase: str  # one of PHASES
    command: str  # a shell command, or a '# ...' note when there is nothing to run
    does: str
    breaks: str
    verify: str
    doc: str

    def as_dict(self) -> dict:
        return asdict(self)


def q(value: str | None, placeholder: str) -> str:
    """A shell-quoted value from evidence (control characters removed), or a placeholder to fill in."""
    return shlex.quote(clean(value, None)) if value else placeholder


def arn_name(arn: str | None, kind: str) -> str | None:
    """The user or role name in an IAM/STS ARN (``user/[path/]NAME``, ``role/[path/]NAME``,
    ``assumed-role/NAME/session``)."""
    if not arn:
        return None
    marker = {"user": ":user/", "role": ":role/", "assumed-role": ":assumed-role/"}[kind]
    if marker not in arn:
        return None
    rest = arn.split(marker, 1)[1]
    return rest.split("/")[0] if kind == "assumed-role" else rest.split("/")[-1]


def deny_older_sessions_policy() -> str:
    """The AWSRevokeOlderSessions document, shell-quoted, with the cutoff taken when it runs."""
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": "@NOW@"}},
                }
            ],
        },
        separators=(",", ":"),
    )
    before, after = doc.split("@NOW@")
    # '...'"$(date ...)"'...': single quotes around the JSON, the date substituted by the shell
    return f"'{before}'\"{NOW}\"'{after}'"


_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")


def _user_session_steps(user: str, row: dict) -> list[Step]:
    steps = [
        Step(
            "contain",
            f"aws iam put-user-policy --user-name {user} --policy-name AWSRevokeOlderSessions "
            f"--policy-document {deny_older_sessions_policy()}",
            "denies every request signed with a temporary credential of this user issued before the moment "
            "the command runs (GetSessionToken and console sessions); long-lived keys of the user are unaffected",
            "current sessions of the user, console included, stop working; the user signs in again",
            f"aws iam get-user-policy --user-name {user} --policy-name AWSRevokeOlderSessions; then calls "
            "signed with the session show errorCode AccessDenied in CloudTrail",
            DOC_TEMP_PERMS,
        )
    ]
    if row.get("console_session"):
        steps.append(
            Step(
                "contain",
                f"aws iam delete-login-profile --user-name {user}",
                "removes the console password, so no new console session can be started with it",
                "the user cannot sign in to the console until a new password is set "
                "(aws iam create-login-profile --password-reset-required)",
                f"aws iam get-login-profile --user-name {user} returns NoSuchEntity",
                DOC_LOGIN_PROFILE,
            )
        )
    return steps


def _aws_steps(row: dict) -> list[Step]:
    cid, principal = row.get("credential_id") or "", row.get("principal")
    ident = row.get("identity_type")
    if ident == "Root" or (principal or "").endswith(":root"):
        # IAM policies do not apply to the root user: neither a deny nor a key status change by another
        # identity can stop it (the AWS guide on disabling temporary credentials says so)
        return [
            Step(
                "contain",
                f"aws iam delete-access-key --access-key-id {q(cid, '<ACCESS_KEY_ID>')}  # signed in as the root user"
                if cid.startswith("AKIA")
                else "# root user session: sign in as root, change the password and the MFA device; root "
                "sessions cannot be revoked by policy and end when they expire (at most 36 hours)",
                "removes the root access key / ends root access for whoever holds the old password",
                "anything that used root credentials (it should be nothing)",
                "IAM > Security credentials of the root user lists no access key; CloudTrail shows no new root calls",
                DOC_TEMP_PERMS,
            )
        ]
    if cid.startswith("AKIA") or (row.get("kind") == "aws_access_key"):
        name = arn_name(principal, "user")
        user = q(name, "<USER_NAME>")
        where = (
            "" if name else "  # the user is userIdentity.arn of any CloudTrail record signed with this key"
        )
        key = q(cid, "<ACCESS_KEY_ID>")
        return [
            Step(
                "contain",
                f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive{where}",
                "the key stops authenticating at once; reversible (--status Active) while evidence is gathered",
                "every script, pipeline or service that uses this key fails until it gets a new key",
                f"aws iam list-access-keys --user-name {user} shows Status Inactive; later calls with the key "
                "fail with InvalidClientTokenId",
                DOC_ACCESS_KEYS,
            ),
            # GetSessionToken sessions minted with the key survive its deactivation
            *_user_session_steps(user, {})[:1],
            Step(
                "cleanup",
                f"aws iam delete-access-key --user-name {user} --access-key-id {key}",
                "deletes the key for good (after the investigation has what it needs)",
                "nothing more than the deactivation did; it cannot be undone",
                f"aws iam list-access-keys --user-name {user} no longer lists the key",
                DOC_ACCESS_KEYS,
            ),
        ]
    # temporary (ASIA) credentials: who they act as decides the command
    if ident == "IAMUser" or arn_name(principal, "user"):
        name = arn_name(principal, "user")
        steps = _user_session_steps(q(name, "<USER_NAME>"), row)
    elif ident in ("AssumedRole", None) and (row.get("role_arn") or arn_name(principal, "assumed-role")):
        role = arn_name(row.get("role_arn"), "role") or arn_name(principal, "assumed-role")
        session = row.get("session_name") or (
            principal.split(":assumed-role/", 1)[1].split("/", 1)[-1]
            if principal and ":assumed-role/" in principal
            else None
        )
        instance = session if session and _INSTANCE.match(session) else None
        breaks = "every session of this role issued before now is denied, legitimate ones included; they assume the role again"
        if instance:
            breaks += (
                f"; instance {instance} (and every instance with this role) loses its credentials until it "
                "gets fresh ones from the instance metadata service"
            )
        steps = [
            Step(
                "contain",
                f"aws iam put-role-policy --role-name {q(role, '<ROLE_NAME>')} --policy-name AWSRevokeOlderSessions "
                f"--policy-document {deny_older_sessions_policy()}",
                "attaches an inline policy denying everything to sessions of the role issued before the command runs",
                breaks,
                f"aws iam get-role-policy --role-name {q(role, '<ROLE_NAME>')} --policy-name AWSRevokeOlderSessions; "
                "then calls signed with the session show errorCode AccessDenied in CloudTrail",
                DOC_ROLE_SESSIONS,
            )
        ]
        if instance:
            steps.append(
                Step(
                    "contain",
                    f"aws ec2 modify-instance-metadata-options --instance-id {q(instance, '<INSTANCE_ID>')} "
                    "--http-tokens required --http-endpoint enabled --http-put-response-hop-limit 1",
                    "requires IMDSv2 session tokens and one network hop: closes the IMDSv1 path a server-side request "
                    "forgery or a reverse proxy on the instance used to read its role credentials",
                    "software on the instance that reads the metadata service without a token (IMDSv1) fails",
                    f"aws ec2 describe-instances --instance-ids {q(instance, '<INSTANCE_ID>')} "
                    "--query 'Reservations[].Instances[].MetadataOptions' shows HttpTokens required",
                    DOC_IMDS,
                )
            )
    else:
        steps = [
            Step(
                "contain",
                "# who this temporary key acts as is not in the case: the CloudTrail record of the sts call that "
                "minted it (responseElements.credentials.accessKeyId), or any record signed with it "
                "(userIdentity.arn), names the user or role; then use that identity's command",
                "nothing until the identity is known",
                "nothing",
                "search CloudTrail for the key id (aws cloudtrail lookup-events --lookup-attributes "
                f"AttributeKey=AccessKeyId,AttributeValue={q(cid, '<ACCESS_KEY_ID>')})",
                DOC_TEMP_PERMS,
            )
        ]
    if row.get("issued_by"):
        steps.append(
            Step(
                "contain",
                f"# and revoke the credential that minted it: {clean(row['issued_by'], 120)} (its own checklist item)",
                "a minting credential mints new sessions after this one is revoked",
                "see that item",
                "see that item",
                DOC_TEMP_PERMS,
            )
        )
    return steps


def steps(row: dict) -> list[Step]:
    """The steps that revoke one credential at its provider, in the order to run them."""
    # providers imports Step and q from this module: imported here, not at the top
    from forensics.checklist.providers import gcp_steps, github_steps, k8s_steps

    kind, cid, principal = row.get("kind") or "", row.get("credential_id") or "", row.get("principal") or ""
    if kind in ("aws_access_key", "aws_temporary_key") or cid.startswith(("AKIA", "ASIA")):
        return _aws_steps(row)
    if kind.startswith("github_"):
        return github_steps(row)
    if kind == "gcp_service_account_key":
        return gcp_steps(row)
    if (
        kind.startswith("k8s_")
        or principal.startswith("system:serviceaccount:")
        or cid.startswith("X509SHA256=")
    ):
        return k8s_steps(row)
    note = {
        "gitlab_pat": "curl --request POST --header 'PRIVATE-TOKEN: <ADMIN_TOKEN>' "
        "'https://<GITLAB_HOST>/api/v4/personal_access_tokens/<TOKEN_ID>/revoke'",
        "slack_token": "curl -X POST -H 'Authorization: Bearer <THE_TOKEN>' https://slack.com/api/auth.revoke",
        "private_key": "# remove the public half wherever it is trusted (authorized_keys, deploy keys, IdP) and issue a new key",
        "jwt": "# rotate the signing key of the issuer, or revoke the session it belongs to; a JWT cannot be revoked alone",
    }.get(kind, "# no template for this kind: revoke it at its issuer")
    return [
        Step(
            "contain",
            note,
            "revokes or replaces the secret",
            "whatever uses it",
            "its use fails",
            "the issuer's documentation",
        )
    ]


def revoke_commands(row: dict) -> list[str]:
    """The command lines of ``steps(row)``, in order (values shell-quoted, placeholders in ``<>``)."""
    return [s.command for s in steps(row)]
