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
        #expect(!minimal.allowSimulated && !minimal.requireNonce)
        #expect(minimal == Policy(id: "x"))
    }

    @Test(
        "without max_age_seconds a policy takes the default maximum age; \"unlimited\" is the only way to turn it off")
    func freshnessDefault() throws {
        #expect(Policy.defaultMaximumAgeSeconds == 300)
        #expect(try Policy(text: #"id = "x""#).maximumAgeSeconds == 300)
        #expect(try Policy(text: #"{"id": "x"}"#).maximumAgeSeconds == 300)
        #expect(Policy(id: "x").maximumAgeSeconds == 300)
        #expect(try Policy(text: "id = \"x\"\nmax_age_seconds = \"unlimited\"").maximumAgeSeconds == nil)
        #expect(try Policy(text: #"{"id": "x", "max_age_seconds": "unlimited"}"#).maximumAgeSeconds == nil)
        for refused in ["0", "false", #""none""#, #""Unlimited""#, "[]"] {
            let error = #expect(throws: PolicyError.self) {
                try Policy(text: "id = \"x\"\nmax_age_seconds = \(refused)")
            }
            #expect(error?.reason.contains("\"max_age_seconds\"") == true, "\(refused): \(error?.reason ?? "")")
            #expect(error?.reason.contains("unlimited") == true)
        }
    }

    @Test("a policy encodes to JSON that reads back as the same policy, an unlimited age included")
    func roundTrip() throws {
        var policies = [try Policy(text: Self.toml), Policy(id: "y")]
        policies.append(Policy(id: "z", measurements: ["ab"], maximumAgeSeconds: nil))
        for policy in policies {
            let encoded = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
            #expect(try Policy(text: encoded) == policy, "\(encoded)")
        }
    }

    @Test(
        "unknown keys, missing ids, bad hex, bad PCR indices and bad statuses are errors naming the key",
        arguments: [
            (#"id = "x"\nallow_debg = true"#, "allow_debg"),
            (#"measurements = ["aa"]"#, #"missing key "id""#),
            (#"id = "x"\nmeasurements = ["zz"]"#, #""measurements[0]" is "zz""#),
            (#"id = "x"\nsigners = ["aa", "abc"]"#, #""signers[1]" is "abc""#),
            (#"id = "x"\nmeasurements = [""]"#, #""measurements[0]""#),
            (#"id = "x"\n[pcrs]\n1 = ["zz"]"#, #""pcrs.1[0]""#),
            (#"id = "x"\n[pcrs]\n40 = ["aa"]"#, #""40""#),
            (#"id = "x"\n[pcrs]\n01 = ["aa"]"#, #""01""#),
            (#"id = "x"\n[pcrs]\n1 = "aa""#, #""pcrs.1" must be an array of strings"#),
            (#"id = "x"\nacceptable_tcb_statuses = ["fine"]"#, #""acceptable_tcb_statuses[0]" is "fine""#),
            (#"{"id": "x", "products": [{"product_id": 1, "svn": 2}]}"#, #"unknown key "products[0].svn""#),
            (#"{"id": "x", "products": [{"min_svn": 2}]}"#, #"missing key "products[0].product_id""#),
            (#"id = "x"\n[[products]]\nproduct_id = 7\n[[products]]\nproduct_id = 7"#, "products[1].product_id"),
            (#"id = "x"\nmax_age_seconds = -1"#, "max_age_seconds"),
            (#"id = "x"\nmeasurements = "aa""#, #""measurements" must be an array of strings, not a string"#),
            (#"id = "x"\nmeasurements = ["aa", 5]"#, #""measurements[1]" must be a string, not an integer"#),
            (#"id = "x"\nallow_debug = "yes""#, #""allow_debug" must be true or false, not a string"#),
            (#"id = "x"\nproducts = 3"#, #""products" must be an array of tables"#),
            (#"id = "x"\nproducts = [3]"#, #""products[0]" must be a table"#),
            (#"id = "x"\npcrs = 3"#, #""pcrs" must be a table"#),
            (#"id = "x"\nrequire_nonce = 1979-05-27"#, "a date or time"),
        ])
    func errors(text: String, mention: String) {
        let error = #expect(throws: PolicyError.self) {
            try Policy(text: text.replacingOccurrences(of: #"\n"#, with: "\n"))
        }
        #expect(error?.reason.contains(mention) == true, "\(error?.reason ?? "")")
    }

    @Test("non-ASCII text is read in strings and comments, and refused elsewhere, naming the line and column")
    func nonASCII() throws {
        let text = #"""
            # politique de confiance: ça va
            id = "x" # é
            allowed_advisory_ids = ["crème \" «", '''
            multi
            « ligne »''', """« \""" »"""]
            """#
        let policy = try Policy(text: text)
        #expect(policy.allowedAdvisoryIDs == ["crème \" «", "multi\n« ligne »", "« \"\"\" »"])
        // Table headers that made toml++ 3 (inside TOMLKit, which Cloister used before its own reader) assert and
        // abort the process: U+FFFD, a newline or '=' where the key begins (Fuzz/Regressions/policy and
        // manifest-toml), and non-ASCII text elsewhere outside strings.
        for text in [
            "clé = 1\n", "id = \"x\"\nmeasurements = [\"ab\", é]\n", "id = \"x\"\n[\nclaims]\n",
            "id = \"x\"\n[[ =products]]\n", "id = \"x\"\n[\u{FFFD}claims]\n",
        ] {
            let error = #expect(throws: PolicyError.self) { try Policy(text: text) }
            #expect(error?.reason.contains("line ") == true, "\(error?.reason ?? "")")
        }
        let nested = try Policy(
            text: "id = \"x\"\nmeasurements = [\n  \"ab\", # [\n  \"cd\",\n]\n[claims]\nrtmr0 = [\n\"00\"]\n")
        #expect(nested.measurements == ["ab", "cd"] && nested.claims == ["rtmr0": ["00"]])
        // Lines are counted through multi-line strings, a line-ending backslash included.
        let counted = #expect(throws: PolicyError.self) {
            try Policy(text: "id = \"x\"\nallowed_advisory_ids = [\"\"\"a \\\n b\"\"\"]\nclé = 1\n")
        }
        #expect(counted?.reason.contains("line 4, column 3") == true, "\(counted?.reason ?? "")")
        let error = #expect(throws: PolicyError.self) { try Policy(text: "id = \"a\\u0000b\"") }
        #expect(error?.reason == "not valid TOML: NUL characters are not allowed")
    }

    @Test("a policy nested 200,000 deep (TOML arrays, inline tables, JSON arrays) is refused, not a stack overflow")
    func deepNesting() {
        let depth = 200_000
        for text in [
            "id = \"x\"\nmeasurements = " + String(repeating: "[", count: depth) + "\n",
            "id = \"x\"\nclaims = " + String(repeating: "{a = ", count: depth) + "\n",
            #"{"id": "x", "measurements": "# + String(repeating: "[", count: depth),
        ] {
            #expect(throws: PolicyError.self) { try Policy(text: text) }
        }
    }

    @Test(
        "a value of the wrong type names the key and what is wrong, never \"missing key\"",
        arguments: [#"id = 5"#, #"{"id": 5}"#, #"{"id": ["x"]}"#, #"{"id": null}"#])
    func wrongTypeOfID(text: String) {
        let error = #expect(throws: PolicyError.self) { try Policy(text: text) }
        #expect(error?.reason.hasPrefix(#""id" must be a string, not "#) == true, "\(error?.reason ?? "")")
    }

    /// A numeric field, and a TOML and a JSON policy holding it with the value `value`.
    struct NumericField: Sendable, CustomStringConvertible {
        let key: String
        let range: ClosedRange<Int>
        let toml: @Sendable (String) -> String
        let json: @Sendable (String) -> String
        let read: @Sendable (Policy) -> Int?
        var description: String { key }
    }

    static let numericFields = [
        NumericField(
            key: "products[0].product_id", range: 0...65535,
            toml: { "id = \"x\"\n[[products]]\nproduct_id = \($0)\n" },
            json: { #"{"id": "x", "products": [{"product_id": \#($0)}]}"# },
            read: { $0.products.first.map { Int($0.productID) } }),
        NumericField(
            key: "products[0].min_svn", range: 0...65535,
            toml: { "id = \"x\"\n[[products]]\nproduct_id = 1\nmin_svn = \($0)\n" },
            json: { #"{"id": "x", "products": [{"product_id": 1, "min_svn": \#($0)}]}"# },
            read: { $0.products.first.map { Int($0.minimumSVN) } }),
        NumericField(
            key: "max_age_seconds", range: 1...Policy.maximumAgeLimit,
            toml: { "id = \"x\"\nmax_age_seconds = \($0)\n" },
            json: { #"{"id": "x", "max_age_seconds": \#($0)}"# },
            read: { $0.maximumAgeSeconds }),
    ]

    @Test(
        "every numeric field takes its limits and refuses, naming the key, max+1, -1, huge numbers and fractions",
        arguments: numericFields)
    func numericLimits(field: NumericField) throws {
        for value in [field.range.lowerBound, field.range.upperBound] {
            #expect(try field.read(Policy(text: field.toml("\(value)"))) == value)
            #expect(try field.read(Policy(text: field.json("\(value)"))) == value)
        }
        let refused = [
            "\(field.range.upperBound + 1)", "\(field.range.lowerBound - 1)", "-1", "70000", "65536",
            "9223372036854775807", "-9223372036854775808", "1.5", "\(field.range.upperBound).0", "1e3",
        ].filter { Int($0).map { !field.range.contains($0) } ?? true }
        for value in refused {
            // TOML floats are read as Doubles, so a TOML error shows 1e3 as 1000.0; JSON's shows it as written.
            for (text, showsValue) in [(field.toml(value), false), (field.json(value), true)] {
                let error = #expect(throws: PolicyError.self, "\(text)") { try Policy(text: text) }
                #expect(error?.reason.contains("\"\(field.key)\" must be") == true, "\(error?.reason ?? "")")
                #expect(!showsValue || error?.reason.contains(value) == true, "\(error?.reason ?? "")")
            }
        }
        // Beyond 64 bits: JSON keeps the digits and the range check names the key; TOML's parser refuses the
        // document at the line of the value.
        let huge = "99999999999999999999999"
        let json = #expect(throws: PolicyError.self) { try Policy(text: field.json(huge)) }
        #expect(json?.reason.contains("\"\(field.key)\" must be") == true, "\(json?.reason ?? "")")
        #expect(json?.reason.contains(huge) == true)
        let toml = #expect(throws: PolicyError.self) { try Policy(text: field.toml(huge)) }
        #expect(toml?.reason.hasPrefix("not valid TOML: line") == true, "\(toml?.reason ?? "")")
    }

    /// Values of every kind, as TOML and as JSON write them.
    static let hostileValues: [(toml: String, json: String)] = [
        ("70000", "70000"), ("-1", "-1"), ("1.5", "1.5"), ("-0.0", "-0.0"), ("inf", "1e999"), ("nan", "-1e-999"),
        ("9223372036854775807", "18446744073709551616"), (#""""#, #""""#), (#""ü\u0001""#, #""ü\u0001""#),
        ("true", "true"), ("[]", "[]"), ("[1, \"a\"]", "[1, \"a\"]"), ("{ a = 1 }", #"{"a": 1}"#),
        ("[{ a = 1 }]", #"[{"a": 1}]"#), ("1979-05-27T07:32:00Z", "null"), (#"["..", "/"]"#, #"["..", "/"]"#),
    ]

    @Test("no value of any kind under any key traps: each is a policy or a PolicyError naming the key")
    func noInputTraps() throws {
        let keys = [
            "id", "measurements", "pcrs", "signers", "products", "allow_debug", "allow_simulated",
            "allow_development_keys", "max_age_seconds", "require_nonce", "acceptable_tcb_statuses",
            "required_isolation",
        ]
        var refusals = 0
        for (toml, json) in Self.hostileValues {
            var texts: [(String, String)] = []
            for key in keys where key != "id" {
                texts.append((key, "id = \"x\"\n\(key) = \(toml)\n"))
                texts.append((key, #"{"id": "x", "\#(key)": \#(json)}"#))
            }
            texts.append(("id", "id = \(toml)\n"))
            texts.append(("id", #"{"id": \#(json)}"#))
            for key in ["product_id", "min_svn"] {
                texts.append(("products[0].\(key)", "id = \"x\"\n[[products]]\nproduct_id = 1\n\(key) = \(toml)\n"))
                texts.append(
                    ("products[0].\(key)", #"{"id": "x", "products": [{"product_id": 1, "\#(key)": \#(json)}]}"#))
            }
            texts.append(("pcrs.1", "id = \"x\"\n[pcrs]\n1 = \(toml)\n"))
            texts.append(("pcrs.1", #"{"id": "x", "pcrs": {"1": \#(json)}}"#))
            for (key, text) in texts {
                do {
                    _ = try Policy(text: text)
                } catch {
                    refusals += 1
                    let named = error.reason.contains("\"\(key)") || error.reason.hasPrefix("not valid TOML: line")
                    #expect(named, "\(text) -> \(error.reason)")
                }
            }
        }
        #expect(refusals > 400)
    }

    @Test(
        "JSON with a duplicate key is refused, naming it, at the top level, in a product and among PCRs",
        arguments: [
            (#"{"id": "x", "allow_simulated": false, "allow_simulated": true}"#, #"duplicate key "allow_simulated""#),
            (#"{"id": "x", "id": "y"}"#, #"duplicate key "id""#),
            (
                #"{"id": "x", "products": [{"product_id": 1, "min_svn": 5, "min_svn": 0}]}"#,
                #"duplicate key "products[0].min_svn""#
            ),
            (#"{"id": "x", "pcrs": {"1": ["aa"], "1": ["bb"]}}"#, #"duplicate key "pcrs.1""#),
            (#"{"id": "x", "max_age_seconds": 60, "max_age_seconds": "unlimited"}"#, "max_age_seconds"),
        ])
    func duplicateKeys(text: String, mention: String) {
        let error = #expect(throws: PolicyError.self) { try Policy(text: text) }
        #expect(error?.reason.contains(mention) == true, "\(error?.reason ?? "")")
    }

    @Test(
        "policy ids are 1 to 128 URL-safe characters, never . or ..",
        arguments: [".", "..", "", "a/b", "a b", "a?b", "%2e%2e", "é", String(repeating: "a", count: 129)])
    func refusedIDs(id: String) {
        #expect(throws: PolicyError.self) { try Policy.checkID(id) }
        let error = #expect(throws: PolicyError.self) { try Policy(text: #"{"id": "\#(id)"}"#) }
        #expect(error?.reason.contains("is not a policy id") == true, "\(error?.reason ?? "")")
    }

    @Test(
        "accepted policy ids",
        arguments: ["x", "inference-prod", "a.b_c~d-1", "...", String(repeating: "a", count: 128)])
    func acceptedIDs(id: String) throws {
        try Policy.checkID(id)
        #expect(try Policy(text: #"id = "\#(id)""#).id == id)
    }

    @Test(
        "malformed JSON is refused with its line and column, never a trap",
        arguments: [
            #"{"id": "x",}"#, #"{"id": "x"} trailing"#, #"{"id": "x\u00"}"#, #"{"id": "\ud800"}"#,
            #"{"id": "x", "measurements": [01]}"#, #"{"id": "x", "measurements": [1.]}"#, "{\"id\": \"a\tb\"}",
            #"{"id": "x", "max_age_seconds": -}"#, #"{"id": tru}"#, #"{"id" "x"}"#, "{",
            "{" + String(repeating: #""a": {"#, count: 40),
            #"{"id": "x", "pcrs": "# + String(repeating: "[", count: 100_000),
        ])
    func malformedJSON(text: String) {
        let error = #expect(throws: PolicyError.self) { try Policy(text: text) }
        #expect(error?.reason.hasPrefix("not valid JSON: line 1, column ") == true, "\(error?.reason ?? "")")
    }

    @Test("JSON escapes decode: \\u escapes, surrogate pairs, \\/ and the short escapes")
    func jsonEscapes() throws {
        let policy = try Policy(
            text: #"{"id": "a\u002db", "required_isolation": ["\u00e9\ud83d\ude00\n\t\"\\\/"]}"#)
        #expect(policy.id == "a-b")
        #expect(policy.requiredIsolation == ["é😀\n\t\"\\/"])
        #expect(throws: PolicyError.self) { try Policy(text: #"{"id": "a\/b"}"#) }
    }

    @Test("a TOML policy with a NUL (raw or escaped), which would cut the text short, is refused")
    func nulInTOML() {
        for text in ["id = \"x\"\0\nallow_debug = true", #"id = "x\u0000y""#, #"id = "x\U00000000y""#] {
            let error = #expect(throws: PolicyError.self) { try Policy(text: text) }
            #expect(error?.reason.contains("NUL") == true)
        }
    }

    @Test("a policy file's errors name the file")
    func fileErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("p.toml").path
        try Data("id = \"x\"\n[[products]]\nproduct_id = 70000\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: PolicyError.self) { try Policy(contentsOfFile: path) }
        #expect(error?.reason.hasPrefix("\(path): \"products[0].product_id\"") == true, "\(error?.reason ?? "")")
        let missing = #expect(throws: PolicyError.self) { try Policy(contentsOfFile: path + ".absent") }
        #expect(missing?.reason.contains(path + ".absent") == true)
    }
}
