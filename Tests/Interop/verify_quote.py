"""Verify a Cloister quote with independent implementations: pycose (COSE_Sign1), cryptography (X.509, ECDSA),
cbor2 (the payload).

  verify_quote.py --quote FILE --root PEM [--crls PEM] [--nonce HEX] [--measurement HEX]

Checks: the COSE_Sign1 signature with the leaf certificate's key; the chain leaf -> cabundle -> root, each
signature made by its issuer's key and each certificate valid now, the root byte-identical to the pinned one;
no certificate listed in a CRL signed by its issuer; the nonce and PCR0 when given; simulated: true.
Prints one JSON object {"ok": bool, "checks": {name: "pass" | reason}, "claims": {...}}; exit 0 when every check
passed, 1 otherwise.
"""
import argparse
import datetime
import json
import sys

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.messages import Sign1Message

from cose_interop import decode_sign1


def verify_issued(child, issuer) -> None:
    """Raises InvalidSignature unless issuer's key signed child (a certificate or a CRL)."""
    issuer.public_key().verify(
        child.signature, child.tbs_certificate_bytes if isinstance(child, x509.Certificate) else child.tbs_certlist_bytes,
        ec.ECDSA(child.signature_hash_algorithm))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quote", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--crls")
    parser.add_argument("--nonce")
    parser.add_argument("--measurement")
    args = parser.parse_args()

    checks = {}
    raw = open(args.quote, "rb").read()
    message = decode_sign1(raw)
    document = cbor2.loads(message.payload)
    leaf = x509.load_der_x509_certificate(document["certificate"])
    bundle = [x509.load_der_x509_certificate(der) for der in document["cabundle"]]
    pinned = x509.load_pem_x509_certificate(open(args.root, "rb").read())

    message.key = EC2Key.from_pem_public_key(
        leaf.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii"))
    try:
        checks["signature"] = "pass" if message.verify_signature() else "COSE signature does not verify"
    except Exception as error:  # pycose raises on malformed keys or algorithms
        checks["signature"] = f"COSE signature check failed: {error}"

    now = datetime.datetime.now(datetime.timezone.utc)
    path = [leaf] + list(reversed(bundle))  # cabundle is root first
    try:
        if path[-1].public_bytes(serialization.Encoding.DER) != pinned.public_bytes(serialization.Encoding.DER):
            raise ValueError("the chain does not end in the pinned root")
        for child, issuer in zip(path, path[1:] + [path[-1]]):
            verify_issued(child, issuer)
            if not child.not_valid_before_utc <= now < child.not_valid_after_utc:
                raise ValueError(f"{child.subject.rfc4514_string()} is not valid now")
        checks["chain"] = "pass"
    except (InvalidSignature, ValueError) as error:
        checks["chain"] = f"chain rejected: {error or 'a signature does not verify'}"

    if args.crls:
        pem = open(args.crls, "rb").read()
        crls = [x509.load_pem_x509_crl(b"-----BEGIN X509 CRL-----" + part)
                for part in pem.split(b"-----BEGIN X509 CRL-----")[1:]]
        problem = None
        for child, issuer in zip(path[:-1], path[1:]):
            covering = [crl for crl in crls if crl.issuer == issuer.subject]
            if not covering:
                problem = f"no CRL from {issuer.subject.rfc4514_string()}"
            for crl in covering:
                try:
                    verify_issued(crl, issuer)
                except InvalidSignature:
                    problem = f"CRL of {issuer.subject.rfc4514_string()} is not signed by it"
                if crl.get_revoked_certificate_by_serial_number(child.serial_number) is not None:
                    problem = f"{child.subject.rfc4514_string()} is revoked"
        checks["revocation"] = problem or "pass"

    if args.nonce is not None:
        checks["nonce"] = "pass" if document.get("nonce") == bytes.fromhex(args.nonce) else "nonce differs"
    if args.measurement is not None:
        checks["measurement"] = (
            "pass" if document["pcrs"].get(0) == bytes.fromhex(args.measurement) else "PCR0 differs")
    extension = document.get("cloister") or {}
    checks["simulated"] = "pass" if extension.get("simulated") is True else "simulated is not true"

    claims = {
        "module_id": document["module_id"],
        "digest": document["digest"],
        "pcr0": document["pcrs"][0].hex(),
        "pcr8": document["pcrs"][8].hex(),
        "nonce": document["nonce"].hex() if document.get("nonce") is not None else None,
        "public_key": document["public_key"].hex() if document.get("public_key") is not None else None,
        "tcb_level": extension.get("tcb_level"),
        "isolation": list(extension.get("isolation", [])),
        "algorithm": "ES384" if isinstance(leaf.public_key().curve, ec.SECP384R1) else "ES256",
    }
    ok = all(value == "pass" for value in checks.values())
    print(json.dumps({"ok": ok, "checks": checks, "claims": claims}, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
