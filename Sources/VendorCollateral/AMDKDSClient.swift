import AsyncHTTPClient
public import Attestation
import CloisterCrypto
import FoundationEssentials

/// Fetches what AMD's Key Distribution Service publishes for SEV-SNP, at the URLs go-sev-guest's `kds` package
/// builds:
///
/// - `GET {base}/vcek/v1/{Milan|Genoa}/{hardware ID}?blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…`: a chip's VCEK at a TCB
///   (DER);
/// - `GET {base}/vcek/v1/{product}/cert_chain`: the product line's ASK and ARK (PEM);
/// - `GET {base}/vcek/v1/{product}/crl`: the ARK's CRL of revoked ASKs (DER).
///
/// The KDS answers about one request per 10 s per address and HTTP 429 to more: a 429 is retried at most
/// `maximumRetries` times, each after its `Retry-After` (10 s without one) capped at `maximumRetryDelay`, then
/// refused. Every answer is bounded as `PCSClient`'s are (http and https only, `maximumResponseSize` bytes,
/// `requestTimeout`) and read before it is accepted; nothing is trusted here: the appraisal verifies the VCEK's chain
/// up to an ARK the user pins.
public struct AMDKDSClient: Sendable {
    /// The base URL, without trailing slashes.
    public let baseURL: String
    public var maximumRetries: Int
    public var maximumRetryDelay: Duration
    private let http: CollateralHTTP

    /// A client of the KDS at `baseURL` (AMD's by default): an absolute http or https URL with a host, no query or
    /// fragment.
    public init(
        baseURL: String = TrustStore.amdKDSURL, maximumResponseSize: Int = 1 << 20,
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60), maximumRetries: Int = 2,
        maximumRetryDelay: Duration = .seconds(30)
    ) throws(KDSError) {
        guard CollateralHTTP.isHTTP(baseURL), let base = CollateralHTTP.baseURL(baseURL) else {
            throw KDSError(
                .badURL, "the KDS URL \(baseURL) is not an absolute http or https base URL (without query or fragment)")
        }
        self.baseURL = String(base)
        self.maximumRetries = maximumRetries
        self.maximumRetryDelay = maximumRetryDelay
        http = CollateralHTTP(
            maximumResponseSize: maximumResponseSize, connectTimeout: connectTimeout, requestTimeout: requestTimeout)
    }

    /// The URL of the VCEK `key` names.
    public func url(of key: AMDVCEKKey) -> String { baseURL + key.path }

    /// The URL of `product`'s ASK and ARK.
    public func certificateChainURL(of product: AMDProductLine) -> String {
        "\(baseURL)/vcek/v1/\(product.rawValue)/cert_chain"
    }

    /// The VCEK `key` names (DER), refused unless it is a certificate with AMD's VCEK extensions for that product
    /// line, hardware ID and TCB; nil when the KDS answers 404 (it knows no such chip or TCB).
    public func vcek(for key: AMDVCEKKey) async throws(KDSError) -> [UInt8]? {
        let url = url(of: key)
        guard let answer = try await get(url) else { return nil }
        try Self.checkVCEK(answer, for: key, source: "GET \(url)")
        return answer
    }

    /// The ASK and ARK of `product` (PEM), refused unless the body holds exactly two PEM certificates; nil when the
    /// KDS answers 404.
    public func certificateChain(for product: AMDProductLine) async throws(KDSError) -> [UInt8]? {
        let url = certificateChainURL(of: product)
        guard let answer = try await get(url) else { return nil }
        _ = try Self.chain(answer, source: "GET \(url)")
        return answer
    }

    /// The CRL of `product`'s ARK (DER); nil when the KDS answers 404 (it publishes none).
    public func revocationList(for product: AMDProductLine) async throws(KDSError) -> [UInt8]? {
        let url = "\(baseURL)/vcek/v1/\(product.rawValue)/crl"
        guard let answer = try await get(url) else { return nil }
        _ = try Self.revocationList(answer, source: "GET \(url)")
        return answer
    }

    /// The body of a 2xx answer to `GET url`, nil for a 404; a 429 is retried within the bounds.
    private func get(_ url: String) async throws(KDSError) -> [UInt8]? {
        do {
            return try await http.withClient { client async throws(KDSError) -> [UInt8]? in
                var attempt = 0
                while true {
                    let failure: CollateralHTTP.Failure
                    do throws(CollateralHTTP.Failure) {
                        return try await http.get(url, client).body
                    } catch {
                        failure = error
                    }
                    switch failure.status {
                    case 404:
                        return nil
                    case 429 where attempt < maximumRetries:
                        attempt += 1
                        do {
                            try await Task.sleep(
                                for: min(.seconds(max(failure.retryAfter ?? 10, 0)), maximumRetryDelay))
                        } catch {
                            throw KDSError(.unavailable, "GET \(url) was cancelled")
                        }
                    case 429:
                        throw KDSError(
                            .rateLimited,
                            "\(failure.message) after \(attempt + 1) requests: AMD's KDS answers about one request per "
                                + "10 s per address; try again later")
                    default:
                        throw KDSError(failure.kind == .unavailable ? .unavailable : .badResponse, failure.message)
                    }
                }
            }
        } catch let error as KDSError {
            throw error
        } catch {
            throw KDSError(.unavailable, "the KDS \(baseURL): \(error)")
        }
    }

    /// Refuses `der` (from `source`) unless it is a VCEK for `key`'s product line, hardware ID and TCB.
    static func checkVCEK(_ der: [UInt8], for key: AMDVCEKKey, source: String) throws(KDSError) {
        guard let certificate = try? X509Certificate(derRepresentation: der) else {
            throw KDSError(.badResponse, "\(source): the body is not a DER certificate")
        }
        guard let extensions = try? AMDEndorsementKeyExtensions(of: certificate) else {
            throw KDSError(.badResponse, "\(source): \(certificate.subject) has no AMD VCEK extensions")
        }
        guard extensions.productLine == key.product.rawValue, extensions.hardwareID == key.hardwareID,
            extensions.tcb == key.tcb
        else {
            throw KDSError(
                .badResponse,
                "\(source): the certificate is \(extensions.productName)'s for chip "
                    + "\(hexEncoded(Array((extensions.hardwareID ?? []).prefix(8))))… at TCB 0x"
                    + "\(String(extensions.tcb, radix: 16)), not \(key)")
        }
    }

    /// The certificates of `pem` (from `source`): exactly two, the ASK and the ARK.
    static func chain(_ pem: [UInt8], source: String) throws(KDSError) -> [X509Certificate] {
        guard let certificates = try? X509Certificate.certificates(fromPEM: String(decoding: pem, as: UTF8.self)),
            certificates.count == 2
        else {
            throw KDSError(.badResponse, "\(source): the body is not two PEM certificates (the ASK and the ARK)")
        }
        return certificates
    }

    /// The CRL `der` (from `source`) holds.
    static func revocationList(_ der: [UInt8], source: String) throws(KDSError) -> CertificateRevocationList {
        guard let list = try? CertificateRevocationList(derRepresentation: der) else {
            throw KDSError(.badResponse, "\(source): the body is not a DER CRL")
        }
        return list
    }
}
