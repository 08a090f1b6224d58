"""Builds the cases of the differential test of Intel DCAP quote verification: Cloister's verifier against dcap-qvl.

  dcap_differential.py VECTOR_DIR SEED COUNT
  dcap_differential.py --rebuild-at SECONDS VECTOR_DIR OUT_DIR

VECTOR_DIR holds the real vectors sgx_quote (SGX, quote version 3) and tdx_quote (TDX, version 4), each with its
collateral NAME_collateral.json (dcap-qvl's QuoteCollateralV3 JSON). Both verify with dcap-qvl at NOW (2025-07-01)
under Intel's SGX Root CA. Real quotes are signed under Intel's keys, so a real quote can only be broken, not changed
in meaning; so for each vector this tool first rebuilds the quote and its collateral under a fresh test PKI (a
self-signed "Cloister Test SGX Root CA", never Intel's, a PCK CA, a PCK certificate carrying the real one's SGX
extension, a TCB signing certificate, both CRLs; names, extensions and validity periods mirror the real ones), with
a fresh attestation key and every signature redone. It checks that dcap-qvl gives the rebuilt vector the same status
and advisories as the real one (and exits non-zero if not), then derives COUNT cases per vector: the rebuilt vector
itself, the designed cases of the kinds below (about 360 for SGX, 400 for TDX; with a smaller COUNT, a sample chosen
by SEED) and byte flips and cuts for the rest, at least a fifth of COUNT.

  byte-flip            a bit flipped in each region of the final quote (header, body, each signature-data field,
                       the PCK chain), cuts and additions;
  quote-semantic       a quote field changed (header, report body, QE report, QE authentication data, the PCK
                       certificate's SGX extension, the embedded chain), then everything signed again;
  collateral-resigned  a TCB info or QE identity field changed and signed again by the TCB signing key;
  collateral-damaged   collateral changed without signing it again, signatures damaged, fields removed, CRLs
                       garbled, issuer chains cut or reordered;
  pki                  certificates revoked, expired or not yet valid, CRLs stale or signed by the wrong key,
                       the chain ending at another root, other pinned roots;
  time                 the verification time moved (a day or a year either way, either side of each nextUpdate and
                       notBefore).

Each case goes through dcap_qvl.verify_with_root_ca(quote, collateral, root, now); its answer is recorded, a refusal
(including a Rust panic, which reaches Python as pyo3's PanicException) as accepted: false with the error message.
Prints one JSON array, each case an object {"base": "sgx" | "tdx", "kind", "name", "quote": hex, "collateral": the
collateral JSON object (the nine QuoteCollateralV3 fields, strings; a case that removes a field says so and omits
it), "root": hex DER of the pinned root, "now": seconds, "dcap": {"accepted": true, "status", "advisory_ids"} or
{"accepted": false, "error", "panic": true when dcap-qvl panicked}}. Names are unique per base. The cases and their
names (byte offsets included: every run's certificates have the same size) depend only on SEED; keys and ECDSA
signatures are fresh each run. A summary line goes to standard error.

Cloister's Swift test runs this tool in the interop venv, verifies every case with Cloister's DCAP verifier (the
same quote, collateral, pinned root and time) and compares acceptance, status and advisory IDs with dcap-qvl's;
where the two differ by design (a check Intel's QVL makes and dcap-qvl does not), the test names the case.

With --rebuild-at, writes only the two rebuilt vectors, every date they carry (certificate validity, CRL updates,
the TCB info's and QE identity's issueDate and nextUpdate) moved by SECONDS - NOW so that they verify at SECONDS as
the real ones do at NOW (checked with dcap-qvl): OUT_DIR/sgx and OUT_DIR/tdx, each with quote.bin, collateral.json
(Cloister's --dcap-collateral) and root.pem (the test root, for --intel-root). For measuring a service that
appraises at the current time, which the real vectors' collateral no longer covers.
"""
import copy
import dataclasses
import datetime
import hashlib
import json
import random
import struct
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional

import dcap_qvl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = 1751328000  # 2025-07-01T00:00:00Z, when the vectors' collateral is current
DAY = 86_400
YEAR = 365 * DAY
INTEL_ROOT_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MAX_DER_SIGNATURE = 72  # an ECDSA P-256 signature in DER when r and s both have their top bit set

SGX_EXTENSION = "1.2.840.113741.1.13.1"
PPID, TCB, PCEID, FMSPC, SGX_TYPE = (f"{SGX_EXTENSION}.{arc}" for arc in (1, 2, 3, 4, 5))
PCESVN, CPUSVN = f"{TCB}.17", f"{TCB}.18"
DYNAMIC_PLATFORM = f"{SGX_EXTENSION}.7.1"


def component_oid(index: int) -> str:
    """The OID of SGX TCB component index (1 to 16) in the PCK certificate's TCB entry."""
    return f"{TCB}.{index}"


# ---------------------------------------------------------------------------------------------------------------
# Bytes, signatures, times
# ---------------------------------------------------------------------------------------------------------------

def patched(data, offset: int, new):
    """data (bytes or text) with new written at offset."""
    return data[:offset] + new + data[offset + len(new):]


def xored(data: bytes, offset: int, mask: int) -> bytes:
    """data with the byte at offset XORed with mask."""
    return patched(data, offset, bytes([data[offset] ^ mask]))


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def raw_public_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The public key as Intel's quotes carry it: x || y, 64 bytes."""
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)[1:]


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """An ECDSA-SHA256 signature as Intel's quotes and collateral carry it: r || s, 64 bytes."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def high_s(signature: bytes) -> bytes:
    """The other valid form of an ECDSA signature r || s: r || n - s."""
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + (P256_ORDER - s).to_bytes(32, "big")


def der_signature(signature: bytes) -> bytes:
    """r || s as an ASN.1 Ecdsa-Sig-Value."""
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def epoch(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def seconds(moment: datetime.datetime) -> int:
    return int(moment.timestamp())


# ---------------------------------------------------------------------------------------------------------------
# DER, just enough to edit the SGX extension of PCK certificates
# ---------------------------------------------------------------------------------------------------------------
# An element is [tag, value]: value is the content bytes of a primitive element, the list of child elements of a
# constructed one. Content is kept as it was, so an edit can also write a non-minimal encoding on purpose.

def der_decode(data: bytes) -> list:
    elements, position = [], 0
    while position < len(data):
        tag, length = data[position], data[position + 1]
        position += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[position:position + count], "big")
            position += count
        content = data[position:position + length]
        position += length
        elements.append([tag, der_decode(content) if tag & 0x20 else content])
    return elements


def der_encode(elements: list) -> bytes:
    out = b""
    for tag, value in elements:
        content = der_encode(value) if isinstance(value, list) else value
        length = len(content)
        encoded_length = bytes([length]) if length < 0x80 else \
            bytes([0x80 | (length.bit_length() + 7) // 8]) + length.to_bytes((length.bit_length() + 7) // 8, "big")
        out += bytes([tag]) + encoded_length + content
    return out


def der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return out


def der_integer(value: int) -> list:
    return [0x02, value.to_bytes(value.bit_length() // 8 + 1, "big")]


def der_octets(value: bytes) -> list:
    return [0x04, value]


def sgx_entry(elements: list, oid: str) -> Optional[list]:
    """The SEQUENCE {oid, value} entry for oid, searched through nested SEQUENCEs."""
    for element in elements:
        if element[0] != 0x30:
            continue
        children = element[1]
        if children and children[0] == [0x06, der_oid(oid)]:
            return element
        found = sgx_entry(children, oid)
        if found is not None:
            return found
    return None


def sgx_value(extension: bytes, oid: str) -> list:
    return sgx_entry(der_decode(extension), oid)[1][1]


def sgx_edited(extension: bytes, oid: str, value: Optional[list]) -> bytes:
    """The SGX extension with oid's value replaced by value, or its entry removed when value is None."""
    tree = der_decode(extension)
    entry = sgx_entry(tree, oid)
    if value is not None:
        entry[1][1] = value
    else:
        def remove(elements):
            for element in elements:
                if isinstance(element[1], list):
                    if entry in element[1]:
                        element[1].remove(entry)
                        return
                    remove(element[1])
        remove(tree)
    return der_encode(tree)


def sgx_appended(extension: bytes, oid: str, value: list) -> bytes:
    """The SGX extension with an entry {oid, value} added at its end."""
    tree = der_decode(extension)
    tree[0][1].append([0x30, [[0x06, der_oid(oid)], value]])
    return der_encode(tree)


class PlatformTCB(NamedTuple):
    """What a PCK certificate's SGX extension states about the platform."""
    components: list
    cpusvn: bytes
    pcesvn: int
    fmspc: bytes
    pceid: bytes


def platform_tcb(extension: bytes) -> PlatformTCB:
    return PlatformTCB(
        components=[int.from_bytes(sgx_value(extension, component_oid(index))[1], "big") for index in range(1, 17)],
        cpusvn=sgx_value(extension, CPUSVN)[1], pcesvn=int.from_bytes(sgx_value(extension, PCESVN)[1], "big"),
        fmspc=sgx_value(extension, FMSPC)[1], pceid=sgx_value(extension, PCEID)[1])


# ---------------------------------------------------------------------------------------------------------------
# Quotes
# ---------------------------------------------------------------------------------------------------------------

HEADER = 48
SGX_REPORT = 384
TD_REPORT = 584
QE_REPORT_DATA = 320  # offset of report_data in an SGX report (the QE report)


class Region(NamedTuple):
    name: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class Quote:
    """An ECDSA quote, version 3 (SGX) or 4 (TDX), taken apart field by field.

    nested: the version 4 layout, where certification data of type 6 (QE report certification data) holds the QE
    report, its signature, the QE authentication data and the PCK chain (certification data type 5); version 3 has
    them directly after the attestation key. trailer: bytes after the signature data (real TDX quotes come padded).
    """
    header: bytes
    body: bytes
    signature: bytes
    attestation_key: bytes
    qe_report: bytes
    qe_report_signature: bytes
    qe_auth_data: bytes
    certification_type: int
    certification_data: bytes
    nested: bool
    trailer: bytes

    @classmethod
    def parse(cls, raw: bytes) -> "Quote":
        version, = struct.unpack_from("<H", raw, 0)
        tee_type, = struct.unpack_from("<I", raw, 4)
        body_end = HEADER + (TD_REPORT if tee_type == 0x81 else SGX_REPORT)
        length, = struct.unpack_from("<I", raw, body_end)
        signature_data = raw[body_end + 4:body_end + 4 + length]
        position = 128
        nested = version >= 4
        if nested:
            certification_type, inner_length = struct.unpack_from("<HI", signature_data, position)
            assert certification_type == 6 and position + 6 + inner_length == len(signature_data)
            position += 6
        qe_report = signature_data[position:position + SGX_REPORT]
        position += SGX_REPORT
        qe_report_signature = signature_data[position:position + 64]
        position += 64
        auth_length, = struct.unpack_from("<H", signature_data, position)
        qe_auth_data = signature_data[position + 2:position + 2 + auth_length]
        position += 2 + auth_length
        certification_type, certification_length = struct.unpack_from("<HI", signature_data, position)
        certification_data = signature_data[position + 6:position + 6 + certification_length]
        assert position + 6 + certification_length == len(signature_data)
        return cls(raw[:HEADER], raw[HEADER:body_end], signature_data[:64], signature_data[64:128], qe_report,
                   qe_report_signature, qe_auth_data, certification_type, certification_data, nested,
                   raw[body_end + 4 + length:])

    def encoded(self) -> tuple:
        """The quote's bytes, with every length recomputed, and the regions they fall into."""
        qe_fields = [
            ("QE report", self.qe_report), ("QE report signature", self.qe_report_signature),
            ("QE auth data length", struct.pack("<H", len(self.qe_auth_data))), ("QE auth data", self.qe_auth_data),
            ("PCK certification data header",
             struct.pack("<HI", self.certification_type, len(self.certification_data))),
            ("PCK chain", self.certification_data),
        ]
        signature_fields = [("quote signature", self.signature), ("attestation key", self.attestation_key)]
        if self.nested:
            inner_length = sum(len(value) for _, value in qe_fields)
            signature_fields.append(("QE certification data header", struct.pack("<HI", 6, inner_length)))
        signature_fields += qe_fields
        signature_length = sum(len(value) for _, value in signature_fields)
        fields = [("header", self.header), ("body", self.body),
                  ("signature data length", struct.pack("<I", signature_length))] + signature_fields
        if self.trailer:
            fields.append(("trailing padding", self.trailer))
        raw, regions = b"", []
        for name, value in fields:
            regions.append(Region(name, len(raw), len(raw) + len(value)))
            raw += value
        return raw, regions

    @property
    def raw(self) -> bytes:
        return self.encoded()[0]

    def with_header(self, offset: int, new: bytes) -> "Quote":
        return dataclasses.replace(self, header=patched(self.header, offset, new))

    def with_body(self, offset: int, new: bytes) -> "Quote":
        return dataclasses.replace(self, body=patched(self.body, offset, new))

    def with_qe_report(self, offset: int, new: bytes) -> "Quote":
        return dataclasses.replace(self, qe_report=patched(self.qe_report, offset, new))

    def sealed(self, attestation_key: ec.EllipticCurvePrivateKey, pck_key: ec.EllipticCurvePrivateKey, *,
               bind: bool = True) -> "Quote":
        """Signed again: attestation_key's public key in place, the QE report's report_data binding it to the QE
        authentication data (unless bind is False), the QE report signed by pck_key, the header and body by
        attestation_key."""
        quote = dataclasses.replace(self, attestation_key=raw_public_key(attestation_key))
        if bind:
            quote = quote.bound()
        quote = dataclasses.replace(quote, qe_report_signature=raw_signature(pck_key, quote.qe_report))
        return dataclasses.replace(quote, signature=raw_signature(attestation_key, quote.header + quote.body))

    def bound(self) -> "Quote":
        """With the QE report's report_data set to SHA256(attestation key || QE auth data) || 32 zero bytes."""
        digest = hashlib.sha256(self.attestation_key + self.qe_auth_data).digest()
        return self.with_qe_report(QE_REPORT_DATA, digest + bytes(32))


# ---------------------------------------------------------------------------------------------------------------
# The test PKI, mirroring Intel's certificates and CRLs
# ---------------------------------------------------------------------------------------------------------------

class Authority(NamedTuple):
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def test_name(real: x509.Name) -> x509.Name:
    """real's name with the same attributes, in the same order and string types, Intel replaced by Cloister Test."""
    attributes = []
    for attribute in real:
        value = attribute.value
        if attribute.oid == NameOID.ORGANIZATION_NAME:
            value = "Cloister Test"
        elif attribute.oid == NameOID.COMMON_NAME:
            value = value.replace("Intel", "Cloister Test")
        attributes.append(x509.NameAttribute(attribute.oid, value, attribute._type))
    return x509.Name(attributes)


def test_distribution_points(real: x509.CRLDistributionPoints) -> x509.CRLDistributionPoints:
    def test_url(url):
        return url.replace("trustedservices.intel.com", "cloister.test").replace("IntelSGX", "CloisterTestSGX")
    return x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier(test_url(name.value)) for name in point.full_name],
                               None, None, None)
        for point in real])


def mirrored_extensions(template: x509.Certificate, public_key, issuer_public_key) -> list:
    """template's extensions, in order, as (value, critical): key identifiers for the new keys, test CRL URLs, every
    other extension (key usage, basic constraints, the SGX extension) as it was."""
    extensions = []
    for extension in template.extensions:
        value = extension.value
        if isinstance(value, x509.AuthorityKeyIdentifier):
            value = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key)
        elif isinstance(value, x509.SubjectKeyIdentifier):
            value = x509.SubjectKeyIdentifier.from_public_key(public_key)
        elif isinstance(value, x509.CRLDistributionPoints):
            value = test_distribution_points(value)
        extensions.append((value, extension.critical))
    return extensions


def replaced_extension(extensions: list, kind, value, critical: Optional[bool] = None) -> list:
    """extensions with the one of type kind replaced by value (removed when value is None), or value appended."""
    out, found = [], False
    for existing, existing_critical in extensions:
        if isinstance(existing, kind):
            found = True
            if value is not None:
                out.append((value, existing_critical if critical is None else critical))
        else:
            out.append((existing, existing_critical))
    if not found and value is not None:
        out.append((value, bool(critical)))
    return out


def test_serial(serial: int) -> int:
    """A real serial number cut to the 159 bits cryptography allows (Intel's use all 160)."""
    return serial & (1 << 159) - 1


def sgx_extension(value: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXTENSION), value)


def issue(template: x509.Certificate, key: ec.EllipticCurvePrivateKey, issuer: Optional[Authority], *,
          subject: Optional[x509.Name] = None, not_before: Optional[int] = None, not_after: Optional[int] = None,
          edit_extensions: Callable[[list], list] = lambda extensions: extensions,
          algorithm: hashes.HashAlgorithm = hashes.SHA256(), signer: Optional[ec.EllipticCurvePrivateKey] = None
          ) -> Authority:
    """A test certificate for key mirroring template (Intel's): its name with Cloister Test for Intel, its serial
    number (cut to 159 bits), validity and extensions; issued by issuer, self-signed when issuer is None; signed by
    signer when given (a wrong key), else by the issuer's key."""
    subject = subject or test_name(template.subject)
    issuer_name, issuer_key = (subject, key) if issuer is None else (issuer.cert.subject, issuer.key)
    extensions = edit_extensions(mirrored_extensions(template, key.public_key(), issuer_key.public_key()))
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(test_serial(template.serial_number))
               .not_valid_before(template.not_valid_before_utc if not_before is None else utc(not_before))
               .not_valid_after(template.not_valid_after_utc if not_after is None else utc(not_after)))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    while True:  # a signature of the longest DER encoding, so that every run's chain, and quote, has the same size
        certificate = builder.sign(signer or issuer_key, algorithm)
        if len(certificate.signature) == MAX_DER_SIGNATURE:
            return Authority(certificate, key)


def issue_crl(template: x509.CertificateRevocationList, issuer: Authority, *, revoked: tuple = (),
              this_update: Optional[int] = None, next_update: Optional[int] = None,
              revocation_date: Optional[int] = None, signer: Optional[ec.EllipticCurvePrivateKey] = None) -> bytes:
    """A test CRL (DER) mirroring template (Intel's): its dates, number and revoked entries, issued by issuer, plus
    the serial numbers in revoked (key compromise)."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.cert.subject)
               .last_update(template.last_update_utc if this_update is None else utc(this_update))
               .next_update(template.next_update_utc if next_update is None else utc(next_update)))
    for extension in template.extensions:
        value = extension.value
        if isinstance(value, x509.AuthorityKeyIdentifier):
            value = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(value, extension.critical)
    entries = [(test_serial(entry.serial_number), entry.revocation_date_utc,
                [(extension.value, extension.critical) for extension in entry.extensions]) for entry in template]
    compromise = [(x509.CRLReason(x509.ReasonFlags.key_compromise), False)]
    date = template.last_update_utc if revocation_date is None else utc(revocation_date)
    entries += [(serial, date, compromise) for serial in revoked]
    for serial, date, extensions in entries:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(date)
        for value, critical in extensions:
            entry = entry.add_extension(value, critical)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(signer or issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def without_next_update(crl: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """crl without its (optional) nextUpdate, signed again by key; cryptography's builder always writes one."""
    (_, (tbs, algorithm, _)), = der_decode(crl)
    tbs[1] = [element for index, element in enumerate(tbs[1]) if not (index == 4 and element[0] in (0x17, 0x18))]
    tbs_bytes = der_encode([tbs])
    signature = key.sign(tbs_bytes, ec.ECDSA(hashes.SHA256()))
    return der_encode([[0x30, [tbs, algorithm, [0x03, b"\x00" + signature]]]])


def dates_moved(document: str, shift: int) -> str:
    """A TCB info or QE identity (JSON text, as signed) with its issueDate and nextUpdate moved by shift seconds,
    every other byte as it was."""
    fields = json.loads(document)
    for name in ("issueDate", "nextUpdate"):
        old = f'"{name}":"{fields[name]}"'
        assert document.count(old) == 1, f"{name} is not written as Intel writes it"
        document = document.replace(old, f'"{name}":"{iso(epoch(fields[name]) + shift)}"')
    return document


def pem(*certificates: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certificates)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def quote_chain(*certificates: x509.Certificate) -> bytes:
    """A PCK chain as Intel's QE writes it in certification data type 5: PEM, NUL-terminated."""
    return pem(*certificates).encode() + b"\x00"


# ---------------------------------------------------------------------------------------------------------------
# One vector rebuilt under the test PKI
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    kind: str
    name: str
    quote: bytes
    collateral: dict
    root: bytes
    now: int


def dcap_verdict(quote: bytes, collateral: dict, root: bytes, now: int) -> dict:
    try:
        verified = dcap_qvl.verify_with_root_ca(
            quote, dcap_qvl.QuoteCollateralV3.from_json(json.dumps(collateral)), root, now)
        return {"accepted": True, "status": verified.status, "advisory_ids": list(verified.advisory_ids)}
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - a Rust panic in dcap-qvl arrives as pyo3's PanicException
        verdict = {"accepted": False, "error": str(error)}
        if type(error).__name__ == "PanicException":
            verdict["panic"] = True
        return verdict


class Fixture:
    """A real vector (quote and collateral) and the same vector rebuilt under a fresh test PKI."""

    def __init__(self, base: str, vector_dir: Path, shift: int = 0):
        """shift: seconds by which every date of the rebuilt vector moves (it verifies at NOW + shift); the cases
        assume 0."""
        self.base = base
        self.now = NOW + shift
        self.tdx = base == "tdx"
        self.real_raw = (vector_dir / f"{base}_quote").read_bytes()
        self.real_collateral = json.loads((vector_dir / f"{base}_quote_collateral.json").read_text())
        real_quote = Quote.parse(self.real_raw)
        assert real_quote.raw == self.real_raw
        real_chain = x509.load_pem_x509_certificates(real_quote.certification_data.rstrip(b"\x00"))
        self.real_leaf, self.real_pck_ca, self.real_root = real_chain
        self.real_tcb_signer = x509.load_pem_x509_certificates(
            self.real_collateral["tcb_info_issuer_chain"].encode())[0]
        self.real_root_crl = x509.load_der_x509_crl(bytes.fromhex(self.real_collateral["root_ca_crl"]))
        self.real_pck_crl = x509.load_der_x509_crl(bytes.fromhex(self.real_collateral["pck_crl"]))
        self.intel_root = der(self.real_root)
        if hashlib.sha256(self.intel_root).hexdigest() != INTEL_ROOT_SHA256:
            raise SystemExit(f"{base}: the vector's chain does not end at Intel's SGX Root CA")

        self.attestation_key, self.other_key = new_key(), new_key()
        def moved(template: x509.Certificate) -> dict:
            return {"not_before": seconds(template.not_valid_before_utc) + shift,
                    "not_after": seconds(template.not_valid_after_utc) + shift}

        self.root = issue(self.real_root, new_key(), None, **moved(self.real_root))
        self.pck_ca = issue(self.real_pck_ca, new_key(), self.root, **moved(self.real_pck_ca))
        self.pck = issue(self.real_leaf, new_key(), self.pck_ca, **moved(self.real_leaf))
        self.tcb_signer = issue(self.real_tcb_signer, new_key(), self.root, **moved(self.real_tcb_signer))
        self.root_der = der(self.root.cert)
        if hashlib.sha256(self.root_der).hexdigest() == INTEL_ROOT_SHA256:
            raise SystemExit("the test root is Intel's")
        self.sgx_extension = self.real_leaf.extensions.get_extension_for_oid(
            x509.ObjectIdentifier(SGX_EXTENSION)).value.value

        self.quote = dataclasses.replace(
            real_quote, certification_data=quote_chain(self.pck.cert, self.pck_ca.cert, self.root.cert)).sealed(
            self.attestation_key, self.pck.key)
        def crl_moved(template: x509.CertificateRevocationList) -> dict:
            return {"this_update": seconds(template.last_update_utc) + shift,
                    "next_update": seconds(template.next_update_utc) + shift}

        tcb_info = dates_moved(self.real_collateral["tcb_info"], shift)
        qe_identity = dates_moved(self.real_collateral["qe_identity"], shift)
        self.collateral = {
            "pck_crl_issuer_chain": pem(self.pck_ca.cert, self.root.cert),
            "root_ca_crl": issue_crl(self.real_root_crl, self.root, **crl_moved(self.real_root_crl)).hex(),
            "pck_crl": issue_crl(self.real_pck_crl, self.pck_ca, **crl_moved(self.real_pck_crl)).hex(),
            "tcb_info_issuer_chain": pem(self.tcb_signer.cert, self.root.cert),
            "tcb_info": tcb_info,
            "tcb_info_signature": raw_signature(self.tcb_signer.key, tcb_info.encode()).hex(),
            "qe_identity_issuer_chain": pem(self.tcb_signer.cert, self.root.cert),
            "qe_identity": qe_identity,
            "qe_identity_signature": raw_signature(self.tcb_signer.key, qe_identity.encode()).hex(),
        }
        assert list(self.collateral) == list(self.real_collateral)
        self.tcb_info = json.loads(self.collateral["tcb_info"])
        self.qe_identity = json.loads(self.collateral["qe_identity"])
        self.platform = platform_tcb(self.sgx_extension)

    def check_rebuilt(self) -> None:
        """dcap-qvl's verdict on the rebuilt vector under the test root at its time, which must be the real one's
        under Intel's at NOW."""
        real = dcap_qvl.verify(self.real_raw, dcap_qvl.QuoteCollateralV3.from_json(json.dumps(self.real_collateral)),
                               NOW)
        rebuilt = dcap_verdict(self.quote.raw, self.collateral, self.root_der, self.now)
        expected = {"accepted": True, "status": real.status, "advisory_ids": list(real.advisory_ids)}
        if rebuilt != expected:
            raise SystemExit(f"{self.base}: the rebuilt vector verifies as {rebuilt}, the real one as {expected}")

    # --- building blocks for the cases

    def sealed(self, quote: Quote, **options) -> Quote:
        """quote signed again with the fixture's attestation and PCK keys."""
        return quote.sealed(options.pop("attestation_key", self.attestation_key),
                            options.pop("pck_key", self.pck.key), **options)

    def with_chain(self, *certificates: x509.Certificate) -> bytes:
        """The rebuilt quote carrying the PCK chain certificates (its signatures do not cover the chain)."""
        return dataclasses.replace(self.quote, certification_data=quote_chain(*certificates)).raw

    def leaf(self, *, extension: Optional[bytes] = None, **options) -> x509.Certificate:
        """A PCK certificate for the fixture's PCK key, its SGX extension replaced by extension when given."""
        if extension is not None:
            edit = options.pop("edit_extensions", lambda extensions: extensions)
            options["edit_extensions"] = lambda extensions: edit(
                replaced_extension(extensions, x509.UnrecognizedExtension, sgx_extension(extension)))
        return issue(self.real_leaf, self.pck.key, options.pop("issuer", self.pck_ca), **options).cert

    def signed_document(self, field: str, document) -> dict:
        """Collateral fields: document (a JSON value, or the exact text) as field, signed by the TCB signing key."""
        text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
        return {field: text, f"{field}_signature": raw_signature(self.tcb_signer.key, text.encode()).hex()}

    def case(self, kind: str, name: str, *, quote: Optional[bytes] = None, collateral: Optional[dict] = None,
             root: Optional[bytes] = None, now: int = NOW, remove: tuple = (), **fields) -> Case:
        """A case: the rebuilt vector with whatever is given in its place; fields replace collateral fields, remove
        removes some."""
        collateral = dict(self.collateral if collateral is None else collateral, **fields)
        for field in remove:
            del collateral[field]
        return Case(kind, name, self.quote.raw if quote is None else quote, collateral,
                    self.root_der if root is None else root, now)

    def matching_level(self) -> int:
        """The index of the TCB info level the rebuilt quote's platform matches: the first, in the TCB info's order
        (Intel's, highest first), whose every SVN the platform meets."""
        tee_tcb_svn = self.quote.body[:16]
        for index, level in enumerate(self.tcb_info["tcbLevels"]):
            tcb = level["tcb"]
            sgx = [component["svn"] for component in tcb["sgxtcbcomponents"]]
            tdx = [component["svn"] for component in tcb.get("tdxtcbcomponents", [])]
            if (all(have >= need for have, need in zip(self.platform.cpusvn, sgx))
                    and self.platform.pcesvn >= tcb["pcesvn"]
                    and (not self.tdx or all(have >= need for have, need in zip(tee_tcb_svn, tdx)))):
                return index
        raise SystemExit(f"{self.base}: no TCB level matches the vector")


# ---------------------------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------------------------

def flip_regions(quote: Quote) -> list:
    """The regions of the quote's bytes, the PCK chain split into its certificates (PEM) and terminator."""
    raw, regions = quote.encoded()
    out = []
    for region in regions:
        if region.name != "PCK chain":
            out.append(region)
            continue
        starts = [region.start + index for index in range(region.end - region.start)
                  if raw.startswith(b"-----BEGIN CERTIFICATE-----", region.start + index)]
        ends = starts[1:] + [region.end - 1]  # the last certificate ends at the NUL terminator
        for name, start, end in zip(("leaf", "PCK CA", "root"), starts, ends):
            out.append(Region(f"PCK chain, {name} certificate", start, end))
        out.append(Region("PCK chain, NUL terminator", region.end - 1, region.end))
    return out


def byte_flips(f: Fixture, rng: random.Random, count: int) -> Iterator[Case]:
    """count cases: cuts at region boundaries and random points, bytes appended (a quarter at most), and bits flipped
    at random offsets of each region of the final quote, spread evenly."""
    raw, regions = f.quote.raw, flip_regions(f.quote)
    cuts = sorted({0, 1, HEADER - 1, len(raw) - 1} | {region.start for region in regions}
                  | {region.start + 1 for region in regions} | {rng.randrange(1, len(raw)) for _ in range(4)})
    changes = [(f"quote cut to {cut} of {len(raw)} bytes (in {region.name})", raw[:cut])
               for cut in cuts if cut < len(raw)
               for region in regions if region.start <= cut < region.end]
    changes += [("a zero byte appended to the quote", raw + b"\x00"),
                ("16 bytes 0xff appended to the quote", raw + b"\xff" * 16)]
    changes = [changes[index] for index in sorted(rng.sample(range(len(changes)), min(len(changes), count // 4)))]
    shares, left = [0] * len(regions), count - len(changes)
    order = rng.sample(range(len(regions)), len(regions))
    while left and any(shares[index] < regions[index].end - regions[index].start for index in order):
        for index in order:  # round robin, so that every region gets its share, small ones all their bytes
            if left and shares[index] < regions[index].end - regions[index].start:
                shares[index] += 1
                left -= 1
    for region, share in zip(regions, shares):
        for offset in sorted(rng.sample(range(region.start, region.end), share)):
            bit = rng.randrange(8)
            yield f.case("byte-flip", f"quote byte {offset} bit {bit} flipped ({region.name})",
                         quote=xored(raw, offset, 1 << bit))
    for name, changed in changes:
        yield f.case("byte-flip", name, quote=changed)


def le16(value: int) -> bytes:
    return struct.pack("<H", value)


def field_edit(part: str, offset: int, value: Optional[bytes] = None, *, set_bits: int = 0, clear_bits: int = 0,
               flip_bits: int = 0) -> Callable[[Quote], Quote]:
    """An edit of a quote's part ("header", "body" or "qe_report") at offset: value written there, or that byte's
    bits set, cleared or flipped."""
    def edit(quote: Quote) -> Quote:
        data = getattr(quote, part)
        new = value if value is not None else bytes([((data[offset] | set_bits) & ~clear_bits) ^ flip_bits])
        return dataclasses.replace(quote, **{part: patched(data, offset, new)})
    return edit


def quote_semantics(f: Fixture) -> Iterator[Case]:
    """Quote fields changed, then the quote signed again consistently (QE report data, QE report, quote)."""
    q = f.quote
    version, other_tee = (3, 0) if f.tdx else (4, 0x81)
    qe_svn, pce_svn = struct.unpack_from("<HH", q.header, 8)
    qe_isvprodid, qe_isvsvn = struct.unpack_from("<HH", q.qe_report, 256)
    edits = [
        (f"header version {version} (layout unchanged)", field_edit("header", 0, le16(version))),
        ("header version 5 (layout unchanged)", field_edit("header", 0, le16(5))),
        (f"quote re-encoded in the version {version} layout",
         lambda q: dataclasses.replace(field_edit("header", 0, le16(version))(q), nested=not q.nested)),
        ("header attestation key type 0", field_edit("header", 2, le16(0))),
        ("header attestation key type 3 (ECDSA-384)", field_edit("header", 2, le16(3))),
        (f"header tee type {other_tee:#x}", field_edit("header", 4, struct.pack("<I", other_tee))),
        ("header tee type 0x1", field_edit("header", 4, struct.pack("<I", 1))),
        ("header qe_svn + 1", field_edit("header", 8, le16(qe_svn + 1))),
        ("header pce_svn + 1", field_edit("header", 10, le16(pce_svn + 1))),
        ("header qe vendor id byte 0 changed", field_edit("header", 12, flip_bits=0x01)),
        ("header qe vendor id zeroed", field_edit("header", 12, bytes(16))),
        ("header user data changed", field_edit("header", 28, b"\xa5" * 20)),
    ]
    if not f.tdx:
        edits += [
            ("body attributes debug bit set", field_edit("body", 48, set_bits=0x02)),
            ("body attributes mode64 bit cleared", field_edit("body", 48, clear_bits=0x04)),
            ("body attributes xfrm changed", field_edit("body", 56, flip_bits=0x01)),
            ("body miscselect changed", field_edit("body", 16, b"\x01\x00\x00\x00")),
            ("body cpusvn zeroed", field_edit("body", 0, bytes(16))),
            ("body mrenclave changed", field_edit("body", 64, b"\x11" * 32)),
            ("body mrsigner changed", field_edit("body", 128, b"\x22" * 32)),
            ("body isvprodid changed", field_edit("body", 256, le16(7))),
            ("body isvsvn changed", field_edit("body", 258, le16(9))),
            ("body reserved bytes non-zero", field_edit("body", 20, b"\x01")),
            ("body report data changed", field_edit("body", 320, b"\x33" * 64)),
        ]
    else:
        svn = q.body[:16]
        level = [component["svn"]
                 for component in f.tcb_info["tcbLevels"][f.matching_level()]["tcb"]["tdxtcbcomponents"]]
        edits += [
            ("body td_attributes debug bit set", field_edit("body", 120, set_bits=0x01)),
            ("body td_attributes reserved TUD bit set", field_edit("body", 120, set_bits=0x02)),
            ("body td_attributes reserved SEC bit set", field_edit("body", 121, set_bits=0x01)),
            ("body td_attributes SEPT_VE_DISABLE cleared", field_edit("body", 123, clear_bits=0x10)),
            ("body td_attributes PKS bit set", field_edit("body", 124, set_bits=0x40)),
            ("body td_attributes reserved OTHER bit set", field_edit("body", 126, set_bits=0x01)),
            ("body seam_attributes bit set", field_edit("body", 112, b"\x01")),
            ("body mr_signer_seam changed", field_edit("body", 64, b"\x44" * 48)),
            ("body mr_seam changed", field_edit("body", 16, b"\x55" * 48)),
            ("body xfam changed", field_edit("body", 128, flip_bits=0x01)),
            ("body mr_td changed", field_edit("body", 136, b"\x66" * 48)),
            ("body mr_config_id changed", field_edit("body", 184, b"\x77" * 48)),
            ("body rtmr3 changed", field_edit("body", 472, b"\x88" * 48)),
            ("body report data changed", field_edit("body", 520, b"\x33" * 64)),
        ]
        edits += [(f"body tee_tcb_svn {why}", field_edit("body", index, bytes([value]))) for index, value, why in [
            (0, svn[0] - 1, "module isvsvn - 1"), (0, svn[0] + 1, "module isvsvn + 1"), (0, 3, "module isvsvn 3"),
            (0, 0, "module isvsvn 0"), (0, level[0] - 1, "byte 0 below the matching TCB level"),
            (1, 0, "module version 0"), (1, 2, "module version 2 (no TDX_02 identity)"), (1, 3, "module version 3"),
            (2, level[2], "byte 2 at the matching TCB level"), (2, level[2] - 1, "byte 2 below the matching TCB level"),
            (2, svn[2] + 1, "byte 2 + 1"), (3, 1, "byte 3 raised"), (15, 1, "byte 15 raised"),
        ]]
    qe_isvsvns = {0, 1, qe_isvsvn - 1, qe_isvsvn - 2, qe_isvsvn - 4, qe_isvsvn + 1, 0xFFFF} - {qe_isvsvn}
    edits += [(f"QE report isvsvn {new}", field_edit("qe_report", 258, le16(new))) for new in sorted(qe_isvsvns)]
    edits += [
        ("QE report isvprodid changed", field_edit("qe_report", 256, le16(qe_isvprodid + 1))),
        ("QE report mrsigner changed", field_edit("qe_report", 128, flip_bits=0x01)),
        ("QE report mrenclave changed", field_edit("qe_report", 64, flip_bits=0x01)),
        ("QE report cpusvn changed", field_edit("qe_report", 0, flip_bits=0x01)),
        ("QE report miscselect bit set", field_edit("qe_report", 16, set_bits=0x01)),
        ("QE report attributes debug bit set", field_edit("qe_report", 48, set_bits=0x02)),
        ("QE report attributes init bit cleared", field_edit("qe_report", 48, clear_bits=0x01)),
        ("QE report attributes bit 2 (masked out) flipped", field_edit("qe_report", 48, flip_bits=0x04)),
        ("QE report attributes xfrm (masked out) changed", field_edit("qe_report", 56, flip_bits=0x01)),
    ]
    edits += [(f"QE auth data {length} bytes", lambda q, length=length: dataclasses.replace(
        q, qe_auth_data=bytes(range(length)))) for length in (0, 1, 31, 33, 64)]
    edits.append(("QE auth data 32 other bytes", lambda q: dataclasses.replace(q, qe_auth_data=b"\x5a" * 32)))
    for name, edit in edits:
        yield f.case("quote-semantic", name, quote=f.sealed(edit(q)).raw)

    # The QE report's binding of the attestation key, and the signatures
    def signed_as_is(quote: Quote) -> bytes:
        """quote with its QE report signed again by the PCK key and nothing else changed."""
        return dataclasses.replace(quote, qe_report_signature=raw_signature(f.pck.key, quote.qe_report)).raw

    other_binding = dataclasses.replace(q, attestation_key=raw_public_key(f.other_key)).bound()
    off_curve = dataclasses.replace(q, attestation_key=xored(q.attestation_key, 63, 0x01)).bound()
    signature_cases = [
        ("QE report report_data upper half non-zero",
         signed_as_is(q.with_qe_report(QE_REPORT_DATA + 63, b"\x01"))),
        ("QE report report_data hash of another attestation key",
         signed_as_is(dataclasses.replace(other_binding, attestation_key=q.attestation_key))),
        ("attestation key replaced, QE report data not recomputed",
         f.sealed(q, attestation_key=f.other_key, bind=False).raw),
        ("attestation key off the curve (QE report bound to it)", signed_as_is(off_curve)),
        ("quote signed by another key than the attestation key",
         dataclasses.replace(q, signature=raw_signature(f.other_key, q.header + q.body)).raw),
        ("QE report signed by another key than the PCK key", f.sealed(q, pck_key=f.other_key).raw),
        ("quote signature in its high-S form", dataclasses.replace(q, signature=high_s(q.signature)).raw),
        ("QE report signature in its high-S form",
         dataclasses.replace(q, qe_report_signature=high_s(q.qe_report_signature)).raw),
        ("quote signature r and s zero", dataclasses.replace(q, signature=bytes(64)).raw),
        ("quote signature s = n",
         dataclasses.replace(q, signature=q.signature[:32] + P256_ORDER.to_bytes(32, "big")).raw),
    ]
    for name, raw in signature_cases:
        yield f.case("quote-semantic", name, quote=raw)

    # The certification data (outside the signatures)
    leaf, pck_ca, root = chain = [f.pck.cert, f.pck_ca.cert, f.root.cert]
    text = pem(*chain).encode()
    certification_cases = [
        ("certification data type 5 labelled 4", dataclasses.replace(q, certification_type=4).raw),
        ("certification data type 5 labelled 6", dataclasses.replace(q, certification_type=6).raw),
    ] + [(f"PCK chain {label}", dataclasses.replace(q, certification_data=data).raw) for label, data in [
        ("without its NUL terminator", text),
        ("with CRLF line ends", text.replace(b"\n", b"\r\n") + b"\x00"),
        ("with text before the first certificate", b"PCK chain\n" + text + b"\x00"),
        ("with trailing garbage after the NUL", text + b"\x00garbage"),
        ("as DER, not PEM", b"".join(der(cert) for cert in chain)),
        ("empty", b""),
    ]] + [(f"PCK chain {label}", f.with_chain(*certificates)) for label, certificates in [
        ("leaf, root, PCK CA", (leaf, root, pck_ca)),
        ("PCK CA, leaf, root", (pck_ca, leaf, root)),
        ("root, PCK CA, leaf", (root, pck_ca, leaf)),
        ("without the root", (leaf, pck_ca)),
        ("without the PCK CA", (leaf, root)),
        ("of the leaf alone", (leaf,)),
        ("with the leaf twice", (leaf, leaf, pck_ca, root)),
        ("with the TCB signing certificate appended", (leaf, pck_ca, root, f.tcb_signer.cert)),
    ]]
    for name, raw in certification_cases:
        yield f.case("quote-semantic", name, quote=raw)

    # The PCK certificate's SGX extension: the PCK certificate issued again with it changed
    extension, platform = f.sgx_extension, f.platform
    first = next(index for index, svn in enumerate(platform.cpusvn) if svn > 0)
    lowered_cpusvn = sgx_edited(
        extension, CPUSVN, der_octets(patched(platform.cpusvn, first, bytes([platform.cpusvn[first] - 1]))))
    lowered_component = der_integer(platform.components[first] - 1)
    all_raised = sgx_edited(extension, CPUSVN, der_octets(b"\xff" * 16))
    for index in range(1, 17):
        all_raised = sgx_edited(all_raised, component_oid(index), der_integer(255))
    extension_cases = [
        ("unchanged (PCK certificate issued again)", extension),
        ("fmspc changed", sgx_edited(extension, FMSPC, der_octets(xored(platform.fmspc, 5, 0x01)))),
        ("fmspc 5 bytes", sgx_edited(extension, FMSPC, der_octets(platform.fmspc[:5]))),
        ("pceid changed", sgx_edited(extension, PCEID, der_octets(b"\x00\x01"))),
        ("pceid 3 bytes", sgx_edited(extension, PCEID, der_octets(b"\x00\x00\x00"))),
    ] + [(f"pcesvn {pcesvn}", sgx_edited(extension, PCESVN, der_integer(pcesvn)))
         for pcesvn in sorted({0, 4, platform.pcesvn - 1, platform.pcesvn - 2, platform.pcesvn + 1, 0xFFFF})] + [
        ("pcesvn with a leading zero byte",
         sgx_edited(extension, PCESVN, [0x02, b"\x00" + der_integer(platform.pcesvn)[1]])),
        ("pcesvn negative", sgx_edited(extension, PCESVN, [0x02, b"\xff"])),
        ("pcesvn as an OCTET STRING", sgx_edited(extension, PCESVN, der_octets(der_integer(platform.pcesvn)[1]))),
        (f"cpusvn byte {first} - 1 (components unchanged)", lowered_cpusvn),
        (f"component {first + 1} - 1 (cpusvn unchanged)",
         sgx_edited(extension, component_oid(first + 1), lowered_component)),
        (f"cpusvn byte {first} and component {first + 1} - 1",
         sgx_edited(lowered_cpusvn, component_oid(first + 1), lowered_component)),
        ("cpusvn and every component 255", all_raised),
        ("cpusvn all zero (components unchanged)", sgx_edited(extension, CPUSVN, der_octets(bytes(16)))),
        ("cpusvn 15 bytes", sgx_edited(extension, CPUSVN, der_octets(platform.cpusvn[:15]))),
        ("component 16 removed", sgx_edited(extension, component_oid(16), None)),
        ("cpusvn removed", sgx_edited(extension, CPUSVN, None)),
        ("fmspc removed", sgx_edited(extension, FMSPC, None)),
        ("pceid removed", sgx_edited(extension, PCEID, None)),
        ("ppid changed", sgx_edited(extension, PPID, der_octets(b"\x01" * 16))),
        ("sgx type 1", sgx_edited(extension, SGX_TYPE, [0x0A, b"\x01"])),
        ("sgx type 7", sgx_edited(extension, SGX_TYPE, [0x0A, b"\x07"])),
        ("with an unknown entry appended", sgx_appended(extension, f"{SGX_EXTENSION}.99", der_octets(b"\x00"))),
        ("with trailing bytes", extension + b"\x05\x00"),
    ]
    if f.tdx:
        dynamic = sgx_value(extension, DYNAMIC_PLATFORM)[1] != b"\x00"
        extension_cases.append(("dynamicPlatform flipped", sgx_edited(
            extension, DYNAMIC_PLATFORM, [0x01, b"\x00" if dynamic else b"\xff"])))
    for name, new_extension in extension_cases:
        yield f.case("quote-semantic", f"PCK extension {name}",
                     quote=f.with_chain(f.leaf(extension=new_extension), pck_ca, root))
    for name, edit in [
        ("removed", lambda extensions: replaced_extension(extensions, x509.UnrecognizedExtension, None)),
        ("marked critical", lambda extensions: replaced_extension(
            extensions, x509.UnrecognizedExtension, sgx_extension(extension), critical=True)),
    ]:
        yield f.case("quote-semantic", f"PCK extension {name}",
                     quote=f.with_chain(f.leaf(edit_extensions=edit), pck_ca, root))


class Text(str):
    """A collateral document given as its exact text."""


def setter(**values) -> Callable[[dict], None]:
    """An edit setting keys of a JSON object."""
    return lambda document: document.update(values)


def remover(key: str) -> Callable[[dict], None]:
    return lambda document: document.pop(key)


def at(path: tuple, edit: Callable) -> Callable:
    """edit applied to the JSON value at path (keys and indexes) inside a document."""
    def apply(document):
        for step in path:
            document = document[step]
        return edit(document)
    return apply


def collateral_resigned(f: Fixture) -> Iterator[Case]:
    """TCB info and QE identity fields changed, then signed again by the TCB signing key."""
    def signed(field: str, name: str, edit: Callable) -> Case:
        """A case with field's document edited in place by edit, or replaced by the Text edit returns; signed."""
        document = copy.deepcopy(getattr(f, field))
        result = edit(document)
        return f.case("collateral-resigned", f"{field} {name}",
                      **f.signed_document(field, result if isinstance(result, Text) else document))

    tcb, qe = f.tcb_info, f.qe_identity
    matching = f.matching_level()
    level = ("tcbLevels", matching)
    components = [component["svn"] for component in tcb["tcbLevels"][matching]["tcb"]["sgxtcbcomponents"]]
    raise_at = next(index for index, svn in enumerate(components) if svn > 0)
    issued, next_update = epoch(tcb["issueDate"]), epoch(tcb["nextUpdate"])
    duplicate_fmspc = f.collateral["tcb_info"].replace('"fmspc":', '"fmspc":"000000000000","fmspc":', 1)
    tcb_edits = [
        ("fmspc changed", setter(fmspc=xored(bytes.fromhex(tcb["fmspc"]), 5, 1).hex().upper())),
        ("fmspc lowercase", setter(fmspc=tcb["fmspc"].lower())),
        ("fmspc not hex", setter(fmspc="GG" + tcb["fmspc"][2:])),
        ("pceId changed", setter(pceId="0001")),
        ("id changed to the other TEE", setter(id="SGX" if f.tdx else "TDX")),
        ("id unknown", setter(id="XYZ")),
        ("version 1", setter(version=1)),
        ("version 2", setter(version=2)),
        ("version 4", setter(version=4)),
        ("tcbType 1", setter(tcbType=1)),
        ("tcbEvaluationDataNumber lowered", setter(tcbEvaluationDataNumber=1)),
        ("tcbEvaluationDataNumber raised", setter(tcbEvaluationDataNumber=1000)),
        ("issueDate a day after now", setter(issueDate=iso(NOW + DAY))),
        ("issueDate one second after now", setter(issueDate=iso(NOW + 1))),
        ("issueDate now", setter(issueDate=iso(NOW))),
        ("nextUpdate one second before now", setter(nextUpdate=iso(NOW - 1))),
        ("nextUpdate now", setter(nextUpdate=iso(NOW))),
        ("nextUpdate a year before now", setter(nextUpdate=iso(NOW - YEAR))),
        ("nextUpdate before issueDate (both around now)", setter(issueDate=iso(NOW - 1), nextUpdate=iso(NOW - 2))),
        ("issueDate with fractional seconds", setter(issueDate=iso(issued)[:-1] + ".000Z")),
        ("issueDate with a +00:00 offset", setter(issueDate=iso(issued)[:-1] + "+00:00")),
        ("nextUpdate with a +02:00 offset", setter(nextUpdate=iso(next_update + 2 * 3600)[:-1] + "+02:00")),
        ("nextUpdate without a time zone", setter(nextUpdate=iso(next_update)[:-1])),
        ("nextUpdate a date only", setter(nextUpdate=iso(next_update)[:10])),
        ("issueDate not a date", setter(issueDate="yesterday")),
        ("issueDate removed", remover("issueDate")),
        ("tcbLevels reversed", at(("tcbLevels",), list.reverse)),
        ("tcbLevels rotated by one", lambda d: d.update(tcbLevels=d["tcbLevels"][1:] + d["tcbLevels"][:1])),
        (f"tcbLevels[{matching}] (the matching level) removed", at(("tcbLevels",), lambda l: l.pop(matching))),
        (f"tcbLevels only [{matching}] (the matching level)", lambda d: d.update(tcbLevels=[d["tcbLevels"][matching]])),
        ("tcbLevels empty", setter(tcbLevels=[])),
        ("tcbLevels removed", remover("tcbLevels")),
        ("tcbLevels the matching level twice, second UpToDate", at(("tcbLevels",), lambda l: l.insert(
            matching + 1, dict(l[matching], tcbStatus="UpToDate", advisoryIDs=[])))),
    ]
    tcb_edits += [(f"tcbLevels[{matching}] tcbStatus {status}", at(level, setter(tcbStatus=status)))
                  for status in ("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
                                 "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
                                 "Revoked", "Unknown", "uptodate")
                  if status != tcb["tcbLevels"][matching]["tcbStatus"]]
    tcb_edits += [(f"tcbLevels[{matching}] {name}", at(level, edit)) for name, edit in [
        ("advisoryIDs removed", lambda l: l.pop("advisoryIDs", None)),
        ("advisoryIDs replaced", setter(advisoryIDs=["INTEL-SA-99999"])),
        ("advisoryIDs with a duplicate",
         lambda l: l.update(advisoryIDs=l.get("advisoryIDs", []) + ["INTEL-SA-00615", "INTEL-SA-00615"])),
        ("tcbDate changed", setter(tcbDate="2019-01-01T00:00:00Z")),
        (f"sgx component {raise_at} raised above the platform",
         at(("tcb", "sgxtcbcomponents", raise_at), setter(svn=f.platform.cpusvn[raise_at] + 1))),
        (f"sgx component {raise_at} lowered", at(("tcb", "sgxtcbcomponents", raise_at),
                                                setter(svn=components[raise_at] - 1))),
        ("sgx component 15 raised to 1", at(("tcb", "sgxtcbcomponents", 15), setter(svn=1))),
        ("sgx component 15 svn 256", at(("tcb", "sgxtcbcomponents", 15), setter(svn=256))),
        ("15 sgx components", at(("tcb", "sgxtcbcomponents"), list.pop)),
        ("17 sgx components", at(("tcb", "sgxtcbcomponents"), lambda c: c.append({"svn": 0}))),
        ("pcesvn raised above the platform", at(("tcb",), setter(pcesvn=f.platform.pcesvn + 1))),
        ("pcesvn lowered", at(("tcb",), lambda t: t.update(pcesvn=t["pcesvn"] - 1))),
    ]]
    tcb_edits += [
        ("every level's sgx components raised to 255", lambda d: [
            component.update(svn=255) for l in d["tcbLevels"] for component in l["tcb"]["sgxtcbcomponents"]]),
        ("an unknown field added", setter(comment="added by the differential test")),
        ("pretty-printed", lambda d: Text(json.dumps(d, indent=2))),
        ("with a duplicate fmspc key, the wrong one first", lambda d: Text(duplicate_fmspc)),
        ("not JSON", lambda d: Text("not JSON")),
        ("a JSON array", lambda d: Text("[]")),
    ]
    if not f.tdx:
        tcb_edits.append((f"tcbLevels[{matching}] with tdxtcbcomponents added",
                          at(level + ("tcb",), setter(tdxtcbcomponents=[{"svn": 255}] * 16))))
    else:
        module_svn, module_version = f.quote.body[0], f.quote.body[1]
        module = "TDX_%02X" % module_version
        identity = ("tdxModuleIdentities", [i["id"] for i in tcb["tdxModuleIdentities"]].index(module))
        tdx_components = [c["svn"] for c in tcb["tcbLevels"][matching]["tcb"]["tdxtcbcomponents"]]
        tcb_edits += [
            ("tdxModule mrsigner changed", at(("tdxModule",), setter(mrsigner="11" * 48))),
            ("tdxModule attributes changed", at(("tdxModule",), setter(attributes="0100000000000000"))),
            ("tdxModule removed", remover("tdxModule")),
            ("tdxModuleIdentities removed", remover("tdxModuleIdentities")),
            ("tdxModuleIdentities empty", setter(tdxModuleIdentities=[])),
            (f"tdxModuleIdentities {module} removed", at(("tdxModuleIdentities",), lambda i: i.pop(identity[1]))),
        ]
        tcb_edits += [(f"tdxModuleIdentities {module} {name}", at(identity, edit)) for name, edit in [
            ("id lowercase", setter(id=module.lower())),
            ("mrsigner changed", setter(mrsigner="22" * 48)),
            ("mrsigner 47 bytes", setter(mrsigner="00" * 47)),
            ("attributes changed under the mask", setter(attributes="0100000000000000")),
            ("attributes changed, mask zero", setter(attributes="0100000000000000", attributesMask="00" * 8)),
            ("first level isvsvn above the module's", at(("tcbLevels", 0, "tcb"), setter(isvsvn=module_svn + 1))),
            ("every level above the module's",
             lambda i: [l["tcb"].update(isvsvn=module_svn + 1) for l in i["tcbLevels"]]),
            ("first level OutOfDate", at(("tcbLevels", 0), setter(tcbStatus="OutOfDate",
                                                                   advisoryIDs=["INTEL-SA-01111"]))),
            ("first level Revoked", at(("tcbLevels", 0), setter(tcbStatus="Revoked"))),
            ("levels reversed", at(("tcbLevels",), list.reverse)),
            ("levels empty", setter(tcbLevels=[])),
        ]]
        tcb_edits += [(f"tcbLevels[{matching}] {name}", at(level + ("tcb",), edit)) for name, edit in [
            *[(f"tdx component {index} raised above tee_tcb_svn",
               at(("tdxtcbcomponents", index), setter(svn=f.quote.body[index] + 1))) for index in (0, 1, 2)],
            ("tdx component 2 lowered", at(("tdxtcbcomponents", 2), setter(svn=tdx_components[2] - 1))),
            ("tdxtcbcomponents removed", remover("tdxtcbcomponents")),
            ("15 tdx components", at(("tdxtcbcomponents",), list.pop)),
        ]]
    for name, edit in tcb_edits:
        yield signed("tcb_info", name, edit)

    qe_isvsvn = struct.unpack_from("<H", f.quote.qe_report, 258)[0]
    qe_edits = [
        ("mrsigner changed", setter(mrsigner="00" + qe["mrsigner"][2:])),
        ("mrsigner lowercase", setter(mrsigner=qe["mrsigner"].lower())),
        ("mrsigner 31 bytes", setter(mrsigner=qe["mrsigner"][2:])),
        ("isvprodid changed", setter(isvprodid=qe["isvprodid"] + 1)),
        ("miscselect changed", setter(miscselect="01000000")),
        ("miscselect changed, mask zero", setter(miscselect="01000000", miscselectMask="00000000")),
        ("attributes changed under the mask", setter(attributes="13" + qe["attributes"][2:])),
        ("attributes changed outside the mask", setter(attributes=patched(qe["attributes"], 16, "01"))),
        ("attributesMask zero", setter(attributesMask="00" * 16)),
        ("attributesMask all ones", setter(attributesMask="FF" * 16)),
        ("attributes 15 bytes", setter(attributes=qe["attributes"][:30])),
        ("first level isvsvn above the QE's", at(("tcbLevels", 0, "tcb"), setter(isvsvn=qe_isvsvn + 1))),
        ("every level above the QE's", lambda d: [l["tcb"].update(isvsvn=qe_isvsvn + 1) for l in d["tcbLevels"]]),
    ]
    qe_edits += [(f"first level tcbStatus {status}", at(("tcbLevels", 0), setter(tcbStatus=status)))
                 for status in ("OutOfDate", "SWHardeningNeeded", "ConfigurationNeeded", "Revoked", "Unknown")]
    qe_edits += [
        ("first level advisoryIDs added", at(("tcbLevels", 0), setter(advisoryIDs=["INTEL-SA-99998"]))),
        ("tcbLevels reversed", at(("tcbLevels",), list.reverse)),
        ("tcbLevels empty", setter(tcbLevels=[])),
        ("id changed to the other TEE's", setter(id="QE" if f.tdx else "TD_QE")),
        ("id QVE", setter(id="QVE")),
        ("version 1", setter(version=1)),
        ("version 3", setter(version=3)),
        ("tcbEvaluationDataNumber changed", setter(tcbEvaluationDataNumber=1)),
        ("issueDate a day after now", setter(issueDate=iso(NOW + DAY))),
        ("nextUpdate one second before now", setter(nextUpdate=iso(NOW - 1))),
        ("nextUpdate now", setter(nextUpdate=iso(NOW))),
        ("an unknown field added", setter(comment="added by the differential test")),
        ("enclaveIdentity wrapper", lambda d: Text(json.dumps({"enclaveIdentity": d}, separators=(",", ":")))),
    ]
    for name, edit in qe_edits:
        yield signed("qe_identity", name, edit)


def collateral_damaged(f: Fixture, rng: random.Random) -> Iterator[Case]:
    """Collateral changed without signing it again, signatures damaged, fields removed or garbled."""
    def case(name, **fields):
        return f.case("collateral-damaged", name, **fields)

    def replaced(text: str, old: str, new: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    c = f.collateral
    status = f.tcb_info["tcbLevels"][f.matching_level()]["tcbStatus"]
    yield case("tcb_info fmspc changed, not signed again",
               tcb_info=replaced(c["tcb_info"], f'"fmspc":"{f.tcb_info["fmspc"]}"', '"fmspc":"000000000000"'))
    yield case("tcb_info a tcbStatus changed, not signed again",
               tcb_info=replaced(c["tcb_info"], f'"tcbStatus":"{status}"',
                                 '"tcbStatus":"%s"' % ("OutOfDate" if status == "UpToDate" else "UpToDate")))
    yield case("tcb_info a space added, not signed again", tcb_info=c["tcb_info"].replace(",", ", ", 1))
    yield case("tcb_info a trailing newline, not signed again", tcb_info=c["tcb_info"] + "\n")
    yield case("qe_identity isvprodid changed, not signed again",
               qe_identity=replaced(c["qe_identity"], '"isvprodid":', '"isvprodid":1'))
    for field in ("tcb_info_signature", "qe_identity_signature"):
        signature = bytes.fromhex(c[field])
        document = field.removesuffix("_signature")
        yield case(f"{field} byte 0 bit flipped", **{field: xored(signature, 0, 1).hex()})
        yield case(f"{field} byte 63 bit flipped", **{field: xored(signature, 63, 0x80).hex()})
        yield case(f"{field} in its high-S form", **{field: high_s(signature).hex()})
        yield case(f"{field} 63 bytes", **{field: signature[:63].hex()})
        yield case(f"{field} 65 bytes", **{field: (signature + b"\x00").hex()})
        yield case(f"{field} empty", **{field: ""})
        yield case(f"{field} DER-encoded", **{field: der_signature(signature).hex()})
        yield case(f"{field} r and s swapped", **{field: (signature[32:] + signature[:32]).hex()})
        yield case(f"{field} not hex", **{field: "zz" * 64})
        yield case(f"{field} uppercase hex", **{field: signature.hex().upper()})
        yield case(f"{field} by the PCK key", **{field: raw_signature(f.pck.key, c[document].encode()).hex()})
    yield case("tcb_info_signature and qe_identity_signature swapped",
               tcb_info_signature=c["qe_identity_signature"], qe_identity_signature=c["tcb_info_signature"])
    for field in c:
        yield case(f"{field} removed", remove=(field,))

    root_crl, pck_crl = bytes.fromhex(c["root_ca_crl"]), bytes.fromhex(c["pck_crl"])
    garbage = rng.randbytes(200)
    for field, crl in (("root_ca_crl", root_crl), ("pck_crl", pck_crl)):
        yield case(f"{field} random bytes", **{field: garbage.hex()})
        yield case(f"{field} empty", **{field: ""})
        yield case(f"{field} not hex", **{field: "not hex"})
        yield case(f"{field} cut short", **{field: crl[:len(crl) // 2].hex()})
        yield case(f"{field} with trailing bytes", **{field: (crl + b"\x00").hex()})
        yield case(f"{field} signature bit flipped", **{field: xored(crl, len(crl) - 2, 1).hex()})
        yield case(f"{field} PEM, not hex DER", **{field: x509.load_der_x509_crl(crl).public_bytes(
            serialization.Encoding.PEM).decode()})
    yield case("root_ca_crl and pck_crl swapped", root_ca_crl=c["pck_crl"], pck_crl=c["root_ca_crl"])
    yield case("pck_crl replaced by the root CA CRL", pck_crl=c["root_ca_crl"])
    yield case("root_ca_crl replaced by the PCK CRL", root_ca_crl=c["pck_crl"])
    yield case("pck_crl Intel's real one", pck_crl=f.real_collateral["pck_crl"])
    yield case("root_ca_crl Intel's real one", root_ca_crl=f.real_collateral["root_ca_crl"])

    root, pck_ca, tcb_signer = f.root.cert, f.pck_ca.cert, f.tcb_signer.cert
    yield case("pck_crl_issuer_chain garbage", pck_crl_issuer_chain="garbage")
    yield case("pck_crl_issuer_chain empty", pck_crl_issuer_chain="")
    yield case("pck_crl_issuer_chain root, PCK CA", pck_crl_issuer_chain=pem(root, pck_ca))
    yield case("pck_crl_issuer_chain the root alone", pck_crl_issuer_chain=pem(root))
    yield case("pck_crl_issuer_chain the TCB signing chain", pck_crl_issuer_chain=pem(tcb_signer, root))
    yield case("pck_crl_issuer_chain Intel's real one",
               pck_crl_issuer_chain=f.real_collateral["pck_crl_issuer_chain"])
    for field in ("tcb_info_issuer_chain", "qe_identity_issuer_chain"):
        yield case(f"{field} root, TCB signing certificate", **{field: pem(root, tcb_signer)})
        yield case(f"{field} TCB signing certificate alone", **{field: pem(tcb_signer)})
        yield case(f"{field} the root alone", **{field: pem(root)})
        yield case(f"{field} with the PCK CA appended", **{field: pem(tcb_signer, root, pck_ca)})
        yield case(f"{field} the PCK CA chain", **{field: pem(pck_ca, root)})
        yield case(f"{field} garbage", **{field: "garbage"})
        yield case(f"{field} empty", **{field: ""})
        yield case(f"{field} Intel's real one", **{field: f.real_collateral[field]})


def pki(f: Fixture) -> Iterator[Case]:
    """Revocations, validity periods, certificate profiles, other roots: the test PKI issued again in part."""
    root, pck_ca, pck, tcb_signer = f.root, f.pck_ca, f.pck, f.tcb_signer

    def pck_crl(**options) -> dict:
        return {"pck_crl": issue_crl(f.real_pck_crl, options.pop("issuer", pck_ca), **options).hex()}

    def root_crl(**options) -> dict:
        return {"root_ca_crl": issue_crl(f.real_root_crl, root, **options).hex()}

    def tcb_chains(signer: x509.Certificate, last: x509.Certificate = root.cert) -> dict:
        return {"tcb_info_issuer_chain": pem(signer, last), "qe_identity_issuer_chain": pem(signer, last)}

    def with_pck_ca(**options) -> dict:
        return {"quote": f.with_chain(pck.cert, issue(f.real_pck_ca, pck_ca.key, root, **options).cert, root.cert)}

    def with_leaf(**options) -> dict:
        return {"quote": f.with_chain(f.leaf(**options), pck_ca.cert, root.cert)}

    def with_root(other: x509.Certificate) -> dict:
        """other pinned and carried by every chain in place of the root."""
        return {"root": der(other), "quote": f.with_chain(pck.cert, pck_ca.cert, other),
                "pck_crl_issuer_chain": pem(pck_ca.cert, other), **tcb_chains(tcb_signer.cert, other)}

    def extensions(kind, value, critical=None) -> Callable[[list], list]:
        return lambda mirrored: replaced_extension(mirrored, kind, value, critical)

    def key_usage(*, digital_signature=False, key_cert_sign=False, crl_sign=False) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature, False, False, False, False, key_cert_sign, crl_sign, False, False)

    def eku(usage) -> x509.ExtendedKeyUsage:
        return x509.ExtendedKeyUsage([usage])

    unknown_critical = (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), True)
    same_name_root = issue(f.real_root, f.other_key, None).cert
    other_name_root = issue(f.real_root, f.other_key, None, subject=x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Cloister Test Other Root CA")])).cert
    real_chain = quote_chain(f.real_leaf, f.real_pck_ca, f.real_root)
    cases = [
        # Revocation
        ("PCK CRL revokes the PCK certificate", pck_crl(revoked=(pck.cert.serial_number,))),
        ("PCK CRL revokes the PCK certificate, revocation dated after now",
         pck_crl(revoked=(pck.cert.serial_number,), revocation_date=NOW + DAY)),
        ("PCK CRL revokes another serial number", pck_crl(revoked=(pck.cert.serial_number + 1,))),
        ("root CA CRL revokes the PCK CA", root_crl(revoked=(pck_ca.cert.serial_number,))),
        ("root CA CRL revokes the TCB signing certificate", root_crl(revoked=(tcb_signer.cert.serial_number,))),
        ("root CA CRL revokes the root", root_crl(revoked=(root.cert.serial_number,))),
        ("root CA CRL revokes the PCK certificate's serial number", root_crl(revoked=(pck.cert.serial_number,))),
        ("PCK CRL signed by the root's key (PCK CA named as issuer)", pck_crl(signer=root.key)),
        ("root CA CRL signed by the PCK CA's key (root named as issuer)", root_crl(signer=pck_ca.key)),
        ("PCK CRL issued by the root", pck_crl(issuer=root)),
        ("PCK CRL nextUpdate a day before now", pck_crl(next_update=NOW - DAY)),
        ("PCK CRL nextUpdate now", pck_crl(next_update=NOW)),
        ("PCK CRL nextUpdate one second after now", pck_crl(next_update=NOW + 1)),
        ("PCK CRL thisUpdate a day after now", pck_crl(this_update=NOW + DAY)),
        ("PCK CRL thisUpdate now", pck_crl(this_update=NOW)),
        ("PCK CRL without nextUpdate",
         {"pck_crl": without_next_update(issue_crl(f.real_pck_crl, pck_ca), pck_ca.key).hex()}),
        ("root CA CRL nextUpdate a day before now", root_crl(next_update=NOW - DAY)),
        ("root CA CRL nextUpdate now", root_crl(next_update=NOW)),
        ("root CA CRL thisUpdate a day after now", root_crl(this_update=NOW + DAY)),
        # Validity periods
        ("PCK certificate expired a day before now", with_leaf(not_after=NOW - DAY)),
        ("PCK certificate notAfter now", with_leaf(not_after=NOW)),
        ("PCK certificate notBefore a day after now", with_leaf(not_before=NOW + DAY)),
        ("PCK certificate notBefore now", with_leaf(not_before=NOW)),
        ("PCK CA notBefore a day after now", with_pck_ca(not_before=NOW + DAY)),
        ("PCK CA expired a day before now", with_pck_ca(not_after=NOW - DAY)),
        ("TCB signing certificate notBefore a day after now",
         tcb_chains(issue(f.real_tcb_signer, tcb_signer.key, root, not_before=NOW + DAY).cert)),
        ("TCB signing certificate expired a day before now",
         tcb_chains(issue(f.real_tcb_signer, tcb_signer.key, root, not_after=NOW - DAY).cert)),
        ("root expired a day before now (same key, pinned and in every chain)",
         with_root(issue(f.real_root, root.key, None, not_after=NOW - DAY).cert)),
        ("root notBefore a day after now (same key, pinned and in every chain)",
         with_root(issue(f.real_root, root.key, None, not_before=NOW + DAY).cert)),
        # Certificate profiles
        ("PCK CA basicConstraints CA false",
         with_pck_ca(edit_extensions=extensions(x509.BasicConstraints, x509.BasicConstraints(False, None)))),
        ("PCK CA without basicConstraints", with_pck_ca(edit_extensions=extensions(x509.BasicConstraints, None))),
        ("PCK CA keyUsage without keyCertSign", with_pck_ca(edit_extensions=extensions(
            x509.KeyUsage, key_usage(digital_signature=True, crl_sign=True)))),
        ("PCK CA signed with ECDSA-SHA384", with_pck_ca(algorithm=hashes.SHA384())),
        ("root pathLenConstraint 0 (same key, pinned and in every chain)", with_root(issue(
            f.real_root, root.key, None,
            edit_extensions=extensions(x509.BasicConstraints, x509.BasicConstraints(True, 0))).cert)),
        ("PCK certificate basicConstraints CA true",
         with_leaf(edit_extensions=extensions(x509.BasicConstraints, x509.BasicConstraints(True, None)))),
        ("PCK certificate without keyUsage", with_leaf(edit_extensions=extensions(x509.KeyUsage, None))),
        ("PCK certificate keyUsage keyCertSign only",
         with_leaf(edit_extensions=extensions(x509.KeyUsage, key_usage(key_cert_sign=True)))),
        ("PCK certificate extendedKeyUsage clientAuth", with_leaf(edit_extensions=extensions(
            x509.ExtendedKeyUsage, eku(ExtendedKeyUsageOID.CLIENT_AUTH), critical=False))),
        ("PCK certificate extendedKeyUsage serverAuth", with_leaf(edit_extensions=extensions(
            x509.ExtendedKeyUsage, eku(ExtendedKeyUsageOID.SERVER_AUTH), critical=False))),
        ("PCK certificate with an unknown critical extension",
         with_leaf(edit_extensions=lambda mirrored: mirrored + [unknown_critical])),
        ("PCK certificate signed with ECDSA-SHA384", with_leaf(algorithm=hashes.SHA384())),
        ("PCK certificate signed by another key (PCK CA named as issuer)", with_leaf(signer=f.other_key)),
        ("PCK certificate issued by the root directly", {"quote": f.with_chain(f.leaf(issuer=root), root.cert)}),
        ("PCK certificate issued by the TCB signing certificate",
         {"quote": f.with_chain(f.leaf(issuer=tcb_signer), tcb_signer.cert, root.cert)}),
        ("TCB signing certificate basicConstraints CA true", tcb_chains(issue(
            f.real_tcb_signer, tcb_signer.key, root,
            edit_extensions=extensions(x509.BasicConstraints, x509.BasicConstraints(True, None))).cert)),
        ("TCB info signed by the PCK CA, chain PCK CA and root",
         {"tcb_info_issuer_chain": pem(pck_ca.cert, root.cert),
          "tcb_info_signature": raw_signature(pck_ca.key, f.collateral["tcb_info"].encode()).hex()}),
        # Other roots
        ("pinned root another with the same name (different key)", {"root": der(same_name_root)}),
        ("pinned root another with another name", {"root": der(other_name_root)}),
        ("pinned root Intel's SGX Root CA", {"root": f.intel_root}),
        ("pinned root the PCK CA", {"root": der(pck_ca.cert)}),
        ("pinned root the TCB signing certificate", {"root": der(tcb_signer.cert)}),
        ("pinned root garbage", {"root": b"\x30\x03\x02\x01\x00"}),
        ("pinned root empty", {"root": b""}),
        ("pinned root issued again for the same key (chains carry the first)", {"root": der(issue(
            f.real_root, root.key, None, not_before=seconds(f.real_root.not_valid_before_utc) + DAY).cert)}),
        ("PCK chain ends at another root with the same name",
         {"quote": f.with_chain(pck.cert, pck_ca.cert, same_name_root)}),
        ("PCK chain ends at another root with another name",
         {"quote": f.with_chain(pck.cert, pck_ca.cert, other_name_root)}),
        ("PCK chain ends at Intel's SGX Root CA", {"quote": f.with_chain(pck.cert, pck_ca.cert, f.real_root)}),
        ("TCB issuer chains end at another root with the same name", tcb_chains(tcb_signer.cert, same_name_root)),
        ("Intel's real PCK chain with the rebuilt quote",
         {"quote": dataclasses.replace(f.quote, certification_data=real_chain).raw}),
        ("Intel's real collateral and PCK chain, test root pinned",
         {"collateral": f.real_collateral, "quote": dataclasses.replace(f.quote, certification_data=real_chain).raw}),
        ("rebuilt quote and collateral, Intel's root pinned", {"root": f.intel_root}),
    ]
    for name, changes in cases:
        yield f.case("pki", name, **changes)


def times(f: Fixture) -> Iterator[Case]:
    """The rebuilt vector verified at other times: either side of every date it carries, and further."""
    tcb, qe = f.tcb_info, f.qe_identity
    pck_crl = x509.load_der_x509_crl(bytes.fromhex(f.collateral["pck_crl"]))
    root_crl = x509.load_der_x509_crl(bytes.fromhex(f.collateral["root_ca_crl"]))
    moments = [
        ("now + 1 day", NOW + DAY), ("now - 1 day", NOW - DAY), ("now + 1 year", NOW + YEAR),
        ("now - 1 year", NOW - YEAR), ("now - 10 years", NOW - 10 * YEAR), ("0", 0), ("2100-01-01", 4102444800),
        ("tcb_info issueDate - 1 s", epoch(tcb["issueDate"]) - 1), ("tcb_info issueDate", epoch(tcb["issueDate"])),
        ("tcb_info nextUpdate", epoch(tcb["nextUpdate"])), ("tcb_info nextUpdate + 1 s", epoch(tcb["nextUpdate"]) + 1),
        ("qe_identity issueDate - 1 s", epoch(qe["issueDate"]) - 1),
        ("qe_identity nextUpdate", epoch(qe["nextUpdate"])),
        ("qe_identity nextUpdate + 1 s", epoch(qe["nextUpdate"]) + 1),
        ("PCK CRL thisUpdate - 1 s", seconds(pck_crl.last_update_utc) - 1),
        ("PCK CRL nextUpdate", seconds(pck_crl.next_update_utc)),
        ("PCK CRL nextUpdate + 1 s", seconds(pck_crl.next_update_utc) + 1),
        ("root CA CRL thisUpdate - 1 s", seconds(root_crl.last_update_utc) - 1),
        ("root CA CRL nextUpdate + 1 s", seconds(root_crl.next_update_utc) + 1),
        ("PCK certificate notBefore - 1 s", seconds(f.pck.cert.not_valid_before_utc) - 1),
        ("PCK certificate notBefore", seconds(f.pck.cert.not_valid_before_utc)),
        ("TCB signing certificate notBefore - 1 s", seconds(f.tcb_signer.cert.not_valid_before_utc) - 1),
        ("PCK certificate notAfter + 1 s", seconds(f.pck.cert.not_valid_after_utc) + 1),
        ("root notAfter + 1 s", seconds(f.root.cert.not_valid_after_utc) + 1),
    ]
    for name, moment in moments:
        yield f.case("time", f"verified at {name} ({iso(moment)})", now=moment)


def cases_for(f: Fixture, seed: str, count: int) -> list:
    """About count cases for f: every designed case (sampled when count leaves too little room) and byte flips for
    the rest, at least a fifth."""
    rng = random.Random(f"{seed}:{f.base}")
    designed = [*quote_semantics(f), *collateral_resigned(f), *collateral_damaged(f, rng), *pki(f), *times(f)]
    flips = max(count - 1 - len(designed), count // 5)
    keep = max(count - 1 - flips, 0)
    if keep < len(designed):
        designed = [designed[index] for index in sorted(rng.sample(range(len(designed)), keep))]
    return [f.case("base", "rebuilt vector, unchanged"), *designed, *byte_flips(f, rng, flips)]


def rebuild_at(moment: int, vector_dir: Path, out_dir: Path) -> int:
    """Writes the rebuilt vectors, moved to verify at moment, for --rebuild-at."""
    for base in ("sgx", "tdx"):
        fixture = Fixture(base, vector_dir, shift=moment - NOW)
        fixture.check_rebuilt()
        directory = out_dir / base
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "quote.bin").write_bytes(fixture.quote.raw)
        (directory / "collateral.json").write_text(json.dumps(fixture.collateral))
        (directory / "root.pem").write_text(pem(fixture.root.cert))
    return 0


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--rebuild-at":
        return rebuild_at(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    if len(sys.argv) != 4:
        print("\n".join(line.strip() for line in __doc__.splitlines()[2:4]), file=sys.stderr)
        return 2
    vector_dir, seed, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    started = time.monotonic()
    output = []
    for base in ("sgx", "tdx"):
        fixture = Fixture(base, vector_dir)
        fixture.check_rebuilt()
        for case in cases_for(fixture, seed, count):
            output.append({
                "base": base, "kind": case.kind, "name": case.name, "quote": case.quote.hex(),
                "collateral": case.collateral, "root": case.root.hex(), "now": case.now,
                "dcap": dcap_verdict(case.quote, case.collateral, case.root, case.now),
            })
    json.dump(output, sys.stdout)
    print()
    print(f"dcap_differential: {len(output)} cases in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
