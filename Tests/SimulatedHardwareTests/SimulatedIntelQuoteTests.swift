import Attestation
import CloisterCrypto
import Foundation
import SimulatedHardware
import Testing

@Suite("Simulated Intel vendor: fresh SGX and TDX DCAP quotes that Cloister's DCAP verifier accepts, by the mapping")
struct SimulatedIntelQuoteTests {
    @Test(
        "every kind (SGX v3, v4; TDX v4, v5 TD 1.0, v5 TD 1.5) verifies up to date, simulated, with the mapped identity"
    )
    func everyKindUpToDate() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(1), at: intelCreated)
        let tcb = SimulatedTCB(level: 3, latestLevel: 3)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let enclave = intelEnclave(0x40)
        for kind in IntelQuoteKind.all {
            let outcome = try cloisterVerdict(
                try kind.make(vendor, enclave, tcb, collateral), kind, root: vendor.rootCertificate,
                collateral: collateral)
            #expect(outcome.passed, "\(kind): \(outcome.checks.filter { !$0.passed })")
            let claims = try #require(outcome.claims, "\(kind)")
            #expect(claims.format == kind.format)
            #expect(claims.simulated, "\(kind)")
            #expect(claims.tcbStatus == .upToDate, "\(kind)")
            #expect(claims.advisoryIDs.isEmpty)
            #expect(!claims.debug)
            #expect(claims.reportData == hexEncoded(enclave.reportData))
            if kind.format == .sgx {
                #expect(claims.measurement == hexEncoded(DigestAlgorithm.sha256.hash(enclave.measurement)))
                #expect(claims.signer == hexEncoded(DigestAlgorithm.sha256.hash(enclave.signer)))
                #expect(claims.productID == enclave.productID && claims.svn == enclave.svn)
            } else {
                #expect(claims.measurement == hexEncoded(enclave.measurement))
            }
        }
    }

    @Test("the quotes' fields follow the mapping: MRCONFIGID, MROWNER, CONFIGID, attributes, TEE TCB SVN, QE")
    func fieldsFollowTheMapping() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(2), at: intelCreated)
        let tcb = SimulatedTCB(level: 2, latestLevel: 2)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let enclave = intelEnclave(0x11, debug: true)
        for kind in IntelQuoteKind.all {
            let quote = try IntelDCAPQuote(try kind.make(vendor, enclave, tcb, collateral))
            #expect(quote.userData == intelPlatformID(2) + [0, 0, 0, 0])
            #expect(quote.qeSVN == 2 && quote.pceSVN == 2)
            #expect(quote.qeAuthenticationData == Array(0..<32))
            #expect(
                quote.qeReport.mrSigner == DigestAlgorithm.sha256.hash(Array("cloister-simulated-qe-signer-v1".utf8)))
            #expect(quote.qeReport.isvProdID == (kind.format == .sgx ? 1 : 2))
            switch quote.body {
            case .sgx(let body):
                #expect(body.isDebug)
                #expect(body.attributes == [0x07, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0])
                #expect(body.cpuSVN == [2, 2] + [UInt8](repeating: 0, count: 14))
            case .td(let body):
                #expect(body.isDebug)
                #expect(body.tdAttributes == [0x01, 0, 0, 0x10, 0, 0, 0, 0])
                #expect(body.xfam == [0xe7, 0x1a, 0x06, 0, 0, 0, 0, 0])
                #expect(body.mrConfigID == enclave.manifestHash && body.mrOwner == enclave.signer)
                #expect(body.teeTCBSVN == [2, 1, 2] + [UInt8](repeating: 0, count: 13))
                #expect(body.mrSeam == DigestAlgorithm.sha384.hash(Array("cloister-simulated-tdx-module-v1".utf8)))
                #expect(body.mrSignerSeam == [UInt8](repeating: 0, count: 48))
                #expect(body.rtmrs.allSatisfy { $0 == [UInt8](repeating: 0, count: 48) })
                #expect(body.teeTCBSVN2 == (kind.description.hasSuffix("1.5") ? body.teeTCBSVN : nil))
            }
        }
        let outcome = try cloisterVerdict(
            try IntelQuoteKind.all[0].make(vendor, enclave, tcb, collateral), IntelQuoteKind.all[0],
            root: vendor.rootCertificate, collateral: collateral)
        #expect(outcome.passed && outcome.claims?.debug == true)
    }

    @Test("after a TCB recovery (latest level raised) every kind is out of date with the recovery's advisory")
    func recoveryMakesOutOfDate() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(3), at: intelCreated)
        let tcb = SimulatedTCB(level: 1, latestLevel: 2)
        let collateral = try vendor.publish(tcb, at: intelNow)
        for kind in IntelQuoteKind.all {
            let outcome = try cloisterVerdict(
                try kind.make(vendor, intelEnclave(1), tcb, collateral), kind, root: vendor.rootCertificate,
                collateral: collateral)
            #expect(outcome.passed, "\(kind): \(outcome.checks.filter { !$0.passed })")
            #expect(outcome.claims?.tcbStatus == .outOfDate, "\(kind)")
            #expect(outcome.claims?.advisoryIDs == ["CLOISTER-SA-00002"], "\(kind)")
        }
    }

    @Test("a platform whose configuration needs attention is configuration-needed (out of date below the latest)")
    func configurationNeeded() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(4), at: intelCreated)
        for (tcb, status) in [
            (SimulatedTCB(level: 2, latestLevel: 2, configurationNeeded: true), TCBStatus.configurationNeeded),
            (SimulatedTCB(level: 1, latestLevel: 2, configurationNeeded: true), .outOfDateConfigurationNeeded),
        ] {
            let collateral = try vendor.publish(tcb, at: intelNow)
            for kind in IntelQuoteKind.all {
                let outcome = try cloisterVerdict(
                    try kind.make(vendor, intelEnclave(2), tcb, collateral), kind, root: vendor.rootCertificate,
                    collateral: collateral)
                #expect(outcome.passed, "\(kind): \(outcome.checks.filter { !$0.passed })")
                #expect(outcome.claims?.tcbStatus == status, "\(kind) at \(tcb)")
            }
        }
    }

    @Test("a revoked platform's PCK certificate is on the PCK CRL: the certificate chain check fails")
    func revokedFailsTheChain() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(5), at: intelCreated)
        let tcb = SimulatedTCB(level: 1, latestLevel: 1, isRevoked: true)
        let collateral = try vendor.publish(tcb, at: intelNow)
        #expect(collateral.pckCRL.entry(for: collateral.pckCertificate) != nil)
        for kind in IntelQuoteKind.all {
            let outcome = try cloisterVerdict(
                try kind.make(vendor, intelEnclave(3), tcb, collateral), kind, root: vendor.rootCertificate,
                collateral: collateral)
            #expect(failedChecks(outcome) == ["certificate-chain"], "\(kind)")
        }
    }

    @Test("a quote of one enclave never verifies with another's report data or measurement")
    func changedIdentityFailsTheSignature() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(6), at: intelCreated)
        let tcb = SimulatedTCB(level: 1, latestLevel: 1)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let (mine, theirs) = (intelEnclave(4), intelEnclave(5))
        for kind in IntelQuoteKind.all {
            let quote = try kind.make(vendor, mine, tcb, collateral)
            let other = try kind.make(vendor, theirs, tcb, collateral)
            let offset = kind.description.hasPrefix("TDX v5") ? 54 : 48
            let bodyCount = kind.format == .sgx ? 384 : kind.description.hasSuffix("1.5") ? 648 : 584
            // Their body (measurement and report data) under my signature.
            var swapped = quote
            swapped.replaceSubrange(offset..<(offset + bodyCount), with: other[offset..<(offset + bodyCount)])
            // One byte of my report data flipped.
            var flipped = quote
            flipped[offset + bodyCount - 1] ^= 0x01
            for changed in [swapped, flipped] {
                let outcome = try cloisterVerdict(changed, kind, root: vendor.rootCertificate, collateral: collateral)
                #expect(failedChecks(outcome) == ["signature"], "\(kind)")
            }
        }
    }

    @Test("the collateral holds for its 30 days: after its next update the TCB info, QE identity and CRLs are stale")
    func collateralExpires() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(16), at: intelCreated)
        let tcb = SimulatedTCB(level: 1, latestLevel: 1)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let kind = IntelQuoteKind.all[3]
        let quote = try kind.make(vendor, intelEnclave(12), tcb, collateral)
        let root = vendor.rootCertificate
        #expect(try cloisterVerdict(quote, kind, root: root, collateral: collateral, at: intelNow + 29 * 86_400).passed)
        let stale = try cloisterVerdict(quote, kind, root: root, collateral: collateral, at: intelNow + 31 * 86_400)
        #expect(Set(failedChecks(stale)).isSuperset(of: ["collateral-current", "revocation-lists"]))
    }

    @Test("another vendor's root does not anchor the quotes; the quotes are still known as simulated")
    func otherRootRefused() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(7), at: intelCreated)
        let other = try SimulatedIntelVendor.create(platformID: intelPlatformID(8), at: intelCreated)
        let tcb = SimulatedTCB(level: 1, latestLevel: 1)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let kind = IntelQuoteKind.all[2]
        let outcome = try cloisterVerdict(
            try kind.make(vendor, intelEnclave(6), tcb, collateral), kind, root: other.rootCertificate,
            collateral: collateral)
        #expect(!outcome.passed)
        #expect(outcome.claims?.simulated == true)
    }

    @Test(
        "the PKI says it is simulated: names, the platform-id extension below the root, Intel's key usages, SGX extension"
    )
    func pkiFollowsTheRules() throws {
        let platformID = intelPlatformID(9)
        let vendor = try SimulatedIntelVendor.create(platformID: platformID, at: intelCreated)
        let collateral = try vendor.publish(SimulatedTCB(level: 4, latestLevel: 5), at: intelNow)
        let certificates = [
            collateral.rootCertificate, collateral.pckCACertificate, collateral.tcbSigningCertificate,
            collateral.pckCertificate,
        ]
        #expect(
            certificates.map { $0.subject.commonName } == [
                "Cloister Simulated SGX Root CA", "Cloister Simulated SGX PCK Platform CA",
                "Cloister Simulated SGX TCB Signing", "Cloister Simulated SGX PCK Certificate",
            ])
        for certificate in certificates {
            #expect(certificate.subject.organization == "Cloister Simulated Hardware")
            #expect(!certificate.subject.description.contains("Intel"))
            #expect(certificate.signatureAlgorithm == "ecdsa-with-SHA256")
            #expect(try certificate.publicKey().curve == .p256)
        }
        // The CAs below the root carry the platform-id extension; the root and the PCK certificate cannot (dcap-qvl).
        #expect(
            certificates.map { PlatformCertificateExtensions.platformID(of: $0) } == [
                nil, platformID, platformID, nil,
            ])
        #expect(
            certificates.compactMap { $0.extension(oid: PlatformCertificateExtensions.platformIDOID)?.isCritical }
                == [false, false])
        #expect(certificates.map(\.isCertificateAuthority) == [true, true, false, false])
        #expect(certificates.map(\.pathLengthConstraint) == [1, 0, nil, nil])
        #expect(
            certificates.map(\.keyUsage) == [
                [.keyCertSign, .cRLSign], [.keyCertSign, .cRLSign], [.digitalSignature, .nonRepudiation],
                [.digitalSignature, .nonRepudiation],
            ])
        let extensions = try PCKCertificateExtensions(of: collateral.pckCertificate)
        let fmspc = Array(DigestAlgorithm.sha256.hash(Array("cloister-fmspc-v1".utf8) + platformID).prefix(6))
        #expect(extensions.fmspc == fmspc && collateral.fmspc == fmspc)
        #expect(extensions.ppid == platformID)
        #expect(extensions.pceID == [0, 0])
        #expect(extensions.componentSVNs == [4, 4] + [Int](repeating: 0, count: 14))
        #expect(extensions.pceSVN == 4)
        #expect(extensions.cpuSVN == [4, 4] + [UInt8](repeating: 0, count: 14))
        #expect(extensions.sgxType == 1)
        #expect(extensions.configuration?.smtEnabled == true)
    }

    @Test("TCB info and QE identity: one level per published level, Intel's shape, current for 30 days")
    func collateralDocuments() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(10), at: intelCreated)
        let collateral = try vendor.publish(SimulatedTCB(level: 2, latestLevel: 3), at: intelNow)
        for tee in [IntelDCAPQuoteHeader.TEE.sgx, .tdx] {
            let tcbInfo = try DCAPTCBInfo(json: collateral.tcbInfo(tee).json)
            #expect(tcbInfo.id == tee.description)
            #expect(tcbInfo.fmspc == collateral.fmspc)
            #expect(tcbInfo.issueDate == intelNow && tcbInfo.nextUpdate == intelNow + 30 * 86_400)
            #expect(tcbInfo.tcbEvaluationDataNumber == 19)
            #expect(tcbInfo.levels.map(\.svn) == [3, 2, 1])
            #expect(tcbInfo.levels.map(\.status) == [.upToDate, .outOfDate, .outOfDate])
            #expect(
                tcbInfo.levels.map(\.advisoryIDs) == [
                    [], ["CLOISTER-SA-00003"], ["CLOISTER-SA-00002", "CLOISTER-SA-00003"],
                ])
            let qe = try DCAPQEIdentity(json: collateral.qeIdentity(tee).json)
            #expect(qe.id == (tee == .sgx ? "QE" : "TD_QE"))
            #expect(qe.levels.map(\.svn) == [3, 2, 1])
            if tee == .tdx {
                #expect(tcbInfo.tdxModuleIdentities.map(\.id) == ["TDX_01"])
                #expect(tcbInfo.tdxModuleIdentities.first?.levels.map(\.svn) == [3, 2, 1])
            }
        }
    }

    @Test("vendor and collateral round-trip through their CBOR; a quote of the read vendor verifies")
    func encodingRoundTrip() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(11), at: intelCreated)
        let read = try SimulatedIntelVendor(encoded: try vendor.encoded())
        #expect(try read.encoded() == vendor.encoded())
        #expect(read.rootCertificate == vendor.rootCertificate)
        let tcb = SimulatedTCB(level: 2, latestLevel: 3, configurationNeeded: true, isRevoked: false)
        let collateral = try SimulatedIntelCollateral(encoded: try vendor.publish(tcb, at: intelNow).encoded())
        #expect(collateral.tcb == tcb)
        let kind = IntelQuoteKind.all[4]
        let outcome = try cloisterVerdict(
            try kind.make(read, intelEnclave(7), tcb, collateral), kind, root: vendor.rootCertificate,
            collateral: collateral)
        #expect(outcome.passed, "\(outcome.checks.filter { !$0.passed })")
        #expect(outcome.claims?.tcbStatus == .outOfDateConfigurationNeeded)
    }

    @Test("a stored vendor or collateral missing a field, or with a wrong one, is refused naming the field")
    func malformedStateNamesTheField() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(12), at: intelCreated)
        let other = try SimulatedIntelVendor.create(platformID: intelPlatformID(13), at: intelCreated)
        // Swap one vendor's root key for the other's: the key no longer matches the root certificate.
        var mixed = try #require(try EditableCBORMap(vendor.encoded()))
        mixed["root_key"] = try #require(try EditableCBORMap(other.encoded()))["root_key"]
        #expect(throws: SimulatedHardwareError.self) { try SimulatedIntelVendor(encoded: try mixed.encoded()) }
        do {
            _ = try SimulatedIntelVendor(encoded: try mixed.encoded())
        } catch let error as SimulatedHardwareError {
            #expect(error.reason.contains("root_key"))
        }
        var missing = try #require(try EditableCBORMap(vendor.encoded()))
        missing["attestation_key"] = nil
        do {
            _ = try SimulatedIntelVendor(encoded: try missing.encoded())
            Issue.record("a vendor without its attestation key was read")
        } catch let error as SimulatedHardwareError {
            #expect(error.reason.contains("attestation_key"))
        }
        var collateral = try #require(
            try EditableCBORMap(vendor.publish(SimulatedTCB(level: 1, latestLevel: 1), at: intelNow).encoded()))
        collateral["pck_crl"] = try #require(try EditableCBORMap(vendor.encoded()))["pck_key"]
        do {
            _ = try SimulatedIntelCollateral(encoded: try collateral.encoded())
            Issue.record("collateral with a key for its PCK CRL was read")
        } catch let error as SimulatedHardwareError {
            #expect(error.reason.contains("pck_crl"))
        }
    }

    @Test("requests the platform cannot answer are refused: versions, body types, sizes, another level's collateral")
    func invalidRequests() throws {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(14), at: intelCreated)
        let tcb = SimulatedTCB(level: 2, latestLevel: 2)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let enclave = intelEnclave(8)
        #expect(throws: SimulatedHardwareError.self) {
            try vendor.sgxQuote(version: 5, enclave: enclave, tcb: tcb, collateral: collateral)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try vendor.tdxQuote(version: 4, tdBody: .td15, enclave: enclave, tcb: tcb, collateral: collateral)
        }
        var short = enclave
        short.reportData = [1, 2, 3]
        #expect(throws: SimulatedHardwareError.self) {
            try vendor.sgxQuote(version: 3, enclave: short, tcb: tcb, collateral: collateral)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try vendor.sgxQuote(
                version: 3, enclave: enclave, tcb: SimulatedTCB(level: 1, latestLevel: 2), collateral: collateral)
        }
        let other = try SimulatedIntelVendor.create(platformID: intelPlatformID(15), at: intelCreated)
        #expect(throws: SimulatedHardwareError.self) {
            try other.sgxQuote(version: 3, enclave: enclave, tcb: tcb, collateral: collateral)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try SimulatedIntelVendor.create(platformID: [1, 2, 3], at: intelCreated)
        }
    }
}
