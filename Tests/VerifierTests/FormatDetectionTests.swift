import Attestation
import CloisterCrypto
import CloisterErrors
import CloisterTestSupport
import Foundation
import Testing
import Verifier

/// Real AMD SEV-SNP reports from Tests/Vectors/testvectors: what a registry that recognises them without verifying
/// them (`awaitingVerifiers`) refuses as not supported yet.
struct RecognisedVector: Sendable, CustomStringConvertible {
    let path: String
    /// What the refusal must say the evidence is.
    let kind: String

    static let all = [
        RecognisedVector(path: "snp/attestation.bin", kind: "an AMD SEV-SNP attestation report, version 2"),
        RecognisedVector(path: "snp/trustee-milan-report.bin", kind: "an AMD SEV-SNP attestation report, version 2"),
    ]

    var description: String { path }

    func bytes() throws -> [UInt8] {
        Array(try Data(contentsOf: TestEnvironment.vector("testvectors/\(path)")))
    }
}

@Suite("Evidence formats: auto detection through the registry")
struct FormatDetectionTests {
    private let detector = EvidenceVerifier(trust: TrustStore())

    /// The refusal `format(of:)` throws for `bytes`, or nil when they read as a format.
    private func refusal(
        _ bytes: [UInt8], requested: EvidenceFormat? = nil, by verifier: EvidenceVerifier? = nil
    ) -> AttestationError? {
        do {
            _ = try (verifier ?? detector).format(of: bytes, requested: requested)
            return nil
        } catch {
            return error
        }
    }

    @Test("auto detection reads a Cloister quote as cloister, every Nitro vector as nitro, DCAP quotes by their TEE")
    func verifiedFormats() throws {
        #expect(try detector.format(of: CloisterEvidence().quote()) == .cloister)
        for vector in NitroVector.all {
            #expect(try detector.format(of: vector.bytes()) == .nitro, "\(vector)")
        }
        for vector in dcapVectors {
            #expect(try detector.format(of: vectorBytes(vector.path)) == (vector.tee == .sgx ? .sgx : .tdx))
        }
    }

    @Test(
        "evidence a registry recognises but does not verify is refused as not supported yet, named, never as COSE",
        arguments: RecognisedVector.all)
    func recognised(vector: RecognisedVector) throws {
        let bytes = try vector.bytes()
        let registry = EvidenceFormatRegistry(
            verifiers: [CloisterQuoteVerifier(), NitroDocumentVerifier()], awaitingVerifiers: [SEVSNPReportVerifier()])
        let detector = EvidenceVerifier(trust: TrustStore(), registry: registry)
        for requested in [nil] + registry.formats {
            let error = try #require(
                refusal(bytes, requested: requested, by: detector), "\(String(describing: requested))")
            #expect(error.code == .unsupportedFormat)
            #expect(error.reason.hasPrefix("the evidence is \(vector.kind)"), "\(error.reason)")
            #expect(error.reason.contains("cannot verify it yet"))
            #expect(!error.reason.contains("COSE"))
        }
        let result = Appraiser(evidence: detector, signer: testSigner).evaluate(
            bytes, policy: Policy(id: "any"), at: Date())
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == ["decode"])
        #expect(result.refusal?.code == .unsupportedFormat)
        #expect(result.format == nil)
        #expect(result.claims == nil)
    }

    @Test("every truncation of every vector gets the refusal its framing calls for, without a trap")
    func truncations() throws {
        var vectors: [(String, [UInt8])] = [("cloister quote", try CloisterEvidence().quote())]
        vectors += try NitroVector.all.map { ($0.name, try $0.bytes()) }
        vectors += try RecognisedVector.all.map { ($0.path, try $0.bytes()) }
        vectors += try dcapVectors.map { ($0.path, try vectorBytes($0.path)) }
        for (name, bytes) in vectors {
            let isCOSE = bytes[0] >> 5 == 4 || bytes[0] >> 5 == 6
            let isDCAP = name.hasPrefix("sgx/")
            for length in Set([0, 1, 2, 27, 47, 48, 53, 100, 431, 635, bytes.count / 2, bytes.count - 1])
            where length < bytes.count {
                guard let error = refusal(Array(bytes.prefix(length))) else {
                    // The TDX v4 quote is padded with 70 zero bytes after its signature data: cut into them, it reads.
                    #expect(name == "sgx/tdx_quote" && length >= bytes.count - 70, "\(name) cut to \(length)")
                    continue
                }
                let expected: ErrorCode<AttestationError> =
                    if length == 0 {
                        .unknownFormat
                    } else if isCOSE {
                        .malformedEvidence
                    } else if isDCAP && length >= IntelDCAPQuoteHeader.byteCount {
                        .malformedEvidence
                    } else {
                        .unknownFormat
                    }
                #expect(error.code == expected, "\(name) cut to \(length): \(error.reason)")
                if isDCAP && expected == .malformedEvidence {
                    #expect(
                        error.reason.contains("Intel TDX DCAP quote") || error.reason.contains("Intel SGX DCAP quote"))
                }
            }
        }
    }

    @Test("unknown bytes are refused naming every format tried; random bytes never trap")
    func unknownBytes() throws {
        let error = try #require(refusal([0xff, 0x00]))
        #expect(error.code == .unknownFormat)
        #expect(error.reason.contains("2 bytes, starting ff00"))
        let registry = EvidenceFormatRegistry.standard
        for name in registry.verifiers.map(\.name) + registry.awaitingVerifiers.map(\.name) {
            #expect(error.reason.contains(name), "\(name)")
        }
        #expect(refusal([])?.reason.contains("(0 bytes)") == true)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0...1300, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let error = try #require(refusal(bytes))
            let isCOSE = bytes.first.map { $0 >> 5 == 4 || $0 >> 5 == 6 } ?? false
            #expect(error.code == (isCOSE ? .malformedEvidence : .unknownFormat), "\(hexEncoded(bytes))")
        }
    }

    /// `bytes` with the little-endian `value` written at `offset`.
    private func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt32, width: Int) -> [UInt8] {
        var bytes = bytes
        for index in 0..<width { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
        return bytes
    }

    @Test("a DCAP header one field away from a quote's is unknown; a bad body or signature length is named")
    func dcapHeaderFields() throws {
        let sgx = try vectorBytes("sgx/sgx_quote")
        let tdx5 = try vectorBytes("sgx/trustee-tdx-quote-v5.dat")
        for (change, bytes) in [
            ("version 2", patched(sgx, at: 0, 2, width: 2)), ("version 6", patched(sgx, at: 0, 6, width: 2)),
            ("key type 3", patched(sgx, at: 2, 3, width: 2)), ("TEE type 1", patched(sgx, at: 4, 1, width: 4)),
            ("TDX in version 3", patched(sgx, at: 4, 0x81, width: 4)),
            ("another QE vendor", patched(sgx, at: 12, 0x9b, width: 1)),
        ] {
            #expect(refusal(bytes)?.code == .unknownFormat, "\(change)")
        }
        let badBody = try #require(refusal(patched(tdx5, at: 48, 7, width: 2)))
        #expect(badBody.code == .malformedEvidence)
        #expect(badBody.reason.contains("states a body of type 7 and 648 bytes"), "\(badBody.reason)")
        let badSize = try #require(refusal(patched(tdx5, at: 50, 584, width: 4)))
        #expect(badSize.reason.contains("type 3 and 584 bytes"), "\(badSize.reason)")
        let longSignature = try #require(refusal(patched(sgx, at: 432, 5000, width: 4)))
        #expect(longSignature.code == .malformedEvidence)
        #expect(longSignature.reason.contains("states 5000 bytes of signature data where 4164 follow"))
        #expect(refusal(sgx + [0, 0, 0]) == nil, "trailing padding is a quote's")
    }

    @Test(
        "an SEV-SNP report is known by its size, version and signature algorithm; what follows is its certificate table"
    )
    func snpFields() throws {
        let report = try RecognisedVector.all[0].bytes()
        for version: UInt32 in [2, 3, 5] {
            #expect(try detector.format(of: patched(report, at: 0, version, width: 4)) == .snp, "\(version)")
        }
        for (change, bytes) in [
            ("version 4", patched(report, at: 0, 4, width: 4)), ("version 1", patched(report, at: 0, 1, width: 4)),
            ("signature algorithm 2", patched(report, at: 0x34, 2, width: 4)), ("one byte short", report.dropLast()),
        ] {
            #expect(refusal(Array(bytes))?.code == .unknownFormat, "\(change)")
        }
        // What follows a report is an extended report's certificate table: one byte is not one.
        #expect(refusal(report + [0])?.code == .malformedEvidence)
    }

    @Test("detection reads the registry: without the Cloister format a quote is unknown, naming what was tried")
    func registryDecides() throws {
        let nitroOnly = EvidenceFormatRegistry(verifiers: [NitroDocumentVerifier()])
        let verifier = EvidenceVerifier(trust: TrustStore(), registry: nitroOnly)
        let error = try #require(refusal(CloisterEvidence().quote(), by: verifier))
        #expect(error.code == .unknownFormat)
        #expect(error.reason.hasSuffix("tried: AWS Nitro Enclaves attestation document"), "\(error.reason)")
        #expect(try verifier.format(of: NitroVector.all[0].bytes()) == .nitro)
        #expect(nitroOnly.format(mediaType: EvidenceFormat.cloister.mediaType) == nil)
    }

    @Test("names and media types come from the registry, each once")
    func registryNames() {
        let registry = EvidenceFormatRegistry.standard
        #expect(EvidenceFormat.allCases == [.cloister, .nitro, .sgx, .tdx, .snp])
        #expect(registry.mediaTypes == EvidenceFormat.allCases.map(\.mediaType))
        #expect(Set(registry.mediaTypes).count == registry.mediaTypes.count)
        for format in EvidenceFormat.allCases {
            #expect(registry.format(named: format.rawValue) == format)
            #expect(registry.verifier(for: format)?.format == format)
        }
        #expect(registry.format(named: "sev") == nil)
    }
}
