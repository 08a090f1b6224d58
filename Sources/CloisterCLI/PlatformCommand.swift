public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import Foundation

/// `cloister platform init|info|tcb|revoke`: the simulated platform's state and its vendor operations.
public struct PlatformCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "platform",
        abstract: "Create and inspect the simulated TEE platform (root CA, TCB level, revocation).",
        discussion: """
            The platform lives in --home, else $CLOISTER_HOME, else ~/.cloister: a directory 0700 with files 0600; \
            Cloister refuses state that others can read. Exit status: 0 done, 64 bad arguments, 78 missing or \
            insecure platform state, 1 internal error.
            """,
        subcommands: [Init.self, Info.self, TCB.self, Revoke.self, Launch.self]
    )

    public init() {}

    struct HomeOption: ParsableArguments {
        @Option(help: "The platform home (default: $CLOISTER_HOME, else ~/.cloister).")
        var home: String?

        var platformHome: PlatformHome {
            PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a platform: root CA, platform and attestation-key certificates, device secret, counters.")

        @OptionGroup var home: HomeOption

        @Option(help: "Quote signature algorithm: ES256 (P-256, the default) or ES384 (P-384, the exact Nitro shape).")
        var alg: QuoteAlgorithm = .es256

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.initialize(home: home.platformHome, curve: alg.curve)
                try PlatformDescription(platform).print(
                    json: json, header: "initialised platform in \(platform.home.path)")
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the platform id, TCB level and the root certificate (PEM) verifiers should trust.")

        @OptionGroup var home: HomeOption

        @Flag(help: "Print {platform_id, algorithm, tcb_level, tcb_status, revoked, root_certificate, ...} as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                try PlatformDescription(Platform(opening: home.platformHome)).print(json: json, header: nil)
            }
        }
    }

    struct TCB: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tcb",
            abstract: "Move the platform to TCB level N and publish a TCB-status list marking older levels out of date."
        )

        @OptionGroup var home: HomeOption

        @Option(help: "The new TCB level (1 or more).")
        var level: UInt32

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.setTCBLevel(level, home: home.platformHome)
                try PlatformDescription(platform).print(json: json, header: "platform now at TCB level \(level)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the platform certificate in the root's CRL; its quotes then fail verification.")

        @OptionGroup var home: HomeOption

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.revoke(home: home.platformHome)
                try PlatformDescription(platform).print(
                    json: json, header: "revoked platform certificate \(platform.platformCertificate.serialNumberHex)")
            }
        }
    }

    /// The platform process of `cloister run` (started by the host with its control channel as fd 3).
    struct Launch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve one enclave launch for `cloister run` (internal: started by the host).",
            shouldDisplay: false)

        @OptionGroup var home: HomeOption

        func run() async throws {
            let status = PlatformProcessMain.run(home: home.platformHome)
            if status != 0 { throw ExitCode(status) }
        }
    }
}

/// The quote signature algorithms a platform can use.
enum QuoteAlgorithm: String, ExpressibleByArgument, CaseIterable {
    case es256 = "ES256"
    case es384 = "ES384"

    var curve: ECCurve { self == .es256 ? .p256 : .p384 }
}

/// What `platform init/info/tcb/revoke` print.
struct PlatformDescription: Encodable {
    let platformID: String
    let algorithm: String
    let tcbLevel: UInt32
    let tcbStatus: String
    let revoked: Bool
    let home: String
    let rootFingerprintSHA256: String
    let rootCertificate: String
    let revocationLists: String

    enum CodingKeys: String, CodingKey {
        case platformID = "platform_id", algorithm, tcbLevel = "tcb_level", tcbStatus = "tcb_status", revoked, home
        case rootFingerprintSHA256 = "root_fingerprint_sha256", rootCertificate = "root_certificate"
        case revocationLists = "crls"
    }

    init(_ platform: Platform) throws {
        let list = try TCBStatusList(encoded: platform.tcbStatusList, root: platform.rootCertificate)
        platformID = hexEncoded(platform.platformID)
        algorithm = platform.curve == .p256 ? "ES256" : "ES384"
        tcbLevel = platform.tcbLevel
        tcbStatus = list.status(of: platform.tcbLevel).rawValue
        revoked = platform.isRevoked
        home = platform.home.path
        rootFingerprintSHA256 = hexEncoded(platform.rootCertificate.sha256Fingerprint)
        rootCertificate = platform.rootCertificate.pemRepresentation
        revocationLists = platform.revocationLists.map(\.pemRepresentation).joined()
    }

    func print(json: Bool, header: String?) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Swift.print(String(decoding: try encoder.encode(self), as: UTF8.self))
            return
        }
        if let header { Swift.print(header) }
        Swift.print(
            """
            platform id     \(platformID)
            algorithm       \(algorithm)
            TCB level       \(tcbLevel) (\(tcbStatus))
            revoked         \(revoked ? "yes" : "no")
            home            \(home)
            root SHA-256    \(rootFingerprintSHA256)
            root certificate (simulated; trust it only for development):
            \(rootCertificate)
            """, terminator: rootCertificate.hasSuffix("\n") ? "" : "\n")
    }
}
