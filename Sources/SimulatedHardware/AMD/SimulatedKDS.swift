import CloisterCrypto

/// AMD's Key Distribution Service for simulated platforms, as a pure router the platform's HTTP server calls: the
/// routes AMD's KDS serves and Cloister's `AMDKDSClient` (like go-sev-guest's `kds` package) requests.
///
/// - `GET /vcek/v1/{product}/{hwid}?blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…`: the chip's VCEK at that TCB (DER), 404
///   for another chip or a TCB the vendor never published, 400 for a missing or malformed SPL;
/// - `GET /vcek/v1/{product}/cert_chain`: the ASK then the ARK (PEM);
/// - `GET /vcek/v1/{product}/crl` and `/vlek/v1/{product}/crl`: the ARK's CRL (DER);
/// - `GET /vlek/v1/{product}/cert_chain`: the ASVK then the ARK (PEM).
///
/// Anything else is a 404 naming the route. The hwID is matched whatever the case of its hex digits.
public struct SimulatedKDS: Sendable {
    /// The path prefixes the KDS answers beneath.
    public static let prefixes = ["/vcek/v1", "/vlek/v1"]

    /// What the vendor has published, oldest first: the VCEKs it serves, and (from the newest) the chains and CRL.
    public let published: [SimulatedAMDCollateral]

    /// A KDS serving what the vendor published: every VCEK in `published`, and the newest chain and CRL.
    public init(published: [SimulatedAMDCollateral]) {
        self.published = published
    }

    /// A KDS serving one publication.
    public init(collateral: SimulatedAMDCollateral) {
        self.init(published: [collateral])
    }

    /// The answer to `GET path?query`.
    public func respond(path: String, query: [String: String]) -> SimulatedHTTPResponse {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "vcek" || parts[1] == "vlek", parts[2] == "v1",
            let newest = published.last
        else {
            return .text(404, "no route GET \(path)")
        }
        let (kind, product, resource) = (parts[1], parts[3], parts[4])
        guard product == newest.productLine else {
            return .text(
                404, "no \(kind) product line \(product) at GET \(path) (this KDS serves \(newest.productLine))")
        }
        switch (kind, resource) {
        case ("vcek", "cert_chain"):
            return Self.answer(Array(newest.chainPEM.utf8), type: "application/x-pem-file")
        case ("vlek", "cert_chain"):
            return Self.answer(Array(newest.vlekChainPEM.utf8), type: "application/x-pem-file")
        case (_, "crl"):
            return Self.answer(newest.crlDER, type: "application/pkix-crl")
        case ("vcek", _):
            return vcek(hwID: resource, query: query, path: path)
        default:
            return .text(404, "no route GET \(path)")
        }
    }

    private func vcek(hwID: String, query: [String: String], path: String) -> SimulatedHTTPResponse {
        var tcb: UInt64 = 0
        for (name, shift) in [("blSPL", 0), ("teeSPL", 8), ("snpSPL", 48), ("ucodeSPL", 56)] as [(String, UInt64)] {
            guard let text = query[name], let value = UInt8(text) else {
                return .text(400, "GET \(path): the query parameter \(name) is missing or not a number 0 to 255")
            }
            tcb |= UInt64(value) << shift
        }
        guard let bytes = hexDecoded(hwID.lowercased()), bytes.count == 64 else {
            return .text(404, "GET \(path): \(hwID) is not a 64-byte hardware id in hex")
        }
        guard let collateral = published.last(where: { $0.hwID == bytes && $0.reportedTCB == tcb }) else {
            return .text(404, "GET \(path): no VCEK was issued for this chip at TCB 0x\(String(tcb, radix: 16))")
        }
        return Self.answer(collateral.vcekDER, type: "application/pkix-cert")
    }

    private static func answer(_ body: [UInt8], type: String) -> SimulatedHTTPResponse {
        SimulatedHTTPResponse(
            status: 200,
            headers: [(name: "Content-Type", value: type), (name: "Content-Length", value: String(body.count))],
            body: body)
    }
}
