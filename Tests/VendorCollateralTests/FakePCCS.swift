import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import VendorCollateral

/// The SGX v3 and TDX v4 vectors: the quote, its collateral file, and the collateral's earliest next update.
struct DCAPVector: Sendable {
    let quote: String
    let collateral: String

    static let sgx = DCAPVector(
        quote: "testvectors/sgx/sgx_quote", collateral: "testvectors/sgx/sgx_quote_collateral.json")
    static let tdx = DCAPVector(
        quote: "testvectors/sgx/tdx_quote", collateral: "testvectors/sgx/tdx_quote_collateral.json")

    var quoteBytes: [UInt8] { get throws { Array(try Data(contentsOf: TestEnvironment.vector(quote))) } }
    var collateralBytes: [UInt8] { get throws { Array(try Data(contentsOf: TestEnvironment.vector(collateral))) } }
    var fields: [String: String] {
        get throws { try JSONDecoder().decode([String: String].self, from: Data(collateralBytes)) }
    }
    var key: PCSCollateralKey { get throws { try PCSCollateralKey(quote: IntelDCAPQuote(quoteBytes)) } }
}

/// The trustee Milan report (version 2), its VCEK and the Milan ASK, ARK and ASVK.
enum KDSVector {
    static let report = "testvectors/snp/trustee-milan-report.bin"
    static let vcek = "testvectors/snp/trustee-milan-vcek.der"
    static let chain = "testvectors/snp/milan_ask_ark_asvk.pem"
    /// When the report verifies: 2025-06-01T00:00:00Z.
    static let verifyAt = Date(timeIntervalSince1970: 1_748_736_000)
    /// The VCEK's path and query as go-sev-guest's `kds.VCEKCertURL` builds them for the report: its CHIP_ID in hex,
    /// and its REPORTED_TCB 0x7308000000000003 as boot loader 3, TEE 0, SNP 8, microcode 115.
    static let vcekPath =
        "/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426"
        + "205a3b9e4fea82301135a170e477524e?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115"
}

/// When the vectors verify (2025-07-01T00:00:00Z), and a time after both collaterals' earliest next update
/// (2025-07-19).
let verifyAt = Date(timeIntervalSince1970: 1_751_328_000)
let afterNextUpdate = Date(timeIntervalSince1970: 1_753_000_000)  // 2025-07-20T08:26:40Z

/// How long the tests' clients wait for an answer: `swift test` runs every suite at once, and on two cores a busy
/// run can keep this process from reading an answer for longer than a user's PCCS would take.
let patience: Duration = .seconds(600)

/// The PCCS (and AMD KDS) of `Tests/Interop/fake_pccs.py` on 127.0.0.1, a process of its own (it answers however busy
/// the tests keep this one): the vectors' collateral split back into PCS v4 answers, the trustee Milan report's VCEK
/// and the Milan ASK and ARK as the KDS serves them, every request counted, wrong answers on demand. Stopped when
/// `serving` returns.
final class FakePCCS: @unchecked Sendable {
    /// How to answer a path wrongly.
    enum Fault: Sendable {
        /// This status, with a Retry-After of this many seconds when one is given.
        case status(Int, retryAfter: Int? = nil)
        case withoutIssuerChain
        /// A body of this many bytes, with its Content-Length, or chunked without one.
        case oversized(Int, streamed: Bool)
        case body(String)
        /// The answer's head and a first byte of its body, then nothing for this many seconds.
        case stall(Int)

        var json: [String: Any] {
            switch self {
            case .status(let status, let retryAfter):
                retryAfter.map { ["status": status, "retry_after": $0] } ?? ["status": status]
            case .withoutIssuerChain: ["without_issuer_chain": true]
            case .oversized(let size, let streamed): ["oversized": size, "streamed": streamed]
            case .body(let text): ["body": text]
            case .stall(let seconds): ["stall": seconds]
            }
        }
    }

    private let process = Process()
    private let commands = Pipe()
    private let replies = Pipe()
    /// One command and its reply at a time.
    private let lock = NSLock()
    let baseURL: String

    init() throws {
        process.executableURL = URL(fileURLWithPath: TestEnvironment.python ?? "/usr/bin/python3")
        process.arguments = [
            TestEnvironment.interopScript("fake_pccs.py"), TestEnvironment.vector(DCAPVector.sgx.collateral).path,
            TestEnvironment.vector(DCAPVector.tdx.collateral).path, KDSVector.vcekPath,
            TestEnvironment.vector(KDSVector.vcek).path, TestEnvironment.vector(KDSVector.chain).path,
        ]
        process.standardInput = commands
        process.standardOutput = replies
        try process.run()
        guard let port = Int(Self.line(from: replies.fileHandleForReading)) else {
            process.terminate()
            throw ToolError(reason: "fake_pccs.py did not print its port")
        }
        baseURL = "http://127.0.0.1:\(port)"
    }

    deinit { stop() }

    /// The paths (with queries) asked for so far.
    var requested: [String] {
        (try? JSONSerialization.jsonObject(with: Data(exchange(["op": "requests"]).utf8))) as? [String] ?? []
    }

    /// Answers paths that contain `path` with `fault` from now on (nil: rightly again).
    func set(_ fault: Fault?, for path: String) {
        _ = exchange(["op": "fault", "path": path, "fault": fault?.json ?? NSNull()])
    }

    /// Runs `body` with the PCCS's base URL, then stops the PCCS.
    func serving<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        defer { stop() }
        return try await body(baseURL)
    }

    private func stop() {
        guard process.isRunning else { return }
        try? commands.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private func exchange(_ command: [String: Any]) -> String {
        lock.withLock {
            guard process.isRunning, let data = try? JSONSerialization.data(withJSONObject: command) else { return "" }
            commands.fileHandleForWriting.write(data + Data("\n".utf8))
            return Self.line(from: replies.fileHandleForReading)
        }
    }

    /// The next line `handle` gives, without its newline.
    private static func line(from handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while let byte = try? handle.read(upToCount: 1), let first = byte.first, first != UInt8(ascii: "\n") {
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
