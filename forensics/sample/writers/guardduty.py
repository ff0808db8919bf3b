"""One GuardDuty finding, as ``aws guardduty get-findings`` answers (``{"Findings": [...]}``), read by the
``guardduty`` source and turned into a kit finding by ``queries/findings/provider_findings.sql``: the
anomalous S3 export at 09:35 with the temporary prod-deployer credential, from the attacker IP."""

from __future__ import annotations

import json
import random
from pathlib import Path

from forensics.sample import scenario as S


def _z(when) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "findings"
    d.mkdir(parents=True, exist_ok=True)
    detector = "12abc34d567e8fa901bc2d34e56789f0"
    finding = {
        "AccountId": S.ACCOUNT,
        "Arn": f"arn:aws:guardduty:{S.REGION}:{S.ACCOUNT}:detector/{detector}/finding/{S.GUARDDUTY_FINDING_ID}",
        "CreatedAt": _z(S.GUARDDUTY_TIME.replace(minute=41)),
        "Description": "An IAM entity invoked an S3 API in a suspicious way: objects were read from "
        "acme-customer-exports in an unusual pattern from a remote host.",
        "Id": S.GUARDDUTY_FINDING_ID,
        "Partition": "aws",
        "Region": S.REGION,
        "Resource": {
            "AccessKeyDetails": {
                "AccessKeyId": S.TEMP_KEY,
                "PrincipalId": f"AROAEXAMPLEPRODDEPLOY:{S.ROLE_SESSION}",
                "UserName": "prod-deployer",
                "UserType": "AssumedRole",
            },
            "S3BucketDetails": [
                {
                    "Arn": "arn:aws:s3:::acme-customer-exports",
                    "Name": "acme-customer-exports",
                    "Type": "Destination",
                }
            ],
            "ResourceType": "S3Bucket",
        },
        "SchemaVersion": "2.0",
        "Service": {
            "Action": {
                "ActionType": "AWS_API_CALL",
                "AwsApiCallAction": {
                    "Api": "GetObject",
                    "CallerType": "Remote IP",
                    "RemoteIpDetails": {
                        "IpAddressV4": S.ATTACKER_IP,
                        "Organization": {
                            "Asn": "64500",
                            "AsnOrg": "EXAMPLE-NET",
                            "Isp": "Example",
                            "Org": "Example",
                        },
                        "Country": {"CountryName": "Unknown"},
                    },
                    "ServiceName": "s3.amazonaws.com",
                },
            },
            "Archived": False,
            "Count": 3,
            "DetectorId": detector,
            "EventFirstSeen": _z(S.GUARDDUTY_TIME),
            "EventLastSeen": _z(S.EXFIL_FLOWS[-1][1]),
            "ResourceRole": "TARGET",
            "ServiceName": "guardduty",
        },
        "Severity": S.GUARDDUTY_SEVERITY,
        "Title": "Anomalous S3 reads of acme-customer-exports by a prod-deployer session from a remote host.",
        "Type": S.GUARDDUTY_TYPE,
        "UpdatedAt": _z(S.GUARDDUTY_TIME.replace(minute=41)),
    }
    path = d / "guardduty-get-findings.json"
    path.write_text(json.dumps({"Findings": [finding]}, indent=2) + "\n", encoding="utf-8")
    return [path]
