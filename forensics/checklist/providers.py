"""Revoke steps for GitHub, Kubernetes and Google Cloud credentials (AWS is in ``commands``),
each with what it does, breaks, how to check it, and the document it follows."""

from __future__ import annotations

import json
import shlex

from forensics.checklist.commands import Step, q
from forensics.display import clean

DOC_GH_REVOKE = "GitHub REST API: Revoke a list of credentials (POST /credentials/revoke)"
DOC_GH_PAT = "GitHub Docs: Managing your personal access tokens; Reviewing and revoking personal access tokens in your organization"
DOC_GH_OAUTH = "GitHub Docs: Reviewing your authorized OAuth apps / Reviewing your authorized integrations"
DOC_GH_APP = "GitHub REST API: Suspend an app installation / Delete an installation for the authenticated app"
DOC_GH_DEPLOY = "GitHub REST API: Delete a deploy key (gh repo deploy-key delete)"
DOC_K8S_SA = "Kubernetes: Managing Service Accounts (bound and legacy service account tokens)"
DOC_K8S_CERT = "Kubernetes: Authenticating (X509 client certificates cannot be revoked; remove RBAC bindings)"
DOC_GCP_KEYS = "Google Cloud IAM: Disable and enable service account keys; Delete service account keys"


def github_steps(row: dict) -> list[Step]:
    kind, cid, principal = row.get("kind"), row.get("credential_id") or "", row.get("principal")
    if kind == "github_deploy_key":
        repo, _, key = cid.rpartition(":key/")
        key = key or cid
        return [
            Step(
                "contain",
                f"gh repo deploy-key delete {q(key, '<KEY_ID>')} --repo {q(repo or None, '<OWNER/REPO>')}"
                + (
                    ""
                    if repo
                    else "  # the deploy_key.created event (repository.full_name) names the repository"
                ),
                "removes the SSH key's access to the repository (a deploy key cannot be disabled, only deleted)",
                "whatever deploys or mirrors with this key loses access until a new key is added",
                f"gh repo deploy-key list --repo {q(repo or None, '<OWNER/REPO>')} no longer lists it",
                DOC_GH_DEPLOY,
            )
        ]
    if kind in ("github_app", "github_installation"):
        inst = q(cid, "<INSTALLATION_ID>")
        return [
            Step(
                "contain",
                f"gh api --method PUT /app/installations/{inst}/suspended  # with the app's JWT",
                "suspends the installation: no new installation tokens; an installation token expires within an hour",
                "the app stops working for this account until unsuspended",
                f"gh api /app/installations/{inst} shows suspended_at set",
                DOC_GH_APP,
            ),
            Step(
                "cleanup",
                f"gh api --method DELETE /app/installations/{inst}  # with the app's JWT",
                "uninstalls the app from the account",
                "the app is gone; reinstalling needs the owner",
                f"gh api /app/installations/{inst} returns 404",
                DOC_GH_APP,
            ),
        ]
    owner = clean(principal, 80) or "<USER>"
    if kind == "github_oauth":
        return [
            Step(
                "contain",
                f"# the owner ({owner}) revokes it: Settings > Applications > Authorized OAuth Apps > Revoke; "
                "or the app owner: gh api --method DELETE /applications/<CLIENT_ID>/token -f access_token=<THE_TOKEN>",
                "the OAuth token stops working",
                "the app loses access to the account until authorized again",
                "the audit log shows oauth_authorization.destroy / oauth_access.revoke for it",
                DOC_GH_OAUTH,
            )
        ]
    return [
        Step(
            "contain",
            # unauthenticated on purpose: GitHub answers an authenticated call to this endpoint with 403
            "curl -X POST -H 'Accept: application/vnd.github+json' https://api.github.com/credentials/revoke "
            '-d \'{"credentials":["<THE_TOKEN>"]}\'',
            "revokes the token (the logs hold only its hash: the token itself comes from where it leaked)",
            "whatever uses the token fails until it gets a new one",
            "the audit log shows personal_access_token.access_revoked (or the token owner's list no longer has it)",
            DOC_GH_REVOKE,
        ),
        Step(
            "contain",
            f"# or the owner ({owner}) deletes it: Settings > Developer settings > Personal access tokens; for an "
            "organization: gh api --method POST /orgs/<ORG>/personal-access-tokens/<PAT_ID> -f action=revoke",
            "the same, without the token in hand",
            "the same",
            "as above",
            DOC_GH_PAT,
        ),
    ]


def k8s_steps(row: dict) -> list[Step]:
    kind, cid, principal = row.get("kind"), row.get("credential_id") or "", row.get("principal") or ""
    if kind == "k8s_client_certificate" or cid.startswith("X509SHA256="):
        return [
            Step(
                "contain",
                f"kubectl get clusterrolebindings,rolebindings -A -o wide | grep -F -- {q(principal, '<USER>')}",
                "lists the bindings that give this certificate's user its rights; delete each one it should not have",
                "the user (and anyone sharing its name or groups) loses those rights",
                f"kubectl auth can-i --list --as {q(principal, '<USER>')} shows no rights left",
                DOC_K8S_CERT,
            ),
            Step(
                "cleanup",
                "# a client certificate cannot be revoked: it is valid until it expires unless the cluster CA is rotated",
                "rotating the CA ends every certificate it signed",
                "every client and node certificate must be reissued",
                "the old certificate fails with 401 Unauthorized",
                DOC_K8S_CERT,
            ),
        ]
    parts = principal.split(":")
    ns, sa = (
        (parts[2], parts[3])
        if len(parts) == 4 and principal.startswith("system:serviceaccount:")
        else (None, None)
    )
    nsq, saq = q(ns, "<NAMESPACE>"), q(sa, "<SERVICE_ACCOUNT>")
    sa_json = shlex.quote(json.dumps(sa or "<SERVICE_ACCOUNT>"))[1:-1]
    return [
        Step(
            "contain",
            f"kubectl -n {nsq} get secrets --field-selector type=kubernetes.io/service-account-token -o json | "
            f"jq -r '.items[] | select(.metadata.annotations[\"kubernetes.io/service-account.name\"]=={sa_json}) | .metadata.name'",
            "lists the legacy (Secret-based, non-expiring) tokens of the service account",
            "nothing",
            "the list is empty after the next step",
            DOC_K8S_SA,
        ),
        Step(
            "contain",
            f"kubectl -n {nsq} delete secret <TOKEN_SECRET_NAME>  # a name from the list above",
            "a legacy token dies with its Secret",
            "pods that mount that Secret lose API access",
            "requests with the token fail with 401 Unauthorized",
            DOC_K8S_SA,
        ),
        Step(
            "contain",
            f"kubectl -n {nsq} delete serviceaccount {saq} && kubectl -n {nsq} create serviceaccount {saq}",
            "bound (TokenRequest) tokens are tied to the service account's uid: recreating it invalidates every one",
            "pods running as this service account lose API access until restarted",
            f"kubectl -n {nsq} get serviceaccount {saq} -o jsonpath='{{.metadata.uid}}' shows a new uid",
            DOC_K8S_SA,
        ),
    ]


def gcp_steps(row: dict) -> list[Step]:
    cid, principal = row.get("credential_id") or "", row.get("principal") or ""
    key, sa = q(cid.rsplit("/", 1)[-1] or None, "<KEY_ID>"), q(principal, "<SA_EMAIL>")
    return [
        Step(
            "contain",
            f"gcloud iam service-accounts keys disable {key} --iam-account {sa}",
            "the key stops authenticating; reversible (keys enable) while evidence is gathered",
            "whatever uses the key fails until it gets a new one",
            f"gcloud iam service-accounts keys list --iam-account {sa} --filter=disabled=true lists it",
            DOC_GCP_KEYS,
        ),
        Step(
            "cleanup",
            f"gcloud iam service-accounts keys delete {key} --iam-account {sa}",
            "deletes the key for good",
            "nothing more than disabling did; it cannot be undone",
            f"gcloud iam service-accounts keys list --iam-account {sa} no longer lists it",
            DOC_GCP_KEYS,
        ),
    ]
