import Attestation
import CloisterCBOR
import CloisterCrypto
public import EnclaveProtocol
public import FoundationEssentials

extension Platform {
    /// The PCR holding the enclave measurement, and the one holding the signer identity.
    public static let measurementPCR: UInt64 = 0
    public static let signerPCR: UInt64 = 8

    /// A local report on `record`'s enclave for the enclave measured `target`.
    public func report(for record: EnclaveRecord, target: [UInt8], reportData: [UInt8]) throws -> EnclaveReport {
        try EnclaveReport(
            record: record, target: target, reportData: reportData, reportKey: keys.reportKey(forTarget:))
    }

    /// The report key of the enclave `record` describes (to check reports targeted at it).
    public func reportKey(for record: EnclaveRecord) throws -> [UInt8] {
        try keys.reportKey(forTarget: record.identity.measurement)
    }

    /// Turns a report targeted at the quoting function into a quote: checks the report's MAC and that its report
    /// data commits to `binding`, then signs an attestation document with the attestation key.
    public func quote(report encodedReport: [UInt8], binding: QuoteBinding, at now: Date = Date()) throws -> [UInt8] {
        let report = try EnclaveReport(
            encoded: encodedReport, reportKey: keys.reportKey(forTarget: EnclaveReport.quotingTarget))
        guard report.target == EnclaveReport.quotingTarget else {
            throw PlatformError(.reportRejected, "report is not targeted at the quoting function")
        }
        guard report.reportData == binding.reportData else {
            throw PlatformError(
                .reportRejected, "report data does not commit to the requested nonce, user data and public key")
        }
        return try signQuote(
            identity: report.identity, tcbLevel: report.tcbLevel, manifestHash: report.manifestHash,
            isolation: report.isolation, binding: binding, at: now)
    }

    /// A quote for `record`'s enclave, signed straight from the platform's own record (no report round trip: the
    /// platform trusts what it measured itself).
    public func quote(for record: EnclaveRecord, binding: QuoteBinding, at now: Date = Date()) throws -> [UInt8] {
        try signQuote(
            identity: record.identity, tcbLevel: record.tcbLevel, manifestHash: record.manifestHash,
            isolation: record.mechanismNames, binding: binding, at: now)
    }

    private func signQuote(
        identity: EnclaveIdentity, tcbLevel: UInt32, manifestHash: [UInt8], isolation: [String],
        binding: QuoteBinding, at now: Date
    ) throws -> [UInt8] {
        let document = AttestationDocument(
            moduleID: "cloister-\(hexEncoded(platformID))",
            digest: "SHA384",
            timestamp: now.millisecondsSince1970,
            pcrs: [Self.measurementPCR: identity.measurement, Self.signerPCR: identity.signer],
            certificate: attestationCertificate.derRepresentation,
            caBundle: [rootCertificate.derRepresentation, platformCertificate.derRepresentation],
            publicKey: binding.publicKey, userData: binding.userData, nonce: binding.nonce,
            cloister: CloisterClaims(
                simulated: true, debug: identity.debug, productID: identity.productID, svn: identity.svn,
                tcbLevel: tcbLevel, platformID: platformID, manifestHash: manifestHash, isolation: isolation))
        return try COSESign1(signing: document.encoded(), with: attestationKey).encoded()
    }
}
