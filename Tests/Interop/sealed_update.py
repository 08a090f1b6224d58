"""Federation updates (`SealedUpdate`) opened and sealed by independent implementations: `cryptography`'s HPKE
(RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM), pycose for the signed header, cbor2.

  open --enclave-key PEM --client-key PEM --client NAME --federation ID MESSAGE...
      opens and authenticates each message as the aggregator must, the client NAME registered under the public key
      in --client-key; prints one JSON line per message: {"accepted": true, "client", "round", "example_count",
      "parameters_sha256"} or {"accepted": false, "reason"}.
  seal --enclave-key PEM --client-key PEM --client NAME --federation ID --round R --examples N
       --parameters-hex HEX --out FILE
      seals an update as a client does, with an HPKE sender written here from RFC 9180's primitives (its output is
      opened with `cryptography`'s HPKE before it is written, so the sender is checked by an independent receiver).
"""
import argparse
import hashlib
import json
import sys

import cbor2
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pycose.algorithms import Es256
from pycose.headers import Algorithm
from pycose.keys import EC2Key
from pycose.messages import Sign1Message

INFO = b"cloister fedavg update v2"
MAXIMUM_UPDATE_SIZE = 16 << 20
SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
HEADER_FIELDS = {"federationID", "round", "client", "exampleCount", "encapsulatedKey"}


class Refused(Exception):
    pass


def canonical_map(data: bytes, keys: set, what: str) -> dict:
    """A deterministic CBOR map of exactly `keys`, every value a byte string (as Cloister writes and requires)."""
    try:
        item = cbor2.loads(data)
    except Exception as error:  # cbor2 raises several types for malformed input
        raise Refused(f"{what} is not CBOR: {error}")
    if not isinstance(item, dict) or set(item) != keys or not all(isinstance(v, bytes) for v in item.values()):
        raise Refused(f"{what} is not the map {sorted(keys)} of byte strings")
    if cbor2.dumps(item, canonical=True) != data:
        raise Refused(f"{what} is not deterministic CBOR")
    return item


def decode_sign1(data: bytes) -> Sign1Message:
    item = cbor2.loads(data)
    if isinstance(item, cbor2.CBORTag):
        if item.tag != Sign1Message.cbor_tag:
            raise Refused(f"tag {item.tag} is not COSE_Sign1")
        item = item.value
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise Refused("the statement is not a COSE_Sign1 array of 4")
    protected, unprotected, payload, signature = item
    return Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], allow_unknown_attributes=True)


def open_update(data: bytes, enclave_key, client: str, client_key: EC2Key, federation: str) -> dict:
    if len(data) > MAXIMUM_UPDATE_SIZE:
        raise Refused("the update is too large")
    outer = canonical_map(data, {"encapsulated_key", "ciphertext"}, "the update")
    enc = outer["encapsulated_key"]
    try:
        plaintext = SUITE.decrypt(enc + outer["ciphertext"], enclave_key, info=INFO)
    except Exception as error:
        raise Refused(f"the update does not open with the aggregator's key: {error!r}")
    inner = canonical_map(plaintext, {"parameters", "statement"}, "the plaintext")
    if len(inner["parameters"]) % 4 != 0:
        raise Refused("the parameters are not float32")
    try:
        statement = decode_sign1(inner["statement"])
        payload = canonical_map(statement.payload, {"header", "parameters"}, "the statement's payload")
        header = json.loads(payload["header"])
    except Refused:
        raise
    except Exception as error:
        raise Refused(f"the statement is not a signed header: {error!r}")
    if payload["parameters"]:
        raise Refused("the signed header carries parameters")
    if not isinstance(header, dict) or set(header) != HEADER_FIELDS:
        raise Refused(f"the header has fields {sorted(header) if isinstance(header, dict) else header}")
    if header["client"] != client:
        raise Refused(f"client {header['client']!r} is not registered")
    if statement.get_attr(Algorithm) is not Es256:
        raise Refused("the statement is not ES256")
    statement.key = client_key
    if not statement.verify_signature():
        raise Refused("the header's signature does not verify with the client's key")
    if header["encapsulatedKey"] != enc.hex():
        raise Refused("the header names another encapsulated key")
    if header["federationID"] != federation:
        raise Refused("the update is for another federation")
    return {
        "accepted": True,
        "client": header["client"],
        "round": header["round"],
        "example_count": header["exampleCount"],
        "parameters_sha256": hashlib.sha256(inner["parameters"]).hexdigest(),
    }


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(b"HPKE-v1" + suite_id + label + ikm)
    return mac.finalize()


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    output, block = b"", b""
    counter = 1
    while len(output) < length:
        mac = hmac.HMAC(prk, hashes.SHA256())
        mac.update(block + labeled + bytes([counter]))
        block = mac.finalize()
        output += block
        counter += 1
    return output[:length]


def hpke_sender(recipient: ec.EllipticCurvePublicKey, info: bytes):
    """SetupBaseS (RFC 9180 §5.1.1) for DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM: (enc, key, nonce)."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    enc = ephemeral.public_key().public_bytes(*point)
    dh = ephemeral.exchange(ec.ECDH(), recipient)
    kem_id = b"KEM\x00\x10"
    eae_prk = labeled_extract(kem_id, b"", b"eae_prk", dh)
    shared = labeled_expand(kem_id, eae_prk, b"shared_secret", enc + recipient.public_bytes(*point), 32)
    suite_id = b"HPKE\x00\x10\x00\x01\x00\x01"
    context = (
        b"\x00"
        + labeled_extract(suite_id, b"", b"psk_id_hash", b"")
        + labeled_extract(suite_id, b"", b"info_hash", info)
    )
    secret = labeled_extract(suite_id, shared, b"secret", b"")
    key = labeled_expand(suite_id, secret, b"key", context, 16)
    nonce = labeled_expand(suite_id, secret, b"base_nonce", context, 12)
    return enc, key, nonce


def seal(args: argparse.Namespace) -> int:
    enclave_public = load_private(args.enclave_key).public_key()
    client_private = load_private(args.client_key)
    enc, key, nonce = hpke_sender(enclave_public, INFO)
    header = {
        "client": args.client,
        "encapsulatedKey": enc.hex(),
        "exampleCount": args.examples,
        "federationID": args.federation,
        "round": args.round,
    }
    payload = cbor2.dumps(
        {"header": json.dumps(header, separators=(",", ":"), sort_keys=True).encode(), "parameters": b""},
        canonical=True,
    )
    statement = Sign1Message(phdr={Algorithm: Es256}, payload=payload)
    statement.key = EC2Key.from_pem_private_key(
        client_private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )
    plaintext = cbor2.dumps(
        {"parameters": bytes.fromhex(args.parameters_hex), "statement": statement.encode()}, canonical=True
    )
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, b"")
    if SUITE.decrypt(enc + ciphertext, load_private(args.enclave_key), info=INFO) != plaintext:
        print("the hand-written HPKE sender disagrees with cryptography's receiver", file=sys.stderr)
        return 1
    with open(args.out, "wb") as handle:
        handle.write(cbor2.dumps({"ciphertext": ciphertext, "encapsulated_key": enc}, canonical=True))
    return 0


def load_private(path: str):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def open_command(args: argparse.Namespace) -> int:
    enclave_key = load_private(args.enclave_key)
    with open(args.client_key, encoding="ascii") as handle:
        client_key = EC2Key.from_pem_public_key(handle.read())
    for path in args.messages:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            result = open_update(data, enclave_key, args.client, client_key, args.federation)
        except Refused as refusal:
            result = {"accepted": False, "reason": str(refusal)}
        print(json.dumps(result), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    opening = commands.add_parser("open")
    opening.add_argument("--enclave-key", required=True)
    opening.add_argument("--client-key", required=True)
    opening.add_argument("--client", required=True)
    opening.add_argument("--federation", required=True)
    opening.add_argument("messages", nargs="+")
    sealing = commands.add_parser("seal")
    sealing.add_argument("--enclave-key", required=True)
    sealing.add_argument("--client-key", required=True)
    sealing.add_argument("--client", required=True)
    sealing.add_argument("--federation", required=True)
    sealing.add_argument("--round", type=int, required=True)
    sealing.add_argument("--examples", type=int, required=True)
    sealing.add_argument("--parameters-hex", required=True)
    sealing.add_argument("--out", required=True)
    args = parser.parse_args()
    return open_command(args) if args.command == "open" else seal(args)


if __name__ == "__main__":
    sys.exit(main())
