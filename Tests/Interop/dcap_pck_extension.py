"""Reads the SGX extensions of PCK certificates with dcap-qvl, for the differential test of Cloister's reader.

Reads a JSON array of PEM certificates (text) on standard input; prints a JSON array with, for each, null when
dcap-qvl refuses its SGX extensions, or what it read (hex for bytes).
"""
import json
import sys

import dcap_qvl


def read(pem):
    try:
        extension = dcap_qvl.parse_pck_extension_from_pem(pem.encode())
    except BaseException:  # noqa: BLE001 - a Rust panic in dcap-qvl arrives as pyo3's PanicException, a BaseException
        return None
    instance = extension.platform_instance_id
    return {
        "ppid": bytes(extension.ppid).hex(), "cpu_svn": bytes(extension.cpu_svn).hex(),
        "fmspc": bytes(extension.fmspc).hex(), "pce_id": bytes(extension.pce_id).hex(),
        "pce_svn": extension.pce_svn, "sgx_type": extension.sgx_type,
        "platform_instance_id": None if instance is None else bytes(instance).hex(),
    }


def main():
    print(json.dumps([read(pem) for pem in json.load(sys.stdin)]))


if __name__ == "__main__":
    main()
