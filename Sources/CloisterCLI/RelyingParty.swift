import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import Foundation
import Verifier

/// What a command acting as a relying party of a local enclave needs: an appraiser that trusts the published root of
/// the platform in `home`, and the policy to appraise under.
enum RelyingParty {
    /// Quotes chain to the published root of the platform in `home` ($CLOISTER_HOME by default); results are
    /// signed with a key made for this run (they are not published).
    static func appraiser(home: String?) throws -> Appraiser {
        Appraiser(
            evidence: EvidenceVerifier(
                trust: try PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
                    .publishedTrust().trustStore),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "cloister \(CloisterVersion.string)"))
    }

    /// The policy in the file `path` if given, else one requiring `measurement` (in every evidence kind's form:
    /// `SimulatedIdentity`) on a simulated platform, a quote no older than the default maximum age, and the
    /// development key only when `allowDevelopmentKeys`.
    static func policy(
        file path: String?, id: String, measurement: String, allowDevelopmentKeys: Bool
    ) throws -> Policy {
        if let path {
            do { return try Policy(contentsOfFile: path) } catch { throw ValidationError("\(error)") }
        }
        return Policy(
            id: id, measurements: hexDecoded(measurement).map(SimulatedIdentity.measurements) ?? [measurement],
            allowSimulated: true,
            allowDevelopmentKeys: allowDevelopmentKeys)
    }
}
