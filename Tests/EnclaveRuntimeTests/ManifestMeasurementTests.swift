import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite("Manifest measurement")
struct ManifestMeasurementTests {
    @Test("same inputs twice give the same measurement; it matches an independent computation (python hashlib)")
    func knownAnswer() throws {
        let fixture = try ManifestFixture()
        let first = try fixture.measured()
        let second = try fixture.measured()
        #expect(first.measurement == second.measurement)
        #expect(first.canonicalEncoding == second.canonicalEncoding)
        #expect(first.executableSHA384 == DigestAlgorithm.sha384.hash(ManifestFixture.executableBytes))
        #expect(first.libraries == [], "the stand-in executable is statically linked")
        #expect(try independentMeasurement(fixture, first, libraries: []) == first.measurement.hex)

        // With a library closure (two files of the fixture standing in for libraries), in the loader's order.
        let libraries = try ["data/greeting.txt", "enclave.toml"].map { name in
            LoadedLibrary(
                path: fixture.path(name),
                sha384: DigestAlgorithm.sha384.hash(Array(try Data(contentsOf: fixture.url(name)))))
        }
        let withLibraries = try MeasuredManifest(
            manifest: first.manifest, executableSHA384: first.executableSHA384, libraries: libraries)
        #expect(
            try independentMeasurement(fixture, first, libraries: libraries.map(\.path))
                == withLibraries.measurement.hex)
    }

    /// The documented formula, computed from the files by another implementation (python's hashlib).
    private func independentMeasurement(
        _ fixture: ManifestFixture, _ measured: MeasuredManifest, libraries: [String]
    ) throws -> String {
        let script = """
            import hashlib, struct, sys
            exe, canonical, uri, trusted = sys.argv[1:5]
            libraries = sys.argv[5:]
            h = hashlib.sha384(b"cloister-measurement-v2")
            h.update(hashlib.sha384(open(exe, "rb").read()).digest())
            h.update(struct.pack(">I", len(libraries)))
            for path in libraries:
                h.update(struct.pack(">I", len(path.encode())) + path.encode())
                h.update(hashlib.sha384(open(path, "rb").read()).digest())
            h.update(hashlib.sha384(bytes.fromhex(canonical)).digest())
            h.update(struct.pack(">I", len(uri.encode())) + uri.encode())
            h.update(hashlib.sha384(open(trusted, "rb").read()).digest())
            print(h.hexdigest())
            """
        let output = try runTool(
            "python3",
            [
                "-c", script, fixture.path("bin/workload"), hexString(measured.canonicalEncoding),
                "file:data/greeting.txt", fixture.path("data/greeting.txt"),
            ] + libraries)
        #expect(output.status == 0, "\(output.standardError)")
        return output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a library's hash, its path, a library more or fewer and their order each change the measurement")
    func librariesChangeIt() throws {
        let measured = try ManifestFixture().measured()
        func measurement(_ libraries: [(String, UInt8)]) throws -> EnclaveMeasurement {
            try MeasuredManifest(
                manifest: measured.manifest, executableSHA384: measured.executableSHA384,
                libraries: libraries.map { LoadedLibrary(path: $0.0, sha384: [UInt8](repeating: $0.1, count: 48)) }
            ).measurement
        }
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        let libcbor = "/lib/x86_64-linux-gnu/libcbor.so.0.8"
        let baseline = try measurement([(libcbor, 1), (libc, 2)])
        #expect(try measurement([(libcbor, 1), (libc, 2)]) == baseline)
        let variants: [[(String, UInt8)]] = [
            [(libcbor, 1), (libc, 3)],  // libc's content changed
            [(libcbor, 1), ("/lib/x86_64-linux-gnu/libc.so.7", 2)],  // another file
            [(libc, 2), (libcbor, 1)],  // another order
            [(libcbor, 1)],  // one fewer
            [(libcbor, 1), (libc, 2), ("/lib/x86_64-linux-gnu/libm.so.6", 4)],  // one more
            [],  // statically linked
        ]
        let measurements = try variants.map(measurement)
        #expect(Set(measurements + [baseline]).count == variants.count + 1)
        #expect(try measurement([]) == measured.measurement)
    }

    @Test("the canonical form is the documented deterministic CBOR map")
    func canonicalForm() throws {
        let measured = try ManifestFixture().measured()
        let hex = hexString(measured.canonicalEncoding)
        // 13 entries in deterministic order: the 3-byte keys "env" and "svn" first, then "argv", "name", "size".
        let env = "63" + hexString(Array("env".utf8)) + "a1" + "69" + hexString(Array("LOG_LEVEL".utf8))
        #expect(hex.hasPrefix("ad" + env))
        #expect(hex.contains("63" + hexString(Array("svn".utf8)) + "03" + "64" + hexString(Array("argv".utf8))))
        let decoded = try EnclaveManifest(canonicalEncoding: measured.canonicalEncoding)
        #expect(try decoded.canonicalEncoding() == measured.canonicalEncoding)
        #expect(decoded.name == "fixture" && decoded.trustedFiles == measured.manifest.trustedFiles)
        try checkWithCBOR2(measured.canonicalEncoding)
        // Writing a size as bytes or with a suffix is the same manifest.
        let bytesSized = ManifestFixture.toml.replacingOccurrences(of: "\"64M\"", with: "67108864")
        #expect(
            try EnclaveManifest(toml: bytesSized).fillingTrustedFileHashes(
                baseDirectory: ManifestFixture().directory.path
            ).canonicalEncoding() == measured.canonicalEncoding)
    }

    /// cbor2 (an independent implementation) reads the documented fields and re-encodes the same canonical bytes.
    private func checkWithCBOR2(_ canonical: [UInt8]) throws {
        guard let python = TestEnvironment.python else { return }
        let script = """
            import cbor2, sys
            data = bytes.fromhex(sys.argv[1])
            m = cbor2.loads(data)
            assert cbor2.dumps(m, canonical=True) == data, "not canonical"
            assert m["version"] == 1 and m["name"] == "fixture" and m["entrypoint"] == "file:bin/workload"
            assert m["argv"] == ["workload", "--mode", "echo"] and m["env"] == {"LOG_LEVEL": "info"}
            assert m["size"] == 64 << 20 and m["product_id"] == 7 and m["svn"] == 3 and m["debug"] is False
            assert m["regions"] == {"scratch": 16 << 20, "weights": 8192}
            assert [f["uri"] for f in m["trusted_files"]] == ["file:data/greeting.txt"]
            assert len(m["trusted_files"][0]["sha384"]) == 48
            assert m["fs_allowed"][0] == {"path": "/tmp/cloister-fixture", "access": "rw"}
            assert m["fs_allowed"][1] == {"path": "data", "access": "ro"}
            assert m["seccomp_allow"] == ["exit_group", "read", "write"]
            print("ok")
            """
        let output = try runTool(python, ["-c", script, hexString(canonical)])
        #expect(output.status == 0, "\(output.standardError)")
    }

    @Test("one byte of the executable or of a trusted file changes the measurement")
    func inputsChangeIt() throws {
        let fixture = try ManifestFixture()
        let original = try fixture.measured().measurement
        try fixture.flipLastByte(of: "bin/workload")
        let executableChanged = try fixture.measured().measurement
        #expect(executableChanged != original)
        try fixture.flipLastByte(of: "bin/workload")
        #expect(try fixture.measured().measurement == original)
        try fixture.flipLastByte(of: "data/greeting.txt")
        #expect(try fixture.measured().measurement != original)
    }

    static let manifestEdits: [(String, String)] = [
        ("file:bin/workload", "file:./bin/workload"),
        ("\"--mode\"", "\"--Mode\""),
        ("LOG_LEVEL = \"info\"", "LOG_LEVEL = \"infO\""),
        ("name = \"fixture\"", "name = \"fixturf\""),
        ("size = \"64M\"", "size = \"63M\""),
        ("product_id = 7", "product_id = 6"),
        ("svn = 3", "svn = 4"),
        ("debug = false", "debug = true"),
        ("scratch = \"16M\"", "scratcH = \"16M\""),
        ("weights = 8192", "weights = 12288"),
        ("access = \"rw\"", "access = \"ro\""),
        ("path = \"data\"", "path = \"date\""),
        ("\"exit_group\"", "\"exit\""),
        ("[seccomp]\nallow = [\"read\", \"write\", \"exit_group\"]", ""),
    ]

    @Test("any manifest value changes the measurement", arguments: 0..<manifestEdits.count)
    func manifestValuesChangeIt(_ index: Int) throws {
        let (original, replacement) = Self.manifestEdits[index]
        #expect(ManifestFixture.toml.contains(original))
        let baseline = try ManifestFixture().measured().measurement
        let edited = try ManifestFixture(
            toml: ManifestFixture.toml.replacingOccurrences(of: original, with: replacement))
        try FileManager.default.createDirectory(at: edited.url("date"), withIntermediateDirectories: true)
        #expect(try edited.measured().measurement != baseline, "\(original) -> \(replacement)")
    }

    @Test("the trusted file's URI is measured: renaming it changes the measurement")
    func trustedFileURIChangesIt() throws {
        let fixture = try ManifestFixture()
        let baseline = try fixture.measured().measurement
        try FileManager.default.copyItem(at: fixture.url("data/greeting.txt"), to: fixture.url("data/hello.txt"))
        try fixture.write(
            ManifestFixture.toml.replacingOccurrences(of: "greeting.txt", with: "hello.txt"), to: "enclave.toml")
        #expect(try fixture.measured().measurement != baseline)
    }

    @Test("the manifest's absolute location does not matter")
    func locationIndependent() throws {
        let fixture = try ManifestFixture()
        let copy = try fixture.copied()
        #expect(copy.directory != fixture.directory)
        #expect(try copy.measured().measurement == fixture.measured().measurement)
    }

    @Test("a pinned trusted-file hash that no longer matches is refused, naming the file")
    func pinnedHashMismatch() throws {
        let fixture = try ManifestFixture()
        let digest = hexString(DigestAlgorithm.sha384.hash(Array("something else".utf8)))
        try fixture.write(
            ManifestFixture.toml.replacingOccurrences(of: "sha384 = \"\"", with: "sha384 = \"\(digest)\""),
            to: "enclave.toml")
        let error = manifestError { _ = try fixture.measured() }
        #expect(error?.code == .inputMismatch)
        #expect(error?.keyPath == "trusted_files[0].sha384")
        #expect(error?.reason.contains("file:data/greeting.txt") == true)
    }

    @Test("a missing trusted file is an error naming it")
    func missingTrustedFile() throws {
        let fixture = try ManifestFixture()
        try FileManager.default.removeItem(at: fixture.url("data/greeting.txt"))
        let error = manifestError { _ = try fixture.measured() }
        #expect(error?.code == .io)
        #expect(error?.path == fixture.path("data/greeting.txt"))
    }

    @Test("the measurement report lists the measurement, the libraries and the trusted files")
    func report() throws {
        let fixture = try ManifestFixture()
        let report = try ManifestMeasurementReport(manifestAt: fixture.manifestPath, locator: .none)
        #expect(report.measurement == (try fixture.measured().measurement.hex))
        #expect(report.signer == nil)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        #expect(
            Set(json?.keys.map { $0 } ?? []) == ["measurement", "reference_measurements", "libraries", "trusted_files"])
        #expect(
            json?["reference_measurements"] as? [String]
                == [
                    report.measurement,
                    hexString(DigestAlgorithm.sha256.hash(try fixture.measured().measurement.bytes)),
                ])
        #expect((json?["libraries"] as? [Any])?.isEmpty == true)
        let files = json?["trusted_files"] as? [[String: String]]
        #expect(files?.first?["uri"] == "file:data/greeting.txt")
        #expect(files?.first?["sha384"] == hexString(DigestAlgorithm.sha384.hash(Array(ManifestFixture.greeting.utf8))))
    }
}
