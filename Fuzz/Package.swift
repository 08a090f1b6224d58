// swift-tools-version: 6.1
import PackageDescription

// The libFuzzer driver lives in its own package so that `swift build` and `swift test` on Cloister never build it
// with the fuzzer's instrumentation. `scripts/fuzz` builds it (coverage-guided, AddressSanitizer):
//   swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address
let package = Package(
    name: "CloisterFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Cloister", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "cloister-fuzz",
            dependencies: ["CFuzzerDriver", .product(name: "FuzzTargets", package: "Cloister")],
            swiftSettings: [.swiftLanguageMode(.v6)],
            // gold fails on the instrumented objects' debug information; lld links them.
            linkerSettings: [.unsafeFlags(["-use-ld=lld"])]
        )
    ]
)
