"""Verify DCAP quotes of Cloister's simulated Intel vendor with Phala's dcap-qvl, as a relying party would.

  dcap_verify_simulated.py ROOT.der NOW QUOTE.bin:COLLATERAL.json [QUOTE.bin:COLLATERAL.json ...]

ROOT.der is the root dcap-qvl pins (the simulated vendor's root CA, DER), NOW the verification time in seconds since
1970, and each pair a quote and its QuoteCollateralV3 JSON (what SimulatedIntelCollateral.quoteCollateralJSON writes).
Each quote goes through dcap_qvl.verify_with_root_ca(quote, collateral, root, now). Prints one JSON array, an object
per pair in order: {"quote": path, "accepted": true, "status": Intel's spelling, "advisory_ids": [...]} or
{"quote": path, "accepted": false, "error": message} (a Rust panic, which reaches Python as pyo3's PanicException,
is a refusal too). Exits 0 whatever the verdicts; 64 on bad arguments.
"""
import json
import sys

import dcap_qvl


def judge(quote_path: str, collateral_of, root: bytes, now: int) -> dict:
    """dcap-qvl's verdict on the quote at `quote_path` with the collateral `collateral_of(quote)` gives: accepted with
    its status and advisories, or refused with the error (also when getting the collateral fails)."""
    with open(quote_path, "rb") as file:
        quote = file.read()
    try:
        verified = dcap_qvl.verify_with_root_ca(quote, collateral_of(quote), root, now)
        return {"quote": quote_path, "accepted": True, "status": verified.status,
                "advisory_ids": list(verified.advisory_ids)}
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - a Rust panic in dcap-qvl arrives as pyo3's PanicException
        return {"quote": quote_path, "accepted": False, "error": str(error)}


def verdict(quote_path: str, collateral_path: str, root: bytes, now: int) -> dict:
    def collateral_of(_quote: bytes):
        with open(collateral_path, encoding="utf-8") as file:
            return dcap_qvl.QuoteCollateralV3.from_json(file.read())

    return judge(quote_path, collateral_of, root, now)


def main() -> int:
    if len(sys.argv) < 4 or any(":" not in pair for pair in sys.argv[3:]):
        print(__doc__, file=sys.stderr)
        return 64
    with open(sys.argv[1], "rb") as file:
        root = file.read()
    now = int(sys.argv[2])
    print(json.dumps([verdict(*pair.split(":", 1), root, now) for pair in sys.argv[3:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
