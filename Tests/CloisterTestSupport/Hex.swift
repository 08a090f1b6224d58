/// Lower-case hexadecimal of `bytes`.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    for byte in bytes {
        output.append(digits[Int(byte >> 4)])
        output.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: output, as: UTF8.self)
}

/// Bytes from hexadecimal text (whitespace ignored); traps on malformed text, which in a test is a broken fixture.
public func bytes(fromHex text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map { Character($0) }
    precondition(digits.count % 2 == 0, "odd-length hex fixture: \(text.prefix(40))")
    var output: [UInt8] = []
    output.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else {
            preconditionFailure("malformed hex fixture: \(text.prefix(40))")
        }
        output.append(byte)
        index += 2
    }
    return output
}

extension Array where Element == UInt8 {
    /// True when `needle` occurs in these bytes (canary checks).
    public func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
