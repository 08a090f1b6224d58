/// What a simulated platform's vendors have published about its trusted computing base, which every vendor shape's
/// evidence and collateral follow: the level the platform runs at, the latest level published (every level below it
/// is out of date, named by the advisories of the recoveries since), whether its configuration needs attention, and
/// whether its keys are revoked.
public struct SimulatedTCB: Sendable, Hashable {
    /// The level the platform runs at (1 or more).
    public var level: UInt32
    /// The highest level the vendors have published (at least `level`): a TCB recovery raises it.
    public var latestLevel: UInt32
    /// Whether the vendors say the platform needs a configuration change at its level (Intel's
    /// ConfigurationNeeded).
    public var configurationNeeded: Bool
    /// Whether the vendors revoked the platform's keys (its PCK certificate, its VCEK, its Nitro-shaped leaf).
    public var isRevoked: Bool

    public init(level: UInt32, latestLevel: UInt32, configurationNeeded: Bool = false, isRevoked: Bool = false) {
        self.level = level
        self.latestLevel = max(level, latestLevel)
        self.configurationNeeded = configurationNeeded
        self.isRevoked = isRevoked
    }

    /// The advisory published with the TCB recovery that made `level` current: `CLOISTER-SA-NNNNN`, the level in
    /// five digits (Intel's `INTEL-SA-NNNNN` shape, never an Intel name).
    public static func advisoryID(recoveryTo level: UInt32) -> String {
        let digits = String(level)
        return "CLOISTER-SA-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// The advisories a platform at `level` is exposed to: one per recovery published after it, oldest first.
    public func advisoryIDs(at level: UInt32) -> [String] {
        guard level < latestLevel else { return [] }
        return (level + 1...latestLevel).map(Self.advisoryID(recoveryTo:))
    }
}
