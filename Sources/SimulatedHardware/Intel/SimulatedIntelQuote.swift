import Attestation
import CloisterCrypto

/// The report body of a simulated TDX quote: TD 1.0 (584 bytes) or TD 1.5 (648, with TEE_TCB_SVN_2 and MRSERVICETD).
public enum SimulatedTDBody: Sendable, Hashable {
    case td10
    case td15
}

extension SimulatedIntelVendor {
    /// A fresh SGX DCAP quote (version 3 or 4) for `enclave`, signed by the QE's attestation key, its QE report signed
    /// by the PCK key, the PCK chain embedded (certification data type 6 holding type 5; version 3: type 5 directly).
    public func sgxQuote(
        version: UInt16, enclave: SimulatedEnclave, tcb: SimulatedTCB, collateral: SimulatedIntelCollateral
    ) throws -> [UInt8] {
        guard version == 3 || version == 4 else {
            throw SimulatedHardwareError(.invalidRequest, "an SGX quote is version 3 or 4, not \(version)")
        }
        try check(enclave, tcb: tcb, collateral: collateral)
        return try quote(
            version: version, tee: .sgx, descriptor: [], body: sgxReportBody(enclave, level: tcb.level),
            level: tcb.level, collateral: collateral)
    }

    /// A fresh TDX DCAP quote (version 4: TD 1.0 body; version 5: body type 2 = TD 1.0 or 3 = TD 1.5) for `enclave`,
    /// signed and certified as `sgxQuote`'s.
    public func tdxQuote(
        version: UInt16, tdBody: SimulatedTDBody, enclave: SimulatedEnclave, tcb: SimulatedTCB,
        collateral: SimulatedIntelCollateral
    ) throws -> [UInt8] {
        guard version == 5 || (version == 4 && tdBody == .td10) else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "a TDX quote is version 4 with a TD 1.0 body or version 5, not version \(version) with \(tdBody)")
        }
        try check(enclave, tcb: tcb, collateral: collateral)
        let body = tdReportBody(enclave, level: tcb.level, tdBody: tdBody)
        let descriptor =
            version == 5
            ? littleEndianBytes(UInt16(tdBody == .td10 ? 2 : 3)) + littleEndianBytes(UInt32(body.count)) : []
        return try quote(
            version: version, tee: .tdx, descriptor: descriptor, body: body, level: tcb.level, collateral: collateral)
    }

    /// Refuses an enclave identity of the wrong sizes, and collateral of another platform, level or PCK key.
    private func check(_ enclave: SimulatedEnclave, tcb: SimulatedTCB, collateral: SimulatedIntelCollateral) throws {
        for (name, value, count) in [
            ("measurement", enclave.measurement, 48), ("signer", enclave.signer, 48),
            ("manifest hash", enclave.manifestHash, 48), ("report data", enclave.reportData, 64),
        ] where value.count != count {
            throw SimulatedHardwareError(
                .invalidRequest, "the enclave's \(name) is \(value.count) bytes, not \(count)")
        }
        guard collateral.platformID == platformID, collateral.attestationPublicKey == attestationPublicKey else {
            throw SimulatedHardwareError(.invalidRequest, "the collateral was published for another platform")
        }
        guard collateral.tcb.level == tcb.level else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "the collateral was published for TCB level \(collateral.tcb.level), the quote is asked at \(tcb.level)"
            )
        }
    }

    /// Header, body descriptor (version 5), body, then the signature data.
    private func quote(
        version: UInt16, tee: IntelDCAPQuoteHeader.TEE, descriptor: [UInt8], body: [UInt8], level: UInt32,
        collateral: SimulatedIntelCollateral
    ) throws -> [UInt8] {
        let qeSVN = SimulatedIntelPlatform.svn16(level)
        let header =
            littleEndianBytes(version) + littleEndianBytes(IntelDCAPQuoteHeader.ecdsaP256KeyType)
            + littleEndianBytes(tee.rawValue) + littleEndianBytes(qeSVN)
            + littleEndianBytes(SimulatedIntelPlatform.svn16(level)) + IntelDCAPQuoteHeader.intelQEVendorID
            + platform.quoteUserData
        let signed = header + descriptor + body
        let certification = collateral.qeCertification(tee)
        var signatureData =
            try attestationKey.signature(for: signed).rawRepresentation + collateral.attestationPublicKey
        if version == 3 {
            signatureData += certification
        } else {
            signatureData +=
                littleEndianBytes(IntelDCAPQuote.qeReportCertificationDataType)
                + littleEndianBytes(UInt32(certification.count)) + certification
        }
        return signed + littleEndianBytes(UInt32(signatureData.count)) + signatureData
    }

    /// An SGX report body (384 bytes) of the platform at `level`: CPUSVN, MISCSELECT, ATTRIBUTES, MRENCLAVE, MRSIGNER,
    /// CONFIGID, ISVPRODID, ISVSVN, REPORTDATA at Intel's offsets.
    private func reportBody(
        level: UInt32, attributes: [UInt8], mrEnclave: [UInt8], mrSigner: [UInt8], configID: [UInt8],
        productID: UInt16, svn: UInt16, reportData: [UInt8]
    ) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: SGXReportBody.byteCount)
        func put(_ bytes: [UInt8], at offset: Int) {
            body.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        put(SimulatedIntelPlatform.sgxComponents(level), at: 0)
        put(attributes, at: 48)
        put(mrEnclave, at: 64)
        put(mrSigner, at: 128)
        put(configID, at: 192)
        put(littleEndianBytes(productID), at: 256)
        put(littleEndianBytes(svn), at: 258)
        put(reportData, at: 320)
        return body
    }

    private func sgxReportBody(_ enclave: SimulatedEnclave, level: UInt32) -> [UInt8] {
        // INIT | MODE64BIT, DEBUG when debug; XFRM 0x03 (x87, SSE).
        let flags: UInt64 = 0x01 | 0x04 | (enclave.debug ? 0x02 : 0)
        return reportBody(
            level: level, attributes: littleEndianBytes(flags) + littleEndianBytes(UInt64(0x03)),
            mrEnclave: SimulatedIdentity.sgxMREnclave(measurement: enclave.measurement),
            mrSigner: SimulatedIdentity.sgxMRSigner(signer: enclave.signer),
            configID: enclave.manifestHash + [UInt8](repeating: 0, count: 16), productID: enclave.productID,
            svn: enclave.svn, reportData: enclave.reportData)
    }

    /// The attestation public key as quotes carry it: x ‖ y (64 bytes).
    var attestationPublicKey: [UInt8] { Array(attestationKey.publicKey.x963Representation.dropFirst()) }

    /// The certification of the attestation key by `tee`'s QE at `level` that every quote carries: the QE report
    /// binding the key, its PCK signature, the QE authentication data and the PCK chain `pckChainPEM` (type 5).
    func qeCertification(tee: IntelDCAPQuoteHeader.TEE, level: UInt32, pckChainPEM: String) throws -> [UInt8] {
        let qeReport = qeReportBody(tee: tee, level: level, attestationPublicKey: attestationPublicKey)
        let chain = Array(pckChainPEM.utf8) + [0]
        return qeReport + (try pckKey.signature(for: qeReport).rawRepresentation)
            + littleEndianBytes(UInt16(SimulatedIntelPlatform.qeAuthenticationData.count))
            + SimulatedIntelPlatform.qeAuthenticationData
            + littleEndianBytes(IntelDCAPQuote.pckCertificateChainType) + littleEndianBytes(UInt32(chain.count)) + chain
    }

    /// The quoting enclave's report: the SGX or TDX QE at `level`, its data binding the attestation key.
    private func qeReportBody(tee: IntelDCAPQuoteHeader.TEE, level: UInt32, attestationPublicKey: [UInt8]) -> [UInt8] {
        // INIT | MODE64BIT | PROVISIONKEY, XFRM 0xe7, as Intel's quoting enclaves.
        let flags: UInt64 = 0x01 | 0x04 | 0x10
        let binding = DigestAlgorithm.sha256.hash(attestationPublicKey + SimulatedIntelPlatform.qeAuthenticationData)
        return reportBody(
            level: level, attributes: littleEndianBytes(flags) + littleEndianBytes(UInt64(0xe7)),
            mrEnclave: tee == .sgx ? SimulatedIntelPlatform.sgxQEMREnclave : SimulatedIntelPlatform.tdxQEMREnclave,
            mrSigner: SimulatedIntelPlatform.qeMRSigner, configID: [],
            productID: tee == .sgx ? SimulatedIntelPlatform.sgxQEProductID : SimulatedIntelPlatform.tdxQEProductID,
            svn: SimulatedIntelPlatform.svn16(level), reportData: binding + [UInt8](repeating: 0, count: 32))
    }

    /// A TD report body: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM (zero), SEAM attributes (zero), TD attributes, XFAM, MRTD,
    /// MRCONFIGID, MROWNER, MROWNERCONFIG (zero), RTMR0-3 (zero), REPORTDATA; TD 1.5 adds TEE_TCB_SVN_2, MRSERVICETD.
    private func tdReportBody(_ enclave: SimulatedEnclave, level: UInt32, tdBody: SimulatedTDBody) -> [UInt8] {
        let teeTCBSVN = SimulatedIntelPlatform.tdxComponents(level)
        // SEPT_VE_DISABLE (bit 28), DEBUG (bit 0) when debug.
        let tdAttributes: UInt64 = (1 << 28) | (enclave.debug ? 1 : 0)
        var body =
            teeTCBSVN + SimulatedIntelPlatform.mrSeam + [UInt8](repeating: 0, count: 48 + 8)
            + littleEndianBytes(tdAttributes)
            + littleEndianBytes(UInt64(0x61ae7)) + enclave.measurement + enclave.manifestHash + enclave.signer
            + [UInt8](repeating: 0, count: 48 + 4 * 48) + enclave.reportData
        if tdBody == .td15 {
            body += teeTCBSVN + [UInt8](repeating: 0, count: 48)
        }
        return body
    }
}

/// `value`'s bytes, least significant first.
func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian, Array.init)
}
