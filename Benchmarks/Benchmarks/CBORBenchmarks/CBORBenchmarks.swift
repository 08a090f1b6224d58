import Benchmark
import CloisterCBOR
import CloisterCrypto

/// A payload shaped like a Cloister / Nitro attestation document: PCRs, a certificate, a CA bundle, nonce, key.
func attestationShapedPayload() -> CBORValue {
    let certificate = CBORValue.bytes([UInt8](repeating: 0x30, count: 640))
    var pcrs: [CBORMapEntry] = []
    for index in 0..<16 {
        pcrs.append(CBORMapEntry(.unsigned(UInt64(index)), .bytes([UInt8](repeating: UInt8(index), count: 48))))
    }
    return .map([
        CBORMapEntry("module_id", "i-0123456789abcdef0-enc0123456789abcd"),
        CBORMapEntry("digest", "SHA384"),
        CBORMapEntry("timestamp", .unsigned(1_700_000_000_000)),
        CBORMapEntry("pcrs", .map(pcrs)),
        CBORMapEntry("certificate", certificate),
        CBORMapEntry("cabundle", .array([certificate, certificate, certificate])),
        CBORMapEntry("public_key", .bytes([UInt8](repeating: 4, count: 65))),
        CBORMapEntry("user_data", .null),
        CBORMapEntry("nonce", .bytes([UInt8](repeating: 7, count: 32))),
    ])
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    let document = attestationShapedPayload()
    let encoded = try! document.encoded()
    Benchmark("CBOR encode attestation document (\(encoded.count) B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try document.encoded())
        }
    }
    Benchmark("CBOR decode attestation document (\(encoded.count) B)") { benchmark in
        let decoder = CBORDecoder()
        for _ in benchmark.scaledIterations {
            blackHole(try decoder.decode(encoded))
        }
    }

    for curve in ECCurve.allCases {
        let key = try! ECPrivateKey(generating: curve)
        let publicKey = key.publicKey
        let message = try! COSESign1(signing: encoded, with: key).encoded()
        Benchmark("COSE_Sign1 \(COSEAlgorithm(curve: curve).name) parse + verify") { benchmark in
            for _ in benchmark.scaledIterations {
                let parsed = try COSESign1(encoded: message)
                try parsed.verifySignature(with: publicKey)
            }
        }
    }
}
