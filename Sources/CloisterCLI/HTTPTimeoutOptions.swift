import ArgumentParser
import HTTPService

/// The slow-client timeouts both HTTP servers (`serve`, `fl serve`) take.
struct HTTPTimeoutOptions: ParsableArguments {
    @Option(help: "Seconds from a request's first byte to the end of its head; slower clients are disconnected.")
    var headerTimeout = HTTPTimeouts.defaultHeaderSeconds

    @Option(help: "Seconds a connection may stay silent with no request in progress, or mid-body, before it is closed.")
    var idleTimeout = HTTPTimeouts.defaultIdleSeconds

    /// The longest timeout accepted: a day.
    static let maximumSeconds = 86_400

    func validate() throws {
        for (option, seconds) in [("--header-timeout", headerTimeout), ("--idle-timeout", idleTimeout)] {
            guard (1...Self.maximumSeconds).contains(seconds) else {
                throw ValidationError("\(option) must be 1 to \(Self.maximumSeconds) seconds, got \(seconds)")
            }
        }
    }

    var timeouts: HTTPTimeouts { HTTPTimeouts(header: .seconds(headerTimeout), idle: .seconds(idleTimeout)) }
}
