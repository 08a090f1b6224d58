extension HPKE {
    /// Derives the key pair that DeriveKeyPair(ikm) gives (RFC 9180 §7.1.3), for deterministic keys and tests.
    public static func deriveKeyPair(inputKeyMaterial: [UInt8]) throws -> ECPrivateKey {
        try DHKEM.deriveKeyPair(inputKeyMaterial: inputKeyMaterial)
    }

    /// The sending side of a base-mode context: encrypts a sequence of messages to one recipient.
    public struct Sender: Sendable {
        /// `enc`: what the recipient needs, together with its private key, to open the messages.
        public let encapsulatedKey: [UInt8]
        // Internal so tests can move the sequence number to its limit.
        var context: KeySchedule

        /// Sets up a context to `recipientKey` with application `info`. `ephemeralKey` is for known-answer tests
        /// only: leave it nil so a fresh key is generated; reusing one breaks confidentiality.
        public init(
            recipientKey: ECPublicKey,
            info: [UInt8],
            suite: CipherSuite = .p256SHA256AES128GCM,
            ephemeralKey: ECPrivateKey? = nil
        ) throws {
            let (sharedSecret, encapsulatedKey) = try DHKEM.encapsulate(
                to: recipientKey, ephemeral: ephemeralKey ?? ECPrivateKey(generating: .p256))
            self.encapsulatedKey = encapsulatedKey
            self.context = try KeySchedule(sharedSecret: sharedSecret, info: info, suite: suite)
        }

        /// Encrypts the next message, binding `associatedData`.
        public mutating func seal(_ plaintext: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
            try context.seal(plaintext, associatedData: associatedData)
        }

        /// Exports a secret bound to this context (RFC 9180 §5.3).
        public func exportSecret(context exporterContext: [UInt8], length: Int) throws -> [UInt8] {
            try context.export(exporterContext, length: length)
        }
    }

    /// The receiving side of a base-mode context: opens messages in the order they were sealed.
    public struct Recipient: Sendable {
        // Internal so tests can move the sequence number to its limit.
        var context: KeySchedule

        /// Sets up the context from the sender's `encapsulatedKey`; throws if it is not a valid P-256 point.
        public init(
            privateKey: ECPrivateKey,
            encapsulatedKey: [UInt8],
            info: [UInt8],
            suite: CipherSuite = .p256SHA256AES128GCM
        ) throws {
            let sharedSecret = try DHKEM.decapsulate(encapsulatedKey, recipient: privateKey)
            self.context = try KeySchedule(sharedSecret: sharedSecret, info: info, suite: suite)
        }

        /// Decrypts the next message; throws `.authenticationFailure` if it or `associatedData` was altered.
        public mutating func open(_ ciphertext: some ContiguousBytesView, associatedData: [UInt8] = []) throws
            -> [UInt8]
        {
            try context.open(ciphertext, associatedData: associatedData)
        }

        /// Exports a secret bound to this context (RFC 9180 §5.3).
        public func exportSecret(context exporterContext: [UInt8], length: Int) throws -> [UInt8] {
            try context.export(exporterContext, length: length)
        }
    }

    /// Single-shot encryption (RFC 9180 §6.1): returns the encapsulated key and the ciphertext.
    public static func seal(
        _ plaintext: [UInt8],
        to recipientKey: ECPublicKey,
        info: [UInt8],
        associatedData: [UInt8] = [],
        suite: CipherSuite = .p256SHA256AES128GCM
    ) throws -> (encapsulatedKey: [UInt8], ciphertext: [UInt8]) {
        var sender = try Sender(recipientKey: recipientKey, info: info, suite: suite)
        return (sender.encapsulatedKey, try sender.seal(plaintext, associatedData: associatedData))
    }

    /// Single-shot decryption (RFC 9180 §6.1).
    public static func open(
        _ ciphertext: some ContiguousBytesView,
        encapsulatedKey: [UInt8],
        privateKey: ECPrivateKey,
        info: [UInt8],
        associatedData: [UInt8] = [],
        suite: CipherSuite = .p256SHA256AES128GCM
    ) throws -> [UInt8] {
        var recipient = try Recipient(
            privateKey: privateKey, encapsulatedKey: encapsulatedKey, info: info, suite: suite)
        return try recipient.open(ciphertext, associatedData: associatedData)
    }
}

/// The base-mode key schedule (RFC 9180 §5.1) and the context it yields (§5.2).
struct KeySchedule: Sendable {
    let key: AESGCMKey
    let baseNonce: [UInt8]
    let exporterSecret: [UInt8]
    private let kdf: LabeledKDF
    /// The number of messages sealed or opened so far; it selects the next nonce.
    var sequenceNumber: UInt64 = 0

    init(sharedSecret: [UInt8], info: [UInt8], suite: HPKE.CipherSuite) throws {
        let kdf = LabeledKDF(suiteID: suite.scheduleSuiteID)
        let mode: UInt8 = 0  // mode_base: no PSK
        let pskIDHash = try kdf.extract(salt: [], label: "psk_id_hash", inputKeyMaterial: [])
        let infoHash = try kdf.extract(salt: [], label: "info_hash", inputKeyMaterial: info)
        let context = [mode] + pskIDHash + infoHash
        let secret = try kdf.extract(salt: sharedSecret, label: "secret", inputKeyMaterial: [])
        key = try AESGCMKey(
            kdf.expand(pseudorandomKey: secret, label: "key", info: context, length: suite.aead.keyByteCount))
        baseNonce = try kdf.expand(
            pseudorandomKey: secret, label: "base_nonce", info: context, length: AESGCMKey.nonceByteCount)
        exporterSecret = try kdf.expand(pseudorandomKey: secret, label: "exp", info: context, length: 32)
        self.kdf = kdf
    }

    /// base_nonce XOR I2OSP(seq, Nn), refusing once the sequence number is used up.
    private func currentNonce() throws -> [UInt8] {
        // Nn is 12 bytes, so the RFC's limit (2^96 − 1) lies beyond a UInt64: stop before the counter would wrap.
        guard sequenceNumber < UInt64.max else {
            throw CryptoError(.invalidParameter, "HPKE context sequence number exhausted; set up a new context")
        }
        var nonce = baseNonce
        var sequence = sequenceNumber
        for index in stride(from: nonce.count - 1, through: nonce.count - 8, by: -1) {
            nonce[index] ^= UInt8(sequence & 0xff)
            sequence >>= 8
        }
        return nonce
    }

    mutating func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        let ciphertext = try key.seal(plaintext, nonce: currentNonce(), associatedData: associatedData)
        sequenceNumber += 1
        return ciphertext
    }

    /// Opens the next message; the sequence number moves on only when the message authenticates.
    mutating func open(_ ciphertext: some ContiguousBytesView, associatedData: [UInt8]) throws -> [UInt8] {
        let plaintext = try key.open(ciphertext, nonce: currentNonce(), associatedData: associatedData)
        sequenceNumber += 1
        return plaintext
    }

    func export(_ exporterContext: [UInt8], length: Int) throws -> [UInt8] {
        try kdf.expand(pseudorandomKey: exporterSecret, label: "sec", info: exporterContext, length: length)
    }
}
