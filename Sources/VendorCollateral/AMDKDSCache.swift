public import Attestation
public import CloisterCrypto
import EnclaveProtocol
public import FoundationEssentials

/// What the KDS serves, kept on disk so that it is fetched once: AMD's KDS answers about one request per 10 s per
/// address, so nothing the directory holds is asked for again.
///
/// The directory holds each VCEK by product line, hardware ID and TCB (`vcek-Milan-{hwid}-{tcb}.der`) for good (a
/// VCEK never changes), each product line's ASK and ARK (`cert_chain-Milan.pem`) for good, and its CRL
/// (`crl-Milan.der`) until its next update. A KDS that publishes no CRL (404) is remembered for a day
/// (`crl-Milan.absent`, holding until when, in seconds since 1970). Each file is replaced atomically (written beside
/// it, `fsync`ed, renamed); a file that does not read, or is not what its name says, is fetched again, never fatal.
/// Concurrent requests for the same item share one fetch. What is cached is not trusted: the appraisal verifies it
/// as it verifies certificates given in files.
public actor AMDKDSCache {
    public nonisolated let client: AMDKDSClient
    public nonisolated let directory: String
    private var fetches: [String: Task<Result<[UInt8]?, KDSError>, Never>] = [:]

    /// How long a KDS's answer that it publishes no CRL is taken as read.
    static let absentCRLLifetime: TimeInterval = 24 * 3600

    /// A cache in `directory`, created (with its parents, mode 0700) when missing.
    public init(client: AMDKDSClient, directory: String) throws(KDSError) {
        do {
            try CollateralCacheDirectory.create(directory)
        } catch {
            throw KDSError(.cacheUnwritable, "the KDS cache directory \(directory) cannot be created: \(error)")
        }
        self.client = client
        self.directory = directory
    }

    /// Where the KDS's answers are cached when no directory is given: `$XDG_CACHE_HOME/cloister/kds`, else
    /// `$HOME/.cache/cloister/kds`; nil when neither variable is set.
    public static func defaultDirectory(environment: [String: String]) -> String? {
        CollateralCacheDirectory.defaultPath("kds", environment: environment)
    }

    /// The VCEK `key` names (DER), from the directory or fetched.
    public func vcek(for key: AMDVCEKKey) async throws(KDSError) -> [UInt8] {
        let file = file(key.fileName)
        if let stored = try? file.read(), (try? AMDKDSClient.checkVCEK(stored, for: key, source: file.path)) != nil {
            return stored
        }
        let client = client
        guard let der = try await fetched(file, { () async throws(KDSError) in try await client.vcek(for: key) }) else {
            throw KDSError(
                .unavailable, "GET \(client.url(of: key)) answered HTTP 404 Not Found: the KDS has no \(key)")
        }
        return der
    }

    /// The ASK and ARK of `product`, from the directory or fetched.
    public func certificateChain(for product: AMDProductLine) async throws(KDSError) -> [X509Certificate] {
        let file = file("cert_chain-\(product.rawValue).pem")
        if let stored = try? file.read(), let chain = try? AMDKDSClient.chain(stored, source: file.path) {
            return chain
        }
        let client = client
        guard
            let pem = try await fetched(
                file, { () async throws(KDSError) in try await client.certificateChain(for: product) })
        else {
            throw KDSError(.unavailable, "GET \(client.certificateChainURL(of: product)) answered HTTP 404 Not Found")
        }
        return try AMDKDSClient.chain(pem, source: file.path)
    }

    /// The CRL of `product`'s ARK for an appraisal at `time`: from the directory while `time` is before its next
    /// update, else fetched; nil when the KDS publishes none.
    public func revocationList(for product: AMDProductLine, at time: Date) async throws(KDSError)
        -> CertificateRevocationList?
    {
        let file = file("crl-\(product.rawValue).der")
        let absent = self.file("crl-\(product.rawValue).absent")
        if let stored = try? file.read(), let list = try? AMDKDSClient.revocationList(stored, source: file.path),
            let nextUpdate = list.nextUpdate, time < nextUpdate
        {
            return list
        }
        if let stored = try? absent.read(), let until = Double(String(decoding: stored, as: UTF8.self)),
            time.timeIntervalSince1970 < until
        {
            return nil
        }
        let client = client
        guard
            let der = try await fetched(
                file, { () async throws(KDSError) in try await client.revocationList(for: product) })
        else {
            let until = time.timeIntervalSince1970 + Self.absentCRLLifetime
            try Self.write(Array(String(Int(until)).utf8), to: absent)
            return nil
        }
        return try AMDKDSClient.revocationList(der, source: file.path)
    }

    /// `anchors` (the SEV-SNP trust configured) with what the KDS publishes for `evidence` at `time` added: the VCEK
    /// of a VCEK-signed report unless the evidence carries one or `anchors` holds one for this chip at this TCB
    /// (`AMDVCEKKey` refuses a masked chip ID), the ASK unless `anchors`
    /// holds an intermediate, and the CRL of the product line's ARK when the KDS publishes one (`crlPublished` says
    /// whether it did). The fetched ARK is never added as a root: the user's pinned ARK stays the only one. The line
    /// is `product` when given, else the report's (`AMDProductLine(report:given:)`).
    public func endorsement(
        for evidence: SEVSNPEvidence, product: AMDProductLine?, adding anchors: TrustStore.FormatTrust,
        at time: Date
    ) async throws(KDSError) -> (trust: TrustStore.FormatTrust, crlPublished: Bool) {
        let report = evidence.report
        let line = try AMDProductLine(report: report, given: product)
        var trust = anchors
        let configured = anchors.collateral.compactMap { try? X509Certificate(derRepresentation: $0) }
        // A configured VCEK serves when the verifier would take it: this TCB, and this chip unless it is masked.
        let hasVCEK = configured.contains { certificate in
            guard let extensions = try? AMDEndorsementKeyExtensions(of: certificate) else { return false }
            return extensions.tcb == report.reportedTCB
                && extensions.hardwareID.map { report.chipIDMasked || $0 == report.chipID } == true
        }
        if report.signingKey == .vcek && evidence.certificates[.vcek] == nil && !hasVCEK {
            trust.collateral.append(try await vcek(for: AMDVCEKKey(report: report, product: line)))
        }
        if !configured.contains(where: { $0.isCertificateAuthority && !$0.isSelfIssued }) {
            trust.collateral += try await certificateChain(for: line).filter { !$0.isSelfSigned }.map(
                \.derRepresentation)
        }
        guard let list = try await revocationList(for: line, at: time) else { return (trust, false) }
        trust.revocationLists.append(list)
        return (trust, true)
    }

    private func file(_ name: String) -> AtomicFile { AtomicFile(path: directory + "/" + name, mode: 0o600) }

    /// `fetch`'s answer, written to `file` (nil, not written, when the KDS has none); one fetch per file at a time.
    private func fetched(
        _ file: AtomicFile, _ fetch: @escaping @Sendable () async throws(KDSError) -> [UInt8]?
    ) async throws(KDSError) -> [UInt8]? {
        let task: Task<Result<[UInt8]?, KDSError>, Never>
        if let running = fetches[file.path] {
            task = running
        } else {
            task = Task {
                do throws(KDSError) {
                    let answer = try await fetch()
                    if let answer { try Self.write(answer, to: file) }
                    return .success(answer)
                } catch {
                    return .failure(error)
                }
            }
            fetches[file.path] = task
        }
        let outcome = await task.value
        fetches[file.path] = nil
        return try outcome.get()
    }

    private static func write(_ bytes: [UInt8], to file: AtomicFile) throws(KDSError) {
        do throws(PersistenceError) {
            try file.write(bytes)
        } catch {
            throw KDSError(.cacheUnwritable, "the KDS cache file \(file.path) cannot be written: \(error.reason)")
        }
    }
}
