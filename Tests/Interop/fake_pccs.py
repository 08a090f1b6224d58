#!/usr/bin/env python3
"""A PCCS and an AMD KDS on 127.0.0.1 for the VendorCollateral tests, run as its own process so that it answers
however busy the tests are.

    fake_pccs.py SGX_COLLATERAL.json TDX_COLLATERAL.json [VCEK_PATH VCEK.der AMD_CHAIN.pem]

Serves the DCAP vectors' collateral (dcap-qvl's QuoteCollateralV3 JSON) split back into Intel PCS v4 answers: the PCK
CRL (DER) of the SGX vector's Processor CA and the TDX vector's Platform CA, each TEE's TCB info and QE identity
wrapped with their signatures, the root CA CRL in hex as a PCCS serves it, and every issuer chain URL-encoded in its
header. With the last three arguments it is also AMD's KDS for one chip: the VCEK (DER) at VCEK_PATH (path and
query), and at /vcek/v1/Milan/cert_chain the ASK and ARK, the first two certificates of AMD_CHAIN.pem; it has no CRL
(AMD's signature is not faked), so /vcek/v1/Milan/crl is 404. Any other path is 404. Prints its port, then takes one JSON command a line on standard input and answers
each with one JSON line:

    {"op": "requests"}                          -> the paths (with queries) asked for so far
    {"op": "fault", "path": P, "fault": F}      -> answer paths containing P as F says (null: rightly again)

F is {"status": N} (with "retry_after": SECONDS, a Retry-After header), {"without_issuer_chain": true}, {"oversized": BYTES, "streamed": BOOL} (with a Content-Length,
or chunked), {"body": TEXT} (with the right headers) or {"stall": SECONDS} (the head and one byte, then a pause).
Exits when standard input closes. Standard library only.
"""
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answers(sgx_path, tdx_path):
    table = {}
    for path, tee, ca, fmspc in [(sgx_path, "sgx", "processor", "00A067110000"),
                                 (tdx_path, "tdx", "platform", "B0C06F000000")]:
        with open(path, encoding="utf-8") as file:
            collateral = json.load(file)

        def chain(field):
            return urllib.parse.quote(collateral[field], safe="")

        table[f"/sgx/certification/v4/pckcrl?ca={ca}&encoding=der"] = (
            {"SGX-PCK-CRL-Issuer-Chain": chain("pck_crl_issuer_chain")}, bytes.fromhex(collateral["pck_crl"]))
        # Intel's PCS v4 names the TCB info chain without "SGX-"; older PCCSs with it: serve both.
        table[f"/{tee}/certification/v4/tcb?fmspc={fmspc}&update=standard"] = (
            {"SGX-TCB-Info-Issuer-Chain" if tee == "sgx" else "TCB-Info-Issuer-Chain": chain("tcb_info_issuer_chain")},
            ('{"tcbInfo": ' + collateral["tcb_info"] + ',\n "signature": "' + collateral["tcb_info_signature"]
             + '"}').encode())
        table[f"/{tee}/certification/v4/qe/identity?update=standard"] = (
            {"SGX-Enclave-Identity-Issuer-Chain": chain("qe_identity_issuer_chain")},
            ('{"enclaveIdentity":' + collateral["qe_identity"] + ',"signature":"'
             + collateral["qe_identity_signature"] + '"}').encode())
        table["/sgx/certification/v4/rootcacrl"] = ({}, collateral["root_ca_crl"].encode())
    return table


def kds_answers(vcek_path, vcek_file, chain_file):
    with open(vcek_file, "rb") as file:
        vcek = file.read()
    with open(chain_file, encoding="ascii") as file:
        end = "-----END CERTIFICATE-----\n"
        ask_ark = end.join(file.read().split(end)[:2]) + end
    return {vcek_path: ({}, vcek), "/vcek/v1/Milan/cert_chain": ({}, ask_ark.encode())}


ANSWERS = answers(sys.argv[1], sys.argv[2])
if len(sys.argv) == 6:
    ANSWERS.update(kds_answers(*sys.argv[3:6]))
LOCK = threading.Lock()
REQUESTED = []
FAULTS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with LOCK:
            REQUESTED.append(self.path)
            fault = next((f for p, f in FAULTS.items() if p in self.path), None)
        answer = ANSWERS.get(self.path)
        if answer is None and fault and "body" in fault:
            answer = ({}, b"")  # a body in place of one this server does not have (the KDS's CRL)
        if answer is None or (fault and "status" in fault):
            retry_after = {"Retry-After": str(fault["retry_after"])} if fault and "retry_after" in fault else {}
            self.head(fault["status"] if fault and "status" in fault else 404, retry_after, 0)
            return
        headers, body = answer
        try:
            if fault is None:
                self.head(200, headers, len(body))
                self.wfile.write(body)
            elif fault.get("without_issuer_chain"):
                self.head(200, {}, len(body))
                self.wfile.write(body)
            elif "body" in fault:
                text = fault["body"].encode()
                self.head(200, headers, len(text))
                self.wfile.write(text)
            elif "oversized" in fault and fault.get("streamed"):
                self.head(200, dict(headers, **{"Transfer-Encoding": "chunked"}), None)
                for _ in range(fault["oversized"] // 4096):
                    self.wfile.write(b"1000\r\n" + b" " * 4096 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif "oversized" in fault:
                self.head(200, headers, fault["oversized"])
                self.wfile.write(b" " * fault["oversized"])
            elif "stall" in fault:
                self.head(200, headers, len(body))
                self.wfile.write(body[:1])
                self.wfile.flush()
                time.sleep(fault["stall"])
                self.wfile.write(body[1:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should past its limits

    def head(self, status, headers, length):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, *arguments):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        with LOCK:
            if command["op"] == "requests":
                reply = list(REQUESTED)
            else:
                if command["fault"] is None:
                    FAULTS.pop(command["path"], None)
                else:
                    FAULTS[command["path"]] = command["fault"]
                reply = True
        print(json.dumps(reply), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
