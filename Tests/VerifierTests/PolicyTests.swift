import Attestation
import Foundation
import Testing
import Verifier

@Suite("Policies from TOML and JSON")
struct PolicyTests {
    static let toml = """
        id = "inference-prod"
        measurements = ["AABB"]
        signers = ["ccdd"]
        allow_simulated = true
        max_age_seconds = 300
        require_nonce = true
        acceptable_tcb_statuses = ["up-to-date", "out-of-date"]
        required_isolation = ["landlock"]
        [pcrs]
        1 = ["0011"]
        [[products]]
        product_id = 7
        min_svn = 2
        """

    static let json = """
        {"id": "inference-prod", "measurements": ["aabb"], "signers": ["ccdd"], "allow_simulated": true,
         "max_age_seconds": 300, "require_nonce": true, "acceptable_tcb_statuses": ["up-to-date", "out-of-date"],
         "required_isolation": ["landlock"], "pcrs": {"1": ["0011"]}, "products": [{"product_id": 7, "min_svn": 2}]}
        """

    @Test("TOML and JSON give the same policy, hex lower-cased, strict defaults elsewhere")
    func formats() throws {
        let fromTOML = try Policy(text: Self.toml)
        let fromJSON = try Policy(text: Self.json)
        #expect(fromTOML == fromJSON)
        #expect(fromTOML.measurements == ["aabb"])
        #expect(fromTOML.products == [.init(productID: 7, minimumSVN: 2)])
        #expect(!fromTOML.allowDebug && !fromTOML.allowDevelopmentKeys)
        let minimal = try Policy(text: #"id = "x""#)
        #expect(minimal.acceptableTCBStatuses == [.upToDate])
        #expect(!minimal.allowSimulated && !minimal.requireNonce && minimal.maximumAgeSeconds == nil)
    }

    @Test(
        "unknown keys, missing ids, bad hex, bad PCR indices and bad statuses are errors naming the problem",
        arguments: [
            (#"id = "x"\nallow_debg = true"#, "allow_debg"),
            (#"measurements = ["aa"]"#, "id"),
            (#"id = "x"\nmeasurements = ["zz"]"#, "zz"),
            (#"id = "x"\n[pcrs]\n40 = ["aa"]"#, "40"),
            (#"id = "x"\nacceptable_tcb_statuses = ["fine"]"#, "acceptable_tcb_statuses"),
            (#"{"id": "x", "products": [{"product_id": 1, "svn": 2}]}"#, "svn"),
            (#"id = "x"\nmax_age_seconds = -1"#, "max_age_seconds"),
        ])
    func errors(text: String, mention: String) {
        let error = #expect(throws: PolicyError.self) {
            try Policy(text: text.replacingOccurrences(of: #"\n"#, with: "\n"))
        }
        #expect(error?.reason.contains(mention) == true, "\(error?.reason ?? "")")
    }
}
