import Attestation
import CloisterCBOR
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import FoundationEssentials
import Glibc
import Learning
import SimulatedHardware
import Verifier

extension FuzzTarget {
    /// Valid inputs to start a campaign from, each named: the real vectors for the evidence parsers, and for the
    /// others inputs made here with the fixed keys of `context` (so a sealed update or a signed statement opens).
    /// Throws naming a vector file that is missing.
    public func seeds(context: FuzzContext) throws -> [(name: String, bytes: [UInt8])] {
        func vector(_ path: String) throws -> (String, [UInt8]) {
            (path, Array(try Data(contentsOf: context.vectors.appendingPathComponent(path))))
        }
        let quotes = try ["sgx/sgx_quote", "sgx/tdx_quote", "sgx/trustee-tdx-quote-v5.dat"].map(vector)
        let milan = try X509Certificate.certificates(
            fromPEM: String(decoding: vector("snp/milan_ask_ark_asvk.pem").1, as: UTF8.self))
        let extended =
            try vector("snp/trustee-milan-report.bin").1
            + SimulatedAMDVendor.certificateTable(
                [(.vcek, try vector("snp/trustee-milan-vcek.der").1)]
                    + milan.filter { $0.description.contains("CN=SEV-Milan") }.map { (.ask, $0.derRepresentation) }
                    + milan.filter(\.isSelfSigned).map { (.ark, $0.derRepresentation) })
        let snp =
            try ["snp/attestation.bin", "snp/trustee-milan-report.bin"].map(vector)
            + [("trustee-milan-report.bin extended with its VCEK, ASK and ARK", extended)]
        let nitro = try ["nitro/evervault-prod-2022-10-13.cbor", "nitro/evervault-debug-2022-10-12.cbor"].map(vector)
        let collateral = try ["sgx/sgx_quote_collateral.json", "sgx/tdx_quote_collateral.json"].map(vector)
        switch self {
        case .cbor, .coseSign1, .attestationDocument:
            return nitro
        case .evidence:
            return quotes + snp + nitro
        case .dcapQuote:
            return quotes
        case .dcapCollateral:
            return collateral
        case .snpReport:
            return snp
        case .x509:
            return try x509Seeds(quotes: quotes.map(\.1), context: context)
        case .manifestTOML:
            return try manifests(context).map { ($0.name, Array($0.toml.utf8)) }
        case .signedManifest:
            return try manifests(context).flatMap { manifest in
                let read = try EnclaveManifest(toml: manifest.toml)
                    .fillingTrustedFileHashes(baseDirectory: context.root.appendingPathComponent("Manifests").path)
                let measured = try MeasuredManifest(
                    manifest: read, executableSHA384: [UInt8](repeating: 7, count: 48), libraries: [])
                return [
                    ("\(manifest.name) canonical", try read.canonicalEncoding()),
                    ("\(manifest.name) signed", try SignedManifest(signing: measured, with: context.clientKey).encoded),
                ]
            }
        case .policy:
            let policy = Policy(
                id: "fuzz", measurements: [String(repeating: "ab", count: 48)], pcrs: ["0": ["00"]],
                products: [.init(productID: 7, minimumSVN: 2)], maximumAgeSeconds: 300, requireNonce: true,
                acceptableTCBStatuses: [.upToDate, .swHardeningNeeded], allowedAdvisoryIDs: ["INTEL-SA-00615"],
                claims: ["mr_signer": ["cd"]], requiredVMPL: 0)
            let toml = """
                id = "fuzz"
                measurements = ["\(String(repeating: "ab", count: 48))"]
                allow_debug = false
                max_age_seconds = 300
                acceptable_tcb_statuses = ["up-to-date", "out-of-date"]
                [[products]]
                product_id = 7
                min_svn = 2
                [claims]
                mr_signer = ["cd"]
                """
            // Out-of-range integers, which a hand review found trapping the reader: kept as seeds.
            let outOfRange = [
                """
                id = "x"
                max_age_seconds = 9223372036854775807
                [[products]]
                product_id = 70000
                min_svn = -1
                """,
                #"{"id": "x", "max_age_seconds": -9223372036854775808, "products": [{"min_svn": 65536}]}"#,
            ]
            return [("policy.json", Array(try JSONEncoder().encode(policy))), ("policy.toml", Array(toml.utf8))]
                + outOfRange.enumerated().map { ("out-of-range integers \($0.offset)", Array($0.element.utf8)) }
        case .csvDataset:
            let csv = "label,a,b,c\n0,1.5,2,3\n1,-4,5e3,6\n2,7,8,9\n"
            let schema =
                #"{"class_count": 3, "features": {"a": {"bounds": [-10, 10]}, "b": {"bounds": [1, 1e4], "scale": "log"}, "c": {"bounds": [0, 9]}}}"#
            return [
                ("csv", Array(csv.utf8)), ("csv with schema", Array(csv.utf8) + [0] + Array(schema.utf8)),
                // A label a hand review found making the class count trap (kept as a seed).
                ("a label of 2,000,000,000", Array("label,a\n2000000000,1\n".utf8)),
            ]
        case .trainingSpec:
            let specs = [
                TrainingSpec(
                    label: "label", model: .softmax, epsilon: 1, delta: 1e-5, epochs: 2, batchSize: 8,
                    learningRate: 0.5, clip: 1),
                TrainingSpec(
                    label: "label", model: .mlp, hiddenUnits: 4, noiseMultiplier: 1.1, maxEpsilon: 8, delta: 1e-5,
                    epochs: 1, batchSize: 4, learningRate: 0.1, momentum: 0.9, clip: 0.5, centringNoise: 2,
                    testFraction: 0.25, seed: 3, audit: AuditSpec(canaries: 10, confidence: 0.95)),
            ]
            return try specs.enumerated().map { ("spec \($0.offset)", Array(try JSONEncoder().encode($0.element))) }
        case .sealedBlob:
            let request = try KeyRequest(
                policy: .signer, productID: 7, svn: 3, tcbLevel: 2,
                keyID: [UInt8](repeating: 9, count: KeyRequest.keyIDByteCount))
            let blob = SealedBlob(
                request: request, counter: MonotonicCounter(id: [UInt8](repeating: 1, count: 16), value: 5),
                nonce: [UInt8](repeating: 2, count: 12), ciphertext: [UInt8](repeating: 3, count: 40))
            return [("sealed blob", try blob.encoded())]
        case .sealedPage:
            return [("the genuine page", []), ("a page of zeros", [UInt8](repeating: 0, count: 4200))]
        case .channelFrames:
            return [("frames", try Self.frames([[1, 2, 3], [], try Self.ecall.encoded()]))]
        case .enclaveCall:
            return [
                ("ecall", try Self.ecall.encoded()),
                ("result", try EnclaveCallMessage.ecallResult(id: 1, outcome: .returned([4, 5])).encoded()),
            ]
        case .federationUpdate:
            let sealed = try SealedUpdate.seal(
                [0.5, -1, 2, 0], exampleCount: 10, round: 1, client: FuzzContext.client,
                federationID: FuzzContext.federationID, signingKey: context.clientKey,
                to: context.aggregatorKey.publicKey)
            return [("sealed update", sealed.message)]
        case .verifierHTTP:
            let generic = "application/octet-stream"
            let policy = #"{"id": "p1", "measurements": ["ab"], "allow_simulated": true, "require_nonce": false}"#
            return [
                ("verify a DCAP quote", FuzzRequest.spelling(route: 0, contentType: generic, body: quotes[0].1)),
                (
                    "verify a Nitro document with a nonce",
                    FuzzRequest.spelling(
                        route: 0, contentType: EvidenceFormat.nitro.mediaType, head: "?nonce=00ff",
                        body: nitro[0].1)
                ),
                ("a session's SNP report", FuzzRequest.spelling(route: 1, contentType: nil, body: snp[2].1)),
                (
                    "a JSON policy",
                    FuzzRequest.spelling(route: 2, contentType: nil, head: "p1", body: Array(policy.utf8))
                ),
                (
                    "a TOML policy",
                    FuzzRequest.spelling(
                        route: 2, contentType: nil, head: "p2", body: Array("id = \"p2\"\nrequire_nonce = true\n".utf8))
                ),
                (
                    "reference values",
                    FuzzRequest.spelling(
                        route: 3, contentType: nil, head: "rv",
                        body: Array(#"{"measurements": ["ab"], "signers": ["cd"]}"#.utf8))
                ),
            ]
        case .federationHTTP:
            let binding = CBORValue.map([
                CBORMapEntry("nonce", .bytes([UInt8](repeating: 5, count: 32))), CBORMapEntry("user_data", .null),
            ])
            return [
                (
                    "a quote request",
                    FuzzRequest.spelling(route: 0, contentType: "application/cbor", body: try binding.encoded())
                ),
                (
                    "an update sealed for another federation",
                    FuzzRequest.spelling(
                        route: 1, contentType: "application/cbor",
                        body: try FuzzTarget.federationUpdate.seeds(context: context)[0].bytes)
                ),
            ]
        case .signedStatement:
            let header = UpdateHeader(
                federationID: FuzzContext.federationID, round: 1, client: FuzzContext.client, exampleCount: 10,
                encapsulatedKey: "00")
            return [
                (
                    "update header",
                    try SignedStatement(header: header, parameters: [1, 2]).signed(with: context.clientKey)
                )
            ]
        }
    }

    private static let ecall = EnclaveCallMessage.ecall(id: 7, function: "train", argument: [1, 2, 3])

    /// The manifests under `Manifests/`, as text.
    private func manifests(_ context: FuzzContext) throws -> [(name: String, toml: String)] {
        try ["echo.toml", "dpsgd.toml", "fedavg.toml"].map { name in
            (name, try String(contentsOf: context.root.appendingPathComponent("Manifests/\(name)"), encoding: .utf8))
        }
    }

    /// The bytes a channel writes for `messages`, read raw from the other end.
    private static func frames(_ messages: [[UInt8]]) throws -> [UInt8] {
        let (writer, reader) = try Channel.makePair()
        for message in messages { try writer.send(message) }
        writer.shutdown()
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(reader.descriptor.rawValue, $0.baseAddress, 4096) }
            guard count > 0 else { break }
            bytes += buffer.prefix(count)
        }
        return bytes
    }

    /// The certificates and CRLs the vectors carry: DER, a PEM chain as quotes carry it, CRLs from the collateral.
    private func x509Seeds(quotes: [[UInt8]], context: FuzzContext) throws -> [(name: String, bytes: [UInt8])] {
        let quote = try IntelDCAPQuote(quotes[0])
        let chain = try X509Certificate.certificates(fromChainPEM: quote.pckCertificateChain)
        var seeds = [("PCK chain PEM", quote.pckCertificateChain)]
        for (index, certificate) in chain.enumerated() {
            seeds.append(("PCK chain certificate \(index)", certificate.derRepresentation))
        }
        let collateral = try DCAPCollateral(
            json: Array(try Data(contentsOf: context.vectors.appendingPathComponent("sgx/sgx_quote_collateral.json"))),
            source: "sgx_quote_collateral.json")
        seeds.append(("root CA CRL", collateral.rootCACRL.derRepresentation))
        seeds.append(("PCK CRL", collateral.pckCRL.derRepresentation))
        return seeds
    }
}
