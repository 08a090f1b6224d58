import CloisterCBOR

/// CBOR and COSE_Sign1 as every signed structure in Cloister reads them.
enum CBORTargets {
    /// Decode; what decodes encodes (deterministically: map keys sorted, shortest heads), and that encoding decodes
    /// to a value that encodes to the same bytes.
    static func cbor(_ input: [UInt8]) {
        let decoder = CBORDecoder()
        guard let value = try? decoder.decode(input) else { return }
        let encoded: [UInt8]
        do {
            encoded = try value.encoded()
        } catch {
            return require(false, "a decoded CBOR value encodes (\(error))")
        }
        require(
            (try? decoder.decode(encoded).encoded()) == encoded, "CBOR decode → encode → decode → encode is stable")
    }

    /// Decode a COSE_Sign1 message; what decodes encodes and decodes back to the same message.
    static func coseSign1(_ input: [UInt8]) {
        guard let message = try? COSESign1(encoded: input) else { return }
        guard let encoded = try? message.encoded() else {
            return require(false, "a decoded COSE_Sign1 message encodes")
        }
        let again = try? COSESign1(encoded: encoded)
        require(again?.payload == message.payload, "COSE_Sign1 round trip keeps the payload")
        require(again?.signature == message.signature, "COSE_Sign1 round trip keeps the signature")
        require((try? again?.encoded()) == encoded, "COSE_Sign1 encodes the same bytes twice")
    }
}
