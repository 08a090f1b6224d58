import Attestation
import CloisterCrypto

/// Intel's Provisioning Certification Service (PCS) v4 for one simulated platform, as a pure router an HTTP server
/// calls: a path and its query in, status, headers and body out. The routes are Intel's, as dcap-qvl's
/// `get_collateral` and PCCSs call them:
///
/// - `/sgx/certification/v4/pckcrl?ca=platform[&encoding=der|pem]`: the PCK CRL (PEM unless `encoding=der`), with its
///   issuer chain URL-encoded in `SGX-PCK-CRL-Issuer-Chain`; `ca=processor` is 404 (the simulated vendor issues PCK
///   certificates from its Platform CA only), any other `ca` or `encoding` 400;
/// - `/sgx/certification/v4/tcb?fmspc=HEX` and `/tdx/certification/v4/tcb?fmspc=HEX`: `{"tcbInfo":…,"signature":…}`,
///   the chain in `TCB-Info-Issuer-Chain` (and, for SGX, in `SGX-TCB-Info-Issuer-Chain` as older PCCSs send it);
///   an FMSPC other than the platform's is 404, none or a malformed one 400;
/// - `/sgx/certification/v4/qe/identity` and `/tdx/certification/v4/qe/identity`: `{"enclaveIdentity":…,
///   "signature":…}`, the chain in `SGX-Enclave-Identity-Issuer-Chain`;
/// - `/sgx/certification/v4/rootcacrl`: the root CA CRL as a PCCS serves it, its DER in hex (DER with
///   `encoding=der`).
///
/// Anything else is 404 with a JSON error naming the route. Errors also carry Intel's `Error-Code` and
/// `Error-Message` headers.
public struct SimulatedPCS: Sendable {
    /// The path prefixes the PCS answers beneath.
    public static let prefixes = ["/sgx/certification/v4", "/tdx/certification/v4"]
    /// The root CA CRL (DER) and the platform PCK CRL (DER), as certificates' CRL distribution points name them.
    public static let rootCACRLPath = "/sgx/certification/v4/rootcacrl?encoding=der"
    public static let pckCRLPath = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"

    public let collateral: SimulatedIntelCollateral

    public init(collateral: SimulatedIntelCollateral) {
        self.collateral = collateral
    }

    /// The answer to GET `path` with `query` (decoded parameters).
    public func respond(path: String, query: [String: String]) -> SimulatedHTTPResponse {
        switch path {
        case "/sgx/certification/v4/pckcrl":
            return pckCRL(query)
        case "/sgx/certification/v4/tcb":
            return tcbInfo(.sgx, query)
        case "/tdx/certification/v4/tcb":
            return tcbInfo(.tdx, query)
        case "/sgx/certification/v4/qe/identity":
            return qeIdentity(.sgx)
        case "/tdx/certification/v4/qe/identity":
            return qeIdentity(.tdx)
        case "/sgx/certification/v4/rootcacrl":
            return rootCACRL(query)
        default:
            return error(404, "NotFound", "no route GET \(path) in the simulated Intel PCS v4")
        }
    }

    private func pckCRL(_ query: [String: String]) -> SimulatedHTTPResponse {
        let encoding = query["encoding"] ?? "pem"
        guard ["pem", "der"].contains(encoding) else {
            return error(400, "InvalidRequestSyntax", "encoding \(encoding) is not pem or der")
        }
        switch query["ca"] {
        case "platform":
            let body =
                encoding == "der"
                ? collateral.pckCRL.derRepresentation : Array(collateral.pckCRL.pemRepresentation.utf8)
            return SimulatedHTTPResponse(
                status: 200,
                headers: [
                    ("Content-Type", encoding == "der" ? "application/pkix-crl" : "application/x-pem-file"),
                    ("SGX-PCK-CRL-Issuer-Chain", Self.urlEncoded(collateral.pckCRLIssuerChainPEM)),
                ],
                body: body)
        case "processor":
            return error(
                404, "NotFound",
                "the simulated vendor has no PCK Processor CA: its PCK certificates are the Platform CA's")
        case let other:
            return error(400, "InvalidRequestSyntax", "ca \(other ?? "(none)") is not processor or platform")
        }
    }

    private func tcbInfo(_ tee: IntelDCAPQuoteHeader.TEE, _ query: [String: String]) -> SimulatedHTTPResponse {
        guard let text = query["fmspc"], text.count == 12, let fmspc = hexDecoded(text) else {
            return error(400, "InvalidRequestSyntax", "fmspc must be 6 bytes in hex")
        }
        guard fmspc == collateral.fmspc else {
            return error(404, "NotFound", "no \(tee) TCB info for FMSPC \(text.uppercased())")
        }
        let signed = collateral.tcbInfo(tee)
        let chain = Self.urlEncoded(collateral.tcbSigningChainPEM)
        return SimulatedHTTPResponse(
            status: 200,
            headers: [("Content-Type", "application/json"), ("TCB-Info-Issuer-Chain", chain)]
                + (tee == .sgx ? [("SGX-TCB-Info-Issuer-Chain", chain)] : []),
            body: Array("{\"tcbInfo\":".utf8) + signed.json
                + Array(",\"signature\":\"\(hexEncoded(signed.signature))\"}".utf8))
    }

    private func qeIdentity(_ tee: IntelDCAPQuoteHeader.TEE) -> SimulatedHTTPResponse {
        let signed = collateral.qeIdentity(tee)
        return SimulatedHTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "application/json"),
                ("SGX-Enclave-Identity-Issuer-Chain", Self.urlEncoded(collateral.tcbSigningChainPEM)),
            ],
            body: Array("{\"enclaveIdentity\":".utf8) + signed.json
                + Array(",\"signature\":\"\(hexEncoded(signed.signature))\"}".utf8))
    }

    private func rootCACRL(_ query: [String: String]) -> SimulatedHTTPResponse {
        switch query["encoding"] {
        case nil, "hex":
            return SimulatedHTTPResponse(
                status: 200, headers: [("Content-Type", "text/plain")],
                body: Array(hexEncoded(collateral.rootCACRL.derRepresentation).utf8))
        case "der":
            return SimulatedHTTPResponse(
                status: 200, headers: [("Content-Type", "application/pkix-crl")],
                body: collateral.rootCACRL.derRepresentation)
        case let other:
            return error(400, "InvalidRequestSyntax", "encoding \(other ?? "") is not hex or der")
        }
    }

    private func error(_ status: Int, _ code: String, _ message: String) -> SimulatedHTTPResponse {
        SimulatedHTTPResponse(
            status: status,
            headers: [("Content-Type", "application/json"), ("Error-Code", code), ("Error-Message", message)],
            body: Array("{\"error\":{\"code\":\"\(code)\",\"message\":\"\(Self.jsonEscaped(message))\"}}".utf8))
    }

    /// `text` with every byte but the URL-unreserved ones (RFC 3986: letters, digits, `-._~`) percent-encoded, as PCS
    /// writes issuer chains in headers.
    static func urlEncoded(_ text: String) -> String {
        let unreserved = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func jsonEscaped(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
    }
}
