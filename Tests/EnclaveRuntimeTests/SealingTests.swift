import CloisterCBOR
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Testing

@Suite struct SealingTests {
    let data = Array("model weights v7".utf8)

    @Test(arguments: SealPolicy.allCases) func roundTrip(policy: SealPolicy) throws {
        let sealer = SealingFixtures.sealer(for: SealingFixtures.identity())
        let blob = try sealer.seal(data, policy: policy)
        #expect(try sealer.unseal(blob) == data)
        #expect(try SealedBlob(encoded: blob).request.policy == policy)
    }

    @Test func blobIsTheDocumentedCBORWithTheHeaderAsAssociatedData() throws {
        let identity = SealingFixtures.identity()
        let counter = MonotonicCounter(id: [UInt8](repeating: 9, count: 16), value: 4)
        let encoded = try SealingFixtures.sealer(for: identity).seal(data, policy: .signer, counter: counter)
        let map = try CBORDecoder().decode(encoded)
        let keys = Set(try #require(map.mapValue).compactMap(\.key.textValue))
        #expect(
            keys == ["v", "policy", "product_id", "svn", "tcb_level", "key_id", "counter", "nonce", "ciphertext"])
        #expect(map["v"] == 1 && map["policy"] == "signer" && map["product_id"] == 7 && map["svn"] == 2)
        #expect(map["tcb_level"] == 1 && map["counter"] == ["id": .bytes(counter.id), "value": 4])
        let request = try KeyRequest(
            policy: .signer, productID: 7, svn: 2, tcbLevel: 1, keyID: try #require(map["key_id"]?.bytesValue))
        let key = try AESGCMKey(SealingFixtures.deriver().sealingKey(for: identity, request: request))
        let header = try CBORValue.map(try #require(map.mapValue).filter { $0.key != "ciphertext" }).encoded()
        let opened = try key.open(
            try #require(map["ciphertext"]?.bytesValue), nonce: try #require(map["nonce"]?.bytesValue),
            associatedData: header)
        #expect(opened == data)
    }

    @Test("one sealer shares a key id per policy with fresh nonces; another sealer draws its own key id")
    func keyIDsAndNonces() throws {
        let sealer = SealingFixtures.sealer(for: SealingFixtures.identity())
        let first = try sealer.sealedBlob(data, policy: .measurement)
        let second = try sealer.sealedBlob(data, policy: .measurement)
        #expect(first.request.keyID == second.request.keyID)
        #expect(first.nonce != second.nonce)
        #expect(first.ciphertext != second.ciphertext)
        #expect(try sealer.sealedBlob(data, policy: .signer).request.keyID != first.request.keyID)
        let other = try SealingFixtures.sealer(for: SealingFixtures.identity()).sealedBlob(data, policy: .measurement)
        #expect(other.request.keyID != first.request.keyID)
        #expect(try sealer.unseal(other) == data)
    }

    @Test func anotherMeasurementCannotUnsealAMeasurementBlob() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(measurement: 0x11))
            .seal(data, policy: .measurement)
        let other = SealingFixtures.sealer(for: SealingFixtures.identity(measurement: 0x12))
        let error = try #require(throws: SealingError.self) { try other.unseal(blob) }
        #expect(error.code == .authenticationFailure)
        #expect(error.reason.contains("sealed to another enclave identity"))
    }

    @Test func anotherSignerCannotUnsealASignerBlob() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(signer: 0xaa)).seal(data, policy: .signer)
        let other = SealingFixtures.sealer(for: SealingFixtures.identity(signer: 0xbb))
        let error = try #require(throws: SealingError.self) { try other.unseal(blob) }
        #expect(error.code == .authenticationFailure)
        #expect(error.reason.contains("sealed to another enclave identity"))
    }

    @Test func signerBlobOpensForAnotherMeasurementOfTheSameSignerAndProduct() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(measurement: 0x11))
            .seal(data, policy: .signer)
        let rebuilt = SealingFixtures.sealer(for: SealingFixtures.identity(measurement: 0x99))
        #expect(try rebuilt.unseal(blob) == data)
    }

    @Test func signerBlobDoesNotOpenForAnotherProduct() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(productID: 7)).seal(data, policy: .signer)
        let other = SealingFixtures.sealer(for: SealingFixtures.identity(productID: 8))
        let error = try #require(throws: SealingError.self) { try other.unseal(blob) }
        #expect(error.code == .keyRequestRefused)
        #expect(error.reason.contains("product id 7"))
    }

    @Test func debugEnclaveCannotUnsealAProductionBlob() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(debug: false)).seal(data, policy: .signer)
        let debug = SealingFixtures.sealer(for: SealingFixtures.identity(debug: true))
        let error = try #require(throws: SealingError.self) { try debug.unseal(blob) }
        #expect(error.code == .authenticationFailure)
    }

    @Test func svnUpgradeOpensBlobsSealedAtLowerOrEqualSVN() throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(measurement: 0x11, svn: 2))
            .seal(data, policy: .signer)
        for svn: UInt16 in [2, 3, 40] {
            let upgraded = SealingFixtures.sealer(for: SealingFixtures.identity(measurement: UInt8(svn), svn: svn))
            #expect(try upgraded.unseal(blob) == data)
        }
    }

    @Test(arguments: SealPolicy.allCases) func svnDowngradeIsRefused(policy: SealPolicy) throws {
        let blob = try SealingFixtures.sealer(for: SealingFixtures.identity(svn: 3)).seal(data, policy: policy)
        let downgraded = SealingFixtures.sealer(for: SealingFixtures.identity(svn: 2))
        let error = try #require(throws: SealingError.self) { try downgraded.unseal(blob) }
        #expect(error.code == .keyRequestRefused)
        #expect(error.reason.contains("SVN 3 from an enclave at SVN 2"))
    }

    @Test func tcbLevelRules() throws {
        let identity = SealingFixtures.identity()
        let old = try SealingFixtures.sealer(for: identity, deriver: SealingFixtures.deriver(tcbLevel: 1))
            .seal(data, policy: .measurement)
        let new = try SealingFixtures.sealer(for: identity, deriver: SealingFixtures.deriver(tcbLevel: 2))
            .seal(data, policy: .measurement)
        let updatedPlatform = SealingFixtures.sealer(for: identity, deriver: SealingFixtures.deriver(tcbLevel: 2))
        #expect(try updatedPlatform.unseal(old) == data)
        let rolledBackPlatform = SealingFixtures.sealer(for: identity, deriver: SealingFixtures.deriver(tcbLevel: 1))
        let error = try #require(throws: SealingError.self) { try rolledBackPlatform.unseal(new) }
        #expect(error.code == .keyRequestRefused)
    }

    @Test func everyFlippedByteIsRefused() throws {
        let sealer = SealingFixtures.sealer(for: SealingFixtures.identity())
        let blob = try sealer.seal(Array("hi".utf8), policy: .signer)
        for index in blob.indices {
            var tampered = blob
            tampered[index] ^= 0xff
            #expect(throws: SealingError.self, "byte \(index) of \(blob.count)") { try sealer.unseal(tampered) }
        }
    }

    @Test func malformedBlobsAreRefusedAsMalformed() throws {
        let sealer = SealingFixtures.sealer(for: SealingFixtures.identity())
        let blob = try sealer.sealedBlob(data, policy: .measurement)
        let good = try blob.encoded()
        guard case .map(let entries) = try CBORDecoder().decode(good) else { Issue.record("not a map"); return }
        func replacing(_ key: String, with value: CBORValue?) throws -> [UInt8] {
            var changed = entries.filter { $0.key != .text(key) }
            if let value { changed.append(CBORMapEntry(.text(key), value)) }
            return try CBORValue.map(changed).encoded()
        }
        // The same map with its length in a two-byte head instead of the shortest one.
        let nonDeterministic = [0xb9, 0x00, UInt8(entries.count)] + good.dropFirst()
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("truncated", Array(good.dropLast())),
            ("not CBOR", [0xff, 0x00]),
            ("not a map", try CBORValue.array([1, 2]).encoded()),
            ("unknown field", try replacing("extra", with: 1)),
            ("version 2", try replacing("v", with: 2)),
            ("no version", try replacing("v", with: nil)),
            ("bad policy", try replacing("policy", with: "enclave")),
            ("short key id", try replacing("key_id", with: .bytes([1, 2, 3]))),
            ("short nonce", try replacing("nonce", with: .bytes([1]))),
            ("svn too large", try replacing("svn", with: .unsigned(70_000))),
            ("counter not a map", try replacing("counter", with: 5)),
            ("ciphertext shorter than a tag", try replacing("ciphertext", with: .bytes([1, 2]))),
            ("non-deterministic encoding", nonDeterministic),
            ("trailing bytes", good + [0x00]),
        ]
        for (name, bytes) in cases {
            let error = try #require(throws: SealingError.self, "\(name)") { try sealer.unseal(bytes) }
            #expect(error.code == .malformedBlob, "\(name): \(error)")
        }
    }

    @Test func derivationFollowsTheDocumentedHKDF() throws {
        let identity = SealingFixtures.identity()
        let request = try KeyRequest(
            policy: .signer, productID: 7, svn: 1, tcbLevel: 1, keyID: [UInt8](repeating: 5, count: 16))
        let info: CBORValue = [
            "policy": "signer", "identity": .bytes(identity.signer), "product_id": 7, "svn": 1, "tcb_level": 1,
            "key_id": .bytes(request.keyID), "debug": false,
        ]
        let expected = try HKDF.deriveKey(
            inputKeyMaterial: SealingFixtures.deviceSecret, salt: "cloister-seal-v1", info: info.encoded(),
            length: 32, digest: .sha256)
        #expect(try SealingFixtures.deriver().sealingKey(for: identity, request: request) == expected)
        let otherKeyID = try KeyRequest(
            policy: .signer, productID: 7, svn: 1, tcbLevel: 1, keyID: [UInt8](repeating: 6, count: 16))
        #expect(try SealingFixtures.deriver().sealingKey(for: identity, request: otherKeyID) != expected)
    }

    @Test func deriverRefusesADeviceSecretOfTheWrongSize() {
        #expect(throws: SealingError.self) { try PlatformKeyDeriver(deviceSecret: [1, 2, 3], tcbLevel: 1) }
    }
}
