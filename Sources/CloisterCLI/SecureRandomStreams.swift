import CloisterCrypto
import Learning

/// The noise streams of `dp train` and `dp audit` outside an enclave: each a fresh generator on OpenSSL's DRBG.
struct SecureRandomStreams: RandomStreams {
    func stream(_ index: Int) -> BufferedSecureRandom { BufferedSecureRandom() }
}
