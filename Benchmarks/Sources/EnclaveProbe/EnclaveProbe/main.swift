// Measures the enclave simulator for `scripts/bench-enclave` (issue 3): launch to first ECALL, ECALL round trips and
// the bare socketpair ping-pong beside them, sealing throughput and quote rate, in one run.
// Output: one line per figure, `name value unit`.
//
// usage: EnclaveProbe [SECONDS_PER_PROBE [LAUNCHES [GROUP...]]]   groups: launch round-trip seal quote (default all)
//        EnclaveProbe --echo-peer   (the far end of the cross-process ping-pong, on fd 3; started by the probe)
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import EnclaveWorkbench
import Foundation
import ProbeSupport

let arguments = CommandLine.arguments.dropFirst()
if arguments.first == "--echo-peer" {
    SocketPingPong.serveEcho(descriptor: SocketPingPong.peerDescriptor)
    exit(0)
}
let secondsPerProbe = arguments.first.flatMap(Double.init) ?? 2
let launches = arguments.dropFirst().first.flatMap(Int.init) ?? 25
let groups = Set(arguments.dropFirst(2))
let clock = ContinuousClock()

/// Times `operation` up to `launches` times, stopping early after 20 s; returns the median in ms.
func medianMilliseconds(_ operation: () throws -> Duration) rethrows -> Double {
    let start = clock.now
    var samples: [Double] = []
    while samples.count < launches && (samples.isEmpty || clock.now - start < .seconds(20)) {
        samples.append(try operation().seconds * 1000)
    }
    return samples.sorted()[samples.count / 2]
}

/// Launch to the first ECALL answered (shutting the enclave down is not timed), and two of its stages: measuring
/// the executable into a sealed memfd, and a bare exec of the same executable to its exit.
func probeLaunch(_ workbench: EnclaveWorkbench) throws {
    report(
        "launch-first-ecall",
        try medianMilliseconds {
            let start = clock.now
            let enclave = try workbench.launch()
            _ = try enclave.caller.call("ping")
            let elapsed = clock.now - start
            try enclave.close()
            return elapsed
        }, "ms")
    let executable = try workbench.launcher.locator.executablePath(
        for: workbench.manifest.manifest.entrypoint, baseDirectory: workbench.directory)
    report(
        "launch-stage-measure-image",
        try medianMilliseconds { try clock.measure { _ = try ExecutableImage(path: executable) } }, "ms")
    report(
        "launch-stage-exec-help",
        try medianMilliseconds {
            try clock.measure { _ = try ChildProcess(executable: executable, arguments: ["--help"]).wait() }
        }, "ms")
}

/// Mean round trips in µs of ECALLs and of the bare ping-pong across a process and across a thread. Each operation
/// gets `secondsPerProbe` split over 5 interleaved rounds, so a change of load on the machine hits every one alike;
/// each figure is its median over the rounds.
func probeRoundTrips(_ workbench: EnclaveWorkbench) throws {
    let payload = [UInt8](repeating: 0x5a, count: 64)
    let enclave = try workbench.launch()
    defer { try? enclave.close() }
    let selfPath = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let processPeer = try SocketPingPong(peer: .process(executable: selfPath, arguments: ["--echo-peer"]))
    defer { try? processPeer.close() }
    let threadPeer = try SocketPingPong(peer: .thread)
    defer { try? threadPeer.close() }
    let empty = SocketPingPong.frame(payloadSize: 0)
    let frame = SocketPingPong.frame(payloadSize: payload.count)
    let operations: [(name: String, run: () throws -> Void)] = [
        ("ecall-ping", { _ = try enclave.caller.call("ping") }),
        ("ecall-echo-64", { _ = try enclave.caller.call("echo", payload) }),
        ("socketpair-process-0", { try processPeer.roundTrip(empty) }),
        ("socketpair-process-64", { try processPeer.roundTrip(frame) }),
        ("socketpair-thread-0", { try threadPeer.roundTrip(empty) }),
        ("socketpair-thread-64", { try threadPeer.roundTrip(frame) }),
    ]
    for operation in operations {
        for _ in 0..<1000 { try operation.run() }
    }
    let rounds = 5
    var samples = Array(repeating: [Double](), count: operations.count)
    for _ in 0..<rounds {
        for (index, operation) in operations.enumerated() {
            samples[index].append(1e6 / (try rate(seconds: secondsPerProbe / Double(rounds), operation.run)))
        }
    }
    for (operation, microseconds) in zip(operations, samples) {
        report(operation.name, microseconds.sorted()[rounds / 2], "us")
    }
}

/// Sealing and unsealing 16 KiB in-process, keys derived from a fixed device secret.
func probeSealing(_ workbench: EnclaveWorkbench) throws {
    let identity = try workbench.identity()
    let deriver = try PlatformKeyDeriver(deviceSecret: [UInt8](repeating: 7, count: 32), tcbLevel: 1)
    let sealer = Sealer(
        identity: identity, tcbLevel: 1, keys: PlatformSealingService(identity: identity, deriver: deriver))
    let block = [UInt8](repeating: 0x17, count: 16 * 1024)
    let blob = try sealer.seal(block, policy: .measurement)
    report(
        "seal-16k",
        try rate(seconds: secondsPerProbe) { _ = try sealer.seal(block, policy: .measurement) } * Double(block.count),
        "B/s")
    report(
        "unseal-16k", try rate(seconds: secondsPerProbe) { _ = try sealer.unseal(blob) } * Double(block.count), "B/s")
}

/// Quotes per second from a P-256 platform (ES256) and a P-384 one (ES384), each binding a 32-byte nonce, and in every
/// simulated hardware kind (`quote-sgx`, `quote-tdx-v5-td15`, ...), binding a nonce and a public key (what the
/// hardware kinds' report data binds).
func probeQuotes(_ workbench: EnclaveWorkbench) throws {
    let p384 = try EnclaveWorkbench(curve: .p384)
    defer { p384.remove() }
    let nonce = QuoteBinding(nonce: [UInt8](repeating: 1, count: 32))
    let bound = QuoteBinding(nonce: nonce.nonce, publicKey: [UInt8](repeating: 2, count: 91))
    var records = [
        ("quote-es256", workbench, try workbench.record(), nonce), ("quote-es384", p384, try p384.record(), nonce),
    ]
    for kind in EvidenceKind.allCases where kind != .cloister {
        records.append(("quote-\(kind)", workbench, try workbench.record(evidence: kind), bound))
    }
    for (name, bench, record, binding) in records {
        report(
            name, try rate(seconds: secondsPerProbe) { _ = try bench.platform.quote(for: record, binding: binding) },
            "op/s")
    }
}

let probes: [(group: String, run: (EnclaveWorkbench) throws -> Void)] = [
    ("launch", probeLaunch), ("round-trip", probeRoundTrips), ("seal", probeSealing), ("quote", probeQuotes),
]
let workbench = try EnclaveWorkbench()
do {
    for probe in probes where groups.isEmpty || groups.contains(probe.group) {
        try probe.run(workbench)
    }
    workbench.remove()
} catch {
    workbench.remove()
    FileHandle.standardError.write(Data("EnclaveProbe: \(error)\n".utf8))
    exit(1)
}
