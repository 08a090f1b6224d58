import Testing

/// The suites that run `cloister serve` live and time it or load it: one at a time, so that the kill harness's load
/// never skews the timeout tests' clocks.
@Suite(.serialized) enum LiveServiceSuites {}
