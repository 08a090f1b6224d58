import FoundationEssentials

extension X509Certificate {
    /// The certificates of a PEM chain carried inside signed evidence, read so that no byte of the text goes
    /// unread: nothing but `CERTIFICATE` blocks, one after the other, each a `-----BEGIN CERTIFICATE-----` line,
    /// lines of base64 and an `-----END CERTIFICATE-----` line, every line ended by LF or CR LF (the last one may be
    /// unended); the base64 canonical (what encoding its bytes gives back, so no two texts read as one certificate)
    /// and exactly one DER certificate. `certificates(fromPEM:)` is for files a user gives, where text between blocks
    /// is welcome.
    ///
    /// Throws naming the line (counted from 1) or the block at fault.
    public static func certificates(fromChainPEM text: some Collection<UInt8>) throws -> [X509Certificate] {
        var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        func problem(_ line: Int, _ what: String) -> CryptoError {
            CryptoError(.malformedInput, "line \(line + 1) of the PEM certificate chain \(what)")
        }
        var certificates: [X509Certificate] = []
        var index = 0
        while index < lines.count {
            guard lines[index].elementsEqual(beginLine) else {
                throw problem(index, "is not \(String(decoding: beginLine, as: UTF8.self))")
            }
            let begin = index
            index += 1
            var base64: [UInt8] = []
            while index < lines.count, !lines[index].elementsEqual(endLine) {
                guard !lines[index].isEmpty, lines[index].allSatisfy(isBase64) else {
                    throw problem(index, "is neither base64 nor \(String(decoding: endLine, as: UTF8.self))")
                }
                base64 += lines[index]
                index += 1
            }
            guard index < lines.count else {
                throw problem(begin, "begins a block that has no \(String(decoding: endLine, as: UTF8.self)) line")
            }
            index += 1
            let block = certificates.count + 1
            guard let der = Data(base64Encoded: Data(base64)), Array(der.base64EncodedData()) == base64 else {
                throw CryptoError(
                    .malformedInput, "block \(block) of the PEM certificate chain is not canonical base64")
            }
            do {
                certificates.append(try X509Certificate(derRepresentation: Array(der)))
            } catch let error as CryptoError {
                throw CryptoError(error.code, "block \(block) of the PEM certificate chain: \(error.reason)")
            }
        }
        guard !certificates.isEmpty else {
            throw CryptoError(.malformedInput, "the PEM certificate chain holds no certificate")
        }
        return certificates
    }
}

private let beginLine = Array("-----BEGIN CERTIFICATE-----".utf8)
private let endLine = Array("-----END CERTIFICATE-----".utf8)

private func isBase64(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
        true
    default: false
    }
}
