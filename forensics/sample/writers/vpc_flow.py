"""VPC Flow Logs of the production VPC (default version-2 format, with the header line S3 delivery
writes), read by the ``vpc_flow`` source: ordinary traffic of the payments nodes, and the export of the
customer file from the payments node to the attacker (09:35-09:38, ``scenario.EXFIL_FLOWS``)."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from forensics.sample import scenario as S

_HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
_PEERS = ["10.20.1.15", "10.20.2.30", "10.20.4.12", "52.94.133.131", "52.216.8.91", "54.239.28.85"]


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "network"
    d.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[int, str]] = []
    for start, end, nbytes, packets in S.EXFIL_FLOWS:
        ts, te = int(start.timestamp()), int(end.timestamp())
        sport = rng.randint(40000, 60999)
        rows.append((ts, f"2 {S.ACCOUNT} {S.EXFIL_ENI} {S.EXFIL_SRC_IP} {S.ATTACKER_IP} {sport} {S.EXFIL_PORT} 6 "
                         f"{packets} {nbytes} {ts} {te} ACCEPT OK"))  # fmt: skip
    for _ in range(120 * scale):
        start = S.DAY_START + timedelta(seconds=rng.randint(0, 3 * 3600 - 60))
        ts = int(start.timestamp())
        peer = rng.choice(_PEERS)
        outbound = rng.random() < 0.5
        src, dst = (S.EXFIL_SRC_IP, peer) if outbound else (peer, S.EXFIL_SRC_IP)
        sport, dport = (rng.randint(32768, 60999), 443) if outbound else (443, rng.randint(32768, 60999))
        packets = rng.randint(2, 400)
        action = "REJECT" if rng.random() < 0.05 else "ACCEPT"
        rows.append((ts, f"2 {S.ACCOUNT} {S.EXFIL_ENI} {src} {dst} {sport} {dport} 6 {packets} "
                         f"{packets * rng.randint(60, 1400)} {ts} {ts + 59} {action} OK"))  # fmt: skip
    rows.sort()
    path = d / f"{S.ACCOUNT}_vpcflowlogs_{S.REGION}_fl-0f1e2d3c4b5a69788_20260314T0800Z.log"
    path.write_text(_HEADER + "\n" + "".join(r + "\n" for _, r in rows), encoding="utf-8")
    return [path]
