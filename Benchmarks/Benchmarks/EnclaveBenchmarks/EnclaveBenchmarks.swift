// The enclave simulator against issue 3's targets: launch to first ECALL, ECALL round trips beside the bare
// socketpair ping-pong, sealing 16 KiB and quoting. `scripts/bench-enclave` prints the same figures as ratios.
// Needs `cloister-enclave` beside this executable (`swift build -c release --product cloister-enclave` in
// Benchmarks/) or named by CLOISTER_ENCLAVE_EXECUTABLE.
import Benchmark
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import EnclaveWorkbench

/// Registers a benchmark whose state `make` creates in its setup and `end` disposes of in its teardown, so that
/// listing the benchmarks creates no platform and launches no enclave.
func benchmark<State>(
    _ name: String,
    configuration: Benchmark.Configuration = Benchmark.defaultConfiguration,
    make: @escaping () throws -> State,
    end: @escaping (State) throws -> Void,
    body: @escaping (Benchmark, State) throws -> Void
) {
    var state: State?
    Benchmark(
        name, configuration: configuration,
        closure: { benchmark in try body(benchmark, state!) },
        setup: { state = try make() },
        teardown: {
            defer { state = nil }
            try state.map(end)
        })
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    // Each sample launches an enclave and waits for its first ECALL; shutting it down is not measured.
    benchmark(
        "Launch to first ECALL", configuration: .init(maxDuration: .seconds(10), maxIterations: 30),
        make: { try EnclaveWorkbench() }, end: { $0.remove() }
    ) { benchmark, workbench in
        benchmark.startMeasurement()
        let enclave = try workbench.launch()
        blackHole(try enclave.caller.call("ping"))
        benchmark.stopMeasurement()
        try enclave.close()
    }

    let payload = [UInt8](repeating: 0x5a, count: 64)
    for (name, function, argument) in [("ECALL ping", "ping", []), ("ECALL echo 64 B", "echo", payload)] {
        benchmark(
            name,
            make: { () throws -> (EnclaveWorkbench, EchoEnclave) in
                let workbench = try EnclaveWorkbench()
                return (workbench, try workbench.launch())
            },
            end: { workbench, enclave in
                defer { workbench.remove() }
                try enclave.close()
            }
        ) { benchmark, state in
            for _ in benchmark.scaledIterations {
                blackHole(try state.1.caller.call(function, argument))
            }
        }
    }

    // The floor under the ECALL round trip; here the peer is a thread (EnclaveProbe also measures a process peer).
    let frame = SocketPingPong.frame(payloadSize: payload.count)
    benchmark(
        "Socketpair ping-pong 64 B (thread peer)", make: { try SocketPingPong(peer: .thread) }, end: { try $0.close() }
    ) { benchmark, pingPong in
        for _ in benchmark.scaledIterations {
            try pingPong.roundTrip(frame)
        }
    }

    let block = [UInt8](repeating: 0x17, count: 16 * 1024)
    let makeSealer = { () throws -> Sealer in
        let identity = try EnclaveIdentity(
            measurement: [UInt8](repeating: 1, count: 48), signer: [UInt8](repeating: 2, count: 48), productID: 1,
            svn: 1, debug: false)
        let deriver = try PlatformKeyDeriver(deviceSecret: [UInt8](repeating: 7, count: 32), tcbLevel: 1)
        return Sealer(
            identity: identity, tcbLevel: 1, keys: PlatformSealingService(identity: identity, deriver: deriver))
    }
    benchmark("Seal 16 KiB", make: makeSealer, end: { _ in }) { benchmark, sealer in
        for _ in benchmark.scaledIterations {
            blackHole(try sealer.seal(block, policy: .measurement))
        }
    }
    benchmark(
        "Unseal 16 KiB",
        make: { () throws -> (Sealer, [UInt8]) in
            let sealer = try makeSealer()
            return (sealer, try sealer.seal(block, policy: .measurement))
        },
        end: { _ in }
    ) { benchmark, state in
        for _ in benchmark.scaledIterations {
            blackHole(try state.0.unseal(state.1))
        }
    }

    let binding = QuoteBinding(nonce: [UInt8](repeating: 1, count: 32))
    benchmark(
        "Quote ES256",
        make: { () throws -> (EnclaveWorkbench, EnclaveRecord) in
            let workbench = try EnclaveWorkbench(curve: .p256)
            return (workbench, try workbench.record())
        },
        end: { $0.0.remove() }
    ) { benchmark, state in
        for _ in benchmark.scaledIterations {
            blackHole(try state.0.platform.quote(for: state.1, binding: binding))
        }
    }
}
