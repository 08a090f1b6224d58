public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import Foundation
import SimulatedHardware

/// `cloister platform init|info|tcb|tcb-recovery|configuration-needed|revoke|vendor-roots`: the simulated platform's
/// state and its vendor operations.
public struct PlatformCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "platform",
        abstract: "Create and inspect the simulated TEE platform (root CA, TCB level, revocation).",
        discussion: """
            The platform lives in --home, else $CLOISTER_HOME, else ~/.cloister: a directory 0700 with files 0600; \
            Cloister refuses state that others can read. Exit status: 0 done, 64 bad arguments, 78 missing or \
            insecure platform state, 1 internal error.
            """,
        subcommands: [
            Init.self, Info.self, TCB.self, TCBRecovery.self, ConfigurationNeeded.self, Revoke.self, VendorRoots.self,
            Launch.self,
        ]
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
            abstract: "Create a platform: root CA, platform and attestation-key certificates, device secret, counters.",
            discussion: """
                With it the simulated hardware vendors: an Intel-shaped SGX PKI (root CA, PCK platform CA, TCB \
                signing, PCK and quoting-enclave keys), an AMD-shaped Milan ARK, ASK and ASVK (RSA-PSS) with the \
                chip's VCEK and a VLEK, and an AWS-shaped Nitro root, intermediates and leaf, each with its \
                collateral published for TCB level 1 (`cloister platform vendor-roots` writes what verifiers pin).
                """)

        @OptionGroup var home: HomeOption

        @Option(help: "Quote signature algorithm: ES256 (P-256, the default) or ES384 (P-384, the exact Nitro shape).")
        var alg: QuoteAlgorithm = .es256

        @Option(
            help: """
                The size of the simulated AMD ARK, ASK and ASVK RSA keys: 2048, 3072 or 4096 (AMD's; the default). \
                2048 initialises about ten times faster.
                """)
        var amdKeyBits = 4096

        @Option(
            help: """
                The collateral service the simulated certificates' CRL distribution points name (where \
                `cloister serve --collateral` will listen).
                """)
        var collateralURL = SimulatedCollateralService.defaultURL

        func validate() throws {
            guard Platform.amdKeySizes.contains(amdKeyBits) else {
                throw ValidationError("--amd-key-bits must be 2048, 3072 or 4096")
            }
            guard SimulatedCollateralService.isValid(collateralURL) else {
                throw ValidationError(
                    "--collateral-url must be http(s)://HOST[:PORT][/PATH], without a trailing slash or query")
            }
        }

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.initialize(
                    home: home.platformHome, curve: alg.curve, amdKeyBits: amdKeyBits, collateralURL: collateralURL)
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

    struct TCBRecovery: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tcb-recovery",
            abstract: "Publish a TCB recovery: a new latest level, so the platform's own is out of date everywhere.",
            discussion: """
                As a vendor does after a security advisory: every kind of evidence's collateral (Cloister's \
                TCB-status list, the Intel-shaped TCB info and QE identity) now says the platform's level is out of \
                date, naming the recovery's advisory (CLOISTER-SA-NNNNN), until `platform tcb --level` moves it up.
                """)

        @OptionGroup var home: HomeOption

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.publishTCBRecovery(home: home.platformHome)
                try PlatformDescription(platform).print(
                    json: json,
                    header: "published TCB recovery to level \(platform.simulatedTCB.latestLevel) "
                        + "(\(SimulatedTCB.advisoryID(recoveryTo: platform.simulatedTCB.latestLevel)))")
            }
        }
    }

    struct ConfigurationNeeded: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "configuration-needed",
            abstract: "Say the platform's configuration needs attention (Intel's ConfigurationNeeded), or --clear it.")

        @OptionGroup var home: HomeOption

        @Flag(help: "Stop saying it.")
        var clear = false

        @Flag(help: "Print the platform description as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let platform = try Platform.setConfigurationNeeded(!clear, home: home.platformHome)
                try PlatformDescription(platform).print(
                    json: json, header: clear ? "configuration needed: cleared" : "configuration needed: published")
            }
        }
    }

    struct VendorRoots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vendor-roots",
            abstract: "Write the simulated vendors' roots and collateral (PEM, JSON) for verifiers to a directory.",
            discussion: """
                Writes intel-sgx-root.pem (SGX and TDX quotes), amd-ark-milan.pem (the ARK; with the ASK and the \
                platform's VCEK and VLEK in amd-milan-certificates.pem and its CRL in amd-milan-crl.pem), \
                aws-nitro-root.pem (with aws-nitro-crls.pem), cloister-root.pem, and intel-sgx-collateral.json and \
                intel-tdx-collateral.json (QuoteCollateralV3, for `cloister verify --collateral` and dcap-qvl). \
                Every root is simulated: the verifier classes evidence chaining to it as simulated, and a policy \
                must allow simulation to accept it. Exit status: 0 written, 73 the directory cannot be written, 78 \
                missing or insecure platform.
                """)

        @OptionGroup var home: HomeOption

        @Option(help: "The directory to write into (created if absent).")
        var out: String

        @Flag(help: "Print {file: SHA-256 of its content} as JSON.")
        var json = false

        func run() async throws {
            try reportingErrors {
                let trust = try home.platformHome.publishedTrust()
                let pem = { (certificates: [X509Certificate]) in
                    Array(certificates.map(\.pemRepresentation).joined().utf8)
                }
                let files: [(String, [UInt8])] = [
                    ("intel-sgx-root.pem", pem([trust.vendorRoots.intel])),
                    ("amd-ark-milan.pem", pem([trust.vendorRoots.amd])),
                    ("amd-milan-certificates.pem", pem(trust.amdCertificates)),
                    ("amd-milan-crl.pem", Array(trust.amdRevocationLists.map(\.pemRepresentation).joined().utf8)),
                    ("aws-nitro-root.pem", pem([trust.vendorRoots.nitro])),
                    ("aws-nitro-crls.pem", Array(trust.nitroRevocationLists.map(\.pemRepresentation).joined().utf8)),
                    ("cloister-root.pem", pem([trust.rootCertificate])),
                    ("intel-sgx-collateral.json", trust.sgxCollateral),
                    ("intel-tdx-collateral.json", trust.tdxCollateral),
                ]
                try OutputDirectory.create(out)
                for (name, bytes) in files {
                    try OutputDirectory.write(bytes, to: out + "/" + name)
                }
                if json {
                    let digests = Dictionary(
                        uniqueKeysWithValues: files.map {
                            ($0.0, hexEncoded(DigestAlgorithm.sha256.hash($0.1)))
                        })
                    let data = try JSONSerialization.data(withJSONObject: digests, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    for (name, _) in files { print("wrote \(out)/\(name)") }
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the platform: its certificate, PCK, VCEK and Nitro leaf; its evidence then fails.")

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
    let latestTCBLevel: UInt32
    let tcbStatus: String
    let configurationNeeded: Bool
    let revoked: Bool
    let vendorRootFingerprints: [String: String]
    let home: String
    let rootFingerprintSHA256: String
    let rootCertificate: String
    let revocationLists: String

    enum CodingKeys: String, CodingKey {
        case platformID = "platform_id", algorithm, tcbLevel = "tcb_level", tcbStatus = "tcb_status", revoked, home
        case latestTCBLevel = "latest_tcb_level", configurationNeeded = "configuration_needed"
        case vendorRootFingerprints = "vendor_roots_sha256"
        case rootFingerprintSHA256 = "root_fingerprint_sha256", rootCertificate = "root_certificate"
        case revocationLists = "crls"
    }

    init(_ platform: Platform) throws {
        let list = try TCBStatusList(encoded: platform.tcbStatusList, root: platform.rootCertificate)
        platformID = hexEncoded(platform.platformID)
        algorithm = platform.curve == .p256 ? "ES256" : "ES384"
        tcbLevel = platform.tcbLevel
        latestTCBLevel = platform.simulatedTCB.latestLevel
        tcbStatus = list.status(of: platform.tcbLevel).rawValue
        configurationNeeded = platform.simulatedTCB.configurationNeeded
        let roots = try platform.vendorRoots
        vendorRootFingerprints = [
            "intel": hexEncoded(roots.intel.sha256Fingerprint), "amd": hexEncoded(roots.amd.sha256Fingerprint),
            "nitro": hexEncoded(roots.nitro.sha256Fingerprint),
        ]
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
            TCB level       \(tcbLevel) (\(tcbStatus); latest published \(latestTCBLevel)\
            \(configurationNeeded ? "; configuration needed" : ""))
            revoked         \(revoked ? "yes" : "no")
            home            \(home)
            root SHA-256    \(rootFingerprintSHA256)
            vendor roots    Intel \(vendorRootFingerprints["intel"] ?? ""), AMD \(vendorRootFingerprints["amd"] ?? ""), \
            Nitro \(vendorRootFingerprints["nitro"] ?? "") (simulated; `platform vendor-roots` writes them)
            root certificate (simulated; trust it only for development):
            \(rootCertificate)
            """, terminator: rootCertificate.hasSuffix("\n") ? "" : "\n")
    }
}
