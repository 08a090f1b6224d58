import Attestation
import CloisterTestSupport
import EnclavePlatform
import Foundation
import Testing
import Verifier

@Suite("Claims on the wire: the core and each format's own claims, as one object")
struct ClaimsWireTests {
    /// `claims` as a JSON object, through the service's encoder.
    private func object(_ claims: VerifiedClaims?) throws -> [String: Any] {
        let bytes = try CompactJSONEncoder(sortedKeys: true).encode(try #require(claims))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// The members every document's claims carry, and the optional ones it has.
    private func documentMembers(_ bytes: [UInt8]) throws -> Set<String> {
        let document = try SignedAttestationDocument(encoded: bytes).document
        var members: Set<String> = ["format", "module_id", "timestamp", "pcrs", "measurement", "debug", "simulated"]
        if document.pcrs[8] != nil { members.insert("signer") }
        if document.nonce != nil { members.insert("nonce") }
        if document.userData != nil { members.insert("user_data") }
        if document.publicKey != nil { members.insert("public_key") }
        return members
    }

    @Test("a Cloister quote's claims: the core, then module, platform, TCB level and isolation, in the EAR too")
    func cloister() throws {
        let evidence = try CloisterEvidence()
        let quote = try evidence.quote()
        let result = try appraiser(evidence.trust()).appraise(
            quote, policy: evidence.policy, expectedNonce: [1, 2], at: Date())
        let claims = try object(result.claims)
        let members = try documentMembers(quote)
        #expect(
            Set(claims.keys)
                == members.union(["product_id", "svn", "platform_id", "tcb_level", "tcb_status", "isolation"]))
        #expect(claims["format"] as? String == "cloister")
        #expect(claims["tcb_status"] as? String == "up-to-date")
        #expect(claims["tcb_level"] as? Int == Int(evidence.platform.tcbLevel))
        #expect(claims["platform_id"] as? String == hexString(evidence.platform.platformID))
        #expect(claims["isolation"] as? [String] == ["landlock", "not-dumpable", "seccomp"])
        #expect(claims["product_id"] as? Int == 7)
        #expect(result.claims?.details(as: CloisterQuoteClaims.self)?.tcbLevel == evidence.platform.tcbLevel)
        #expect(result.claims?.details(as: NitroDocumentClaims.self) == nil)

        let token = try #require(result.token).split(separator: ".").map(String.init)
        var base64 = token[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        let ear = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: base64))) as? [String: Any]
        let submodule = (ear?["submods"] as? [String: Any])?["cloister"] as? [String: Any]
        let annotated = try #require(submodule?["ear.veraison.annotated-evidence"] as? [String: Any])
        #expect(Set(annotated.keys) == Set(claims.keys))
    }

    @Test("a Nitro document's claims: the core and its module id, nothing Cloister states", arguments: NitroVector.all)
    func nitro(vector: NitroVector) throws {
        let result = try appraiser(TrustStore(nitroRoots: [NitroVector.awsRoot()])).appraise(
            vector.bytes(), policy: vector.policy(allowDebug: true), at: vector.time)
        let claims = try object(result.claims)
        #expect(try Set(claims.keys) == documentMembers(vector.bytes()))
        #expect(claims["format"] as? String == "nitro")
        #expect(result.claims?.details(as: NitroDocumentClaims.self)?.moduleID == claims["module_id"] as? String)
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        foundation.dateEncodingStrategy = .iso8601
        #expect(try CompactJSONEncoder(sortedKeys: true).encode(result) == Array(foundation.encode(result)))
    }
}
