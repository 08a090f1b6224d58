"""CBOR interop with cbor2, an independent implementation (RFC 8949).

Reads hex-encoded CBOR items, one per line, from stdin. For each prints one line:
  <repr of cbor2.loads(item)> TAB <hex of cbor2.dumps(value, canonical=True)>
"""
import sys

import cbor2

for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    value = cbor2.loads(data)
    print(f"{value!r}\t{cbor2.dumps(value, canonical=True).hex()}")
