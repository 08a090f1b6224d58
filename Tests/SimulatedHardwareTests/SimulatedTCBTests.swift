import SimulatedHardware
import Testing

@Suite struct SimulatedTCBTests {
    @Test func advisoriesNameEveryRecoveryAfterTheLevel() {
        let tcb = SimulatedTCB(level: 2, latestLevel: 4)
        #expect(tcb.advisoryIDs(at: 2) == ["CLOISTER-SA-00003", "CLOISTER-SA-00004"])
        #expect(tcb.advisoryIDs(at: 4).isEmpty)
        #expect(SimulatedTCB(level: 5, latestLevel: 1).latestLevel == 5)
    }
}
