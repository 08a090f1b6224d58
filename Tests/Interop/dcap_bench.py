"""Measures dcap-qvl (Phala-Network's DCAP verifier) on the vectors scripts/bench-dcap appraises with Cloister:
quotes verified per second on one thread, each a full dcap_qvl.verify(quote, collateral, now) (dcap-qvl keeps
nothing between calls: it parses the quote, verifies the PCK chain against Intel's root with both CRLs, and the
collateral's signatures, every time), at 2025-07-01 when the vectors' collateral is current.

  dcap_bench.py VECTOR_DIR [SECONDS]

VECTOR_DIR holds sgx_quote and tdx_quote, each with NAME_collateral.json. Checks each verdict first (SGX:
ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615; TDX: UpToDate) and exits non-zero if it
differs. Prints `dcap-qvl-sgx-verify VALUE op/s` and `dcap-qvl-tdx-verify VALUE op/s`, the probes' format.
"""
import sys
import time
from pathlib import Path

import dcap_qvl

NOW = 1751328000  # 2025-07-01T00:00:00Z
EXPECTED = {
    "sgx": ("ConfigurationAndSWHardeningNeeded", ["INTEL-SA-00289", "INTEL-SA-00615"]),
    "tdx": ("UpToDate", []),
}


def rate(seconds: float, operation) -> float:
    """Operations per second, run in growing batches (1, 2, 4, ... up to 1024) until seconds have passed: the loop
    of the Swift probes (ProbeSupport's rate)."""
    start = time.perf_counter()
    count, batch = 0, 1
    while time.perf_counter() - start < seconds:
        for _ in range(batch):
            operation()
        count += batch
        batch = min(batch * 2, 1024)
    return count / (time.perf_counter() - start)


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: " + __doc__.splitlines()[5].strip(), file=sys.stderr)
        return 2
    vector_dir = Path(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) == 3 else 2.0
    for base, (status, advisories) in EXPECTED.items():
        quote = (vector_dir / f"{base}_quote").read_bytes()
        collateral = dcap_qvl.QuoteCollateralV3.from_json((vector_dir / f"{base}_quote_collateral.json").read_text())
        verified = dcap_qvl.verify(quote, collateral, NOW)
        if (verified.status, list(verified.advisory_ids)) != (status, advisories):
            print(f"dcap-qvl verifies the {base} vector as {verified.status} {list(verified.advisory_ids)}, "
                  f"not {status} {advisories}", file=sys.stderr)
            return 1
        print(f"dcap-qvl-{base}-verify {rate(seconds, lambda: dcap_qvl.verify(quote, collateral, NOW))} op/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
