import CloisterErrors
public import EnclaveProtocol
import Foundation

extension LoadedLibrary {
    /// Checks that only root can change the file at `path` (see `requireOnlyRootCanChange`), then hashes a sealed copy
    /// of it; errors name the library and `executable`, whose library it is.
    init(hashing path: String, of executable: String) throws(ManifestError) {
        try Self.requireOnlyRootCanChange(path, of: executable)
        let copy: SealedFile
        do {
            copy = try SealedFile(path: path, executable: false, failure: .invalidExecutable)
        } catch {
            throw ManifestError(
                .io, "library '\(path)' of '\(executable)': \((error as? LaunchError)?.reason ?? "\(error)")",
                keyPath: "loader.entrypoint", path: path)
        }
        self.init(path: path, sha384: copy.sha384)
    }

    /// Refuses a library that a user other than root could replace or rewrite between its hashing and its mapping: the
    /// file must be a regular file of root's that neither group nor others may write, and so must every directory on
    /// its path, as named and as resolved (a sticky directory such as `/tmp` excepted: there others may add names but
    /// not replace root's). Swapping a library then takes root, which the simulator does not defend against.
    static func requireOnlyRootCanChange(_ path: String, of executable: String) throws(ManifestError) {
        func refusal(_ reason: String) -> ManifestError {
            ManifestError(
                .invalidValue,
                "library '\(path)' of '\(executable)': \(reason), so it could change between its measurement and the "
                    + "enclave's start; libraries must be root's and writable only by root",
                keyPath: "loader.entrypoint", path: path)
        }
        var file = stat()
        guard stat(path, &file) == 0 else {
            throw ManifestError(
                .io, "library '\(path)' of '\(executable)': \(errnoText(errno))", keyPath: "loader.entrypoint",
                path: path)
        }
        guard file.st_mode & S_IFMT == S_IFREG else { throw refusal("it is not a regular file") }
        guard file.st_uid == 0 else { throw refusal("it is owned by uid \(file.st_uid)") }
        guard file.st_mode & 0o022 == 0 else { throw refusal("group or others may write it") }
        let directories = Set(ancestors(of: path) + ancestors(of: ManifestFile.resolve(path)))
        for directory in directories.sorted() {
            var status = stat()
            guard stat(directory, &status) == 0 else {
                throw refusal("its directory \(directory) cannot be examined (\(errnoText(errno)))")
            }
            guard status.st_uid == 0 else {
                throw refusal("its directory \(directory) is owned by uid \(status.st_uid)")
            }
            guard status.st_mode & 0o022 == 0 || status.st_mode & S_ISVTX != 0 else {
                throw refusal("group or others may write its directory \(directory)")
            }
        }
    }

    /// "/", "/a" and "/a/b" for "/a/b/c".
    private static func ancestors(of path: String) -> [String] {
        let components = path.split(separator: "/")
        return (0..<components.count).map { "/" + components[..<$0].joined(separator: "/") }
    }
}

extension ExecutableImage {
    /// The longest the loader may take to list an image's libraries.
    static let listingTimeout: Duration = .seconds(10)
    /// The most output the loader's listing may have.
    static let maximumListingSize = 1 << 20

    /// The image's library closure, hashed: the dynamic loader (`PT_INTERP`) and every shared library it maps to run
    /// the image, in the order this host's loader maps them; empty for a statically linked image.
    ///
    /// The loader resolves them itself, as `ldd(1)` has it do: this host's loader (the one that runs this process) is
    /// run with `--list` on the sealed image (`/proc/self/fd/3`), hardened as an enclave is (no capabilities, no new
    /// privileges) and with an empty environment, as the enclave's holds no loader variable. Its search therefore
    /// follows `/etc/ld.so.cache` and the system directories exactly as when the enclave starts. Each file it names
    /// is hashed through a sealed copy.
    ///
    /// - Throws: `ManifestError` (key `loader.entrypoint`) naming the file when the image is not an ELF executable for
    ///   this machine, names a loader other than this host's, carries a library search path (`DT_RPATH` or
    ///   `DT_RUNPATH`) other than SwiftPM's `$ORIGIN`, needs a library the loader does not find, or needs one that a
    ///   user other than root could change (`LoadedLibrary.requireOnlyRootCanChange`).
    public func loadedLibraries() throws(ManifestError) -> [LoadedLibrary] {
        func refusal(_ reason: String) -> ManifestError {
            ManifestError(.invalidValue, "'\(path)' \(reason)", keyPath: "loader.entrypoint", path: path)
        }
        let info: ELFLoadInfo
        let host: ELFLoadInfo
        do {
            info = try ELFLoadInfo(reading: descriptor, size: size, path: path)
            host = try ELFLoadInfo.runningProcess.get()
        } catch {
            throw ManifestError(.invalidValue, error.reason, keyPath: "loader.entrypoint", path: path)
        }
        guard info.machine == host.machine else {
            throw refusal("is built for ELF machine \(info.machine), not this host's (\(host.machine))")
        }
        guard let interpreter = info.interpreter else {
            guard info.neededLibraries.isEmpty else {
                throw refusal(
                    "names shared libraries (\(info.neededLibraries.joined(separator: ", "))) but no loader to map them"
                )
            }
            return []
        }
        guard interpreter == host.interpreter else {
            let hostLoader = host.interpreter ?? "none: this process is statically linked"
            throw refusal(
                "names the loader \(interpreter), not this host's (\(hostLoader)), so its libraries cannot be listed as "
                    + "they would be mapped")
        }
        if let searchPath = info.searchPaths.first(where: { $0 != "$ORIGIN" }) {
            throw refusal(
                "carries the library search path '\(searchPath)' (DT_RPATH or DT_RUNPATH), which would have the loader "
                    + "look for libraries outside the system's; only SwiftPM's $ORIGIN, which names / for an image run "
                    + "from a sealed copy, is accepted")
        }
        let (listing, termination) = try loaderListing(loader: interpreter)
        let paths = try LoaderListing.paths(in: listing, of: path, interpreter: interpreter)
        guard termination == .exited(0) else {
            throw listingFailure(loader: interpreter, "it \(termination) after printing '\(listing)'")
        }
        return try paths.map { (library: String) throws(ManifestError) in try LoadedLibrary(hashing: library, of: path)
        }
    }

    private func listingFailure(loader: String, _ reason: String) -> ManifestError {
        ManifestError(
            .io, "the loader \(loader) could not list the libraries of '\(path)': \(reason)",
            keyPath: "loader.entrypoint", path: path)
    }

    /// What `loader --list` prints for this image (standard output and error), read within `listingTimeout`, and how
    /// the loader ended.
    private func loaderListing(loader: String) throws(ManifestError) -> (String, Termination) {
        func failure(_ reason: String) -> ManifestError { listingFailure(loader: loader, reason) }
        let process: EnclaveProcess
        let output: FileDescriptor
        do {
            let pipe = try FileDescriptor.pipe()
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            guard null >= 0 else { throw LaunchError.systemCall("open", "'/dev/null'") }
            process = try EnclaveProcess.spawn(
                image: ExecutableImage(path: loader),
                arguments: ["--list", "/proc/self/fd/\(EnclaveDescriptor.ecall)"],
                endpoints: EnclaveEndpoints(ecall: descriptor.duplicate(), platform: FileDescriptor(adopting: null)),
                standardStreams: StandardStreams(output: .descriptor(pipe.write), error: .descriptor(pipe.write)))
            output = pipe.read
        } catch {
            throw failure((error as? LaunchError)?.reason ?? "\(error)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + Self.listingTimeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, bytes.count <= Self.maximumListingSize else {
                try? process.signal(SIGKILL)
                _ = try? process.wait()
                throw failure(
                    remaining > .zero
                        ? "it printed more than \(Self.maximumListingSize) bytes"
                        : "it did not finish within \(Self.listingTimeout)")
            }
            var ready = pollfd(fd: output.rawValue, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            let status = poll(&ready, 1, milliseconds)
            if status < 0 && errno == EINTR { continue }
            guard status >= 0 else { throw failure("poll: \(errnoText(errno))") }
            if status == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { read(output.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw failure("read: \(errnoText(errno))") }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        do {
            return (String(decoding: bytes, as: UTF8.self), try process.wait())
        } catch {
            throw failure("\(error)")
        }
    }
}

/// The output of `ld.so --list` (and `ldd`): one line per object mapped, `name => path (address)` for a library found
/// by name, `name => not found` for one not found, `path (address)` for one named by path, and `name (address)` for
/// the kernel's vDSO, which is not a file. The loader names itself `interpreter (address)`, or, when it runs from a
/// copy (as here: a sealed memfd), `interpreter => its own name (address)`.
enum LoaderListing {
    /// The paths of the files mapped, in the loader's order, each once; the loader's is `interpreter`, the path the
    /// kernel maps it from when the executable starts.
    ///
    /// - Throws: `ManifestError` naming `executable` and the library when the loader found no file for it, names it by
    ///   a relative path, or printed a line of another form.
    static func paths(
        in listing: String, of executable: String, interpreter: String
    ) throws(ManifestError) -> [String] {
        func refusal(_ reason: String) -> ManifestError {
            ManifestError(.invalidValue, "'\(executable)' \(reason)", keyPath: "loader.entrypoint", path: executable)
        }
        var paths: [String] = []
        for rawLine in listing.split(separator: "\n") {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty { continue }
            let object: Substring
            if let arrow = line.range(of: " => ") {
                let name = line[..<arrow.lowerBound]
                let target = line[arrow.upperBound...]
                if target == "not found" {
                    throw refusal("needs the library '\(name)', which the loader does not find on this host")
                }
                guard let path = withoutAddress(target), path.hasPrefix("/") || name == interpreter else {
                    throw refusal("has a library the loader lists as '\(line)', which Cloister cannot read")
                }
                object = path.hasPrefix("/") ? path : name
            } else {
                guard let named = withoutAddress(line) else {
                    throw refusal("cannot have its libraries listed: the loader printed '\(line)'")
                }
                if !named.contains("/") { continue }  // the vDSO: mapped by the kernel, not from a file
                guard named.hasPrefix("/") else {
                    throw refusal(
                        "names the library '\(named)' by a relative path, which depends on the working directory")
                }
                object = named
            }
            if !paths.contains(String(object)) { paths.append(String(object)) }
        }
        return paths
    }

    /// `text` without its trailing " (0x...)" load address, nil when it has none.
    private static func withoutAddress(_ text: Substring) -> Substring? {
        guard text.hasSuffix(")"), let open = text.range(of: " (0x", options: .backwards) else { return nil }
        return text[..<open.lowerBound]
    }
}
