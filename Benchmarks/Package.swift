// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that `swift test` on Cloister never builds package-benchmark.
let package = Package(
    name: "CloisterBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Cloister", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CryptoBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CloisterCrypto", package: "Cloister"),
            ],
            path: "Benchmarks/CryptoBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CBORBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CloisterCBOR", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"),
            ],
            path: "Benchmarks/CBORBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "EnclaveBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EnclaveProtocol", package: "Cloister"),
                .product(name: "EnclavePlatform", package: "Cloister"),
                .product(name: "EnclaveSDK", package: "Cloister"),
                "EnclaveWorkbench",
            ],
            path: "Benchmarks/EnclaveBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The bounded measurement loop and output format every probe shares.
        .target(name: "ProbeSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Measures the appraisal library for `scripts/bench-verifier` (quotes appraised per second).
        .executableTarget(
            name: "AppraisalProbe",
            dependencies: [
                .product(name: "Attestation", package: "Cloister"),
                .product(name: "Verifier", package: "Cloister"),
                .product(name: "EnclaveProtocol", package: "Cloister"),
                .product(name: "EnclavePlatform", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"),
                "ProbeSupport",
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Measures Intel DCAP appraisal for `scripts/bench-dcap` (SGX and TDX quotes appraised per second).
        attestationProbe("DCAPProbe"),
        // Measures AMD SEV-SNP verification for `scripts/bench-snp` (reports verified per second).
        attestationProbe("SNPProbe"),
        // Measures our rates for the operations `scripts/bench-floor` compares with `openssl speed`.
        .executableTarget(
            name: "FloorProbe",
            dependencies: [.product(name: "CloisterCrypto", package: "Cloister"), "ProbeSupport"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // A throwaway platform, a signed echo enclave and the bare socketpair ping-pong, shared by EnclaveProbe and
        // EnclaveBenchmarks.
        .target(
            name: "EnclaveWorkbench",
            dependencies: [
                .product(name: "EnclaveProtocol", package: "Cloister"),
                .product(name: "EnclavePlatform", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"),
            ],
            path: "Sources/EnclaveProbe/EnclaveWorkbench",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Measures the noise samplers for `scripts/bench-noise` (discrete Gaussian and Box–Muller samples per second).
        .executableTarget(
            name: "NoiseProbe",
            dependencies: [
                .product(name: "Privacy", package: "Cloister"), .product(name: "Learning", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"), "ProbeSupport",
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Measures the fedavg aggregator enclave for `scripts/bench-aggregation`.
        .executableTarget(
            name: "AggregationProbe",
            dependencies: [
                "EnclaveWorkbench",
                .product(name: "CloisterCBOR", package: "Cloister"),
                .product(name: "EnclaveProtocol", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"),
                .product(name: "Attestation", package: "Cloister"),
                .product(name: "Verifier", package: "Cloister"),
                .product(name: "Learning", package: "Cloister"),
                .product(name: "Federated", package: "Cloister"),
                .product(name: "ConfidentialProtocol", package: "Cloister"),
                .product(name: "RelyingParty", package: "Cloister"),
            ],
            path: "Sources/AggregationProbe",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Measures the enclave simulator for `scripts/bench-enclave` (launch, ECALL round trip, sealing, quotes).
        .executableTarget(
            name: "EnclaveProbe",
            dependencies: [
                "EnclaveWorkbench",
                "ProbeSupport",
                .product(name: "EnclaveProtocol", package: "Cloister"),
                .product(name: "EnclavePlatform", package: "Cloister"),
                .product(name: "EnclaveSDK", package: "Cloister"),
                .product(name: "CloisterCrypto", package: "Cloister"),
            ],
            path: "Sources/EnclaveProbe/EnclaveProbe",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)

/// A probe of the attestation libraries, run by a bench script: evidence appraised per second.
func attestationProbe(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Attestation", package: "Cloister"),
            .product(name: "Verifier", package: "Cloister"),
            .product(name: "CloisterCrypto", package: "Cloister"),
            "ProbeSupport",
        ],
        swiftSettings: [.swiftLanguageMode(.v6)]
    )
}
