import CloisterCBOR
import Testing

@Suite struct CBORValueTests {
    @Test func equality() { #expect(CBORValue.unsigned(1) == .unsigned(1)) }
}
