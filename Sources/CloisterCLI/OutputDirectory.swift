import ArgumentParser
import EnclaveProtocol
import Foundation

/// A directory a command writes several files into: created when absent, each file replaced atomically, and a
/// failure named with the path at fault (exit 73, EX_CANTCREAT).
enum OutputDirectory {
    /// Creates `path` (and its parents) unless it is already a directory.
    static func create(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw failure("\(path) exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw failure("cannot create the directory \(path): \(error.localizedDescription)")
        }
    }

    /// Writes `bytes` to `path` atomically (mode 0644).
    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile(path: path, mode: 0o644).write(bytes)
        } catch {
            throw failure("cannot write \(path): \(error.reason)")
        }
    }

    private static func failure(_ reason: String) -> ExitCode {
        printToStandardError("error: \(reason)")
        return ExitCode(73)
    }
}
