"""Verify an EAR (EAT Attestation Result JWT) with PyJWT, an independent JOSE implementation, against a JWK set.

  verify_ear.py --token TOKEN --jwks JWKS_JSON_FILE

Checks the ES256 signature with the key the header's "kid" names in the set, and the EAR profile. Prints the
payload as JSON and exits 0; prints the reason and exits 1 when the token does not verify.
"""
import argparse
import json
import sys

import jwt


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--jwks", required=True)
    args = parser.parse_args()
    keys = jwt.PyJWKSet.from_json(open(args.jwks, encoding="utf-8").read())
    try:
        kid = jwt.get_unverified_header(args.token)["kid"]
        key = next(key for key in keys.keys if key.key_id == kid)
        payload = jwt.decode(args.token, key=key, algorithms=["ES256"], options={"require": ["iat"]})
    except (jwt.PyJWTError, StopIteration, KeyError) as error:
        print(f"rejected: {error!r}")
        return 1
    if payload.get("eat_profile") != "tag:github.com,2023:veraison/ear":
        print("rejected: not an EAR profile")
        return 1
    print(json.dumps(payload, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
