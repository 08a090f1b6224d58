import Attestation
import CloisterCrypto

/// The signed item of a PCS answer, `{"tcbInfo": {...}, "signature": "hex"}` or `{"enclaveIdentity": {...},
/// "signature": "hex"}`: the item's JSON exactly as served, byte for byte, and the signature (ECDSA P-256, r ‖ s).
///
/// Intel signs the bytes of the item's value as the PCS serves them, so the value is cut out of the answer, never
/// decoded and written again. The whole answer must be one JSON object (RFC 8259) whose item is an object and whose
/// signature is 64 bytes in hex; a member named twice is refused, as which of the two was signed would be a guess.
struct SignedJSONItem {
    let item: [UInt8]
    let signature: [UInt8]

    /// Reads `body`, the answer to `url`, whose item is the member `name`.
    init(_ body: [UInt8], member name: String, url: String) throws(PCSError) {
        func refusal(_ problem: String) -> PCSError {
            PCSError(.badResponse, "GET \(url): the body \(problem)")
        }
        guard String(validating: body, as: UTF8.self) != nil else { throw refusal("is not UTF-8 text") }
        var scanner = JSONScanner(body)
        let members: [String: Range<Int>]
        do throws(JSONScanner.Failure) {
            members = try scanner.objectMembers()
        } catch {
            throw refusal("is not a JSON object: \(error.problem) at byte \(error.offset)")
        }
        guard let item = members[name], body[item.lowerBound] == UInt8(ascii: "{") else {
            throw refusal("has no member \"\(name)\" holding an object")
        }
        guard let signature = members["signature"],
            body[signature.lowerBound] == UInt8(ascii: "\""),
            let bytes = hexDecoded(
                String(decoding: body[(signature.lowerBound + 1)..<(signature.upperBound - 1)], as: UTF8.self)),
            bytes.count == 64
        else {
            throw refusal("has no member \"signature\" holding a 64-byte ECDSA P-256 signature (r ‖ s) in hex")
        }
        self.item = Array(body[item])
        self.signature = bytes
    }
}

/// Checks JSON text (RFC 8259) strictly and finds where each member of its top-level object lies, without building
/// any value (the tokens are `JSONLexer`'s). Nesting is limited, so hostile input cannot exhaust the stack.
struct JSONScanner {
    typealias Failure = JSONLexer.Failure

    static let maximumDepth = 64

    private var lexer: JSONLexer

    init(_ bytes: [UInt8]) {
        lexer = JSONLexer(bytes)
    }

    /// The members of the text, which must be one object: each name (decoded) with the byte range of its value.
    mutating func objectMembers() throws(Failure) -> [String: Range<Int>] {
        lexer.skipWhitespace()
        guard lexer.peek == UInt8(ascii: "{") else { throw lexer.failure("expected an object") }
        var members: [String: Range<Int>] = [:]
        for (name, range) in try object(depth: 1) {
            guard members[name] == nil else {
                throw Failure(problem: "member \"\(name)\" appears twice", offset: range.lowerBound)
            }
            members[name] = range
        }
        lexer.skipWhitespace()
        guard lexer.isAtEnd else { throw lexer.failure("text follows the object") }
        return members
    }

    /// Steps over one value.
    private mutating func value(depth: Int) throws(Failure) {
        guard depth <= Self.maximumDepth else {
            throw lexer.failure("nested deeper than \(Self.maximumDepth) levels")
        }
        guard let byte = lexer.peek else { throw lexer.failure("expected a value") }
        switch byte {
        case UInt8(ascii: "{"):
            _ = try object(depth: depth)
        case UInt8(ascii: "["):
            lexer.offset += 1
            lexer.skipWhitespace()
            if lexer.peek == UInt8(ascii: "]") {
                lexer.offset += 1
                return
            }
            while true {
                lexer.skipWhitespace()
                try value(depth: depth + 1)
                lexer.skipWhitespace()
                guard lexer.peek == UInt8(ascii: ",") else { return try lexer.expect(UInt8(ascii: "]")) }
                lexer.offset += 1
            }
        case UInt8(ascii: "\""):
            _ = try lexer.string()
        case UInt8(ascii: "t"): try lexer.literal("true")
        case UInt8(ascii: "f"): try lexer.literal("false")
        case UInt8(ascii: "n"): try lexer.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try lexer.number()
        default: throw lexer.failure("expected a value")
        }
    }

    /// Reads an object (at its opening brace): each member's name, decoded, with the byte range of its value.
    private mutating func object(depth: Int) throws(Failure) -> [(name: String, value: Range<Int>)] {
        try lexer.expect(UInt8(ascii: "{"))
        lexer.skipWhitespace()
        var members: [(name: String, value: Range<Int>)] = []
        if lexer.peek == UInt8(ascii: "}") {
            lexer.offset += 1
            return members
        }
        while true {
            lexer.skipWhitespace()
            let name = try lexer.string()
            lexer.skipWhitespace()
            try lexer.expect(UInt8(ascii: ":"))
            lexer.skipWhitespace()
            let start = lexer.offset
            try value(depth: depth + 1)
            members.append((name, start..<lexer.offset))
            lexer.skipWhitespace()
            guard lexer.peek == UInt8(ascii: ",") else {
                try lexer.expect(UInt8(ascii: "}"))
                return members
            }
            lexer.offset += 1
        }
    }
}
