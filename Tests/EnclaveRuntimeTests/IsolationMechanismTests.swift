import EnclaveProtocol
import Testing

@Suite struct IsolationMechanismTests {
    @Test("mechanism names are stable identifiers")
    func names() {
        #expect(
            IsolationMechanism.allCases.map(\.rawValue).sorted() == [
                "closed-descriptors", "landlock", "locked-regions", "no-capabilities", "no-core-files",
                "no-new-privileges", "not-dumpable", "seccomp",
            ])
    }
}
