import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Foundation

/// Identities, a platform and sealers for the sealing and counter tests.
enum SealingFixtures {
    /// A fixed device root secret, so a re-executed child process derives the same keys as its parent.
    static let deviceSecret = [UInt8](0..<32)

    static func identity(
        measurement: UInt8 = 0x11, signer: UInt8 = 0xaa, productID: UInt16 = 7, svn: UInt16 = 2, debug: Bool = false
    ) -> EnclaveIdentity {
        try! EnclaveIdentity(
            measurement: [UInt8](repeating: measurement, count: 48), signer: [UInt8](repeating: signer, count: 48),
            productID: productID, svn: svn, debug: debug)
    }

    static func deriver(tcbLevel: UInt32 = 1) -> PlatformKeyDeriver {
        try! PlatformKeyDeriver(deviceSecret: deviceSecret, tcbLevel: tcbLevel)
    }

    /// The counter-authentication key of `deviceSecret`'s platform.
    static let counterKey = try! deriver().counterAuthenticationKey()

    /// A sealer for `identity` whose keys and counters come straight from a platform service.
    static func sealer(
        for identity: EnclaveIdentity, deriver: PlatformKeyDeriver = deriver(), counters: MonotonicCounterStore? = nil
    ) -> Sealer {
        let service = PlatformSealingService(identity: identity, deriver: deriver, counters: counters)
        return Sealer(
            identity: identity, tcbLevel: deriver.tcbLevel, keys: service, counters: counters == nil ? nil : service)
    }

    /// A fresh, empty directory under the temporary directory.
    static func temporaryDirectory() throws -> String {
        var template = Array("\(NSTemporaryDirectory())/cloister-seal-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return String(cString: made)
    }

    /// Removes a directory made by `temporaryDirectory()` and everything in it.
    static func remove(_ directory: String) {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The temporary files `AtomicFile` writers left in `directory`.
    static func temporaries(in directory: String) throws -> [String] {
        try AtomicFile.entries(of: directory).filter { $0.hasPrefix(AtomicFile.temporaryPrefix) }
    }
}
