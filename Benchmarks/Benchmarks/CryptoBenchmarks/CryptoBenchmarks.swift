import Benchmark
import CloisterCrypto

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    for algorithm in DigestAlgorithm.allCases {
        let message = [UInt8](repeating: 0x5a, count: 16 * 1024)
        Benchmark("\(algorithm.rawValue) 16 KiB") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(algorithm.hash(message))
            }
        }
    }

    for keyBytes in [16, 32] {
        let key = try! AESGCMKey(randomOfByteCount: keyBytes)
        let nonce = try! SecureRandom.bytes(count: AESGCMKey.nonceByteCount)
        let block = [UInt8](repeating: 0x17, count: 16 * 1024)
        let sealed = try! key.seal(block, nonce: nonce)
        Benchmark("AES-\(keyBytes * 8)-GCM seal 16 KiB") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try key.seal(block, nonce: nonce))
            }
        }
        Benchmark("AES-\(keyBytes * 8)-GCM open 16 KiB") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try key.open(sealed, nonce: nonce))
            }
        }
    }

    let hmacKey = [UInt8](repeating: 0x0b, count: 32)
    let hmacMessage = [UInt8](repeating: 0x5a, count: 1024)
    Benchmark("HMAC-SHA-256 1 KiB") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try HMAC.authenticationCode(for: hmacMessage, key: hmacKey, digest: .sha256))
        }
    }

    let recipient = try! ECPrivateKey(generating: .p256)
    let update = [UInt8](repeating: 0x33, count: 4096)
    Benchmark("HPKE single-shot seal 4 KiB (P-256, AES-128-GCM)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try HPKE.seal(update, to: recipient.publicKey, info: [1]))
        }
    }

    for curve in ECCurve.allCases {
        let key = try! ECPrivateKey(generating: curve)
        let publicKey = key.publicKey
        let message = [UInt8](repeating: 0x42, count: 256)
        let signature = try! key.signature(for: message)
        Benchmark("ECDSA \(curve.rawValue) sign") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try key.signature(for: message))
            }
        }
        Benchmark("ECDSA \(curve.rawValue) verify") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(publicKey.isValidSignature(signature, for: message))
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
