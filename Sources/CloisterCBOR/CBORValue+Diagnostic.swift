extension CBORValue: CustomStringConvertible {
    /// The item in diagnostic notation (RFC 8949 §8), e.g. `{1: -7, "a": [h'0102', 1.5]}`.
    public var description: String {
        var output = ""
        writeDiagnostic(to: &output)
        return output
    }

    private func writeDiagnostic(to output: inout String) {
        switch self {
        case .unsigned(let number):
            output += String(number)
        case .negative(let number):
            output += number == .max ? "-18446744073709551616" : "-" + String(number + 1)
        case .bytes(let contents):
            output += "h'"
            for byte in contents {
                output += byte < 0x10 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
            }
            output += "'"
        case .text(let text):
            writeQuoted(text, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += ", " }
                element.writeDiagnostic(to: &output)
            }
            output += "]"
        case .map(let entries):
            output += "{"
            for (index, entry) in entries.enumerated() {
                if index > 0 { output += ", " }
                entry.key.writeDiagnostic(to: &output)
                output += ": "
                entry.value.writeDiagnostic(to: &output)
            }
            output += "}"
        case .tagged(let tag, let content):
            output += String(tag) + "("
            content.writeDiagnostic(to: &output)
            output += ")"
        case .simple(let number):
            output += "simple(\(number))"
        case .bool(let flag):
            output += flag ? "true" : "false"
        case .null:
            output += "null"
        case .undefined:
            output += "undefined"
        case .float(let number) where number.isNaN:
            output += "NaN"
        case .float(let number) where number.isInfinite:
            output += number < 0 ? "-Infinity" : "Infinity"
        case .float(let number):
            output += String(number)
        }
    }
}

/// Writes `text` as a JSON-style string literal.
private func writeQuoted(_ text: String, to output: inout String) {
    output += "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": output += "\\\""
        case "\\": output += "\\\\"
        case "\n": output += "\\n"
        case "\r": output += "\\r"
        case "\t": output += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: output.unicodeScalars.append(scalar)
        }
    }
    output += "\""
}
