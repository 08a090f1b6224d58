public import CloisterCrypto

/// An AMD SEV-SNP attestation report decoded field by field, nothing verified yet (SEV Secure Nested Paging Firmware
/// ABI Specification, the ATTESTATION_REPORT structure; the offsets and must-be-zero ranges google/go-sev-guest's
/// `abi.ReportToProto` reads). 1184 bytes, little endian; versions 2, 3 (adding the CPUID family, model and stepping
/// at 0x188) and 5 (the launch and current mitigation vectors at 0x1F8 and 0x200). The signature covers bytes
/// 0x000–0x29F; at 0x2A0 come its r and s, each 72 bytes little endian, then zeros.
public struct SEVSNPReport: Sendable, Hashable {
    /// The key that signed a report, as its key-info field (0x48, bits 2–4) says.
    public enum SigningKey: UInt32, Sendable, CustomStringConvertible {
        /// The Versioned Chip Endorsement Key: one chip at one TCB.
        case vcek = 0
        /// The Versioned Loaded Endorsement Key: a cloud provider's, certified by AMD's ASVK.
        case vlek = 1
        /// No key: the report is not signed.
        case none = 7

        public var description: String {
            switch self {
            case .vcek: "VCEK"
            case .vlek: "VLEK"
            case .none: "no key"
            }
        }
    }

    /// The bytes the signature covers: 0x000 up to the signature.
    public static let signedByteCount = 0x2A0

    public let version: UInt32
    public let guestSVN: UInt32
    /// The guest policy the VM was launched with (ABI minimum, SMT, migration agent, debug, single socket, ...).
    public let policy: UInt64
    public let familyID: [UInt8]
    public let imageID: [UInt8]
    /// The VM privilege level the report was requested from.
    public let vmpl: UInt32
    public let currentTCB: UInt64
    /// SMT enabled, TSME enabled, ECC memory, RAPL disabled, ciphertext hiding, alias check complete, TIO.
    public let platformInfo: UInt64
    public let authorKeyEnabled: Bool
    public let chipIDMasked: Bool
    public let signingKey: SigningKey
    public let reportData: [UInt8]
    /// The launch measurement, 48 bytes.
    public let measurement: [UInt8]
    public let hostData: [UInt8]
    public let idKeyDigest: [UInt8]
    public let authorKeyDigest: [UInt8]
    public let reportID: [UInt8]
    public let reportIDMigrationAgent: [UInt8]
    /// The TCB the report's signing key was derived for (a VCEK's TCB extensions state the same).
    public let reportedTCB: UInt64
    /// Version 3 and later: CPUID family, model and stepping.
    public let cpuid: (family: UInt8, model: UInt8, stepping: UInt8)?
    /// 64 bytes identifying the chip (zero when the host masks it); a VCEK's hwID states the same.
    public let chipID: [UInt8]
    public let committedTCB: UInt64
    public let currentVersion: (major: UInt8, minor: UInt8, build: UInt8)
    public let committedVersion: (major: UInt8, minor: UInt8, build: UInt8)
    public let launchTCB: UInt64
    public let launchMitigationVector: UInt64
    public let currentMitigationVector: UInt64
    /// The signed bytes, 0x000–0x29F.
    public let signedBytes: [UInt8]
    /// The signature's r and s, each as 48 big-endian bytes (P-384), as ECDSA verifies them.
    public let signature: [UInt8]

    /// Decodes `bytes`, refusing anything that is not a whole report with an error naming the field at fault: its
    /// size, version, signature algorithm, policy bit 17 (must be 1) and must-be-zero bits, key-info bits, every
    /// reserved range, and r and s (each below 2^384).
    public init(_ bytes: [UInt8]) throws(AttestationError) {
        func refusal(_ problem: String) -> AttestationError {
            AttestationError(.malformedEvidence, "the evidence is an AMD SEV-SNP attestation report, but \(problem)")
        }
        guard bytes.count == SEVSNPReportHeader.byteCount, case .read(let header, _) = SEVSNPReportHeader.read(bytes)
        else {
            throw AttestationError(
                .malformedEvidence,
                "the evidence is not an AMD SEV-SNP attestation report (1184 bytes, version 2, 3 or 5, signature "
                    + "algorithm 1)")
        }
        func u32(_ offset: Int) -> UInt32 { bytes.littleEndian(UInt32.self, at: offset) ?? 0 }
        func u64(_ offset: Int) -> UInt64 { bytes.littleEndian(UInt64.self, at: offset) ?? 0 }
        func field(_ range: Range<Int>) -> [UInt8] { Array(bytes[range]) }
        func mustBeZero(_ range: Range<Int>, _ name: String) throws(AttestationError) {
            guard bytes[range].allSatisfy({ $0 == 0 }) else {
                throw refusal(
                    "its reserved \(name) (bytes 0x\(String(range.lowerBound, radix: 16))–0x"
                        + "\(String(range.upperBound - 1, radix: 16))) is not zero")
            }
        }
        version = header.version
        guestSVN = u32(0x04)
        policy = u64(0x08)
        guard policy & (1 << 17) != 0 else { throw refusal("its guest policy's bit 17 (reserved, must be 1) is 0") }
        guard policy >> 26 == 0 else {
            throw refusal("its guest policy 0x\(String(policy, radix: 16)) sets reserved bits 26 to 63")
        }
        familyID = field(0x10..<0x20)
        imageID = field(0x20..<0x30)
        vmpl = u32(0x30)
        currentTCB = u64(0x38)
        platformInfo = u64(0x40)
        let keyInfo = u32(0x48)
        guard keyInfo >> 5 == 0, let key = SigningKey(rawValue: (keyInfo >> 2) & 7) else {
            throw refusal(
                "its key information 0x\(String(keyInfo, radix: 16)) sets reserved bits or a reserved signing key")
        }
        authorKeyEnabled = keyInfo & 1 != 0
        chipIDMasked = keyInfo & 2 != 0
        signingKey = key
        try mustBeZero(0x4C..<0x50, "field after the key information")
        reportData = field(0x50..<0x90)
        measurement = field(0x90..<0xC0)
        hostData = field(0xC0..<0xE0)
        idKeyDigest = field(0xE0..<0x110)
        authorKeyDigest = field(0x110..<0x140)
        reportID = field(0x140..<0x160)
        reportIDMigrationAgent = field(0x160..<0x180)
        reportedTCB = u64(0x180)
        if version >= 3 {
            cpuid = (bytes[0x188], bytes[0x189], bytes[0x18A])
            try mustBeZero(0x18B..<0x1A0, "range after the CPUID")
        } else {
            cpuid = nil
            try mustBeZero(0x188..<0x1A0, "range after the reported TCB")
        }
        chipID = field(0x1A0..<0x1E0)
        committedTCB = u64(0x1E0)
        currentVersion = (bytes[0x1EA], bytes[0x1E9], bytes[0x1E8])
        try mustBeZero(0x1EB..<0x1EC, "byte after the current version")
        committedVersion = (bytes[0x1EE], bytes[0x1ED], bytes[0x1EC])
        try mustBeZero(0x1EF..<0x1F0, "byte after the committed version")
        launchTCB = u64(0x1F0)
        launchMitigationVector = u64(0x1F8)
        currentMitigationVector = u64(0x200)
        try mustBeZero(0x208..<Self.signedByteCount, "range before the signature")
        try mustBeZero(0x2A0 + 144..<SEVSNPReportHeader.byteCount, "range after the signature's r and s")
        // r and s are 72-byte little-endian integers; a P-384 value fits in their first 48 bytes.
        let r = bytes[0x2A0..<0x2A0 + 72]
        let s = bytes[0x2A0 + 72..<0x2A0 + 144]
        guard r.dropFirst(48).allSatisfy({ $0 == 0 }), s.dropFirst(48).allSatisfy({ $0 == 0 }) else {
            throw refusal("its signature's r or s does not fit in 384 bits")
        }
        signature = Array(r.prefix(48).reversed()) + Array(s.prefix(48).reversed())
        signedBytes = Array(bytes[..<Self.signedByteCount])
    }

    public static func == (lhs: SEVSNPReport, rhs: SEVSNPReport) -> Bool {
        lhs.signedBytes == rhs.signedBytes && lhs.signature == rhs.signature
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signedBytes)
        hasher.combine(signature)
    }

    /// Whether the guest policy lets a debugger into the VM (bit 19).
    public var allowsDebug: Bool { policy & (1 << 19) != 0 }
    /// Whether the guest policy allows a migration agent (bit 18).
    public var allowsMigrationAgent: Bool { policy & (1 << 18) != 0 }
    /// Whether the guest policy allows SMT (bit 16).
    public var allowsSMT: Bool { policy & (1 << 16) != 0 }
    /// The minimum ABI version the guest policy requires (bits 8–15 major, 0–7 minor).
    public var minimumABI: (major: UInt8, minor: UInt8) {
        (UInt8(truncatingIfNeeded: policy >> 8), UInt8(truncatingIfNeeded: policy))
    }
}

extension SEVSNPReport {
    /// The `signature` check: the report's signature verifies with `endorsementKey`'s key (the VCEK or VLEK
    /// certificate), a P-384 key.
    public func signatureCheck(endorsementKey: X509Certificate) -> EvidenceCheck {
        EvidenceCheck.run(.signature, "the report's ECDSA P-384 signature verifies with \(endorsementKey.description)")
        {
            let key = try endorsementKey.publicKey()
            guard key.curve == .p384,
                key.isValidSignature(try ECDSASignature(rawRepresentation: signature, curve: .p384), for: signedBytes)
            else {
                throw AttestationError(
                    .badSignature,
                    "the report's signature does not verify with the P-384 key of \(endorsementKey.description)")
            }
        }
    }
}
