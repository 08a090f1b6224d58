// swift-tools-version: 6.1
import PackageDescription

/// Settings every target shares (STYLE.md habit 8).
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Cloister",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cloister", targets: ["cloister"]),
        .executable(name: "cloister-enclave", targets: ["cloister-enclave"]),
        .library(name: "CloisterErrors", targets: ["CloisterErrors"]),
        .library(name: "CloisterCrypto", targets: ["CloisterCrypto"]),
        .library(name: "CloisterCBOR", targets: ["CloisterCBOR"]),
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "EnclaveProtocol", targets: ["EnclaveProtocol"]),
        .library(name: "EnclavePlatform", targets: ["EnclavePlatform"]),
        .library(name: "EnclaveSDK", targets: ["EnclaveSDK"]),
        .library(name: "Verifier", targets: ["Verifier"]),
        .library(name: "SimulatedHardware", targets: ["SimulatedHardware"]),
        .library(name: "Privacy", targets: ["Privacy"]),
        .library(name: "Learning", targets: ["Learning"]),
        .library(name: "Federated", targets: ["Federated"]),
        .library(name: "ConfidentialProtocol", targets: ["ConfidentialProtocol"]),
        .library(name: "Workloads", targets: ["Workloads"]),
        .library(name: "RelyingParty", targets: ["RelyingParty"]),
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Linked from Debian's static libcrypto.a (module.modulemap: link ":libcrypto.a"), so no executable loads
        // libcrypto.so: the enclave's measured image holds its cryptography. Its headers are on the default path.
        .systemLibrary(
            name: "COpenSSL",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CCBOR",
            pkgConfig: "libcbor",
            providers: [.apt(["libcbor-dev"]), .brew(["libcbor"])]
        ),
        // The error shape every module shares (`CodedError`, `ErrorCode`): the foundation, depending on nothing.
        .target(
            name: "CloisterErrors",
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterCrypto",
            dependencies: ["COpenSSL", "CloisterErrors"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterCBOR",
            dependencies: ["CCBOR", "CloisterErrors", "CloisterCrypto"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Attestation",
            dependencies: ["CloisterErrors", "CloisterCrypto", "CloisterCBOR"],
            swiftSettings: strictSettings
        ),
        // Raw Linux isolation syscalls (Landlock, seccomp, prctl, fd passing) for the enclave launcher.
        .target(name: "CEnclaveSandbox"),
        // The dense products of a DP-SGD step, each compiled for AVX-512, AVX2 with FMA and the baseline, the best this
        // CPU runs picked when the image loads.
        .target(name: "CMatrixKernels"),
        // Threads started from closures and the semaphore their work is waited on with: what DP-SGD's step thread and
        // the enclave's parallel work share.
        .target(name: "Threads", swiftSettings: strictSettings),
        // What the simulator's parties share: the manifest (as values and canonical CBOR) and the measurement formula,
        // the framed channel and the ECALL/platform-call messages, the records, reports and quote bindings the platform
        // issues, sealing formats, crash-safe files, and the isolation primitives both the launcher and the enclave
        // apply (Landlock, the enclave's descriptors and forbidden environment, sealed files, locked memory).
        .target(
            name: "EnclaveProtocol",
            dependencies: [
                "CloisterErrors",
                "CloisterCrypto",
                "CloisterCBOR",
                "CEnclaveSandbox",
            ],
            swiftSettings: strictSettings
        ),
        // The platform party: home and generations, vendor PKI, key derivation, reports and quotes, monotonic
        // counters, the launcher and the platform process; and what only the platform and the tools do with a
        // manifest: read its TOML, measure an executable (sealed images, ELF headers, library closures), sign it.
        // The one way Cloister parses TOML (manifests, policies): a TOML 1.0 reader in Swift, checked against tomllib.
        .target(
            name: "TOMLDocument",
            dependencies: [],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EnclavePlatform",
            dependencies: [
                "EnclaveProtocol", "Attestation", "SimulatedHardware", "CloisterErrors", "CloisterCrypto",
                "CloisterCBOR",
                "CEnclaveSandbox", "TOMLDocument",
            ],
            swiftSettings: strictSettings
        ),
        // The enclave party, what runs inside: the workload API (`Enclave`, `EnclaveMain`, `BuiltinWorkload`), trusted
        // files, sealed memory and the enclave's sealer.
        .target(
            name: "EnclaveSDK",
            dependencies: [
                "EnclaveProtocol", "CloisterErrors", "CloisterCrypto", "CloisterCBOR", "CMatrixKernels", "Threads",
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Verifier",
            dependencies: [
                "Attestation",
                "CloisterCrypto",
                "CloisterCBOR",
                "TOMLDocument",
            ],
            swiftSettings: strictSettings
        ),
        // The simulated vendors: Intel-, AMD- and AWS-shaped PKIs (every certificate saying it is simulated), their signed
        // collateral (TCB info, QE identity, CRLs), and evidence in the real formats (SGX and TDX DCAP quotes, SEV-SNP
        // reports, Nitro documents), written from an enclave's identity by the rules of docs/ARCHITECTURE.md. The
        // platform links it; the verifier library never does.
        .target(
            name: "SimulatedHardware",
            dependencies: ["Attestation", "CloisterErrors", "CloisterCrypto", "CloisterCBOR"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Privacy",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Learning",
            dependencies: ["Privacy", "CloisterErrors", "CMatrixKernels", "Threads"],
            swiftSettings: strictSettings
        ),
        // Federated learning's pure core: strategies, DP-FedAvg, rounds, local training.
        .target(
            name: "Federated",
            dependencies: ["Learning", "Privacy", "CloisterErrors"],
            swiftSettings: strictSettings
        ),
        // What a confidential workload and its relying parties share: the ECALL messages of DP-SGD training and of
        // federated aggregation, their signed results and statements, their refusals, the aggregator's HTTP routes.
        .target(
            name: "ConfidentialProtocol",
            dependencies: [
                "EnclaveProtocol", "Federated", "Learning", "Privacy", "CloisterErrors", "CloisterCrypto",
                "CloisterCBOR",
            ],
            swiftSettings: strictSettings
        ),
        // The trusted side, linked into `cloister-enclave` and measured: the `dpsgd` and `fedavg` workloads.
        .target(
            name: "Workloads",
            dependencies: [
                "ConfidentialProtocol", "EnclaveSDK", "EnclaveProtocol", "Federated", "Learning", "CloisterErrors",
                "CloisterCrypto", "CloisterCBOR",
            ],
            swiftSettings: strictSettings
        ),
        // The relying parties: attest an enclave (locally or through a verifier service), then the data owner's
        // training client and the federation client with its HTTP transport.
        .target(
            name: "RelyingParty",
            dependencies: [
                "ConfidentialProtocol", "Verifier", "Attestation", "EnclaveProtocol", "Federated", "Learning",
                "CloisterErrors", "CloisterCrypto", "CloisterCBOR",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // What both HTTP services share: JSON errors and bodies, body limits, slow-client timeouts.
        .target(
            name: "HTTPService",
            dependencies: [
                "Attestation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSettings
        ),
        // Vendors' collateral services, as a relying party's client: Intel's PCS v4 and PCCS caches of it (DCAP
        // collateral fetched as dcap-qvl fetches it, cached until its earliest next update) and AMD's KDS (VCEKs,
        // ASK/ARK chains and CRLs fetched as go-sev-guest fetches them, cached on disk), over one bounded HTTP GET.
        // The only module that reaches the network for collateral; the verifier never does.
        .target(
            name: "VendorCollateral",
            dependencies: [
                "Attestation",
                "CloisterCrypto",
                "CloisterErrors",
                "EnclaveProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "VerifierServer",
            dependencies: [
                "HTTPService",
                "VendorCollateral",
                "Attestation",
                "CloisterErrors",
                "CloisterCrypto",
                "Verifier",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: strictSettings
        ),
        // The aggregator's untrusted HTTP host: relays the clients' calls to the `fedavg` enclave, closes rounds.
        .target(
            name: "FederationServer",
            dependencies: [
                "HTTPService", "ConfidentialProtocol", "Federated", "EnclaveProtocol", "CloisterErrors", "CloisterCBOR",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterCLI",
            dependencies: [
                "CloisterErrors",
                "CloisterCrypto",
                "CloisterCBOR",
                "Attestation",
                "EnclaveProtocol",
                "EnclavePlatform",
                "EnclaveSDK",
                "SimulatedHardware",
                "Verifier",
                "VerifierServer",
                "Privacy",
                "Learning",
                "Federated",
                "ConfidentialProtocol",
                "RelyingParty",
                "HTTPService",
                "FederationServer",
                "VendorCollateral",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "cloister",
            dependencies: ["CloisterCLI"],
            swiftSettings: strictSettings
        ),
        // Every parser of untrusted bytes driven with arbitrary input, with the properties each must keep: run over
        // the committed corpora by FuzzRegressionTests, and under libFuzzer by the package in Fuzz/ (`make fuzz`).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Attestation", "Verifier", "EnclavePlatform", "EnclaveProtocol", "EnclaveSDK", "Learning",
                "ConfidentialProtocol", "SimulatedHardware", "CloisterCrypto", "CloisterCBOR", "Federated",
                "Workloads", "HTTPService", "VerifierServer", "FederationServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterTestSupport",
            dependencies: ["EnclaveProtocol", "EnclavePlatform", "Verifier", "Attestation", "CloisterCrypto"],
            path: "Tests/CloisterTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CloisterCryptoTests",
            dependencies: ["CloisterCrypto", "CloisterErrors", "CloisterTestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
        // The Swift runtime and FoundationEssentials linked statically (-static-stdlib; its C shims are named, as
        // modules compiled against the shared FoundationEssentials do not name them; no module in the closure imports
        // Foundation, whose ICU data is 30 MB: scripts/check-layers), libcrypto too (COpenSSL):
        // only what Debian ships as shared objects alone is loaded, glibc and libcbor, with the libstdc++ and
        // libgcc_s that Swift's static-stdlib link names. The platform measures each file the loader maps
        // (ExecutableImage.loadedLibraries) and lets the enclave open no other.
        .executableTarget(
            name: "cloister-enclave",
            dependencies: ["EnclaveSDK", "Workloads"],
            swiftSettings: strictSettings,
            linkerSettings: [
                .unsafeFlags(["-static-stdlib"]),
                .linkedLibrary("_FoundationCShims"),
                .linkedLibrary("_FoundationCollections"),
            ]
        ),
        .testTarget(
            name: "EnclaveRuntimeTests",
            dependencies: [
                "EnclaveProtocol", "EnclavePlatform", "EnclaveSDK", "Attestation", "CloisterErrors",
                "CloisterTestSupport", "CEnclaveSandbox",
                "SimulatedHardware", "Verifier",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrivacyTests",
            dependencies: ["Privacy", "CloisterCrypto", "CloisterTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ThreadsTests",
            dependencies: ["Threads"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CloisterCLITests",
            dependencies: ["CloisterCLI", "CloisterCrypto", "Threads"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LearningTests",
            dependencies: [
                "Learning", "Privacy", "CloisterCrypto", "CloisterTestSupport", "Threads", "CMatrixKernels",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FederatedTests",
            dependencies: ["Federated", "Learning", "Privacy", "CloisterTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FederationServerTests",
            dependencies: [
                "FederationServer", "ConfidentialProtocol", "RelyingParty", "HTTPService", "Federated",
                "EnclaveProtocol",
                "Verifier", "CloisterErrors", "CloisterCrypto", "CloisterCBOR",
                "Learning",
                "CloisterTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConfidentialFederationTests",
            dependencies: [
                "ConfidentialProtocol", "RelyingParty", "Federated", "EnclaveProtocol", "EnclavePlatform", "Verifier",
                "Learning",
                "CloisterCrypto",
                "CloisterTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConfidentialTrainingTests",
            dependencies: [
                "ConfidentialProtocol", "RelyingParty", "EnclaveProtocol", "EnclavePlatform", "EnclaveSDK", "Verifier",
                "Attestation",
                "Learning", "Privacy",
                "CloisterCrypto", "CloisterCBOR", "CloisterTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerifierTests",
            dependencies: [
                "Verifier", "RelyingParty", "Attestation", "EnclaveProtocol", "EnclavePlatform", "EnclaveSDK",
                "CloisterErrors",
                "Learning",
                "CloisterCrypto", "CloisterCBOR",
                "CloisterTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerifierServerTests",
            dependencies: [
                "VerifierServer", "HTTPService", "Verifier", "Attestation", "EnclaveProtocol", "EnclavePlatform",
                "CloisterCrypto",
                "CloisterTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TOMLDocumentTests",
            dependencies: ["TOMLDocument", "CloisterTestSupport"],
            resources: [.copy("Documents")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VendorCollateralTests",
            dependencies: [
                "VendorCollateral", "VerifierServer", "HTTPService", "Verifier", "Attestation", "CloisterCrypto",
                "CloisterTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SimulatedHardwareTests",
            dependencies: [
                "SimulatedHardware", "Verifier", "Attestation", "CloisterCrypto", "CloisterCBOR", "CloisterTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["FuzzTargets", "CloisterTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CloisterCBORTests",
            dependencies: ["CloisterCBOR", "CloisterCrypto", "CloisterTestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
    ]
)
