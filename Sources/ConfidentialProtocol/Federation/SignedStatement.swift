import CloisterCBOR
public import CloisterCrypto
public import Federated
import FoundationEssentials

/// A statement signed with COSE_Sign1 (ES256): a JSON header (what it says) and a float32 vector (little-endian
/// bytes, so a million-parameter model is 4 MB with no text to parse). The enclave signs the federation and each
/// global model with the key its quote binds; a client signs its update's header with its registered key
/// (`SealedUpdate`).
public struct SignedStatement<Header: Codable & Sendable & Equatable>: Sendable, Equatable {
    public let header: Header
    public let parameters: [Float]

    public init(header: Header, parameters: [Float] = []) {
        self.header = header
        self.parameters = parameters
    }

    /// The COSE_Sign1 message signed with `key`.
    public func signed(with key: ECPrivateKey) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = try CBORValue.map([
            CBORMapEntry("header", .bytes(Array(encoder.encode(header)))),
            CBORMapEntry("parameters", .bytes(Self.bytes(of: parameters))),
        ]).encoded()
        return try COSESign1(signing: payload, with: key).encoded()
    }

    /// Opens `bytes` as `what`: the signature must verify with the key `signer` names for the header (the attested
    /// enclave key, or the registered key of the client the header names). Throws `rejection` otherwise.
    public init(
        signed bytes: [UInt8], what: String, rejection: FederationError.Code = .statementRejected,
        signer: (Header) throws(FederationError) -> ECPublicKey
    ) throws(FederationError) {
        let (message, header, parameters) = try Self.decode(bytes, what: what)
        let key = try signer(header)
        do {
            try message.verifySignature(with: key)
        } catch {
            throw FederationError(rejection, "\(what) does not verify with the expected key: \(error)")
        }
        self.header = header
        self.parameters = parameters
    }

    /// Reads `bytes` without checking the signature: for the untrusted host, which only reports what the enclave
    /// published (every client verifies it).
    public init(unverified bytes: [UInt8], what: String) throws(FederationError) {
        (_, header, parameters) = try Self.decode(bytes, what: what)
    }

    private static func decode(_ bytes: [UInt8], what: String) throws(FederationError) -> (
        COSESign1, Header, [Float]
    ) {
        let message: COSESign1
        do {
            message = try COSESign1(encoded: bytes)
        } catch {
            throw FederationError(.protocolViolation, "\(what) is not a COSE_Sign1 message: \(error)")
        }
        // The payload, deterministic CBOR {"header", "parameters"} as `signed(with:)` writes it, read in place:
        // the parameters are megabytes.
        let payload = message.payload
        var cursor = CBORCursor(payload)
        let fields = try? cursor.readByteStringFields(count: 2)
        guard cursor.isAtEnd, let header = fields?["header"], let vector = fields?["parameters"], vector.count % 4 == 0
        else {
            throw FederationError(.protocolViolation, "\(what) lacks its header or float32 parameters")
        }
        do {
            return (
                message, try JSONDecoder().decode(Header.self, from: Data(payload[header])),
                floats(of: payload[vector])
            )
        } catch {
            throw FederationError(.protocolViolation, "\(what) has no valid header: \(error)")
        }
    }

    package static func bytes(of floats: [Float]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: floats.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in floats.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
        return bytes
    }

    package static func floats(of bytes: ArraySlice<UInt8>) -> [Float] {
        let count = bytes.count / 4
        #if _endian(little)
            // The wire order is the machine's: one copy.
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]))
                }
                initialized = count
            }
        #else
            return bytes.withUnsafeBytes { raw in
                (0..<count).map { index in
                    Float(
                        bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                }
            }
        #endif
    }
}
