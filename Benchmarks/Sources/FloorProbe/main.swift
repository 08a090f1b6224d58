// Measures, on one core, the rates of the operations that `scripts/bench-floor` divides by `openssl speed`.
// Output: one line per probe, `name rate unit`, so the script can pair each with OpenSSL's figure.
import CloisterCrypto
import ProbeSupport

let arguments = CommandLine.arguments.dropFirst()
let seconds = arguments.first.flatMap(Double.init) ?? 3
let only = Set(arguments.dropFirst())

func wanted(_ name: String) -> Bool { only.isEmpty || only.contains(name) }

if wanted("aes-256-gcm-16k") {
    let key = try AESGCMKey(randomOfByteCount: 32)
    let nonce = try SecureRandom.bytes(count: AESGCMKey.nonceByteCount)
    let block = [UInt8](repeating: 0x17, count: 16 * 1024)
    // `openssl speed -evp aes-256-gcm` also reuses one nonce per key; it measures throughput, not usage.
    let perSecond = try rate(seconds: seconds) { _ = try key.seal(block, nonce: nonce) }
    report("aes-256-gcm-16k", perSecond * Double(block.count), "B/s")
}

if wanted("ecdsa-p256-sign") || wanted("ecdsa-p256-verify") {
    let key = try ECPrivateKey(generating: .p256)
    let publicKey = key.publicKey
    // `openssl speed` signs a 20-byte digest; a 32-byte message costs one SHA-256 block on top.
    let message = [UInt8](repeating: 0x42, count: 32)
    let signature = try key.signature(for: message)
    if wanted("ecdsa-p256-sign") {
        report("ecdsa-p256-sign", try rate(seconds: seconds) { _ = try key.signature(for: message) }, "op/s")
    }
    if wanted("ecdsa-p256-verify") {
        report(
            "ecdsa-p256-verify",
            rate(seconds: seconds) {
                precondition(publicKey.isValidSignature(signature, for: message))
            }, "op/s")
    }
}
