import CloisterCBOR
import CloisterCrypto

/// A CBOR map with text keys as every simulated vendor stores its keys, certificates and collateral in the platform
/// home: written deterministically (RFC 8949 §4.2.1), read field by field with refusals naming the record, the field
/// and what it should have been.
struct VendorRecord {
    private var fields: [String: CBORValue]
    /// What the record is, as refusals name it ("the simulated AMD vendor").
    private let subject: String

    init(subject: String) {
        self.subject = subject
        fields = [:]
    }

    /// Reads `bytes` as one CBOR map with text keys whose `version` field is `version` (nil: a nested record without
    /// one).
    init(decoding bytes: [UInt8], subject: String, version: UInt64?) throws(SimulatedHardwareError) {
        self.subject = subject
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(bytes)
        } catch {
            throw SimulatedHardwareError(.malformedState, "\(subject) is not one CBOR item: \(error.reason)")
        }
        guard let entries = value.mapValue else {
            throw SimulatedHardwareError(.malformedState, "\(subject) is not a map")
        }
        var fields: [String: CBORValue] = [:]
        for entry in entries {
            guard let key = entry.key.textValue else {
                throw SimulatedHardwareError(.malformedState, "\(subject) has a key that is not text")
            }
            fields[key] = entry.value
        }
        self.fields = fields
        guard let version else { return }
        let stated = try unsigned("version")
        guard stated == version else {
            throw SimulatedHardwareError(
                .malformedState, "\(subject) is version \(stated); this build reads \(version)")
        }
    }

    subscript(key: String) -> CBORValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// The deterministic encoding of the fields.
    func encoded() throws(SimulatedHardwareError) -> [UInt8] {
        do {
            return try CBORValue.map(fields.map { CBORMapEntry(.text($0.key), $0.value) }).encoded()
        } catch {
            throw SimulatedHardwareError(.malformedState, "\(subject) cannot be encoded: \(error.reason)")
        }
    }

    private func missing(_ key: String, _ kind: String) -> SimulatedHardwareError {
        refusal(key, "is missing or not \(kind)")
    }

    /// A refusal of field `key`: what is wrong with it.
    func refusal(_ key: String, _ problem: String) -> SimulatedHardwareError {
        SimulatedHardwareError(.malformedState, "\(subject): field \"\(key)\" \(problem)")
    }

    /// Field `key` as it is.
    func value(_ key: String) throws(SimulatedHardwareError) -> CBORValue {
        guard let value = fields[key] else { throw refusal(key, "is missing") }
        return value
    }

    func bool(_ key: String) throws(SimulatedHardwareError) -> Bool {
        guard let value = fields[key]?.boolValue else { throw missing(key, "a boolean") }
        return value
    }

    func ecKey(_ key: String, curve: ECCurve) throws(SimulatedHardwareError) -> ECPrivateKey {
        let der = try bytes(key)
        let privateKey: ECPrivateKey
        do {
            privateKey = try ECPrivateKey(derRepresentation: der)
        } catch {
            throw refusal(key, "is not a PKCS#8 EC key: \(error)")
        }
        guard privateKey.curve == curve else { throw refusal(key, "is not a \(curve.rawValue) key") }
        return privateKey
    }

    func bytes(_ key: String, count: Int? = nil) throws(SimulatedHardwareError) -> [UInt8] {
        guard let value = fields[key]?.bytesValue, count.map({ value.count == $0 }) ?? true else {
            throw missing(key, count.map { "a byte string of \($0) bytes" } ?? "a byte string")
        }
        return value
    }

    func optionalBytes(_ key: String) throws(SimulatedHardwareError) -> [UInt8]? {
        fields[key] == nil ? nil : try bytes(key)
    }

    func text(_ key: String) throws(SimulatedHardwareError) -> String {
        guard let value = fields[key]?.textValue else { throw missing(key, "a text string") }
        return value
    }

    func optionalText(_ key: String) throws(SimulatedHardwareError) -> String? {
        fields[key] == nil ? nil : try text(key)
    }

    func unsigned(_ key: String) throws(SimulatedHardwareError) -> UInt64 {
        guard let value = fields[key]?.uint64Value else { throw missing(key, "an unsigned integer") }
        return value
    }

    func certificate(_ key: String) throws(SimulatedHardwareError) -> X509Certificate {
        let der = try bytes(key)
        do {
            return try X509Certificate(derRepresentation: der)
        } catch {
            throw SimulatedHardwareError(
                .malformedState, "\(subject): field \"\(key)\" is not a DER certificate: \(error)")
        }
    }

    func optionalCertificate(_ key: String) throws(SimulatedHardwareError) -> X509Certificate? {
        fields[key] == nil ? nil : try certificate(key)
    }

    func rsaKey(_ key: String) throws(SimulatedHardwareError) -> RSAPrivateKey {
        let der = try bytes(key)
        do {
            return try RSAPrivateKey(derRepresentation: der)
        } catch {
            throw SimulatedHardwareError(
                .malformedState, "\(subject): field \"\(key)\" is not a PKCS#8 RSA key: \(error)")
        }
    }

    func revocationList(_ key: String) throws(SimulatedHardwareError) -> CertificateRevocationList {
        let der = try bytes(key)
        do {
            return try CertificateRevocationList(derRepresentation: der)
        } catch {
            throw SimulatedHardwareError(.malformedState, "\(subject): field \"\(key)\" is not a DER CRL: \(error)")
        }
    }
}
