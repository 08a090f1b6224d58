"""COSE_Sign1 interop with pycose, an independent implementation (RFC 9052).

  verify --alg ES256|ES384 --pubkey-pem FILE --msg FILE [--aad-hex HEX]
      exit 0 when pycose verifies the COSE_Sign1 in FILE with the public key, 1 when it does not.
  sign --alg ES256|ES384 --out-key FILE --out-msg FILE [--payload-hex HEX] [--aad-hex HEX]
      pycose signs with a fresh key; writes the public key (PEM) and the tagged COSE_Sign1 message.
  keygen --alg ES256|ES384 --out-private FILE --out-public FILE
      writes a fresh key pair made by `cryptography` (PKCS#8 PEM and SubjectPublicKeyInfo PEM).
"""
import argparse
import sys

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.algorithms import Es256, Es384
from pycose.headers import Algorithm
from pycose.keys import EC2Key
from pycose.messages import Sign1Message

ALGORITHMS = {"ES256": (Es256, ec.SECP256R1), "ES384": (Es384, ec.SECP384R1)}


def decode_sign1(data: bytes) -> Sign1Message:
    """Sign1Message.decode for cbor2 6, which decodes a tagged array as a tuple and its maps as frozendicts;
    pycose 1.1.0 accepts only a list holding a dict."""
    item = cbor2.loads(data)
    if isinstance(item, cbor2.CBORTag):
        if item.tag != Sign1Message.cbor_tag:
            raise ValueError(f"tag {item.tag} is not COSE_Sign1")
        item = item.value
    if len(item) != 4:
        raise ValueError(f"COSE_Sign1 has {len(item)} items, not 4")
    protected, unprotected, payload, signature = item
    return Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], allow_unknown_attributes=True)


def verify(args: argparse.Namespace) -> int:
    with open(args.pubkey_pem, encoding="ascii") as handle:
        key = EC2Key.from_pem_public_key(handle.read())
    with open(args.msg, "rb") as handle:
        message = decode_sign1(handle.read())
    if message.get_attr(Algorithm) is not ALGORITHMS[args.alg][0]:
        print(f"message algorithm {message.get_attr(Algorithm)} is not {args.alg}", file=sys.stderr)
        return 1
    message.key = key
    message.external_aad = bytes.fromhex(args.aad_hex)
    if not message.verify_signature():
        print("pycose: signature does not verify", file=sys.stderr)
        return 1
    return 0


def sign(args: argparse.Namespace) -> int:
    algorithm, curve = ALGORITHMS[args.alg]
    private_key = ec.generate_private_key(curve())
    message = Sign1Message(
        phdr={Algorithm: algorithm},
        payload=bytes.fromhex(args.payload_hex),
        external_aad=bytes.fromhex(args.aad_hex),
    )
    message.key = EC2Key._from_cryptography_key(private_key)
    with open(args.out_msg, "wb") as handle:
        handle.write(message.encode(tag=True))
    with open(args.out_key, "wb") as handle:
        handle.write(
            private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return 0


def keygen(args: argparse.Namespace) -> int:
    private_key = ec.generate_private_key(ALGORITHMS[args.alg][1]())
    with open(args.out_private, "wb") as handle:
        handle.write(
            private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(args.out_public, "wb") as handle:
        handle.write(
            private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    verify_parser = commands.add_parser("verify")
    verify_parser.add_argument("--alg", choices=ALGORITHMS, required=True)
    verify_parser.add_argument("--pubkey-pem", required=True)
    verify_parser.add_argument("--msg", required=True)
    verify_parser.add_argument("--aad-hex", default="")
    sign_parser = commands.add_parser("sign")
    sign_parser.add_argument("--alg", choices=ALGORITHMS, required=True)
    sign_parser.add_argument("--out-key", required=True)
    sign_parser.add_argument("--out-msg", required=True)
    sign_parser.add_argument("--payload-hex", default="")
    sign_parser.add_argument("--aad-hex", default="")
    keygen_parser = commands.add_parser("keygen")
    keygen_parser.add_argument("--alg", choices=ALGORITHMS, required=True)
    keygen_parser.add_argument("--out-private", required=True)
    keygen_parser.add_argument("--out-public", required=True)
    args = parser.parse_args()
    return {"verify": verify, "sign": sign, "keygen": keygen}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
