import Benchmark
import CloisterCrypto

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    for algorithm in DigestAlgorithm.allCases {
        let message = [UInt8](repeating: 0x5a, count: 16 * 1024)
        Benchmark("\(algorithm.rawValue) 16 KiB") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(algorithm.hash(message))
            }
        }
    }

    for curve in ECCurve.allCases {
        let key = try! ECPrivateKey(generating: curve)
        let message = [UInt8](repeating: 0x42, count: 256)
        let signature = try! key.signature(for: message)
        Benchmark("ECDSA \(curve.rawValue) sign") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try key.signature(for: message))
            }
        }
        Benchmark("ECDSA \(curve.rawValue) verify") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(key.publicKey.isValidSignature(signature, for: message))
            }
        }
    }

    let alice = try! ECPrivateKey(generating: .p256)
    let bob = try! ECPrivateKey(generating: .p256).publicKey
    Benchmark("ECDH P-256") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try alice.sharedSecret(with: bob))
        }
    }
}
