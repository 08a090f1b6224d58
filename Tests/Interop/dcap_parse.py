"""Decodes Intel DCAP quotes with dcap-qvl (Phala-Network's DCAP verifier), for the differential parsing test.

Reads a JSON array of hex quotes on standard input; prints a JSON array with, for each, null when dcap-qvl refuses
it, or the fields it decoded (hex for bytes): header, report body and the PCK certificate chain (null when the
certification data is not of type 5).
"""
import json
import sys

import dcap_qvl

REPORT_FIELDS = [
    "cpu_svn", "attributes", "mr_enclave", "mr_signer", "report_data", "tee_tcb_svn", "mr_seam", "mr_signer_seam",
    "seam_attributes", "td_attributes", "xfam", "mr_td", "mr_config_id", "mr_owner", "mr_owner_config", "rt_mr0",
    "rt_mr1", "rt_mr2", "rt_mr3", "tee_tcb_svn2", "mr_service_td",
]


def decoded(quote_hex):
    try:
        quote = dcap_qvl.parse_quote(bytes.fromhex(quote_hex))
    except BaseException:  # noqa: BLE001 - a Rust panic in dcap-qvl arrives as pyo3's PanicException, a BaseException
        return None
    header = quote.header
    chain = quote.cert_chain_pem_bytes()  # None unless the certification data is the PCK chain (type 5)
    report = {name: bytes(getattr(quote.report, name)).hex() for name in REPORT_FIELDS
              if hasattr(quote.report, name)}
    return {
        "version": header.version, "tee_type": header.tee_type, "qe_svn": header.qe_svn,
        "pce_svn": header.pce_svn, "user_data": bytes(header.user_data).hex(), "report": report,
        "chain": None if chain is None else bytes(chain).hex(),
    }


def main():
    print(json.dumps([decoded(quote) for quote in json.load(sys.stdin)]))


if __name__ == "__main__":
    main()
