"""Ground truth of the synthetic sample incident, "double charge" (2026-03-14, all times UTC).

This module is the single source of truth: every writer in ``forensics.sample.writers`` renders
these facts into one real evidence format, ``sample_data/README.md`` is generated from them, and
tests assert that the kit finds them. Nothing here is random; writers add background noise from a
seeded RNG, never changing these facts.

The story
---------
08:00  normal day. CI (GitHub Actions, hosted runners) deploys payments, checkout and ledger
       with signed SLSA v1 provenance.
08:46  prologue: ``ci-admin`` (owner of deploy-bot, admin of the CI runners) enters their Okta
       password and MFA push on a phishing proxy; the attacker gets a live Okta session from
       203.0.113.66, signs into GitHub through Okta SSO (08:52) and enrols a factor of their own
       (08:58). That access is how the self-hosted runner was opened to the fork's workflow.
09:10  a pull_request_target workflow from a fork (by ``mallory-dev``) runs on the self-hosted
       runner ``ci-runner-7``; the job prints the deploy-bot AWS key and secret into its log.
       The runner is compromised from here on.
09:20  the long-lived GitHub deploy token (a PAT of ``deploy-bot``) is used from a new address.
09:25  the deploy-bot AWS key is used from the attacker's address; AssumeRole into prod-deployer
       mints a temporary ASIA credential.
09:30  with it: ECR PutImage of a rogue payments image (no provenance); CreateAccessKey for
       ``svc-backup`` (persistence); S3 GetObject of customer exports. 09:35-09:38 VPC Flow Logs
       show the export leaving to 203.0.113.66; GuardDuty raises an S3 exfiltration finding.
09:40  the rogue image is deployed to production by hand (kubectl patch) as deploy-bot.
09:45  payments latency rises; checkout's 2 s client timeout fires; checkout retries without an
       idempotency key; one charge (order ord-10042) is captured twice. ``user_id`` is added to a
       request-count metric label: a cardinality explosion.
10:10  SRE rolls payments back to the last verified image through the pipeline.
10:18  the phished Okta session is ended.
10:20  revocation, partial: deploy-bot key deactivated and deleted, the PAT revoked, older
       prod-deployer sessions revoked. The persistence key is forgotten.
10:33  the ASIA session is used after its revocation (AccessDenied).
10:45  the persistence key is used, successfully: it was never revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def t(hhmmss: str) -> datetime:
    """A time on the incident day, UTC."""
    h, m, *s = (int(x) for x in hhmmss.split(":"))
    return datetime(2026, 3, 14, h, m, s[0] if s else 0, tzinfo=UTC)


DAY_START = t("08:00")
DAY_END = t("11:00")

ACCOUNT = "111122223333"
REGION = "us-east-1"
ORG = "acme-pay"
REPO = "acme-pay/payments"
CLUSTER = "prod-eu-1"
NAMESPACE = "prod"
REGISTRY = "registry.acme.example"

# -- addresses ------------------------------------------------------------------------------
ATTACKER_IP = "203.0.113.66"
ATTACKER_IP_2 = "198.51.100.23"
OFFICE_IP = "192.0.2.10"
CI_HOSTED_IP = "192.0.2.200"

# -- identities ----------------------------------------------------------------------------
DEPLOY_BOT_ARN = f"arn:aws:iam::{ACCOUNT}:user/deploy-bot"
SVC_BACKUP_ARN = f"arn:aws:iam::{ACCOUNT}:user/svc-backup"
SRE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice-sre"
PROD_DEPLOYER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-deployer"
ROLE_SESSION = "deploy-bot-session"
ASSUMED_ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/prod-deployer/{ROLE_SESSION}"
ATTACKER_GH_USER = "mallory-dev"
SRE_GH_USER = "alice-sre"
DEPLOY_BOT_GH_USER = "deploy-bot"
CI_ACTOR = "github-actions[bot]"
K8S_CI_SA = "system:serviceaccount:ci:ci-deployer"
K8S_DEPLOY_BOT = "deploy-bot"
COMPROMISED_RUNNER = "ci-runner-7"

# -- credentials (synthetic; formats real, values fake) ------------------------------------
DEPLOY_BOT_KEY = "AKIAEXAMPLEDEPLOY001"
DEPLOY_BOT_SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01"  # the secret printed in the CI log
TEMP_KEY = "ASIAEXAMPLETEMP00001"
PERSIST_KEY = "AKIAEXAMPLEPERSIST01"
SRE_KEY = "AKIAEXAMPLESREALICE1"
GH_DEPLOY_PAT_HASHED = "sha256-hash-of-deploy-bot-pat"  # what the GitHub audit log shows (hashed_token)
K8S_DEPLOY_BOT_CRED = "X509SHA256=7f3c9e5d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5"


@dataclass(frozen=True)
class Credential:
    id: str
    kind: str
    principal: str
    issued_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_how: str | None
    used_after_revoke: int
    note: str


CREDENTIALS = [
    Credential(
        DEPLOY_BOT_KEY,
        "aws_access_key",
        DEPLOY_BOT_ARN,
        None,
        None,
        t("10:20"),
        "UpdateAccessKey Inactive (10:20), DeleteAccessKey (10:21)",
        0,
        "long-lived; printed in the ci-runner-7 job log at 09:12; used from the attacker IP",
    ),
    Credential(
        TEMP_KEY,
        "aws_temporary_key",
        ASSUMED_ROLE_ARN,
        t("09:26"),
        t("10:26"),
        t("10:25"),
        "PutRolePolicy AWSRevokeOlderSessions on prod-deployer",
        1,
        "minted by AssumeRole with the deploy-bot key; used at 10:33 after revocation (AccessDenied)",
    ),
    Credential(
        PERSIST_KEY,
        "aws_access_key",
        SVC_BACKUP_ARN,
        t("09:33"),
        None,
        None,
        None,
        0,
        "created by the attacker for persistence; never revoked; used at 10:45",
    ),
    Credential(
        K8S_DEPLOY_BOT_CRED,
        "k8s_client_certificate",
        K8S_DEPLOY_BOT,
        None,
        None,
        None,
        None,
        0,
        "deploy-bot's Kubernetes client certificate; patched payments to the rogue image at 09:40; never revoked",
    ),
    Credential(
        GH_DEPLOY_PAT_HASHED,
        "github_pat",
        DEPLOY_BOT_GH_USER,
        None,
        None,
        t("10:22"),
        "personal_access_token.access_revoked",
        0,
        "long-lived deploy token used from a new IP at 09:20",
    ),
]


# -- images and builds ----------------------------------------------------------------------
def _digest(label: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


@dataclass(frozen=True)
class Image:
    service: str
    version: str
    digest: str
    commit: str | None
    workflow: str | None  # None: no provenance exists
    built_at: datetime | None


PAYMENTS_GOOD = Image(
    "payments",
    "1.4.2",
    _digest("payments:1.4.2"),
    "c0ffee142aa0d1b5c8e2f7a9b3d4e5f60718293a",
    ".github/workflows/release.yml",
    t("07:50"),
)
PAYMENTS_ROGUE = Image("payments", "1.4.3-hotfix", _digest("payments:rogue"), None, None, None)
CHECKOUT_GOOD = Image(
    "checkout",
    "2.0.1",
    _digest("checkout:2.0.1"),
    "badc0de201b1e2f3a4b5c6d7e8f90a1b2c3d4e5f",
    ".github/workflows/release.yml",
    t("07:52"),
)
LEDGER_GOOD = Image(
    "ledger",
    "3.1.0",
    _digest("ledger:3.1.0"),
    "feedface310a1b2c3d4e5f60718293a4b5c6d7e8",
    ".github/workflows/release.yml",
    t("07:55"),
)
IMAGES = [PAYMENTS_GOOD, PAYMENTS_ROGUE, CHECKOUT_GOOD, LEDGER_GOOD]


@dataclass(frozen=True)
class Deploy:
    time: datetime
    service: str
    environment: str
    image: Image
    actor: str
    via: str  # pipeline | manual
    action: str  # deploy | rollback | scale
    status: str


DEPLOYS = [
    Deploy(t("08:05"), "payments", "production", PAYMENTS_GOOD, CI_ACTOR, "pipeline", "deploy", "success"),
    Deploy(t("08:07"), "checkout", "production", CHECKOUT_GOOD, CI_ACTOR, "pipeline", "deploy", "success"),
    Deploy(t("08:30"), "ledger", "production", LEDGER_GOOD, CI_ACTOR, "pipeline", "deploy", "success"),
    Deploy(
        t("09:40"), "payments", "production", PAYMENTS_ROGUE, K8S_DEPLOY_BOT, "manual", "deploy", "success"
    ),
    Deploy(t("10:10"), "payments", "production", PAYMENTS_GOOD, CI_ACTOR, "pipeline", "rollback", "success"),
]
ROGUE_DEPLOY = DEPLOYS[3]
ROLLBACK = DEPLOYS[4]

# -- CI ---------------------------------------------------------------------------------------
CI_LEAK_RUN_ID = 9001
CI_LEAK_JOB_ID = 90011
CI_LEAK_TIME = t("09:12:03")
CI_LEAK_WORKFLOW = ".github/workflows/pr-checks.yml"

# -- payments traffic (traces) --------------------------------------------------------------
PAYMENTS_SLOW_FROM = ROGUE_DEPLOY.time + timedelta(minutes=5)  # 09:45
PAYMENTS_SLOW_UNTIL = ROLLBACK.time  # 10:10
CLIENT_TIMEOUT_MS = 2000
#: Client calls that timed out and were retried once each (no idempotency key).
RETRIED_CALLS = 6
#: The one logical charge that was captured twice.
DOUBLE_CHARGE_ORDER = "ord-10042"
DOUBLE_CHARGE_TIME = t("09:52:10")

# -- cardinality ------------------------------------------------------------------------------
EXPLOSION_METRIC = "http_server_requests_total"
EXPLOSION_LABEL = "user_id"
EXPLOSION_START = PAYMENTS_SLOW_FROM  # 09:45

# -- key timeline for README and tests ----------------------------------------------------------
KEY_EVENTS = [
    (
        CI_LEAK_TIME,
        "ci",
        f"job {CI_LEAK_JOB_ID} of run {CI_LEAK_RUN_ID} on {COMPROMISED_RUNNER} prints the deploy-bot key and secret",
    ),
    (t("09:20"), "github", f"deploy-bot PAT used from new IP {ATTACKER_IP} (git.clone)"),
    (t("09:25"), "cloudtrail", f"{DEPLOY_BOT_KEY} used from {ATTACKER_IP}: GetCallerIdentity"),
    (t("09:26"), "cloudtrail", f"AssumeRole prod-deployer mints {TEMP_KEY} (expires 10:26)"),
    (t("09:30"), "cloudtrail", f"ecr:PutImage payments {PAYMENTS_ROGUE.digest} with {TEMP_KEY}"),
    (t("09:33"), "cloudtrail", f"iam:CreateAccessKey for svc-backup -> {PERSIST_KEY} (persistence)"),
    (t("09:35"), "cloudtrail", "s3:GetObject acme-customer-exports/customers-2026-03.csv"),
    (
        ROGUE_DEPLOY.time,
        "k8s",
        f"deployment payments patched to {PAYMENTS_ROGUE.digest} by deploy-bot (no provenance)",
    ),
    (PAYMENTS_SLOW_FROM, "traces", "payments latency rises; checkout timeouts and retries begin"),
    (
        DOUBLE_CHARGE_TIME,
        "traces",
        f"order {DOUBLE_CHARGE_ORDER} captured twice after a client timeout and retry",
    ),
    (ROLLBACK.time, "deploy", f"payments rolled back to {PAYMENTS_GOOD.version} ({PAYMENTS_GOOD.digest})"),
    (t("10:20"), "cloudtrail", f"UpdateAccessKey {DEPLOY_BOT_KEY} Inactive; 10:21 DeleteAccessKey"),
    (t("10:22"), "github", "deploy-bot PAT revoked"),
    (t("10:25"), "cloudtrail", "PutRolePolicy AWSRevokeOlderSessions on prod-deployer"),
    (t("10:33"), "cloudtrail", f"{TEMP_KEY} used after revocation: s3:GetObject AccessDenied"),
    (
        t("10:45"),
        "cloudtrail",
        f"{PERSIST_KEY} used from {ATTACKER_IP_2}: s3:GetObject success (never revoked)",
    ),
]

# -- runtime state (pod snapshots; issue 22) ----------------------------------------------------
#: ReplicaSet pod-template hashes of payments: the rogue rollout (09:40) and the rollback (10:10).
PAYMENTS_ROGUE_RS = "7f9c6d8b5d"
PAYMENTS_GOOD_RS = "5b8d7c9f4c"
#: ``kubectl get pods -n prod -o json`` captures: at 10:00 every payments pod runs the rogue digest
#: (as deployed: no drift); at 10:30 the rollback replaced two of them, but one pod of the rogue
#: ReplicaSet still runs the rogue digest, 20 minutes after the rollback that should have replaced it.
POD_SNAPSHOTS = (t("10:00"), t("10:30"))
DRIFTED_POD = f"payments-{PAYMENTS_ROGUE_RS}-t9w3r"
DRIFT_OBSERVED_AT = t("10:30")
DRIFT = (
    f"pod {NAMESPACE}/{DRIFTED_POD} still runs the rogue digest {PAYMENTS_ROGUE.digest} at "
    f"{DRIFT_OBSERVED_AT:%H:%M} (first seen on it at {POD_SNAPSHOTS[0]:%H:%M}); the desired digest since the "
    f"{ROLLBACK.time:%H:%M} rollback is {PAYMENTS_GOOD.digest} ({PAYMENTS_GOOD.version})"
)

# -- identity-provider prologue, network and detector evidence (issue 21) --------------------
OKTA_DOMAIN = "acme-pay.okta.com"
CI_ADMIN = "ci-admin@acme-pay.example"  # owns deploy-bot, administers the CI runners
CI_ADMIN_OKTA_ID = "00u1ciadminEXAMPLE07"
OKTA_LEGIT_SESSION = "102LegitSessionEXAMPLE01"
OKTA_PHISHED_SESSION = "102PhishedSessEXAMPLE666"
PHISH_TIME = t("08:46")
OKTA_SESSION_END = t("10:18")
GITHUB_OKTA_APP = "GitHub Enterprise Cloud - acme-pay"


@dataclass(frozen=True)
class IdpEvent:
    time: datetime
    event_type: str
    session: str
    ip: str
    result: str
    target: str | None
    what: str


#: The Okta events of the prologue (the writer adds other employees' sign-ins around them).
IDP_EVENTS = [
    IdpEvent(t("08:15"), "user.session.start", OKTA_LEGIT_SESSION, OFFICE_IP, "SUCCESS", None,
             "ci-admin signs in from the office"),
    IdpEvent(t("08:46"), "user.session.start", OKTA_PHISHED_SESSION, ATTACKER_IP, "SUCCESS", None,
             "the phishing proxy replays ci-admin's password and MFA push: a new session from the attacker IP"),
    IdpEvent(t("08:46:20"), "user.authentication.auth_via_mfa", OKTA_PHISHED_SESSION, ATTACKER_IP, "SUCCESS", None,
             "MFA push accepted for the attacker's session"),
    IdpEvent(t("08:52"), "user.authentication.sso", OKTA_PHISHED_SESSION, ATTACKER_IP, "SUCCESS", GITHUB_OKTA_APP,
             "SSO into GitHub as ci-admin with the phished session"),
    IdpEvent(t("08:58"), "user.mfa.factor.activate", OKTA_PHISHED_SESSION, ATTACKER_IP, "SUCCESS", None,
             "the attacker enrols an MFA factor of their own on ci-admin's account"),
    IdpEvent(OKTA_SESSION_END, "user.session.end", OKTA_PHISHED_SESSION, ATTACKER_IP, "SUCCESS", None,
             "the phished session is ended"),
]  # fmt: skip

# the export as the network saw it: the payments node sends the customer export to the attacker
EXFIL_SRC_IP = "10.20.3.41"
EXFIL_ENI = "eni-0a1b2c3d4e5f60789"
EXFIL_PORT = 443
EXFIL_START = t("09:35")
#: (start, end, bytes, packets) of each accepted flow record to ATTACKER_IP
EXFIL_FLOWS = [
    (t("09:35:00"), t("09:35:59"), 20_971_520, 14_563),
    (t("09:36:00"), t("09:36:59"), 18_874_368, 13_107),
    (t("09:37:00"), t("09:37:41"), 8_472_494, 5_884),
]
EXFIL_BYTES = sum(f[2] for f in EXFIL_FLOWS)

GUARDDUTY_FINDING_ID = "a6c8f0e2d4b6a8c0e2f4a6b8c0d2e4f6"
GUARDDUTY_TYPE = "Exfiltration:S3/AnomalousBehavior"
GUARDDUTY_SEVERITY = 8.0  # high
GUARDDUTY_TIME = t("09:35")
