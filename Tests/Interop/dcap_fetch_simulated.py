"""Serve a simulated Intel PCS's answers over HTTP and let Phala's dcap-qvl fetch a quote's collateral from it, as a
relying party pointed at a PCCS would, then verify the quote with what it fetched.

  dcap_fetch_simulated.py ANSWERS.json ROOT.der NOW QUOTE.bin [QUOTE.bin ...]
  dcap_fetch_simulated.py http://127.0.0.1:PORT ROOT.der NOW QUOTE.bin [QUOTE.bin ...]

With a URL instead of ANSWERS.json, dcap-qvl fetches from that server (`cloister serve --collateral`), and
"requests" and "unanswered" are empty.

ANSWERS.json maps requests to answers: {"PATH?QUERY": {"status": N, "headers": [[name, value], ...], "body": hex}},
each QUERY its parameters sorted by name (what SimulatedPCS.respond answered for that path and query). A request is
looked up by its path and its parameters sorted the same way; one not in ANSWERS is 404. For each quote,
dcap_qvl.get_collateral("http://127.0.0.1:PORT", quote) fetches the collateral, then
dcap_qvl.verify_with_root_ca(quote, collateral, ROOT.der, NOW) verifies it. Prints one JSON object:
{"verdicts": [{"quote": path, "accepted": true, "status", "advisory_ids"} or {"quote", "accepted": false, "error"}],
"requests": [every path and query asked for, in order], "unanswered": [those not in ANSWERS]}. Standard library,
dcap_qvl and dcap_verify_simulated.judge only.
"""
import asyncio
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dcap_qvl
from dcap_verify_simulated import judge

LOCK = threading.Lock()
REQUESTS = []
UNANSWERED = []


def canonical(target: str) -> str:
    """PATH?QUERY with the query's parameters sorted by name."""
    parsed = urllib.parse.urlsplit(target)
    query = sorted(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
    return parsed.path + ("?" + "&".join(f"{name}={value}" for name, value in query) if query else "")


def handler(answers: dict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            key = canonical(self.path)
            with LOCK:
                REQUESTS.append(self.path)
                if key not in answers:
                    UNANSWERED.append(self.path)
            answer = answers.get(key, {"status": 404, "headers": [], "body": ""})
            body = bytes.fromhex(answer["body"])
            self.send_response(answer["status"])
            for name, value in answer["headers"]:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *arguments):
            pass

    return Handler


def verdict(url: str, quote_path: str, root: bytes, now: int) -> dict:
    def collateral_of(quote: bytes):
        async def fetch():
            # dcap-qvl's future needs the running loop of the call that makes it.
            return await dcap_qvl.get_collateral(url, quote)

        return asyncio.run(fetch())

    return judge(quote_path, collateral_of, root, now)


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 64
    with open(sys.argv[2], "rb") as file:
        root = file.read()
    now = int(sys.argv[3])
    if sys.argv[1].startswith("http://127.0.0.1:"):
        verdicts = [verdict(sys.argv[1], path, root, now) for path in sys.argv[4:]]
    else:
        with open(sys.argv[1], encoding="utf-8") as file:
            answers = json.load(file)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler(answers))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        verdicts = [verdict(url, path, root, now) for path in sys.argv[4:]]
        server.shutdown()
    print(json.dumps({"verdicts": verdicts, "requests": REQUESTS, "unanswered": UNANSWERED}))
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    # dcap-qvl's async runtime can crash the interpreter's teardown once its HTTP client has run (SIGSEGV after the
    # answer is printed); the verdicts are out, so leave without it.
    os._exit(status)
