import Attestation
import CloisterCBOR
import CloisterCrypto
public import EnclaveProtocol
public import FoundationEssentials
import SimulatedHardware

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

    /// Turns a report targeted at the quoting function into a quote of kind `evidence`: checks the report's MAC and
    /// that its report data commits to `binding`, then has the kind's signer make it (`evidence(_:...)`).
    public func quote(
        report encodedReport: [UInt8], binding: QuoteBinding, evidence kind: EvidenceKind = .cloister,
        at now: Date = Date()
    ) throws -> [UInt8] {
        let report = try EnclaveReport(
            encoded: encodedReport, reportKey: keys.reportKey(forTarget: EnclaveReport.quotingTarget))
        guard report.target == EnclaveReport.quotingTarget else {
            throw PlatformError(.reportRejected, "report is not targeted at the quoting function")
        }
        guard report.reportData == binding.reportData else {
            throw PlatformError(
                .reportRejected, "report data does not commit to the requested nonce, user data and public key")
        }
        return try evidence(
            kind, identity: report.identity, tcbLevel: report.tcbLevel, manifestHash: report.manifestHash,
            isolation: report.isolation, binding: binding, at: now)
    }

    /// A quote of the record's evidence kind for `record`'s enclave, signed straight from the platform's own record
    /// (no report round trip: the platform trusts what it measured itself).
    public func quote(for record: EnclaveRecord, binding: QuoteBinding, at now: Date = Date()) throws -> [UInt8] {
        try evidence(
            record.evidence, identity: record.identity, tcbLevel: record.tcbLevel, manifestHash: record.manifestHash,
            isolation: record.mechanismNames, binding: binding, at: now)
    }

    /// Evidence of kind `kind` for an enclave: Cloister's quote, a Nitro-shaped document (both state the binding in
    /// their own fields), or a DCAP quote or SEV-SNP report from the simulated vendor of that shape, whose report data
    /// is Cloister's binding of nonce, user data and public key, answered as `BoundEvidence` with those values.
    private func evidence(
        _ kind: EvidenceKind, identity: EnclaveIdentity, tcbLevel: UInt32, manifestHash: [UInt8], isolation: [String],
        binding: QuoteBinding, at now: Date
    ) throws -> [UInt8] {
        /// The enclave as the simulated vendors state it, its report data Cloister's binding of the three values.
        func enclave() -> SimulatedEnclave {
            let bound = BoundEvidence(
                evidence: [], nonce: binding.nonce, userData: binding.userData, publicKey: binding.publicKey)
            return SimulatedEnclave(
                measurement: identity.measurement, signer: identity.signer, productID: identity.productID,
                svn: identity.svn, debug: identity.debug, manifestHash: manifestHash, reportData: bound.reportData)
        }
        let raw: [UInt8]
        switch kind {
        case .cloister:
            return try signQuote(
                identity: identity, tcbLevel: tcbLevel, manifestHash: manifestHash, isolation: isolation,
                binding: binding, at: now)
        case .nitro:
            return try hardware().vendors.nitro.document(
                enclave: enclave(), nonce: binding.nonce, userData: binding.userData, publicKey: binding.publicKey,
                at: now)
        case .sgx, .sgxV4:
            let hardware = try hardware()
            raw = try hardware.vendors.intel.sgxQuote(
                version: kind == .sgx ? 3 : 4, enclave: enclave(), tcb: simulatedTCB,
                collateral: hardware.published.intel)
        case .tdx, .tdxV5, .tdxV5TD15:
            let hardware = try hardware()
            raw = try hardware.vendors.intel.tdxQuote(
                version: kind == .tdx ? 4 : 5, tdBody: kind == .tdxV5TD15 ? .td15 : .td10, enclave: enclave(),
                tcb: simulatedTCB, collateral: hardware.published.intel)
        case .snp, .snpV2, .snpV5, .snpVLEK:
            let hardware = try hardware()
            let report = try (kind == .snpVLEK ? hardware.vlekSigner : hardware.vcekSigner).report(
                version: kind == .snpV2 ? 2 : kind == .snpV5 ? 5 : 3, enclave: enclave())
            raw = try hardware.vendors.amd.evidenceBundle(report: report, collateral: hardware.published.amd)
        }
        return BoundEvidence(
            evidence: raw, nonce: binding.nonce, userData: binding.userData, publicKey: binding.publicKey
        ).encoded()
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
