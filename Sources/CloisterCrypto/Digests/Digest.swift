internal import COpenSSL

/// The SHA-2 digests Cloister uses (FIPS 180-4).
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "SHA-256"
    case sha384 = "SHA-384"
    case sha512 = "SHA-512"

    /// Output length in bytes.
    public var outputByteCount: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// Internal block length in bytes (HMAC's B).
    public var blockByteCount: Int {
        switch self {
        case .sha256: 64
        case .sha384, .sha512: 128
        }
    }

    /// OpenSSL's name for the digest, as used by `EVP_MD_fetch` and parameter APIs (which may keep the pointer).
    var openSSLName: PermanentCString {
        switch self {
        case .sha256: DigestName.sha256
        case .sha384: DigestName.sha384
        case .sha512: DigestName.sha512
        }
    }

    /// The fetched implementation, resolved once per process (implicit fetches on every call are slow in OpenSSL 3).
    var method: OpaquePointer {
        switch self {
        case .sha256: FetchedDigest.sha256.pointer
        case .sha384: FetchedDigest.sha384.pointer
        case .sha512: FetchedDigest.sha512.pointer
        }
    }

    /// Hashes `message` in one call.
    public func hash(_ message: some ContiguousBytesView) -> [UInt8] {
        var hasher = Hasher(self)
        hasher.update(message)
        return hasher.finalize()
    }

    /// An incremental hash over data that arrives in pieces.
    public struct Hasher: ~Copyable {
        private let context: OpaquePointer
        public let algorithm: DigestAlgorithm

        public init(_ algorithm: DigestAlgorithm) {
            self.algorithm = algorithm
            // Allocation failure here means the process is out of memory; there is nothing sensible to recover.
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex2(context, algorithm.method, nil) == 1 else {
                fatalError("EVP_DigestInit_ex2 failed: \(drainOpenSSLErrors())")
            }
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        public mutating func update(_ bytes: some ContiguousBytesView) {
            bytes.withBytes { buffer in
                _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
            }
        }

        public consuming func finalize() -> [UInt8] {
            var output = [UInt8](repeating: 0, count: algorithm.outputByteCount)
            var length: UInt32 = 0
            _ = EVP_DigestFinal_ex(context, &output, &length)
            return output
        }
    }
}

private enum DigestName {
    static let sha256 = PermanentCString("SHA2-256")
    static let sha384 = PermanentCString("SHA2-384")
    static let sha512 = PermanentCString("SHA2-512")
}

/// A digest implementation fetched from the default provider and kept for the life of the process.
final class FetchedDigest: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ algorithm: DigestAlgorithm) {
        guard let pointer = EVP_MD_fetch(nil, algorithm.openSSLName.pointer, nil) else {
            fatalError("EVP_MD_fetch(\(algorithm.rawValue)) failed: \(drainOpenSSLErrors())")
        }
        self.pointer = pointer
    }

    static let sha256 = FetchedDigest(.sha256)
    static let sha384 = FetchedDigest(.sha384)
    static let sha512 = FetchedDigest(.sha512)
}
