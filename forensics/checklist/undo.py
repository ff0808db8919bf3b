"""The undo command of each persistence act and the rotate command of each exposure
(``forensics.checklist.actions`` makes the items; docs/credentials.md lists them)."""

from __future__ import annotations

from forensics.checklist.commands import Step, q, steps
from forensics.checklist.providers import DOC_GH_APP, DOC_GH_DEPLOY, DOC_GH_OAUTH, DOC_GH_PAT
from forensics.display import clean

DOC_IAM_USERS = "AWS IAM User Guide: Remove or deactivate an IAM user (delete-user after its keys, password, MFA and policies)"
DOC_IAM_POLICIES = "AWS IAM User Guide: Adding and removing IAM identity permissions (detach/delete policies)"
DOC_TRUST = "AWS IAM User Guide: Modifying a role trust policy (update-assume-role-policy)"
DOC_MFA = "AWS IAM User Guide: Deactivate and delete MFA devices"
DOC_KEYPAIR = "AWS EC2 User Guide: Delete your key pair (instances keep the public key in authorized_keys)"
DOC_SECRETS = "AWS Secrets Manager User Guide: Rotate AWS Secrets Manager secrets"
DOC_SSM = "AWS Systems Manager User Guide: Parameter Store (put-parameter --overwrite)"
DOC_KMS = "AWS KMS Developer Guide: Rotating AWS KMS keys"
DOC_K8S_RBAC = "Kubernetes: Using RBAC Authorization (delete the binding)"


def undo_steps(r: dict) -> list[Step]:
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
    if item in ("attached_policy", "inline_policy"):
        kind, flag, name = on
        if item == "attached_policy":
            verb, arg = "detach", f"--policy-arn {q(r.get('policy_arn'), '<POLICY_ARN>')}"
            lister, what = (
                f"list-attached-{kind}-policies",
                f"the managed policy the attacker attached to the {kind}",
            )
        else:
            verb, arg = "delete", f"--policy-name {q(r.get('policy_name'), '<POLICY_NAME>')}"
            lister, what = f"list-{kind}-policies", f"the inline policy the attacker put on the {kind}"
        return [
            Step(
                "persistence",
                f"aws iam {verb}-{kind}-policy {flag} {name} {arg}",
                f"removes {what}",
                f"the {kind} loses those permissions (check that it had them before the incident)",
                f"aws iam {lister} {flag} {name} no longer lists it",
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
    if item.startswith("github_"):
        return [_github_undo(r)]
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


def _github_undo(r: dict) -> Step:
    """GitHub grants: OAuth apps, approved PATs, app installations, deploy keys. Columns reused by
    actions.sql: ``policy_name`` the app or key title, ``access_key_id`` the token or installation
    id, ``key_name`` the key id, ``region`` the organization, ``k8s_namespace`` the repository."""
    item, org, repo = r["item"], r.get("region") or None, r.get("k8s_namespace")
    name, ident = r.get("policy_name"), r.get("access_key_id")
    if item == "github_oauth_app":
        return Step(
            "persistence",
            f"# {clean(r.get('actor'), 80) or '<USER>'} revokes the OAuth app {clean(name, 80) or '(name not logged)'}: "
            "Settings > Applications > Authorized OAuth Apps > Revoke; an organization owner can also remove "
            "its access under Third-party access",
            "the app's tokens stop working and it loses access to the account",
            "whatever the app automates for the user stops until it is authorized again",
            "the audit log shows oauth_authorization.destroy for it",
            DOC_GH_OAUTH,
        )
    if item == "github_pat_granted":
        return Step(
            "persistence",
            f"gh api --method POST /orgs/{q(org, '<ORG>')}/personal-access-tokens/{q(ident, '<PAT_ID>')} -f action=revoke",
            "revokes the organization's grant to the fine-grained token",
            "whatever uses the token loses access to the organization's resources",
            f"gh api /orgs/{q(org, '<ORG>')}/personal-access-tokens no longer lists it",
            DOC_GH_PAT,
        )
    if item == "github_app_install":
        return Step(
            "persistence",
            f"gh api --method DELETE /app/installations/{q(ident, '<INSTALLATION_ID>')}  # with the app's JWT; or "
            f"the owner of {clean(org, 80) or '<ORG>'} uninstalls {clean(name, 80) or 'the app'} in Settings > GitHub Apps",
            "removes the app installation the attacker added",
            "the app stops working for the account",
            f"gh api /app/installations/{q(ident, '<INSTALLATION_ID>')} returns 404",
            DOC_GH_APP,
        )
    return Step(
        "persistence",
        f"gh repo deploy-key delete {q(r.get('key_name'), '<KEY_ID>')} --repo {q(repo, '<OWNER/REPO>')}",
        "removes the deploy key the attacker added",
        "whatever deploys with it loses access",
        f"gh repo deploy-key list --repo {q(repo, '<OWNER/REPO>')} no longer lists it",
        DOC_GH_DEPLOY,
    )


def rotate_step(item: str, resource: str, region: str | None) -> Step:
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
