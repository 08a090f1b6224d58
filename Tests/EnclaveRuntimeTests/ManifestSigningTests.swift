import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite("Signed manifests")
struct ManifestSigningTests {
    private func signAndWrite(_ fixture: ManifestFixture, key: ECPrivateKey) throws -> (SignedManifest, String) {
        let signed = try SignedManifest.sign(manifestAt: fixture.manifestPath, with: key, locator: .none)
        let output = SignedManifest.defaultOutputPath(forManifestAt: fixture.manifestPath)
        try signed.write(to: output)
        return (signed, output)
    }

    @Test("sign, write and verify round trip with the development key (ES256) and a fresh P-384 key (ES384)")
    func roundTrip() throws {
        for key in [try ECPrivateKey(pemRepresentation: developmentSignerKey()), try ECPrivateKey(generating: .p384)] {
            let fixture = try ManifestFixture()
            let (signed, output) = try signAndWrite(fixture, key: key)
            #expect(output == fixture.path("enclave.manifest.cose"))
            let verified = try SignedManifest(contentsOf: output)
            #expect(verified.measurement == (try fixture.measured().measurement))
            #expect(verified.measurement == signed.measurement)
            #expect(try verified.manifest.canonicalEncoding() == signed.canonicalManifest)
            #expect(verified.signer == SignerIdentity(publicKey: key.publicKey))
            #expect(verified.baseDirectory == fixture.directory.path)
            let message = try COSESign1(encoded: verified.encoded)
            #expect(message.algorithm == COSEAlgorithm(curve: key.curve))
            #expect(message.keyID == DigestAlgorithm.sha256.hash(key.publicKey.derRepresentation))
            try verified.verifyInputs(executable: ExecutableImage(path: fixture.path("bin/workload")))
            let report = try ManifestMeasurementReport(manifestAt: output, locator: .none)
            #expect(report.signer == verified.signer.hex)
        }
    }

    @Test("isDevelopmentSigner: true for Keys/dev-signer.pem, false for a fresh key")
    func developmentSigner() throws {
        let devKey = try ECPrivateKey(pemRepresentation: developmentSignerKey())
        let fixture = try ManifestFixture()
        #expect(try signAndWrite(fixture, key: devKey).0.isDevelopmentSigner)
        #expect(try !signAndWrite(fixture, key: ECPrivateKey(generating: .p256)).0.isDevelopmentSigner)
        // The constant in code is the SHA-384 of Keys/dev-signer.pub.pem's SubjectPublicKeyInfo.
        let publicPEM = try String(
            contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pub.pem"), encoding: .utf8)
        #expect(SignerIdentity(publicKey: try ECPublicKey(pemRepresentation: publicPEM)) == .development)
    }

    /// The payload entries `SignedManifest` signs for `measured`, each replaceable.
    private static func payload(
        _ measured: MeasuredManifest, format: String = SignedManifest.payloadFormat, canonical: [UInt8]? = nil,
        libraries: CBORValue = .array([]), measurement: [UInt8]? = nil
    ) -> [CBORMapEntry] {
        [
            CBORMapEntry("format", .text(format)),
            CBORMapEntry("manifest", .bytes(canonical ?? measured.canonicalEncoding)),
            CBORMapEntry("executable_sha384", .bytes(measured.executableSHA384)),
            CBORMapEntry("libraries", libraries),
            CBORMapEntry("measurement", .bytes(measurement ?? measured.measurement.bytes)),
        ]
    }

    /// A COSE_Sign1 over a payload of `entries` with a fresh key, carrying the key as `SignedManifest` does.
    private func signedPayload(_ entries: [CBORMapEntry]) throws -> [UInt8] {
        let key = try ECPrivateKey(generating: .p256)
        let spki = key.publicKey.derRepresentation
        return try COSESign1(
            signing: try CBORValue.map(entries).encoded(), with: key,
            unprotectedHeader: [CBORMapEntry(CBORValue(SignedManifest.signerKeyHeaderLabel), .bytes(spki))],
            keyID: DigestAlgorithm.sha256.hash(spki)
        ).encoded()
    }

    @Test("the payload carries the library closure; a library listed wrongly, twice or too often is refused")
    func libraryPayload() throws {
        let measured = try ManifestFixture().measured()
        let library = LoadedLibrary(
            path: "/lib/x86_64-linux-gnu/libcbor.so.0.8", sha384: [UInt8](repeating: 7, count: 48))
        let withLibrary = try MeasuredManifest(
            manifest: measured.manifest, executableSHA384: measured.executableSHA384, libraries: [library])
        let key = try ECPrivateKey(generating: .p256)
        let decoded = try SignedManifest(encoded: SignedManifest(signing: withLibrary, with: key).encoded)
        #expect(decoded.libraries == [library])
        #expect(decoded.measurement == withLibrary.measurement)
        let payload = try CBORDecoder().decode(COSESign1(encoded: decoded.encoded).payload)
        #expect(payload["format"]?.textValue == "cloister-signed-manifest-v2")
        #expect(payload["libraries"]?.arrayValue?.first?["path"]?.textValue == library.path)
        #expect(payload["libraries"]?.arrayValue?.first?["sha384"]?.bytesValue == library.sha384)

        let entry = { (path: CBORValue, hash: CBORValue) in
            CBORValue.map([CBORMapEntry("path", path), CBORMapEntry("sha384", hash)])
        }
        let hash = CBORValue.bytes(library.sha384)
        let refused: [(String, CBORValue, String)] = [
            ("a relative path", .array([entry(.text("libc.so.6"), hash)]), "libraries[0]"),
            ("a short hash", .array([entry(.text(library.path), .bytes([1, 2]))]), "libraries[0]"),
            ("a missing hash", .array([.map([CBORMapEntry("path", .text(library.path))])]), "libraries[0]"),
            ("twice", .array([entry(.text(library.path), hash), entry(.text(library.path), hash)]), "twice"),
            (
                "too many", .array((0...SignedManifest.maximumLibraryCount).map { entry(.text("/l/\($0)"), hash) }),
                "more than the \(SignedManifest.maximumLibraryCount)"
            ),
            ("not an array", .text("none"), "libraries, measurement"),
        ]
        for (name, libraries, expected) in refused {
            let error = manifestError {
                _ = try SignedManifest(encoded: signedPayload(Self.payload(withLibrary, libraries: libraries)))
            }
            #expect(error?.code == .malformedSignedManifest, "\(name)")
            #expect(error?.reason.contains(expected) == true, "\(name): \(error?.reason ?? "accepted")")
        }
    }

    @Test("a manifest signed before libraries were measured (format v1) is refused with what to do")
    func formatOneRefused() throws {
        let measured = try ManifestFixture().measured()
        let entries = Self.payload(measured, format: "cloister-signed-manifest-v1").filter { $0.key != "libraries" }
        let error = manifestError { _ = try SignedManifest(encoded: signedPayload(entries)) }
        #expect(error?.code == .malformedSignedManifest)
        #expect(error?.reason.contains("'cloister-signed-manifest-v1'") == true)
        #expect(error?.reason.contains("sign it again") == true)
    }

    @Test(
        "a library closure that differs from the signed one is refused, naming the library",
        arguments: ["changed", "added", "removed", "reordered"])
    func libraryClosureChanged(change: String) throws {
        // The closure at launch is that of `image`; the signed one is edited to differ from it as a host's would.
        let fixture = try ManifestFixture()
        let image = try ExecutableImage(path: "/bin/sh")
        let loaded = try image.loadedLibraries()
        try #require(loaded.count >= 2, "/bin/sh maps its loader and libc")
        var signed = loaded
        let named: String
        switch change {
        case "changed":
            signed[0] = LoadedLibrary(path: loaded[0].path, sha384: loaded[0].sha384.map { $0 ^ 1 })
            named = "library '\(loaded[0].path)' changed since signing"
        case "added":
            signed.removeLast()
            named = "now loads the library '\(loaded.last!.path)', which was not measured at signing"
        case "removed":
            signed.append(LoadedLibrary(path: "/lib/x86_64-linux-gnu/libcloister-gone.so.1", sha384: loaded[0].sha384))
            named = "no longer loads the library '/lib/x86_64-linux-gnu/libcloister-gone.so.1'"
        default:
            signed.swapAt(0, 1)
            named = "loads its libraries in another order than at signing"
        }
        var manifest = try fixture.measured().manifest
        manifest.entrypoint = .file("/bin/sh")
        let measured = try MeasuredManifest(manifest: manifest, executableSHA384: image.sha384, libraries: signed)
        let signedManifest = try SignedManifest(
            encoded: SignedManifest(signing: measured, with: ECPrivateKey(generating: .p256)).encoded,
            baseDirectory: fixture.directory.path)
        let error = manifestError { try signedManifest.verifyInputs(executable: image) }
        #expect(error?.code == .inputMismatch)
        #expect(error?.reason.contains(named) == true, "\(error?.reason ?? "accepted")")
        #expect(error?.reason.contains("sign the manifest again") == true)
    }

    /// The signed fixture's COSE_Sign1 as CBOR, to tamper with.
    private func signedMessage() throws -> [CBORValue] {
        let fixture = try ManifestFixture()
        let signed = try SignedManifest.sign(
            manifestAt: fixture.manifestPath, with: try ECPrivateKey(generating: .p256), locator: .none)
        let value = try CBORDecoder().decode(signed.encoded)
        guard case .tagged(18, .array(let fields)) = value else {
            Issue.record("not a tagged COSE_Sign1: \(value)")
            return []
        }
        return fields
    }

    private func rejection(_ fields: [CBORValue]) throws -> ManifestError? {
        let bytes = try CBORValue.tagged(18, .array(fields)).encoded()
        return manifestError { _ = try SignedManifest(encoded: bytes) }
    }

    @Test("a tampered payload is refused")
    func tamperedPayload() throws {
        var fields = try signedMessage()
        var payload = fields[2].bytesValue!
        payload[payload.count / 2] ^= 0x01
        fields[2] = .bytes(payload)
        #expect(try rejection(fields)?.code == .invalidSignature)
    }

    @Test("another embedded key (with its matching kid) is refused")
    func wrongEmbeddedKey() throws {
        var fields = try signedMessage()
        let other = try ECPrivateKey(generating: .p256).publicKey.derRepresentation
        fields[1] = .map([
            CBORMapEntry(CBORValue(SignedManifest.signerKeyHeaderLabel), .bytes(other)),
            CBORMapEntry(.unsigned(4), .bytes(DigestAlgorithm.sha256.hash(other))),
        ])
        let error = try rejection(fields)
        #expect(error?.code == .invalidSignature)
        #expect(error?.reason.contains("does not verify") == true)
    }

    @Test("a kid that is not the embedded key's is refused")
    func wrongKeyID() throws {
        var fields = try signedMessage()
        let spki = CBORValue.map(fields[1].mapValue!)[CBORValue(SignedManifest.signerKeyHeaderLabel)]!
        fields[1] = .map([
            CBORMapEntry(CBORValue(SignedManifest.signerKeyHeaderLabel), spki),
            CBORMapEntry(.unsigned(4), .bytes([UInt8](repeating: 0, count: 32))),
        ])
        #expect(try rejection(fields)?.reason.contains("key id") == true)
    }

    @Test("a signature from another manifest is refused")
    func swappedSignature() throws {
        var fields = try signedMessage()
        let otherFields = try signedMessage()
        fields[3] = otherFields[3]
        #expect(try rejection(fields)?.code == .invalidSignature)
    }

    @Test("a missing signer key is refused")
    func missingKey() throws {
        var fields = try signedMessage()
        fields[1] = .map([])
        #expect(try rejection(fields)?.code == .malformedSignedManifest)
    }

    @Test("a validly signed payload whose measurement does not follow from its parts is refused")
    func inconsistentMeasurement() throws {
        let fixture = try ManifestFixture()
        let measured = try fixture.measured()
        let message = try signedPayload(Self.payload(measured, measurement: [UInt8](repeating: 0xAA, count: 48)))
        let error = manifestError { _ = try SignedManifest(encoded: message) }
        #expect(error?.code == .malformedSignedManifest)
        #expect(error?.reason.contains("measurement") == true)
    }

    @Test("signing refuses a manifest that sets a loader variable, naming it")
    func loaderVariableNotSigned() throws {
        let fixture = try ManifestFixture(
            toml: ManifestFixture.toml.replacingOccurrences(
                of: "LOG_LEVEL = \"info\"", with: "LOG_LEVEL = \"info\", LD_PRELOAD = \"/tmp/evil.so\""))
        let error = manifestError {
            _ = try SignedManifest.sign(
                manifestAt: fixture.manifestPath, with: try ECPrivateKey(generating: .p256), locator: .none)
        }
        #expect(error?.keyPath == "loader.env.LD_PRELOAD")
        #expect(error?.path == fixture.manifestPath)
    }

    @Test("a signed manifest that sets a loader variable (signed before the rule) is refused when read for launch")
    func loaderVariableNotLaunched() throws {
        // Sign XD_PRELOAD, then turn it into LD_PRELOAD in the canonical manifest and sign that.
        let fixture = try ManifestFixture(
            toml: ManifestFixture.toml.replacingOccurrences(
                of: "LOG_LEVEL = \"info\"", with: "LOG_LEVEL = \"info\", XD_PRELOAD = \"/tmp/evil.so\""))
        let measured = try fixture.measured()
        var canonical = measured.canonicalEncoding
        let variable = Array("XD_PRELOAD".utf8)
        let at = try #require(
            canonical.indices.first { canonical[$0...].starts(with: variable) }, "the canonical manifest names it")
        canonical[at] = UInt8(ascii: "L")
        let message = try signedPayload(Self.payload(measured, canonical: canonical))
        let path = fixture.path("preload.manifest.cose")
        try Data(message).write(to: URL(fileURLWithPath: path))
        let error = manifestError { _ = try SignedManifest(contentsOf: path) }
        #expect(error?.keyPath == "loader.env.LD_PRELOAD", "\(String(describing: error))")
        #expect(error?.reason.contains("loader variable") == true)
    }

    @Test("a trusted file changed after signing is refused at launch, naming it")
    func trustedFileChanged() throws {
        let fixture = try ManifestFixture()
        let (_, output) = try signAndWrite(fixture, key: try ECPrivateKey(generating: .p256))
        let signed = try SignedManifest(contentsOf: output)
        let image = try ExecutableImage(path: fixture.path("bin/workload"))
        try signed.verifyInputs(executable: image)
        try fixture.flipLastByte(of: "data/greeting.txt")
        let error = manifestError { try signed.verifyInputs(executable: image) }
        #expect(error?.code == .inputMismatch)
        #expect(error?.path == fixture.path("data/greeting.txt"))
        #expect(error?.reason.contains("file:data/greeting.txt") == true)
    }

    @Test("an executable swapped after signing is refused at launch, naming it")
    func executableSwapped() throws {
        let fixture = try ManifestFixture()
        let (_, output) = try signAndWrite(fixture, key: try ECPrivateKey(generating: .p256))
        try fixture.flipLastByte(of: "bin/workload")
        let signed = try SignedManifest(contentsOf: output)
        let error = manifestError {
            try signed.verifyInputs(executable: ExecutableImage(path: fixture.path("bin/workload")))
        }
        #expect(error?.code == .inputMismatch)
        #expect(error?.path == fixture.path("bin/workload"))
        #expect(error?.reason.contains("executable changed") == true)
    }

    @Test("writing is atomic: no temporary file left on success, no output on failure")
    func atomicWrite() throws {
        let fixture = try ManifestFixture()
        let before = try fixture.topLevelNames()
        _ = try signAndWrite(fixture, key: try ECPrivateKey(generating: .p256))
        #expect(try fixture.topLevelNames() == before.union(["enclave.manifest.cose"]))

        // Signing an invalid manifest writes nothing.
        let broken = try ManifestFixture(toml: ManifestFixture.toml.replacingOccurrences(of: "svn = 3", with: ""))
        let untouched = try broken.topLevelNames()
        #expect(manifestError { _ = try signAndWrite(broken, key: try ECPrivateKey(generating: .p256)) } != nil)
        #expect(try broken.topLevelNames() == untouched)

        // A write that fails (the target is a directory) leaves neither output nor temporary file.
        let signed = try SignedManifest.sign(
            manifestAt: fixture.manifestPath, with: try ECPrivateKey(generating: .p256), locator: .none)
        try FileManager.default.createDirectory(at: fixture.url("blocked.cose"), withIntermediateDirectories: false)
        let names = try fixture.topLevelNames()
        let error = manifestError { try signed.write(to: fixture.path("blocked.cose")) }
        #expect(error?.code == .io)
        #expect(try fixture.topLevelNames() == names)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: fixture.path("blocked.cose"), isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
    }

    @Test("the default output path replaces .toml (and .manifest.toml) with .manifest.cose")
    func defaultOutputPath() {
        #expect(
            SignedManifest.defaultOutputPath(forManifestAt: "Manifests/echo.toml") == "Manifests/echo.manifest.cose")
        #expect(SignedManifest.defaultOutputPath(forManifestAt: "a/b.manifest.toml") == "a/b.manifest.cose")
    }
}
