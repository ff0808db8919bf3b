"""CloudTrail part of the sample incident: ``{"Records": [...]}`` ``.json.gz`` files in the S3
delivery layout (``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/``), one file per 15 minutes,
plus a digest file. The 09:30 ecr:PutImage record is delivered in two files (an overlapping
export), so the loader's de-duplication on eventID is exercised."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S

SRE_UA = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/iam"
CI_UA = "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.24.6"
ATTACKER_UA = "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 cfg/retry-mode#legacy Botocore/1.34.11"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _aws_date(when: datetime) -> str:
    """The 'Mar 14, 2026, 10:26:00 AM' form CloudTrail uses inside responseElements."""
    return f"{when:%b} {when.day}, {when.year}, {int(when.strftime('%I'))}:{when:%M:%S %p}"


def _user(arn: str, key: str) -> dict:
    name = arn.rsplit("/", 1)[1]
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + name.upper().replace("-", "")[:12].ljust(12, "X") + "EXAMPLE",
        "arn": arn,
        "accountId": S.ACCOUNT,
        "accessKeyId": key,
        "userName": name,
    }


def _role_session(issued: datetime) -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEPRODDEPLOY:{S.ROLE_SESSION}",
        "arn": S.ASSUMED_ROLE_ARN,
        "accountId": S.ACCOUNT,
        "accessKeyId": S.TEMP_KEY,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEPRODDEPLOY",
                "arn": S.PROD_DEPLOYER_ROLE,
                "accountId": S.ACCOUNT,
                "userName": "prod-deployer",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": _iso(issued), "mfaAuthenticated": "false"},
        },
    }


class _Trail:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.records: list[dict] = []

    def add(
        self,
        when: datetime,
        source: str,
        name: str,
        identity: dict,
        ip: str,
        ua: str,
        *,
        params: dict | None = None,
        response: dict | None = None,
        error: tuple[str, str] | None = None,
        read_only: bool = False,
        resources: list | None = None,
        data_event: bool = False,
    ) -> dict:
        rec = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": _iso(when),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": S.REGION,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "requestParameters": params,
            "responseElements": response,
            "requestID": str(uuid.UUID(int=self.rng.getrandbits(128))).upper()
            if source != "s3"
            else "".join(self.rng.choice("ABCDEFGHJKMNPQRSTVWXYZ0123456789") for _ in range(16)),
            "eventID": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": not data_event,
            "recipientAccountId": S.ACCOUNT,
            "eventCategory": "Data" if data_event else "Management",
        }
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        if resources:
            rec["resources"] = resources
        self.records.append(rec)
        return rec


def _story(trail: _Trail) -> dict:
    """The scenario's CloudTrail facts. Returns the record to deliver twice."""
    t = S.t
    bot = _user(S.DEPLOY_BOT_ARN, S.DEPLOY_BOT_KEY)
    sre = _user(S.SRE_ARN, S.SRE_KEY)
    trail.add(t("09:25"), "sts", "GetCallerIdentity", bot, S.ATTACKER_IP, ATTACKER_UA, read_only=True)
    trail.add(
        t("09:26"),
        "sts",
        "AssumeRole",
        bot,
        S.ATTACKER_IP,
        ATTACKER_UA,
        params={"roleArn": S.PROD_DEPLOYER_ROLE, "roleSessionName": S.ROLE_SESSION, "durationSeconds": 3600},
        response={
            "credentials": {
                "accessKeyId": S.TEMP_KEY,
                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN",
                "expiration": _aws_date(t("10:26")),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"AROAEXAMPLEPRODDEPLOY:{S.ROLE_SESSION}",
                "arn": S.ASSUMED_ROLE_ARN,
            },
        },
        resources=[{"accountId": S.ACCOUNT, "type": "AWS::IAM::Role", "ARN": S.PROD_DEPLOYER_ROLE}],
    )
    session = _role_session(t("09:26"))
    put = trail.add(
        t("09:30"),
        "ecr",
        "PutImage",
        session,
        S.ATTACKER_IP,
        ATTACKER_UA,
        params={"repositoryName": "payments", "imageTag": S.PAYMENTS_ROGUE.version, "registryId": S.ACCOUNT},
        response={
            "image": {
                "registryId": S.ACCOUNT,
                "repositoryName": "payments",
                "imageId": {"imageDigest": S.PAYMENTS_ROGUE.digest, "imageTag": S.PAYMENTS_ROGUE.version},
            }
        },
        resources=[
            {"accountId": S.ACCOUNT, "ARN": f"arn:aws:ecr:{S.REGION}:{S.ACCOUNT}:repository/payments"}
        ],
    )
    trail.add(
        t("09:33"),
        "iam",
        "CreateAccessKey",
        session,
        S.ATTACKER_IP,
        ATTACKER_UA,
        params={"userName": "svc-backup"},
        response={
            "accessKey": {
                "accessKeyId": S.PERSIST_KEY,
                "status": "Active",
                "userName": "svc-backup",
                "createDate": _aws_date(t("09:33")),
            }
        },
    )
    trail.add(
        t("09:35"),
        "s3",
        "GetObject",
        session,
        S.ATTACKER_IP,
        ATTACKER_UA,
        read_only=True,
        data_event=True,
        params={
            "bucketName": "acme-customer-exports",
            "key": "customers-2026-03.csv",
            "Host": "acme-customer-exports.s3.amazonaws.com",
        },
        resources=[
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::acme-customer-exports/customers-2026-03.csv"},
            {"accountId": S.ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-customer-exports"},
        ],
    )
    trail.add(
        t("10:20"),
        "iam",
        "UpdateAccessKey",
        sre,
        S.OFFICE_IP,
        SRE_UA,
        params={"userName": "deploy-bot", "accessKeyId": S.DEPLOY_BOT_KEY, "status": "Inactive"},
    )
    trail.add(
        t("10:21"),
        "iam",
        "DeleteAccessKey",
        sre,
        S.OFFICE_IP,
        SRE_UA,
        params={"userName": "deploy-bot", "accessKeyId": S.DEPLOY_BOT_KEY},
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": _iso(t("10:25"))}},
            }
        ],
    }
    trail.add(
        t("10:25"),
        "iam",
        "PutRolePolicy",
        sre,
        S.OFFICE_IP,
        SRE_UA,
        params={
            "roleName": "prod-deployer",
            "policyName": "AWSRevokeOlderSessions",
            "policyDocument": json.dumps(policy),
        },
    )
    trail.add(
        t("10:33"),
        "s3",
        "GetObject",
        session,
        S.ATTACKER_IP,
        ATTACKER_UA,
        read_only=True,
        data_event=True,
        params={
            "bucketName": "acme-customer-exports",
            "key": "customers-2026-02.csv",
            "Host": "acme-customer-exports.s3.amazonaws.com",
        },
        error=("AccessDenied", "Access Denied"),
    )
    trail.add(
        t("10:45"),
        "s3",
        "GetObject",
        _user(S.SVC_BACKUP_ARN, S.PERSIST_KEY),
        S.ATTACKER_IP_2,
        ATTACKER_UA,
        read_only=True,
        data_event=True,
        params={
            "bucketName": "acme-customer-exports",
            "key": "customers-2026-01.csv",
            "Host": "acme-customer-exports.s3.amazonaws.com",
        },
    )
    return put


def _noise(trail: _Trail, rng: random.Random, scale: int) -> None:
    span = (S.DAY_END - S.DAY_START).total_seconds()
    sre = _user(S.SRE_ARN, S.SRE_KEY)
    bot = _user(S.DEPLOY_BOT_ARN, S.DEPLOY_BOT_KEY)
    reads = [
        ("ec2", "DescribeInstances"),
        ("iam", "ListUsers"),
        ("s3", "ListBuckets"),
        ("logs", "DescribeLogGroups"),
        ("cloudwatch", "GetMetricData"),
        ("iam", "ListAccessKeys"),
        ("eks", "DescribeCluster"),
    ]
    for _ in range(150 * scale):
        when = S.DAY_START + timedelta(seconds=rng.random() * span)
        source, name = rng.choice(reads)
        err = ("ThrottlingException", "Rate exceeded") if rng.random() < 0.03 else None
        trail.add(when, source, name, sre, S.OFFICE_IP, SRE_UA, read_only=True, error=err)
    # the deploy-bot key in normal use: CI hosted runners push the good images before the incident
    for img, when in (
        (S.PAYMENTS_GOOD, S.t("08:03")),
        (S.CHECKOUT_GOOD, S.t("08:05")),
        (S.LEDGER_GOOD, S.t("08:28")),
    ):
        trail.add(
            when - timedelta(seconds=20),
            "sts",
            "GetCallerIdentity",
            bot,
            S.CI_HOSTED_IP,
            CI_UA,
            read_only=True,
        )
        trail.add(
            when,
            "ecr",
            "PutImage",
            bot,
            S.CI_HOSTED_IP,
            CI_UA,
            params={"repositoryName": img.service, "imageTag": img.version, "registryId": S.ACCOUNT},
            response={
                "image": {
                    "registryId": S.ACCOUNT,
                    "repositoryName": img.service,
                    "imageId": {"imageDigest": img.digest, "imageTag": img.version},
                }
            },
        )
    # one service call that timed out
    trail.add(
        S.t("09:50:30"),
        "kms",
        "Decrypt",
        sre,
        S.OFFICE_IP,
        SRE_UA,
        read_only=True,
        error=("RequestTimeoutException", "The request timed out"),
    )


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    trail = _Trail(rng)
    duplicate = _story(trail)
    _noise(trail, rng, scale)
    trail.records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    day = S.DAY_START
    base = out / "cloudtrail" / "AWSLogs" / S.ACCOUNT / "CloudTrail" / S.REGION / f"{day:%Y/%m/%d}"
    base.mkdir(parents=True, exist_ok=True)
    buckets: dict[str, list[dict]] = {}
    for rec in trail.records:
        when = datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        slot = when.replace(minute=when.minute - when.minute % 15, second=0)
        buckets.setdefault(f"{slot:%Y%m%dT%H%M}Z", []).append(rec)
    # the 09:30 PutImage is delivered again in the next file (an overlapping export)
    buckets["20260314T0945Z"].insert(0, duplicate)
    written = []
    log_files = []
    for stamp in sorted(buckets):
        suffix = "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16)
        )
        path = base / f"{S.ACCOUNT}_CloudTrail_{S.REGION}_{stamp}_{suffix}.json.gz"
        body = json.dumps({"Records": buckets[stamp]}, separators=(",", ":")).encode()
        path.write_bytes(gzip.compress(body, mtime=0))
        written.append(path)
        log_files.append(
            {
                "s3Bucket": "acme-cloudtrail-logs",
                "s3Object": str(path.relative_to(out / "cloudtrail")),
                "hashValue": f"{rng.getrandbits(256):064x}",
                "hashAlgorithm": "SHA-256",
                "newestEventTime": buckets[stamp][-1]["eventTime"],
                "oldestEventTime": buckets[stamp][0]["eventTime"],
            }
        )
    dig = out / "cloudtrail" / "AWSLogs" / S.ACCOUNT / "CloudTrail-Digest" / S.REGION / f"{day:%Y/%m/%d}"
    dig.mkdir(parents=True, exist_ok=True)
    digest = {
        "awsAccountId": S.ACCOUNT,
        "digestStartTime": _iso(S.DAY_START),
        "digestEndTime": _iso(S.DAY_END),
        "digestS3Bucket": "acme-cloudtrail-logs",
        "digestS3Object": f"AWSLogs/{S.ACCOUNT}/CloudTrail-Digest/{S.REGION}/{day:%Y/%m/%d}/digest.json.gz",
        "digestPublicKeyFingerprint": f"{rng.getrandbits(128):032x}",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": trail.records[-1]["eventTime"],
        "oldestEventTime": trail.records[0]["eventTime"],
        "previousDigestS3Bucket": None,
        "previousDigestS3Object": None,
        "previousDigestHashValue": None,
        "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
        "logFiles": log_files,
    }
    dpath = (
        dig
        / f"{S.ACCOUNT}_CloudTrail-Digest_{S.REGION}_acme-trail_{S.REGION}_{S.DAY_END:%Y%m%dT%H%M%S}Z.json.gz"
    )
    dpath.write_bytes(gzip.compress(json.dumps(digest, separators=(",", ":")).encode(), mtime=0))
    written.append(dpath)
    return written
