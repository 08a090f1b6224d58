import CloisterCBOR
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import FoundationEssentials
import Glibc
import Synchronization
import Verifier

/// What the platform and the enclave read from the host or from users: manifests, policies, sealed blobs and pages,
/// channel frames and ECALL messages.
enum PlatformTargets {
    /// A TOML manifest; its canonical encoding (refused while a trusted file's hash is still to be filled, and with
    /// sets such as the syscall allow-list sorted) decodes to a manifest with the same canonical encoding.
    static func manifestTOML(_ input: [UInt8]) {
        guard let manifest = try? EnclaveManifest(toml: String(decoding: input, as: UTF8.self)),
            let canonical = try? manifest.canonicalEncoding()
        else { return }
        require(
            (try? EnclaveManifest(canonicalEncoding: canonical).canonicalEncoding()) == canonical,
            "a manifest's canonical encoding decodes to the same canonical encoding")
    }

    /// A signed manifest (COSE_Sign1 over the canonical manifest and the executable's and libraries' digests);
    /// the canonical decoder on its own too.
    static func signedManifest(_ input: [UInt8]) {
        if let manifest = try? EnclaveManifest(canonicalEncoding: input) {
            require((try? manifest.canonicalEncoding()) == input, "a canonical manifest encodes to its own bytes")
        }
        guard let signed = try? SignedManifest(encoded: input) else { return }
        require(signed.encoded == input, "a signed manifest keeps its bytes")
        require(
            (try? signed.manifest.canonicalEncoding()) == signed.canonicalManifest, "the signed manifest is canonical")
    }

    /// A policy in TOML or JSON; what reads writes as JSON that reads back to the same policy.
    static func policy(_ input: [UInt8]) {
        guard let policy = try? Policy(text: String(decoding: input, as: UTF8.self)) else { return }
        guard let json = try? JSONEncoder().encode(policy) else {
            return require(false, "a policy that reads encodes as JSON")
        }
        require(
            (try? Policy(text: String(decoding: json, as: UTF8.self))) == policy,
            "a policy written as JSON reads back to itself")
    }

    /// A sealed blob's envelope; what decodes encodes and decodes back to itself.
    static func sealedBlob(_ input: [UInt8]) {
        guard let blob = try? SealedBlob(encoded: input) else { return }
        guard let encoded = try? blob.encoded() else { return require(false, "a sealed blob that decodes encodes") }
        require((try? SealedBlob(encoded: encoded)) == blob, "a sealed blob round-trips")
    }

    /// A page of a sealed region coming back from a hostile backing store as the input's bytes: it is refused
    /// (`IntegrityFault`) unless it is the page that was sealed, and the region stays refused after a fault.
    static func sealedPage(_ input: [UInt8]) {
        let store = HostileStore(record: input)
        guard let memory = try? EnclaveMemory(budget: EnclaveMemory.pageSize, store: store),
            let region = try? memory.makeRegion(named: "fuzz", byteCount: 2 * EnclaveMemory.pageSize)
        else { return require(false, "a one-page sealed memory opens") }
        // Page 0 written and evicted by touching page 1: its sealed record goes to the store, which then answers
        // with the input instead (or, when the input is empty, with the genuine record: the page must read back).
        let written = [UInt8](repeating: 0x5a, count: 64)
        guard (try? region.write(written, at: 0)) != nil, (try? region.write([1], at: EnclaveMemory.pageSize)) != nil
        else { return require(false, "a sealed region takes writes") }
        let read = try? region.read(at: 0, count: written.count)
        if store.answeredGenuine {
            require(read == written, "the genuine sealed page reads back")
        } else {
            require(read == nil, "a page the host altered is refused")
            require((try? region.read(at: EnclaveMemory.pageSize, count: 1)) == nil, "a faulted region stays refused")
        }
    }

    /// Frames written raw to one end of a channel and read at the other: each read gives a frame or an error, never a
    /// crash or a frame larger than the channel's maximum.
    static func channelFrames(_ input: [UInt8]) {
        let maximum = 1 << 16
        guard let (writer, reader) = try? Channel.makePair(maximumFrameSize: maximum) else {
            return require(false, "a channel pair opens")
        }
        let written = input.prefix(200_000).withUnsafeBytes {
            Glibc.write(writer.descriptor.rawValue, $0.baseAddress, $0.count)
        }
        require(written >= 0, "the raw frames are written")
        writer.shutdown()
        for _ in 0..<1_000 {
            guard let frame = try? reader.receive() else { return }
            require(frame.count <= maximum, "no frame beyond the channel's maximum")
            _ = try? EnclaveCallMessage(decoding: frame)
        }
    }

    /// An ECALL or OCALL message; what decodes encodes and decodes back to itself.
    static func enclaveCall(_ input: [UInt8]) {
        guard let message = try? EnclaveCallMessage(decoding: input) else { return }
        guard let encoded = try? message.encoded() else { return require(false, "a decoded ECALL message encodes") }
        require((try? EnclaveCallMessage(decoding: encoded)) == message, "an ECALL message round-trips")
    }
}

/// A backing store that keeps the first record written and answers every read with the fuzz input instead (or with
/// the genuine record when the input is empty).
private final class HostileStore: BackingStore, Sendable {
    private let record: [UInt8]
    private let genuine = Mutex<[UInt8]?>(nil)
    private let answered = Mutex(false)

    init(record: [UInt8]) { self.record = record }

    var answeredGenuine: Bool { answered.withLock { $0 } }

    func write(_ record: [UInt8], region: String, slot: Int) throws {
        genuine.withLock { if $0 == nil { $0 = record } }
    }

    func read(region: String, slot: Int, byteCount: Int) throws -> [UInt8]? {
        if record.isEmpty, let genuine = genuine.withLock({ $0 }) {
            answered.withLock { $0 = true }
            return genuine
        }
        return record.count >= byteCount ? Array(record.prefix(byteCount)) : nil
    }
}
