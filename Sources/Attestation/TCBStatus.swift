/// A platform's TCB status, as its vendor's signed collateral states it: one vocabulary for every format, so that one
/// policy (`acceptable_tcb_statuses`) serves them all. Cloister's TCB-status lists state `up-to-date`, `out-of-date`
/// and `unknown`; Intel's TCB info and QE identity state the others (`intelName` is Intel's spelling).
public enum TCBStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case upToDate = "up-to-date"
    /// Up to date, but the enclave's software needs mitigations the advisories name.
    case swHardeningNeeded = "sw-hardening-needed"
    /// Up to date, but the platform's configuration (BIOS, hyper-threading) needs changes the advisories name.
    case configurationNeeded = "configuration-needed"
    case configurationAndSWHardeningNeeded = "configuration-and-sw-hardening-needed"
    case outOfDate = "out-of-date"
    case outOfDateConfigurationNeeded = "out-of-date-configuration-needed"
    /// A TD launched at an out-of-date TCB on a platform whose current TCB is not: relaunch the TD.
    case tdRelaunchAdvised = "td-relaunch-advised"
    case tdRelaunchAdvisedConfigurationNeeded = "td-relaunch-advised-configuration-needed"
    /// The platform's keys or TCB level are revoked.
    case revoked
    /// Above the latest level the vendor has published: no platform should be there.
    case unknown

    /// The status Intel's collateral spells `name` ("UpToDate", "SWHardeningNeeded", ...), or nil (Intel has no
    /// `unknown`).
    public init?(intelName name: String) {
        guard let status = Self.allCases.first(where: { $0 != .unknown && $0.intelName == name }) else { return nil }
        self = status
    }

    /// Intel's spelling, as TCB info, QE identity, Intel's QVL and dcap-qvl write it.
    public var intelName: String {
        switch self {
        case .upToDate: "UpToDate"
        case .swHardeningNeeded: "SWHardeningNeeded"
        case .configurationNeeded: "ConfigurationNeeded"
        case .configurationAndSWHardeningNeeded: "ConfigurationAndSWHardeningNeeded"
        case .outOfDate: "OutOfDate"
        case .outOfDateConfigurationNeeded: "OutOfDateConfigurationNeeded"
        case .tdRelaunchAdvised: "TDRelaunchAdvised"
        case .tdRelaunchAdvisedConfigurationNeeded: "TDRelaunchAdvisedConfigurationNeeded"
        case .revoked: "Revoked"
        case .unknown: "Unknown"
        }
    }
}
