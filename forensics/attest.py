"""Evidence of the kit's own work: an in-toto Statement v1 for each report run, optionally signed
(DSSE with a local Ed25519/ECDSA key through ``cryptography``; Sigstore keyless where the
environment has an OIDC identity), and its verification (``forensics verify-report``).

The predicate is the kit's own (docs/attestation.md): the case and its evidence, the notebook, the
parameters, the kit and every installed distribution, the run's times and the findings' ids. Signing
fails closed: without a key or an identity the statement is written unsigned and says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata, resources
from pathlib import Path

from forensics.errors import ForensicsError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://forensics.invalid/attestation/report/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
SUFFIX = ".intoto.json"


class BadStatement(ForensicsError):
    """A statement that cannot be read, or a key that cannot sign or verify."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dependency_lock() -> list[dict[str, str]]:
    """Name and version of every distribution installed in this environment, sorted."""
    seen = {
        (d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions() if d.metadata["Name"]
    }
    return [{"name": n, "version": v} for n, v in sorted(seen.items())]


def schema_version() -> dict[str, object]:
    """The case schema the kit writes: its files' names and one sha256 over their text."""
    files = sorted(
        (p for p in resources.files("forensics.sql").joinpath("schema").iterdir() if p.name.endswith(".sql")),
        key=lambda p: p.name,
    )
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return {"files": [p.name for p in files], "sha256": h.hexdigest()}


def case_record(case_path: str | os.PathLike[str]) -> dict[str, object]:
    """The case file's hash and size, its evidence ledger (sha256, size, loader per file) and its
    findings' ids. A case that cannot be read is recorded with the reason (verification then fails)."""
    import forensics

    path = Path(case_path)
    rec: dict[str, object] = {
        "path": str(path.resolve()),
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "schema": schema_version(),
    }
    try:
        with forensics.open_case(path, read_only=True) as case:
            ev = case.sql(
                "SELECT path, sha256, size_bytes, loader FROM evidence ORDER BY sha256, path"
            ).to_dicts()
            findings = sorted(case.findings().get_column("finding_id").to_list())
    except Exception as e:  # noqa: BLE001 - recorded, and verification fails on it
        rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return {"case": rec, "evidence": None, "findings": None}
    evidence = [
        {"path": r["path"], "sha256": r["sha256"], "size": r["size_bytes"], "loader": r["loader"]} for r in ev
    ]
    return {"case": rec, "evidence": evidence, "findings": findings}


def build_statement(
    folder: Path,
    *,
    report: str,
    case_path: str,
    notebook_sha256: str,
    parameters: dict[str, object],
    started: datetime,
    ended: datetime,
) -> dict[str, object]:
    """The statement for a run whose outputs are every file in ``folder`` (the statement excluded)."""
    import forensics

    subjects = [
        {"name": p.name, "digest": {"sha256": sha256_file(p)}}
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.is_file() and not p.name.endswith(SUFFIX)
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "report": report,
            **case_record(case_path),
            "notebook": {"name": f"{report}.ipynb", "sha256": notebook_sha256},
            "parameters": json.loads(json.dumps(parameters, default=str)),
            "kit": {"name": "forensics", "version": forensics.__version__},
            "dependencies": dependency_lock(),
            "run": {"startedOn": _iso(started), "finishedOn": _iso(ended)},
        },
    }


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(obj: object) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding (what is signed)."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# -- keys ---------------------------------------------------------------------------------------


@dataclass
class Signer:
    key: object
    keyid: str

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        return self.key.sign(data, ec.ECDSA(_hash_for(self.key.curve)))


def _hash_for(curve):
    from cryptography.hazmat.primitives import hashes

    return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(curve.key_size, hashes.SHA256())


def keyid(public_key) -> str:
    """sha256 of the public key's SubjectPublicKeyInfo (DER)."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_signer(path: str | os.PathLike[str]) -> Signer:
    """An Ed25519 or ECDSA private key from a PEM file (unencrypted, or with FORENSICS_KEY_PASSWORD)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise BadStatement(f"--sign-key {path}: {e.strerror}") from None
    password = os.environ.get("FORENSICS_KEY_PASSWORD")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as e:
        raise BadStatement(f"--sign-key {path}: not a usable PEM private key ({e})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise BadStatement(f"--sign-key {path}: only Ed25519 and ECDSA keys sign reports")
    return Signer(key, keyid(key.public_key()))


def load_public_key(path: str | os.PathLike[str]):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise BadStatement(f"--key {path}: not a PEM public key ({e})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise BadStatement(f"--key {path}: only Ed25519 and ECDSA keys verify reports")
    return key


# -- writing ------------------------------------------------------------------------------------


def write_statement(
    path: Path, statement: dict, *, signer: Signer | None = None, sigstore: bool = True
) -> str:
    """Write the statement: a DSSE envelope signed with ``signer``; else a Sigstore bundle when an
    ambient OIDC identity exists (CI); else the bare statement, which says it is unsigned.
    Returns how it was signed: ``key``, ``sigstore`` or ``unsigned``."""
    pred = statement["predicate"]
    if signer is not None:
        pred["signing"] = {"signed": True, "method": "dsse-key", "keyid": signer.keyid}
        payload = canonical(statement)
        envelope = {
            "payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [
                {
                    "keyid": signer.keyid,
                    "sig": base64.b64encode(signer.sign(pae(PAYLOAD_TYPE, payload))).decode(),
                }
            ],
        }
        path.write_bytes(canonical(envelope))
        return "key"
    token, why = (
        _ambient_identity()
        if sigstore
        else (None, "no --sign-key, and keyless signing turned off (--no-sigstore)")
    )
    if token is not None:
        pred["signing"] = {"signed": True, "method": "sigstore"}
        try:
            bundle = _sigstore_sign(canonical(statement), token)
        except Exception as e:  # noqa: BLE001 - fail closed: say unsigned, with the reason
            why = f"sigstore signing failed: {type(e).__name__}: {e}"
        else:
            path.write_text(bundle, encoding="utf-8")
            return "sigstore"
    pred["signing"] = {"signed": False, "reason": why}
    path.write_bytes(canonical(statement))
    return "unsigned"


def _ambient_identity() -> tuple[str | None, str]:
    """An OIDC token from the environment (GitHub Actions, GCP, ...), never an interactive flow."""
    try:
        from sigstore.oidc import detect_credential

        token = detect_credential()
    except Exception as e:  # noqa: BLE001 - no identity is the ordinary case
        return None, f"no ambient OIDC identity ({type(e).__name__}) and no --sign-key"
    return (token, "") if token else (None, "no --sign-key and no ambient OIDC identity")


def _sigstore_sign(payload: bytes, token: str) -> str:
    from sigstore.dsse import Statement
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    identity = IdentityToken(token)  # a malformed or expired token fails here, before any network
    ctx = SigningContext.from_trust_config(ClientTrustConfig.production())
    with ctx.signer(identity) as s:
        bundle = s.sign_dsse(Statement(payload))
    return str(bundle.to_json())


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def find_statement(path: Path) -> Path:
    """The statement naming ``path`` as a subject, beside it (or ``path`` itself)."""
    if path.name.endswith(SUFFIX):
        return path
    folder = path.parent
    guess = folder / (path.name.split(".")[0] + SUFFIX)
    candidates = [guess] + sorted(p for p in folder.glob("*" + SUFFIX) if p != guess)
    for c in candidates:
        if c.is_file():
            try:
                st, _ = read_statement(c)
            except BadStatement:
                continue
            if any(s.get("name") == path.name for s in st.get("subject", [])):
                return c
    raise BadStatement(f"no statement beside {path} names it; pass --statement FILE")


def read_statement(path: Path) -> tuple[dict, dict]:
    """The statement and its wrapper: ``{"kind": "unsigned"|"dsse"|"sigstore", ...}``."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise BadStatement(f"statement {path}: {e}") from None
    if not isinstance(doc, dict):
        raise BadStatement(f"statement {path}: not a JSON object")
    if doc.get("_type") == STATEMENT_TYPE:
        return doc, {"kind": "unsigned"}
    envelope = doc.get("dsseEnvelope") if "dsseEnvelope" in doc else doc
    if isinstance(envelope, dict) and "payload" in envelope:
        try:
            payload = base64.b64decode(envelope["payload"], validate=True)
            st = json.loads(payload)
        except (ValueError, TypeError) as e:
            raise BadStatement(f"statement {path}: unreadable DSSE payload ({e})") from None
        kind = "sigstore" if "dsseEnvelope" in doc else "dsse"
        return st, {"kind": kind, "envelope": envelope, "payload": payload, "doc": doc}
    raise BadStatement(f"statement {path}: neither an in-toto statement nor a DSSE envelope")


def verify(
    path: str | os.PathLike[str],
    *,
    statement: str | os.PathLike[str] | None = None,
    case: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    identity: str | None = None,
    issuer: str | None = None,
) -> list[Check]:
    """Every check of a report against its statement; all must pass."""
    target = Path(path)
    st_path = Path(statement) if statement else find_statement(target)
    st, wrap = read_statement(st_path)
    checks = [
        Check(
            "statement",
            st.get("_type") == STATEMENT_TYPE and st.get("predicateType") == PREDICATE_TYPE,
            f"{st_path.name} ({st.get('_type')}, {st.get('predicateType')})",
        )
    ]
    pred = st.get("predicate") or {}
    checks.append(_signature(st_path, st, wrap, key, identity, issuer))
    names = {s.get("name") for s in st.get("subject", [])}
    if not target.name.endswith(SUFFIX):
        checks.append(
            Check(
                "subject",
                target.name in names,
                f"{target.name} is {'' if target.name in names else 'not '}a subject",
            )
        )
    for s in st.get("subject", []):
        checks.append(_subject(st_path.parent, s))
    checks.append(_parameters(st_path.parent, st))
    if case is not None:
        checks.extend(_case(Path(case), pred))
    return checks


def _signature(st_path, st, wrap, key, identity, issuer) -> Check:
    signing = (st.get("predicate") or {}).get("signing") or {}
    kind = wrap["kind"]
    if kind == "unsigned":
        if signing.get("signed") is not False:
            return Check("signature", False, "no signature, but the statement does not say it is unsigned")
        if key or identity:
            return Check("signature", False, f"the statement is unsigned ({signing.get('reason')})")
        return Check("signature", True, f"none: the statement says unsigned ({signing.get('reason')})")
    if kind == "dsse":
        if not key:
            return Check(
                "signature",
                False,
                f"signed by key {signing.get('keyid', '?')[:16]}; pass --key PUB to check it",
            )
        pub = load_public_key(key)
        env = wrap["envelope"]
        data = pae(env.get("payloadType", ""), wrap["payload"])
        for sig in env.get("signatures", []):
            try:
                _verify_sig(pub, base64.b64decode(sig.get("sig", "")), data)
            except Exception:  # noqa: BLE001 - a bad signature is a failed check
                continue
            if env.get("payloadType") != PAYLOAD_TYPE:
                return Check("signature", False, f"payload type {env.get('payloadType')!r}")
            return Check("signature", True, f"DSSE signed by key {keyid(pub)[:16]}")
        return Check("signature", False, f"no signature verifies with {key}")
    if not (identity and issuer):
        return Check("signature", False, "Sigstore bundle; pass --identity and --issuer to check it")
    try:
        from sigstore.models import Bundle
        from sigstore.verify import Verifier, policy

        bundle = Bundle.from_json(st_path.read_bytes())
        _, payload = Verifier.production().verify_dsse(
            bundle, policy.Identity(identity=identity, issuer=issuer)
        )
    except Exception as e:  # noqa: BLE001 - fail closed
        return Check("signature", False, f"Sigstore verification failed: {type(e).__name__}: {e}")
    if payload != wrap["payload"]:
        return Check("signature", False, "the signed payload is not the statement read")
    return Check("signature", True, f"Sigstore: {identity} from {issuer}")


def _verify_sig(pub, sig: bytes, data: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, data)
    else:
        pub.verify(sig, data, ec.ECDSA(_hash_for(pub.curve)))


def _subject(folder: Path, s: dict) -> Check:
    name = str(s.get("name", ""))
    want = (s.get("digest") or {}).get("sha256")
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return Check(f"subject {name!r}", False, "not a plain file name")
    p = folder / name
    if not p.is_file():
        return Check(f"subject {name}", False, "missing")
    got = sha256_file(p)
    return Check(
        f"subject {name}",
        got == want,
        f"sha256 {got[:16]}" + ("" if got == want else f" but the statement records {str(want)[:16]}"),
    )


def _parameters(folder: Path, st: dict) -> Check:
    """The parameters recorded are the ones the executed notebook (a subject) ran with."""
    recorded = (st.get("predicate") or {}).get("parameters")
    notebooks = [s["name"] for s in st.get("subject", []) if str(s.get("name", "")).endswith(".ipynb")]
    if not notebooks:
        return Check("parameters", False, "no executed notebook among the subjects to compare with")
    try:
        nb = json.loads((folder / notebooks[0]).read_bytes())
        ran = nb["metadata"]["papermill"]["parameters"]
    except (OSError, ValueError, KeyError) as e:
        return Check("parameters", False, f"cannot read the parameters {notebooks[0]} ran with ({e})")
    if ran != recorded:
        diff = sorted(k for k in set(ran) | set(recorded or {}) if ran.get(k) != (recorded or {}).get(k))
        return Check(
            "parameters",
            False,
            f"the statement's differ from those {notebooks[0]} ran with: {', '.join(diff)}",
        )
    return Check("parameters", True, f"{len(ran)} recorded, as {notebooks[0]} ran with")


def _case(path: Path, pred: dict) -> list[Check]:
    rec = pred.get("case") or {}
    if rec.get("error") or pred.get("evidence") is None:
        return [Check("case", False, f"the run could not read its case: {rec.get('error')}")]
    if not path.is_file():
        return [Check("case", False, f"no such case {path}")]
    got = case_record(path)
    now: dict = got["case"]  # type: ignore[assignment]
    if now.get("error"):
        return [Check("case", False, f"cannot read {path}: {now['error']}")]
    out = []
    sha = now["sha256"]
    # the case file itself changes whenever anything is written to it (findings refreshed, a policy
    # stored, another report's rescan): said, not failed; the evidence below is what the report rests on
    same = sha == rec.get("sha256")
    out.append(
        Check(
            "case file",
            True,
            f"sha256 {sha[:16]}"
            + (
                ", as when the report was made"
                if same
                else f"; written to since the report (then {str(rec.get('sha256'))[:16]}), evidence checked next"
            ),
        )
    )
    key = lambda e: (e["sha256"], e["size"], e["loader"])  # noqa: E731
    want = {key(e): e for e in pred["evidence"]}
    have = {key(e): e for e in got["evidence"] or []}  # type: ignore[attr-defined]
    missing = [want[k]["path"] for k in sorted(want.keys() - have.keys())]
    extra = [have[k]["path"] for k in sorted(have.keys() - want.keys())]
    detail = f"{len(want)} files (sha256, size, loader) as recorded"
    if missing or extra:
        detail = (
            f"recorded but not in the case: {', '.join(missing[:3]) or 'none'}; "
            f"in the case but not recorded: {', '.join(extra[:3]) or 'none'}"
        )
    out.append(Check("case evidence", not missing and not extra, detail))
    return out
