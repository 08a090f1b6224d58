import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

@testable import EnclavePlatform
@testable import EnclaveProtocol

/// The library closure the platform measures (`ExecutableImage.loadedLibraries()`): what the loader maps, as `ldd`
/// lists it, hashed, and refused when it cannot be listed faithfully or could change unseen.
@Suite struct LibraryClosureTests {
    static let enclaveExecutable = TestEnvironment.productsDirectory + "/cloister-enclave"

    /// The files `ldd` lists for `path`, in its order (the vDSO, which is no file, left out).
    private func lddPaths(_ path: String) throws -> [String] {
        let output = try runTool("/usr/bin/ldd", [path])
        #expect(output.status == 0, "\(output.standardError)")
        return output.standardOutput.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let arrow = fields.firstIndex(of: "=>") { return String(fields[arrow + 1]) }
            return fields.first.flatMap { $0.hasPrefix("/") ? String($0) : nil }
        }
    }

    @Test("the closure measured for the built cloister-enclave is ldd's list, each file hashed as sha384sum hashes it")
    func enclaveClosureIsLdds() throws {
        let libraries = try ExecutableImage(path: Self.enclaveExecutable).loadedLibraries()
        let expected = try lddPaths(Self.enclaveExecutable)
        #expect(libraries.map(\.path) == expected)
        #expect(expected.contains("/lib64/ld-linux-x86-64.so.2"))
        for library in libraries {
            let sum = try runTool("/usr/bin/sha384sum", [library.path]).standardOutput.prefix(96)
            #expect(hexString(library.sha384) == String(sum), "\(library.path)")
        }
    }

    @Test(
        "cloister-enclave loads only what Debian ships as shared objects alone: glibc, libcbor and Swift's C++ runtime")
    func enclaveLinksTheRestStatically() throws {
        let output = try runTool("/usr/bin/readelf", ["--dynamic", "--wide", Self.enclaveExecutable])
        let needed = output.standardOutput.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap {
            $0.split(separator: "[").last?.split(separator: "]").first.map(String.init)
        }
        #expect(
            Set(needed) == [
                "libcbor.so.0.8", "libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1",
            ], "\(needed)")
        let runpath = output.standardOutput.split(separator: "\n").filter { $0.contains("PATH)") }
        #expect(runpath.allSatisfy { $0.hasSuffix("[$ORIGIN]") }, "\(runpath)")
    }

    @Test("a statically linked executable maps no library and the loader is not run")
    func staticallyLinked() throws {
        let fixture = try ManifestFixture()
        #expect(try ExecutableImage(path: fixture.path("bin/workload")).loadedLibraries() == [])
    }

    @Test("the loader's listing is read line by line: by name, by path, the loader, the vDSO skipped, each file once")
    func listingParsed() throws {
        let loader = "/lib64/ld-linux-x86-64.so.2"
        let listing = """
            \tlinux-vdso.so.1 (0x00007ffd3b5f2000)
            \tlibcbor.so.0.8 => /lib/x86_64-linux-gnu/libcbor.so.0.8 (0x00007f4a1c2e6000)
            \t/opt/lib/libabsolute.so (0x00007f4a1c2c0000)
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f4a1c0de000)
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f4a1c0de000)

            """
        let expected = [
            "/lib/x86_64-linux-gnu/libcbor.so.0.8", "/opt/lib/libabsolute.so", "/lib/x86_64-linux-gnu/libc.so.6",
            loader,
        ]
        // The loader run by its path names itself by it; run from a copy, it gives its own name after the path.
        for own in ["\t\(loader) (0x00007f4a1c30c000)\n", "\t\(loader) => ld-linux-x86-64.so.2 (0x00007f4a1c30c000)\n"]
        {
            #expect(try LoaderListing.paths(in: listing + own, of: "/x/enclave", interpreter: loader) == expected)
        }
        let refused: [(String, String)] = [
            ("\tlibgone.so.1 => not found\n", "needs the library 'libgone.so.1', which the loader does not find"),
            ("\tlib/relative.so (0x00007f4a1c2c0000)\n", "names the library 'lib/relative.so' by a relative path"),
            ("\tlibx.so => lib/x.so (0x00007f4a1c2c0000)\n", "lists as 'libx.so => lib/x.so (0x00007f4a1c2c0000)'"),
            (
                "/proc/self/fd/3: error while loading shared libraries: libgone.so.1: cannot open shared object file\n",
                "the loader printed '/proc/self/fd/3: error while loading shared libraries: libgone.so.1"
            ),
        ]
        for (text, reason) in refused {
            let error = manifestError {
                _ = try LoaderListing.paths(in: text, of: "/x/enclave", interpreter: "/lib64/ld-linux-x86-64.so.2")
            }
            #expect(error?.code == .invalidValue)
            #expect(error?.keyPath == "loader.entrypoint")
            #expect(error?.path == "/x/enclave")
            #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "accepted")")
        }
    }

    @Test("a file that is not an ELF executable is refused before anything runs")
    func notELF() throws {
        let directory = try TestEnvironment.temporaryDirectory("closure")
        let cases: [(String, [UInt8])] = [
            ("script", Array("#!/bin/sh\necho hi\n".utf8)), ("short", [0x7f, 0x45, 0x4c, 0x46]),
            (
                "object",
                Array(ManifestFixture.executableBytes.prefix(16)) + [1, 0] + ManifestFixture.executableBytes[18...]
            ),
        ]
        for (name, bytes) in cases {
            let path = directory.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = manifestError { _ = try ExecutableImage(path: path).loadedLibraries() }
            #expect(error?.code == .invalidValue)
            #expect(error?.reason.contains("'\(path)' is not a well-formed ELF executable") == true, "\(name)")
        }
    }

    // MARK: Programs built for the test

    /// A directory with `libcloistertest.so` and `program`, linked against it by absolute path, built with the
    /// toolchain's clang; `linkerFlags` go to the program's link.
    private struct Program {
        let directory: URL
        var path: String { directory.appendingPathComponent("program").path }
        var library: String { directory.appendingPathComponent("libcloistertest.so").path }

        init(linkerFlags: [String] = []) throws {
            directory = try TestEnvironment.temporaryDirectory("closure-program")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
            try buildLibrary(value: 1)
            let source = directory.appendingPathComponent("program.c").path
            try Data("int cloister_test_value(void);\nint main(void) { return cloister_test_value() - 1; }\n".utf8)
                .write(to: URL(fileURLWithPath: source))
            try Self.clang([source, "-o", path, library] + linkerFlags)
        }

        /// (Re)builds the library in place, its function returning `value`.
        func buildLibrary(value: Int) throws {
            let source = directory.appendingPathComponent("library.c").path
            try Data("int cloister_test_value(void) { return \(value); }\n".utf8).write(
                to: URL(fileURLWithPath: source))
            try Self.clang(["-shared", "-fPIC", source, "-o", library])
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: library)
        }

        private static func clang(_ arguments: [String]) throws {
            let output = try runTool("clang", arguments)
            try #require(output.status == 0, "clang \(arguments): \(output.standardError)")
        }
    }

    @Test("a library search path other than $ORIGIN is refused, naming it; $ORIGIN alone is accepted")
    func searchPathsRefused() throws {
        for (flags, searchPath) in [
            (["-Wl,-rpath,/opt/cloister-test/lib"], "/opt/cloister-test/lib"),  // DT_RUNPATH
            (["-Wl,-rpath,/opt/cloister-rpath", "-Wl,--disable-new-dtags"], "/opt/cloister-rpath"),  // DT_RPATH
            (["-Wl,-rpath,$ORIGIN/../lib"], "$ORIGIN/../lib"),
        ] {
            let program = try Program(linkerFlags: flags)
            let error = manifestError { _ = try ExecutableImage(path: program.path).loadedLibraries() }
            #expect(error?.code == .invalidValue)
            #expect(error?.reason.contains("carries the library search path '\(searchPath)'") == true, "\(flags)")
        }
        let origin = try Program(linkerFlags: ["-Wl,-rpath,$ORIGIN"])
        #expect(
            try ExecutableImage(path: origin.path).loadedLibraries().map(\.path).contains(
                "/lib/x86_64-linux-gnu/libc.so.6"))
    }

    @Test("a loader other than this host's is refused, naming both")
    func foreignLoaderRefused() throws {
        let program = try Program(linkerFlags: ["-Wl,--dynamic-linker=/opt/cloister-test/ld.so"])
        let error = manifestError { _ = try ExecutableImage(path: program.path).loadedLibraries() }
        #expect(error?.code == .invalidValue)
        #expect(
            error?.reason.contains(
                "names the loader /opt/cloister-test/ld.so, not this host's (/lib64/ld-linux-x86-64.so.2)") == true,
            "\(error?.reason ?? "accepted")")
    }

    @Test("a library the loader cannot find is refused, naming it")
    func missingLibraryRefused() throws {
        let program = try Program()
        try FileManager.default.removeItem(atPath: program.library)
        let error = manifestError { _ = try ExecutableImage(path: program.path).loadedLibraries() }
        #expect(error?.code == .invalidValue)
        #expect(error?.reason.contains(program.library) == true, "\(error?.reason ?? "accepted")")
    }

    @Test("a library others could change is refused, naming the file or the directory that lets them")
    func librariesOnlyRootCanChange() throws {
        let program = try Program()
        let image = try ExecutableImage(path: program.path)
        guard getuid() == 0 else {
            // Not root: the library built here is this user's, whom the host runs as.
            let error = manifestError { _ = try image.loadedLibraries() }
            #expect(error?.reason.contains("it is owned by uid \(getuid())") == true, "\(error?.reason ?? "accepted")")
            return
        }
        let libraries = try image.loadedLibraries()
        #expect(libraries.first?.path == program.library, "the program's own library comes first")
        #expect(
            libraries.first?.sha384
                == DigestAlgorithm.sha384.hash(Array(try Data(contentsOf: URL(fileURLWithPath: program.library)))))
        for (path, mode, reason) in [
            (program.directory.path, 0o777, "group or others may write its directory \(program.directory.path)"),
            (program.library, 0o666, "group or others may write it"),
        ] {
            let original = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            let error = manifestError { _ = try image.loadedLibraries() }
            try FileManager.default.setAttributes([.posixPermissions: original as Any], ofItemAtPath: path)
            #expect(error?.code == .invalidValue)
            #expect(error?.path == program.library)
            #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "accepted")")
        }
    }

    @Test(
        "a library rewritten after signing is refused when the inputs are checked for launch, naming it",
        .enabled(if: getuid() == 0, "libraries must be root's: only root can build one the platform accepts"))
    func libraryRewrittenAfterSigning() throws {
        let program = try Program()
        let fixture = try ManifestFixture(
            toml: ManifestFixture.toml.replacingOccurrences(of: "file:bin/workload", with: "file:\(program.path)"))
        let signed = try SignedManifest(
            encoded: SignedManifest.sign(
                manifestAt: fixture.manifestPath, with: ECPrivateKey(generating: .p256), locator: .none
            ).encoded, baseDirectory: fixture.directory.path)
        #expect(signed.libraries.first?.path == program.library)
        let image = try ExecutableImage(path: program.path)
        try signed.verifyInputs(executable: image)
        try program.buildLibrary(value: 2)
        let error = manifestError { try signed.verifyInputs(executable: image) }
        #expect(error?.code == .inputMismatch)
        #expect(error?.path == program.library)
        #expect(error?.reason.contains("library '\(program.library)' changed since signing") == true)
    }
}
