import CloisterCrypto
import Learning
import Synchronization

/// The random streams of `dp train` and `dp audit` outside an enclave: AES-256-CTR keystreams (`KeyedRandomStream`)
/// under one key drawn from OpenSSL's DRBG when the streams are made, each stream a number of its own, never handed out
/// twice. AES-CTR under a secret random key is the DRBG's own construction (NIST SP 800-90A's CTR_DRBG), without its
/// reseeding and without the new key CTR_DRBG makes after every request: while the run lasts, whoever reads this
/// process's memory could regenerate every step's noise. That reader also has the training data, which is in the same
/// memory; when the streams are let go, `AESCTRKey` frees its OpenSSL contexts, which wipe the key schedule. A fresh
/// generator on the DRBG for every chunk of every step cost a 4 KiB `RAND_bytes` each, and the keystream's words come a
/// third faster (`scripts/bench-noise`).
final class SecureRandomStreams: RandomStreams {
    private let key: AESCTRKey
    private let issued = Atomic<UInt64>(0)

    init() throws { key = try AESCTRKey.random() }

    /// A stream not handed out before (whatever `index`: the step's chunks and its own generator each take the next).
    func stream(_ index: Int) -> KeyedRandomStream {
        KeyedRandomStream(key: key, stream: issued.wrappingAdd(1, ordering: .relaxed).oldValue)
    }
}
