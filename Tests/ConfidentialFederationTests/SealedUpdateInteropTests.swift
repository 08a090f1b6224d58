import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import ConfidentialProtocol
import Federated
import Foundation
import Learning
import Testing

/// Sealed updates against independent implementations: `cryptography`'s HPKE, pycose and cbor2
/// (`Tests/Interop/sealed_update.py`).
@Suite(
    .enabled(
        if: TestEnvironment.python != nil,
        "set CLOISTER_PYTHON to a venv with cryptography, pycose, cbor2 (make test does)"
    )
)
struct SealedUpdateInteropTests {
    let fixture: SealedUpdateTests
    let directory: URL
    let keyArguments: [String]

    init() throws {
        fixture = try SealedUpdateTests()
        directory = try TestEnvironment.temporaryDirectory("sealed-update-interop")
        let enclaveFile = directory.appendingPathComponent("enclave.pem")
        let clientFile = directory.appendingPathComponent("client.pem")
        let clientPublicFile = directory.appendingPathComponent("client.public.pem")
        try Data(fixture.enclaveKey.pkcs8PEMRepresentation.utf8).write(to: enclaveFile)
        try Data(fixture.clientKey.pkcs8PEMRepresentation.utf8).write(to: clientFile)
        try Data(fixture.clientKey.publicKey.pemRepresentation.utf8).write(to: clientPublicFile)
        keyArguments = [
            "--enclave-key", enclaveFile.path, "--client", "hospital-a", "--federation", SealedUpdateTests.federationID,
        ]
    }

    private func python(_ arguments: [String]) throws -> ToolOutput {
        try runTool(
            try #require(TestEnvironment.python), [TestEnvironment.interopScript("sealed_update.py")] + arguments)
    }

    /// Whether Cloister opens `message`, and the SHA-256 of its parameters' bytes when it does.
    private func cloister(_ message: [UInt8]) -> String? {
        guard let opened = try? fixture.open(message) else { return nil }
        return hexEncoded(DigestAlgorithm.sha256.hash(SignedStatement<UpdateHeader>.bytes(of: opened.parameters)))
    }

    @Test("honest, forged, moved, foreign and mutated updates: cryptography + pycose and Cloister agree on every one")
    func differential() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var messages: [(String, [UInt8])] = []
        for width in [0, 1, 1_000] {
            messages.append(("honest \(width)", try fixture.seal((0..<width).map { Float($0) * 0.5 - 3 }).message))
        }
        messages.append(("signed by another key", try fixture.seal([1], key: ECPrivateKey(generating: .p256)).message))
        messages.append(("unregistered client", try fixture.seal([1], client: "mallory").message))
        messages.append(
            (
                "other federation",
                try fixture.handSealed(
                    header: {
                        UpdateHeader(
                            federationID: "beef", round: 3, client: "hospital-a", exampleCount: 1,
                            encapsulatedKey: hexEncoded($0))
                    }, key: fixture.clientKey)
            ))
        messages.append(
            (
                "header naming another encapsulation",
                try fixture.handSealed(
                    header: { key in
                        UpdateHeader(
                            federationID: SealedUpdateTests.federationID, round: 3, client: "hospital-a",
                            exampleCount: 1, encapsulatedKey: hexEncoded(key.reversed()))
                    }, key: fixture.clientKey)
            ))
        messages.append(
            (
                "parameters inside the signed statement",
                try fixture.handSealed(
                    header: {
                        UpdateHeader(
                            federationID: SealedUpdateTests.federationID, round: 3, client: "hospital-a",
                            exampleCount: 1, encapsulatedKey: hexEncoded($0))
                    }, key: fixture.clientKey, signedParameters: [5])
            ))
        // Hundreds of mutations of an honest update: one byte changed, truncations, a byte appended.
        let honest = try fixture.seal((0..<64).map { Float($0) }).message
        var generator = SplitMix64(seed: 11)
        for trial in 0..<300 {
            var mutated = honest
            switch trial % 3 {
            case 0:
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[index] ^= UInt8.random(in: 1...255, using: &generator)
            case 1: mutated.removeLast(Int.random(in: 1..<mutated.count, using: &generator))
            default: mutated.append(UInt8.random(in: 0...255, using: &generator))
            }
            messages.append(("mutation \(trial)", mutated))
        }
        var files: [String] = []
        for (index, (_, message)) in messages.enumerated() {
            let file = directory.appendingPathComponent("message-\(index).cbor")
            try Data(message).write(to: file)
            files.append(file.path)
        }
        let clientPublic = directory.appendingPathComponent("client.public.pem").path
        let output = try python(["open"] + keyArguments + ["--client-key", clientPublic] + files)
        try #require(output.status == 0, "sealed_update.py failed: \(output.standardError)")
        let verdicts = output.standardOutput.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        }
        try #require(verdicts.count == messages.count)
        var accepted = 0
        for ((name, message), verdict) in zip(messages, verdicts) {
            let ours = cloister(message)
            let theirs = verdict["accepted"] as? Bool == true ? verdict["parameters_sha256"] as? String : nil
            #expect(ours == theirs, "\(name): Cloister \(ours ?? "refused"), Python \(verdict)")
            if ours != nil { accepted += 1 }
        }
        // The three honest updates open on both sides; nothing else does.
        #expect(accepted == 3)
    }

    @Test("an update sealed by a sender written from RFC 9180 in Python and signed by pycose opens in Cloister")
    func cloisterOpensWhatPythonSeals() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let parameters: [Float] = [0.25, -1.5, 3e-8, 1024]
        let out = directory.appendingPathComponent("python.cbor")
        let output = try python(
            ["seal"] + keyArguments + [
                "--client-key", directory.appendingPathComponent("client.pem").path, "--round", "3", "--examples", "12",
                "--parameters-hex", hexEncoded(SignedStatement<UpdateHeader>.bytes(of: parameters)), "--out", out.path,
            ])
        try #require(output.status == 0, "sealed_update.py seal failed: \(output.standardError)")
        let opened = try fixture.open(Array(Data(contentsOf: out)))
        #expect(opened.parameters == parameters)
        #expect(opened.header.client == "hospital-a" && opened.header.round == 3 && opened.header.exampleCount == 12)
    }
}
