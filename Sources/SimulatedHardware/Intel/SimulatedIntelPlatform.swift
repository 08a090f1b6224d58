import CloisterCrypto

/// The Intel-shaped identity of one simulated platform at one TCB level, by the rules of `SimulatedIntelVendor`: what
/// its PCK certificate, its quotes and the vendor's TCB info say about it.
struct SimulatedIntelPlatform: Sendable {
    let platformID: [UInt8]

    /// PCE-ID 0x0000, as every Intel platform's.
    static let pceID: [UInt8] = [0, 0]
    /// SHA-384("cloister-simulated-tdx-module-v1"): the simulated TDX module's MRSEAM.
    static let mrSeam = DigestAlgorithm.sha384.hash(Array("cloister-simulated-tdx-module-v1".utf8))
    /// The TDX module's major version (`tee_tcb_svn[1]`): identity "TDX_01" of the TDX TCB info.
    static let tdxModuleMajorVersion: UInt8 = 1
    /// SHA-256("cloister-simulated-qe-signer-v1"): the simulated quoting enclaves' MRSIGNER.
    static let qeMRSigner = DigestAlgorithm.sha256.hash(Array("cloister-simulated-qe-signer-v1".utf8))
    /// The quoting enclaves' MRENCLAVE: SHA-256("cloister-simulated-qe-v1") (SGX) and ("cloister-simulated-td-qe-v1").
    static let sgxQEMREnclave = DigestAlgorithm.sha256.hash(Array("cloister-simulated-qe-v1".utf8))
    static let tdxQEMREnclave = DigestAlgorithm.sha256.hash(Array("cloister-simulated-td-qe-v1".utf8))
    /// ISVPRODID of the SGX QE (1) and the TDX QE (2), as Intel's.
    static let sgxQEProductID: UInt16 = 1
    static let tdxQEProductID: UInt16 = 2
    /// The QE authentication data: 32 bytes 0x00 to 0x1f, as Intel's quoting enclaves write it.
    static let qeAuthenticationData: [UInt8] = Array(0..<32)
    /// The base of the TCB evaluation data number (the number is the latest level plus this).
    static let tcbEvaluationDataNumberBase: UInt32 = 16

    /// First 6 bytes of SHA-256("cloister-fmspc-v1" ‖ platform id).
    var fmspc: [UInt8] { Array(DigestAlgorithm.sha256.hash(Array("cloister-fmspc-v1".utf8) + platformID).prefix(6)) }
    /// The PPID: the platform id itself (16 bytes).
    var ppid: [UInt8] { platformID }
    /// First 16 bytes of SHA-256("cloister-platform-instance-v1" ‖ platform id).
    var platformInstanceID: [UInt8] {
        Array(DigestAlgorithm.sha256.hash(Array("cloister-platform-instance-v1".utf8) + platformID).prefix(16))
    }
    /// The QE id of the quote header's user data: the platform id, then 4 zero bytes.
    var quoteUserData: [UInt8] { platformID + [0, 0, 0, 0] }

    /// A level as an 8-bit SVN (levels above 255 stay at 255).
    static func svn8(_ level: UInt32) -> UInt8 { UInt8(min(level, 255)) }
    /// A level as a 16-bit SVN (PCESVN, the QE's ISVSVN).
    static func svn16(_ level: UInt32) -> UInt16 { UInt16(min(level, 65535)) }

    /// The 16 SGX TCB component SVNs at `level`: components 1 and 2 the level, the others 0 (also the CPUSVN).
    static func sgxComponents(_ level: UInt32) -> [UInt8] {
        [svn8(level), svn8(level)] + [UInt8](repeating: 0, count: 14)
    }
    /// The 16 TDX TCB component SVNs (`tee_tcb_svn`) at `level`: the TDX module's minor version (the level), its major
    /// version (1), the TDX late microcode update (the level), the others 0.
    static func tdxComponents(_ level: UInt32) -> [UInt8] {
        [svn8(level), tdxModuleMajorVersion, svn8(level)] + [UInt8](repeating: 0, count: 13)
    }

    /// The SGX extension (OID 1.2.840.113741.1.13.1) of the platform's PCK certificate at `level`, in the DER Intel
    /// writes for its PCK Platform CA's certificates: PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC,
    /// SGX type 1 (scalable), platform instance id, configuration (dynamic platform, cached keys, SMT: all true).
    func sgxExtension(level: UInt32) -> [UInt8] {
        let arc = "1.2.840.113741.1.13.1"
        func item(_ oid: String, _ value: [UInt8]) -> [UInt8] { DER.sequence(DER.oid(oid) + value) }
        let components = Self.sgxComponents(level)
        var tcb: [UInt8] = []
        for (index, svn) in components.enumerated() {
            tcb += item("\(arc).2.\(index + 1)", DER.integer(UInt64(svn)))
        }
        tcb += item("\(arc).2.17", DER.integer(UInt64(Self.svn16(level))))
        tcb += item("\(arc).2.18", DER.octets(components))
        let configuration = (1...3).map { item("\(arc).7.\($0)", DER.boolean(true)) }.joined()
        return DER.sequence(
            item("\(arc).1", DER.octets(ppid)) + item("\(arc).2", DER.sequence(tcb))
                + item("\(arc).3", DER.octets(Self.pceID)) + item("\(arc).4", DER.octets(fmspc))
                + item("\(arc).5", DER.tlv(0x0a, [1])) + item("\(arc).6", DER.octets(platformInstanceID))
                + item("\(arc).7", DER.sequence(Array(configuration))))
    }
}

/// Just enough DER to write the SGX extension.
enum DER {
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let count = content.count
        guard count >= 0x80 else { return [tag, UInt8(count)] + content }
        var length: [UInt8] = []
        var remaining = count
        while remaining > 0 {
            length.insert(UInt8(remaining & 0xff), at: 0)
            remaining >>= 8
        }
        return [tag, 0x80 | UInt8(length.count)] + length + content
    }

    static func sequence(_ content: [UInt8]) -> [UInt8] { tlv(0x30, content) }
    static func octets(_ content: [UInt8]) -> [UInt8] { tlv(0x04, content) }
    static func boolean(_ value: Bool) -> [UInt8] { tlv(0x01, [value ? 0xff : 0x00]) }

    /// A non-negative INTEGER in its minimal form.
    static func integer(_ value: UInt64) -> [UInt8] {
        var content = withUnsafeBytes(of: value.bigEndian, Array.init)
        while content.count > 1 && content[0] == 0 { content.removeFirst() }
        if content[0] & 0x80 != 0 { content.insert(0, at: 0) }
        return tlv(0x02, content)
    }

    static func oid(_ dotted: String) -> [UInt8] {
        let arcs = dotted.split(separator: ".").compactMap { UInt64($0) }
        var content: [UInt8] = [UInt8(40 * arcs[0] + arcs[1])]
        for arc in arcs.dropFirst(2) {
            var chunk: [UInt8] = [UInt8(arc & 0x7f)]
            var rest = arc >> 7
            while rest > 0 {
                chunk.insert(0x80 | UInt8(rest & 0x7f), at: 0)
                rest >>= 7
            }
            content += chunk
        }
        return tlv(0x06, content)
    }
}
