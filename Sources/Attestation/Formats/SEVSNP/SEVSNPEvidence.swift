/// SEV-SNP evidence as a guest obtains it: the 1184-byte report, alone or followed by the certificate table of an
/// extended report (SNP_GET_EXT_REPORT, as google/go-sev-guest's `abi.ReportCertsToProto` reads it): 24-byte entries
/// {GUID (16 bytes), offset (u32 LE, from the table's start), length (u32 LE)} ended by an all-zero entry, then the
/// DER certificates the entries point at. The GUIDs name the VCEK, VLEK, ASK (also the ASVK) and ARK.
public struct SEVSNPEvidence: Sendable, Hashable {
    /// A certificate's role, by the GUID its table entry carries.
    public enum CertificateRole: String, Sendable, Hashable {
        case vcek = "63da758d-e664-4564-adc5-f4b93be8accd"
        case vlek = "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
        /// The ASK, or for a VLEK the ASVK.
        case ask = "4ab7b379-bbac-4fe4-a02f-05aef327c782"
        case ark = "c0b406a4-a803-4952-9743-3fb6014cd0ae"
    }

    public let report: SEVSNPReport
    /// The certificates of the table, DER, by role; entries of GUIDs Cloister does not know are skipped.
    public let certificates: [CertificateRole: [UInt8]]

    /// Reads `bytes`: a report, then (when more bytes follow) its certificate table, every entry inside the table's
    /// bytes and after its header; refusals name the entry at fault.
    init(_ bytes: [UInt8]) throws(AttestationError) {
        report = try SEVSNPReport(Array(bytes.prefix(SEVSNPReportHeader.byteCount)))
        certificates = try Self.certificateTable(Array(bytes.dropFirst(SEVSNPReportHeader.byteCount)))
    }

    private static func certificateTable(_ table: [UInt8]) throws(AttestationError) -> [CertificateRole: [UInt8]] {
        func refusal(_ problem: String) -> AttestationError {
            AttestationError(
                .malformedEvidence, "the evidence is an AMD SEV-SNP report with a certificate table, but \(problem)")
        }
        guard !table.isEmpty else { return [:] }
        var entries: [(guid: [UInt8], offset: Int, length: Int)] = []
        var position = 0
        while true {
            guard position + 24 <= table.count else {
                throw refusal(
                    "its table ends at byte \(table.count) inside entry \(entries.count + 1), before the zero entry")
            }
            let guid = Array(table[position..<(position + 16)])
            let offset = Int(table.littleEndian(UInt32.self, at: position + 16) ?? 0)
            let length = Int(table.littleEndian(UInt32.self, at: position + 20) ?? 0)
            position += 24
            if offset == 0 && length == 0 && guid.allSatisfy({ $0 == 0 }) { break }
            guard entries.count < 64 else { throw refusal("its table has more than 64 entries") }
            entries.append((guid, offset, length))
        }
        var certificates: [CertificateRole: [UInt8]] = [:]
        for (index, entry) in entries.enumerated() {
            guard entry.offset >= position, entry.length <= table.count - entry.offset else {
                throw refusal(
                    "entry \(index + 1) points at bytes \(entry.offset)..<\(entry.offset + entry.length), outside the "
                        + "\(table.count - position) bytes after its \(position)-byte header")
            }
            guard let role = CertificateRole(rawValue: Self.guidText(entry.guid)) else { continue }
            guard certificates[role] == nil else { throw refusal("its table lists the \(role) twice") }
            certificates[role] = Array(table[entry.offset..<(entry.offset + entry.length)])
        }
        return certificates
    }

    /// A GUID's 16 bytes in its canonical text form (the bytes in order, as go-sev-guest's `uuid.FromBytes` reads
    /// them).
    static func guidText(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}
