public import CloisterErrors

/// A sealed page failed its integrity check when it was loaded back from the host-visible backing store.
///
/// Real TEEs stop the enclave when an evicted page does not decrypt and verify; the enclave runtime does the same:
/// it treats an `IntegrityFault` as fatal and terminates the enclave, as hardware would. Until then the region that
/// faulted is poisoned: its resident pages are wiped and every later access throws a fault with code `.poisoned`.
public struct IntegrityFault: CodedError {
    public typealias Code = ErrorCode<IntegrityFault>

    /// The check that failed.
    public let code: Code
    /// What was found, naming the region, the page and the versions involved.
    public let reason: String
    /// The region whose page failed.
    public let region: String
    /// The index of the page that failed.
    public let page: Int

    public init(_ code: Code, region: String, page: Int, _ reason: String) {
        self.code = code
        self.region = region
        self.page = page
        self.reason = reason
    }
}

extension ErrorCode where Domain == IntegrityFault {
    /// The page's ciphertext, tag or header was altered: it authenticates as no page of this region.
    public static let tampered = Self("tampered-page")
    /// The slot holds another page of the same region, copied over it.
    public static let swapped = Self("swapped-page")
    /// The slot holds a page sealed by another region (or another enclave).
    public static let foreignRegion = Self("foreign-region-page")
    /// The slot holds this page at an older version than the enclave's version table expects (a replay).
    public static let replayed = Self("replayed-page")
    /// The slot is missing or truncated although the page was evicted.
    public static let missing = Self("missing-page")
    /// The region refused access because an earlier integrity fault poisoned it.
    public static let poisoned = Self("poisoned-region")
}
