import CloisterCrypto
import ConfidentialProtocol
import FoundationEssentials

/// What the aggregator enclave and the clients read from each other through the host: sealed updates and signed
/// statements.
enum FederationTargets {
    /// A sealed update opened with the aggregator's key: it opens only when sealed to that key and signed by the
    /// registered client, and then states what it was sealed with.
    static func update(_ input: [UInt8], context: FuzzContext) {
        guard
            let opened = try? SealedUpdate.open(
                input, with: context.aggregatorKey, federationID: FuzzContext.federationID,
                clientKeys: [FuzzContext.client: context.clientKey.publicKey])
        else { return }
        require(opened.header.federationID == FuzzContext.federationID, "an opened update is of this federation")
        require(opened.header.client == FuzzContext.client, "an opened update is the registered client's")
        let again = try? SealedUpdate.open(
            input, with: context.aggregatorKey, federationID: FuzzContext.federationID,
            clientKeys: [FuzzContext.client: context.clientKey.publicKey])
        require(again?.updateDigest == opened.updateDigest, "an update opens the same way twice")
    }

    /// Signed statements of every kind, read unverified as the host reads them and verified with the client's key.
    static func statement(_ input: [UInt8], context: FuzzContext) {
        let key = context.clientKey.publicKey
        if let header = try? SignedStatement<UpdateHeader>(unverified: input, what: "fuzz statement") {
            let verified = try? SignedStatement<UpdateHeader>(signed: input, what: "fuzz statement") { _ in key }
            if let verified { require(verified == header, "a verified statement reads as the unverified one") }
        }
        _ = try? SignedStatement<ModelState>(unverified: input, what: "fuzz statement")
        _ = try? SignedStatement<FederationDescriptor>(unverified: input, what: "fuzz statement")
        _ = try? SignedStatement<Receipt>(unverified: input, what: "fuzz statement")
        _ = try? BatchOutcome.decoded(input, count: 3)
    }
}
