import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// Cross-checks against independent implementations: pycose for COSE_Sign1, cbor2 for CBOR.
@Suite(
    .enabled(
        if: TestEnvironment.python != nil,
        "set CLOISTER_PYTHON to a venv with cbor2, pycose, cryptography (make test does)"
    )
)
struct InteropTests {
    static let cases: [(COSEAlgorithm, [UInt8])] = [
        (.es256, []), (.es384, []), (.es256, Array("external-aad".utf8)), (.es384, Array("external-aad".utf8)),
    ]

    private func python(_ script: String, _ arguments: [String], input: [UInt8]? = nil) throws -> ToolOutput {
        let python = try #require(TestEnvironment.python)
        return try runTool(python, [TestEnvironment.interopScript(script)] + arguments, input: input)
    }

    @Test(arguments: cases)
    func pycoseVerifiesWhatCloisterSigns(_ algorithm: COSEAlgorithm, _ aad: [UInt8]) throws {
        let directory = try TestEnvironment.temporaryDirectory("cose-interop")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The key pair comes from `cryptography`, so the check does not lean on Cloister's own key export.
        let privateKeyFile = directory.appendingPathComponent("private.pem")
        let keyFile = directory.appendingPathComponent("public.pem")
        let keygen = try python(
            "cose_interop.py",
            ["keygen", "--alg", algorithm.name, "--out-private", privateKeyFile.path, "--out-public", keyFile.path]
        )
        try #require(keygen.status == 0, "keygen failed: \(keygen.standardError)")
        let key = try ECPrivateKey(pemRepresentation: String(decoding: Data(contentsOf: privateKeyFile), as: UTF8.self))
        let signed = try COSESign1(signing: Array("from cloister".utf8), with: key, keyID: [1, 2], externalAAD: aad)
        let messageFile = directory.appendingPathComponent("message.cbor")
        try Data(signed.encoded()).write(to: messageFile)
        let arguments = [
            "verify", "--alg", algorithm.name, "--pubkey-pem", keyFile.path, "--msg", messageFile.path,
            "--aad-hex", hexString(aad),
        ]
        let accepted = try python("cose_interop.py", arguments)
        #expect(accepted.status == 0, "pycose rejected: \(accepted.standardError)")

        // The negative control: pycose must reject the same message with different external data.
        let rejected = try python("cose_interop.py", arguments.dropLast() + [hexString(aad + [0])])
        #expect(rejected.status == 1)
        #expect(rejected.standardError.contains("signature does not verify"), "\(rejected.standardError)")
    }

    @Test(arguments: cases)
    func cloisterVerifiesWhatPycoseSigns(_ algorithm: COSEAlgorithm, _ aad: [UInt8]) throws {
        let directory = try TestEnvironment.temporaryDirectory("cose-interop")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("key.pem")
        let messageFile = directory.appendingPathComponent("message.cbor")
        let payload = Array("from pycose".utf8)
        let output = try python(
            "cose_interop.py",
            [
                "sign", "--alg", algorithm.name, "--out-key", keyFile.path, "--out-msg", messageFile.path,
                "--payload-hex", hexString(payload), "--aad-hex", hexString(aad),
            ]
        )
        try #require(output.status == 0, "pycose failed: \(output.standardError)")
        let key = try ECPublicKey(pemRepresentation: String(decoding: Data(contentsOf: keyFile), as: UTF8.self))
        let message = try COSESign1(encoded: Array(Data(contentsOf: messageFile)))
        #expect(message.algorithm == algorithm)
        #expect(message.payload == payload)
        try message.verifySignature(with: key, externalAAD: aad)
        #expect(throws: COSEError.self) { try message.verifySignature(with: key, externalAAD: aad + [0]) }
    }

    /// Values, how cbor2 shows them once decoded, and whether cbor2's `canonical=True` agrees byte for byte.
    /// cbor2 sorts map keys length-first (RFC 7049 §3.9), RFC 8949 §4.2.1 bytewise; they differ only for maps
    /// whose keys have encodings of different lengths, such as the last case.
    static let cbor2Cases: [(CBORValue, String, sameCanonicalBytes: Bool)] = [
        (0, "0", true),
        (.unsigned(.max), "18446744073709551615", true),
        (.negative(.max), "-18446744073709551616", true),
        (-1000, "-1000", true),
        (1.5, "1.5", true),
        (100_000.0, "100000.0", true),
        (1.1, "1.1", true),
        (.float(-.infinity), "-inf", true),
        (.bytes([0, 1, 0xff]), "b'\\x00\\x01\\xff'", true),
        ("ü水𐅑", "'ü水𐅑'", true),
        ([1, [2, 3], [:]], "[1, [2, 3], {}]", true),
        (["b": 1, "a": [true, .null]], "{'a': [True, None], 'b': 1}", true),
        ([3: "c", 1: "a", 2: "b"], "{1: 'a', 2: 'b', 3: 'c'}", true),
        (.tagged(98, "x"), "CBORTag(98, 'x')", true),
        ([-1: 0, 100: 0], "{100: 0, -1: 0}", false),
    ]

    @Test func cbor2ReadsWhatCloisterEncodes() throws {
        let encodings = try Self.cbor2Cases.map { hexString(try $0.0.encoded()) }
        let output = try python("cbor_interop.py", [], input: Array((encodings.joined(separator: "\n") + "\n").utf8))
        try #require(output.status == 0, "cbor2 failed: \(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n")
        try #require(lines.count == Self.cbor2Cases.count)
        for ((value, expectedRepr, sameCanonicalBytes), (encoding, line)) in zip(Self.cbor2Cases, zip(encodings, lines))
        {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            try #require(fields.count == 2)
            #expect(String(fields[0]) == expectedRepr, "\(value)")
            #expect((String(fields[1]) == encoding) == sameCanonicalBytes, "\(value): cbor2 canonical \(fields[1])")
        }
    }
}
