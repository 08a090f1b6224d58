import Attestation
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// A freshly initialised platform in a temporary home.
struct PlatformFixture {
    let directory: URL
    let home: PlatformHome
    let platform: Platform

    init(curve: ECCurve = .p256) throws {
        directory = try TestEnvironment.temporaryDirectory("platform")
        home = PlatformHome(path: directory.appendingPathComponent("home").path)
        platform = try Platform.initialize(home: home, curve: curve, amdKeyBits: 2048)
    }

    /// Reopens the platform from its home (after a vendor operation changed it).
    func reopened() throws -> Platform { try Platform(opening: home) }

    /// A chain verifier pinned to this platform's root, checking revocation and the strict profile.
    func chainVerifier() throws -> CertificateChainVerifier {
        CertificateChainVerifier(
            trustAnchors: [platform.rootCertificate], requiresRevocationCheck: true, enforcesStrictProfile: true)
    }
}

/// A signed manifest for the built-in echo workload, in a temporary directory with one trusted file.
struct EchoManifestFixture {
    static let greeting = "hello from a trusted file\n"

    let directory: URL
    let signed: SignedManifest
    let locator: EnclaveExecutableLocator

    /// Signs the echo manifest; `enclaveExecutable` defaults to the `cloister-enclave` beside the tests.
    init(productID: UInt16 = 9, svn: UInt16 = 2, extraTOML: String = "", enclaveExecutable: String? = nil) throws {
        try self.init(
            productID: productID, svn: svn, extraTOML: { _ in extraTOML }, enclaveExecutable: enclaveExecutable)
    }

    /// Signs the echo manifest with the TOML `extraTOML` makes from the manifest's directory appended, refusing it
    /// at signing when it reaches `boundary`'s home.
    init(
        productID: UInt16 = 9, svn: UInt16 = 2, extraTOML: (URL) throws -> String, enclaveExecutable: String? = nil,
        boundary: HomeBoundary? = nil
    ) throws {
        directory = try TestEnvironment.temporaryDirectory("echo")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data(Self.greeting.utf8).write(to: directory.appendingPathComponent("data/greeting.txt"))
        let toml = """
            [loader]
            entrypoint = "builtin:echo"
            argv = ["fixture:"]

            [enclave]
            name = "echo-test"
            size = "1M"
            product_id = \(productID)
            svn = \(svn)

            [enclave.regions]
            scratch = "64K"

            [[trusted_files]]
            uri = "file:data/greeting.txt"
            sha384 = ""
            \(try extraTOML(directory))
            """
        let manifestURL = directory.appendingPathComponent("echo.toml")
        try Data(toml.utf8).write(to: manifestURL)
        locator = EnclaveExecutableLocator(
            enclaveExecutable: enclaveExecutable ?? TestEnvironment.productsDirectory + "/cloister-enclave",
            runningExecutableDirectory: nil)
        let key = try ECPrivateKey(pemRepresentation: String(contentsOf: Self.developmentKey, encoding: .utf8))
        signed = try SignedManifest.sign(manifestAt: manifestURL.path, with: key, locator: locator, boundary: boundary)
        try signed.write(to: directory.appendingPathComponent("echo.manifest.cose").path)
    }

    static let developmentKey = TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem")

    var signedPath: String { directory.appendingPathComponent("echo.manifest.cose").path }

    /// The signed manifest read back from disk (with its directory for relative paths).
    func load() throws -> SignedManifest { try SignedManifest(contentsOf: signedPath) }
}
