import CloisterCBOR
import CloisterCrypto
import EnclaveProtocol

/// The enclave's trusted files: the sealed copies the platform made and checked against the signed hashes at
/// launch, received in the start-up handshake. The enclave reads trusted files only through them, never from the
/// host's filesystem, so a file the host replaces after launch changes nothing inside (DESIGN.md invariant 7).
public final class TrustedFiles: Sendable {
    /// One trusted file: its URI, the path the platform copied it from, and the sealed copy.
    struct Entry: Sendable {
        let uri: String
        let path: String
        let descriptor: FileDescriptor
    }

    private let entries: [Entry]

    init(_ entries: [Entry]) {
        self.entries = entries
    }

    /// The URIs, in the manifest's order.
    public var uris: [String] { entries.map(\.uri) }

    /// The content of the trusted file with `uri` (as the manifest writes it), or nil when there is none.
    public func contents(ofURI uri: String) throws -> [UInt8]? {
        try entries.first { $0.uri == uri }.map(Self.read)
    }

    /// The content of the trusted file copied from `path` (absolute, as the platform resolved it), or nil.
    public func contents(atPath path: String) throws -> [UInt8]? {
        try entries.first { $0.path == path }.map(Self.read)
    }

    private static func read(_ entry: Entry) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try SealedFile.readSealed(entry.descriptor) { bytes += $0 }
        return bytes
    }

    /// Receives `count` trusted files from the platform, asking for each in turn.
    static func receive(count: Int, from platform: PlatformConnection) throws -> TrustedFiles {
        TrustedFiles(
            try (0..<count).map { index in
                let (reply, descriptor) = try platform.callReceivingDescriptor(
                    .trustedFile, CBORValue.unsigned(UInt64(index)))
                let value = try CBORDecoder().decode(reply)
                guard let uri = value["uri"]?.textValue, let path = value["path"]?.textValue else {
                    throw PlatformError(.invalidRequest, "the platform's trusted-file reply is malformed")
                }
                return Entry(uri: uri, path: path, descriptor: descriptor)
            })
    }
}
