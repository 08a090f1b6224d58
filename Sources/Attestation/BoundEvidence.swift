public import CloisterCBOR
import CloisterCrypto

/// Hardware evidence with the values its report data binds: an SGX or TDX quote or an SEV-SNP report carries 64
/// bytes of report data, not the nonce, user data and public key themselves, so the party that made them sends them
/// beside it (as Azure's attestation service takes "runtime data" beside a quote). The verifier checks that the
/// evidence's report data is Cloister's binding of exactly these values (`ReportDataBinding.cloisterReportData`,
/// check `report-data`), and only then states them as the claims' nonce, user data and public key, as a Nitro
/// document's own fields are stated: one policy and one relying-party path serve every evidence kind.
///
/// Encoded as the deterministic CBOR map {"nonce", "evidence", "user_data", "public_key"} (byte strings; the three
/// bound values may be null). A simulated enclave's quoting call answers one for every evidence kind that binds
/// through report data.
public struct BoundEvidence: Sendable, Hashable {
    /// The evidence, in its format's own bytes.
    public var evidence: [UInt8]
    public var nonce: [UInt8]?
    public var userData: [UInt8]?
    public var publicKey: [UInt8]?

    public init(evidence: [UInt8], nonce: [UInt8]?, userData: [UInt8]?, publicKey: [UInt8]?) {
        self.evidence = evidence
        self.nonce = nonce
        self.userData = userData
        self.publicKey = publicKey
    }

    /// The report data that binds these values (absent values as empty).
    public var reportData: [UInt8] {
        ReportDataBinding.cloisterReportData(nonce: nonce ?? [], userData: userData ?? [], publicKey: publicKey ?? [])
    }

    /// The deterministic encoding.
    public func encoded() -> [UInt8] {
        var writer = CBORWriter(
            reservingCapacity: 64 + evidence.count + (nonce?.count ?? 0) + (userData?.count ?? 0)
                + (publicKey?.count ?? 0))
        writer.writeHead(major: 5, argument: 4)
        writer.writeText("nonce")
        Self.write(nonce, &writer)
        writer.writeText("evidence")
        writer.writeByteString(evidence)
        writer.writeText("user_data")
        Self.write(userData, &writer)
        writer.writeText("public_key")
        Self.write(publicKey, &writer)
        return writer.bytes
    }

    /// The bound evidence `bytes` encode, nil when they are not a CBOR map with an "evidence" entry (they are then
    /// evidence in a format's own bytes); throws `malformed-evidence` for such a map with other keys or types.
    public static func read(_ bytes: [UInt8]) throws(AttestationError) -> BoundEvidence? {
        guard let first = bytes.first, first >> 5 == 5,
            let value = try? CBORDecoder().decode(bytes), let entries = value.mapValue,
            entries.contains(where: { $0.key.textValue == "evidence" })
        else { return nil }
        var fields: [String: CBORValue] = [:]
        for entry in entries {
            guard let key = entry.key.textValue, ["nonce", "evidence", "user_data", "public_key"].contains(key) else {
                throw AttestationError(
                    .malformedEvidence,
                    "bound evidence has the key \(entry.key); it takes evidence, nonce, user_data and public_key")
            }
            fields[key] = entry.value
        }
        func optional(_ key: String) throws(AttestationError) -> [UInt8]? {
            guard let item = fields[key], !item.isNull else { return nil }
            guard let bytes = item.bytesValue else {
                throw AttestationError(.malformedEvidence, "bound evidence field \"\(key)\" is not bytes or null")
            }
            return bytes
        }
        guard let evidence = fields["evidence"]?.bytesValue, !evidence.isEmpty else {
            throw AttestationError(
                .malformedEvidence, "bound evidence field \"evidence\" is not a non-empty byte string")
        }
        return BoundEvidence(
            evidence: evidence, nonce: try optional("nonce"), userData: try optional("user_data"),
            publicKey: try optional("public_key"))
    }

    private static func write(_ bytes: [UInt8]?, _ writer: inout CBORWriter) {
        if let bytes { writer.writeByteString(bytes) } else { writer.writeHead(major: 7, argument: 22) }
    }
}

extension CheckName {
    /// Bound evidence: the evidence's report data binds the nonce, user data and public key sent beside it.
    public static let reportData = CheckName("report-data", aspect: .instanceIdentity, isCryptographic: true)
}
