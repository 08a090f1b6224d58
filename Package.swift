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
        .library(name: "CloisterCrypto", targets: ["CloisterCrypto"]),
        .library(name: "CloisterCBOR", targets: ["CloisterCBOR"]),
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "EnclaveRuntime", targets: ["EnclaveRuntime"]),
        .library(name: "Verifier", targets: ["Verifier"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CCBOR",
            pkgConfig: "libcbor",
            providers: [.apt(["libcbor-dev"]), .brew(["libcbor"])]
        ),
        .target(
            name: "CloisterCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterCBOR",
            dependencies: ["CCBOR", "CloisterCrypto"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Attestation",
            dependencies: ["CloisterCrypto", "CloisterCBOR"],
            swiftSettings: strictSettings
        ),
        // Raw Linux isolation syscalls (Landlock, seccomp, prctl, fd passing) for the enclave launcher.
        .target(name: "CEnclaveSandbox"),
        .target(
            name: "EnclaveRuntime",
            dependencies: [
                "CloisterCrypto",
                "CloisterCBOR",
                "Attestation",
                "CEnclaveSandbox",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Verifier",
            dependencies: [
                "Attestation",
                "CloisterCrypto",
                "EnclaveRuntime",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterCLI",
            dependencies: [
                "CloisterCrypto",
                "CloisterCBOR",
                "Attestation",
                "EnclaveRuntime",
                "Verifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "cloister",
            dependencies: ["CloisterCLI"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CloisterTestSupport",
            path: "Tests/CloisterTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CloisterCryptoTests",
            dependencies: ["CloisterCrypto", "CloisterTestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "cloister-enclave",
            dependencies: ["EnclaveRuntime"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EnclaveRuntimeTests",
            dependencies: ["EnclaveRuntime", "Attestation", "CloisterTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerifierTests",
            dependencies: ["Verifier", "Attestation", "EnclaveRuntime", "CloisterCrypto", "CloisterCBOR", "CloisterTestSupport"],
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
