public import EnclaveProtocol
import Glibc

/// What an ELF executable asks of the kernel and of the dynamic loader before its own code runs, read from its
/// headers: the architecture, the program interpreter, the shared libraries it names and the search paths it carries.
struct ELFLoadInfo: Sendable, Hashable {
    /// `e_machine`: the architecture the code is for.
    let machine: UInt16
    /// The program interpreter (`PT_INTERP`): the dynamic loader the kernel maps with the executable; nil for a
    /// statically linked one.
    let interpreter: String?
    /// The shared libraries the executable names (`DT_NEEDED`), in file order.
    let neededLibraries: [String]
    /// The library search paths it carries (`DT_RPATH`, then `DT_RUNPATH`), split at ':'.
    let searchPaths: [String]

    /// Reads the headers of the ELF file open at `descriptor` (`size` bytes, read from `path`); every offset and size
    /// is checked against the file before it is used.
    ///
    /// - Throws: `LaunchError` `.invalidExecutable` naming `path` when the file is not a well-formed little-endian ELF
    ///   executable (`ET_EXEC` or `ET_DYN`).
    init(reading descriptor: FileDescriptor, size: Int, path: String) throws(LaunchError) {
        let file = try ELFFile(descriptor, size: size, path: path)
        let segments = try file.programHeaders()
        var interpreter: String?
        var needed: [String] = []
        var searchPaths: [String] = []
        for segment in segments where segment.type == ELFFile.interpreterSegment {
            guard interpreter == nil else { throw ELFFile.malformed(path, "it has two program interpreters") }
            interpreter = try file.string(at: segment.offset, limit: segment.fileSize)
        }
        for segment in segments where segment.type == ELFFile.dynamicSegment {
            let dynamic = try file.dynamicStrings(dynamic: segment, segments: segments)
            needed += dynamic.needed
            searchPaths += dynamic.searchPaths.flatMap { $0.split(separator: ":").map(String.init) }
        }
        self.machine = file.machine
        self.interpreter = interpreter
        self.neededLibraries = needed
        self.searchPaths = searchPaths
    }

    /// The headers of the executable this process runs (`/proc/self/exe`).
    static let runningProcess: Result<ELFLoadInfo, LaunchError> = Result { () throws(LaunchError) in
        let path = "/proc/self/exe"
        let raw = open(path, O_RDONLY | O_CLOEXEC)
        guard raw >= 0 else { throw LaunchError.systemCall("open", "'\(path)'", code: .invalidExecutable) }
        let descriptor = FileDescriptor(adopting: raw)
        var status = stat()
        guard fstat(raw, &status) == 0 else {
            throw LaunchError.systemCall("fstat", "'\(path)'", code: .invalidExecutable)
        }
        return try ELFLoadInfo(reading: descriptor, size: Int(status.st_size), path: path)
    }
}

/// The parts of an ELF file (32- or 64-bit, little-endian) that say what else is mapped to run it, read with `pread`.
private struct ELFFile {
    static let loadSegment: UInt64 = 1  // PT_LOAD
    static let dynamicSegment: UInt64 = 2  // PT_DYNAMIC
    static let interpreterSegment: UInt64 = 3  // PT_INTERP
    /// The longest interpreter path, library name or search path read.
    static let maximumStringLength = 4096

    struct Segment {
        let type: UInt64
        let offset: UInt64
        let address: UInt64
        let fileSize: UInt64
    }

    let machine: UInt16
    private let descriptor: FileDescriptor
    private let size: Int
    private let path: String
    private let is64Bit: Bool

    init(_ descriptor: FileDescriptor, size: Int, path: String) throws(LaunchError) {
        self.descriptor = descriptor
        self.size = size
        self.path = path
        guard size >= 52 else { throw Self.malformed(path, "it is too short for an ELF header") }
        let identity = try Self.read(descriptor, at: 0, count: 6, size: size, path: path)
        guard identity[0..<4] == [0x7f, 0x45, 0x4c, 0x46] else {
            throw Self.malformed(path, "it does not start with the ELF magic number")
        }
        guard identity[4] == 1 || identity[4] == 2, identity[5] == 1 else {
            throw Self.malformed(path, "it is not a little-endian 32- or 64-bit ELF file")
        }
        is64Bit = identity[4] == 2
        let header = try Self.read(descriptor, at: 0, count: is64Bit ? 64 : 52, size: size, path: path)
        let type = Self.integer(header, 0x10, 2)
        guard type == 2 || type == 3 else {  // ET_EXEC, ET_DYN
            throw Self.malformed(path, "it is an ELF file of type \(type), not an executable")
        }
        machine = UInt16(truncatingIfNeeded: Self.integer(header, 0x12, 2))
    }

    /// Every program header.
    func programHeaders() throws(LaunchError) -> [Segment] {
        let header = try read(at: 0, count: is64Bit ? 64 : 52)
        let tableOffset = is64Bit ? Self.integer(header, 0x20, 8) : Self.integer(header, 0x1c, 4)
        let entrySize = Int(Self.integer(header, is64Bit ? 0x36 : 0x2a, 2))
        let count = Int(Self.integer(header, is64Bit ? 0x38 : 0x2c, 2))
        guard entrySize >= (is64Bit ? 56 : 32) else {
            throw Self.malformed(path, "its program headers are \(entrySize) bytes each")
        }
        let table = try read(at: tableOffset, count: UInt64(entrySize * count))
        return (0..<count).map { index in
            let start = table.startIndex + index * entrySize
            return is64Bit
                ? Segment(
                    type: Self.integer(table, start, 4), offset: Self.integer(table, start + 8, 8),
                    address: Self.integer(table, start + 16, 8), fileSize: Self.integer(table, start + 32, 8))
                : Segment(
                    type: Self.integer(table, start, 4), offset: Self.integer(table, start + 4, 4),
                    address: Self.integer(table, start + 8, 4), fileSize: Self.integer(table, start + 16, 4))
        }
    }

    /// The `DT_NEEDED` names and the `DT_RPATH` / `DT_RUNPATH` values of the dynamic segment `dynamic`, whose string
    /// table is found through the loadable segments.
    func dynamicStrings(
        dynamic: Segment, segments: [Segment]
    ) throws(LaunchError) -> (needed: [String], searchPaths: [String]) {
        let entrySize = is64Bit ? 16 : 8
        let table = try read(at: dynamic.offset, count: dynamic.fileSize / UInt64(entrySize) * UInt64(entrySize))
        var needed: [UInt64] = []
        var rpath: [UInt64] = []
        var runpath: [UInt64] = []
        var stringTable: UInt64?
        var stringTableSize: UInt64?
        for start in stride(from: table.startIndex, to: table.endIndex, by: entrySize) {
            let tag = Self.integer(table, start, entrySize / 2)
            if tag == 0 { break }  // DT_NULL ends the table
            let value = Self.integer(table, start + entrySize / 2, entrySize / 2)
            switch tag {
            case 1: needed.append(value)  // DT_NEEDED
            case 5: stringTable = value  // DT_STRTAB
            case 10: stringTableSize = value  // DT_STRSZ
            case 15: rpath.append(value)  // DT_RPATH
            case 29: runpath.append(value)  // DT_RUNPATH
            default: break
            }
        }
        let offsets = needed + rpath + runpath
        guard !offsets.isEmpty else { return ([], []) }
        guard let stringTable, let stringTableSize else {
            throw Self.malformed(path, "it names shared libraries or search paths but has no string table")
        }
        guard
            let load = segments.first(where: {
                $0.type == Self.loadSegment && $0.address <= stringTable && stringTable - $0.address < $0.fileSize
            })
        else { throw Self.malformed(path, "its string table is outside every loadable segment") }
        let tableOffset = load.offset.addingReportingOverflow(stringTable - load.address)
        guard !tableOffset.overflow else { throw Self.malformed(path, "its string table is outside the file") }
        let strings = try offsets.map { (offset: UInt64) throws(LaunchError) -> String in
            guard offset < stringTableSize else {
                throw Self.malformed(path, "a library name or search path lies outside its string table")
            }
            return try string(at: tableOffset.partialValue + offset, limit: stringTableSize - offset)
        }
        return (Array(strings[..<needed.count]), Array(strings[needed.count...]))
    }

    /// The NUL-terminated string at `offset`, at most `limit` bytes (and `maximumStringLength`) long.
    func string(at offset: UInt64, limit: UInt64) throws(LaunchError) -> String {
        let available = UInt64(max(size, 0)) > offset ? UInt64(size) - offset : 0
        let count = min(limit, UInt64(Self.maximumStringLength), available)
        let bytes = try read(at: offset, count: count)
        guard let end = bytes.firstIndex(of: 0) else {
            throw Self.malformed(path, "a path or library name is not NUL-terminated")
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    private func read(at offset: UInt64, count: UInt64) throws(LaunchError) -> ArraySlice<UInt8> {
        guard let offset = Int(exactly: offset), let count = Int(exactly: count) else {
            throw Self.malformed(path, "an offset or size is outside the file")
        }
        return try Self.read(descriptor, at: offset, count: count, size: size, path: path)
    }

    private static func read(
        _ descriptor: FileDescriptor, at offset: Int, count: Int, size: Int, path: String
    ) throws(LaunchError) -> ArraySlice<UInt8> {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw malformed(path, "an offset or size is outside the file")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes {
                pread(descriptor.rawValue, $0.baseAddress! + done, count - done, off_t(offset + done))
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw LaunchError.systemCall("pread", "of '\(path)'", code: .invalidExecutable) }
            done += result
        }
        return bytes[...]
    }

    /// The little-endian unsigned integer of `width` bytes at `index`.
    private static func integer(_ bytes: ArraySlice<UInt8>, _ index: Int, _ width: Int) -> UInt64 {
        (0..<width).reversed().reduce(0) { value, byte in value << 8 | UInt64(bytes[index + byte]) }
    }

    static func malformed(_ path: String, _ reason: String) -> LaunchError {
        LaunchError(.invalidExecutable, "'\(path)' is not a well-formed ELF executable: \(reason)")
    }
}
