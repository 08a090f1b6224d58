public import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// How long the HTTP servers (`cloister serve`, `cloister fl serve`) wait for a slow or silent client, as Go's
/// net/http does: a request's head must arrive in full within `header` of its first byte (a slowloris client that
/// sends a header a byte at a time is cut off), and a connection with no request in progress, or a request body
/// that stops arriving, is closed after `idle` without traffic.
public struct HTTPTimeouts: Sendable, Hashable {
    /// From a request's first byte to the end of its head.
    public var header: Duration
    /// With no request in progress (a keep-alive connection, or one that never sends), or between parts of a body.
    public var idle: Duration

    /// The default `header`, in seconds.
    public static let defaultHeaderSeconds = 10
    /// The default `idle`, in seconds.
    public static let defaultIdleSeconds = 60

    public init(
        header: Duration = .seconds(defaultHeaderSeconds), idle: Duration = .seconds(defaultIdleSeconds)
    ) {
        self.header = header
        self.idle = idle
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with `timeouts`: Hummingbird's idle timeout, and a deadline for each request's head.
    public static func http1(timeouts: HTTPTimeouts) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            HeadDeadlineHTTP1Channel(
                base: HTTP1Channel(
                    responder: responder,
                    configuration: .init(
                        additionalChannelHandlers: [RequestHeadObserver()], idleTimeout: TimeAmount(timeouts.idle))),
                headerTimeout: TimeAmount(timeouts.header))
        }
    }
}

/// Hummingbird's HTTP/1.1 channel with `RequestHeadDeadline` in front of its decoder, where it sees a request's
/// first bytes.
struct HeadDeadlineHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let headerTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                RequestHeadDeadline(timeout: headerTimeout, logger: logger), position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Where a connection is in its current request, as `RequestHeadObserver` reports it to `RequestHeadDeadline`.
enum RequestProgress {
    case headReceived
    case requestEnded
}

/// Closes the connection when a request's head has not arrived in full `timeout` after its first byte. Sits before
/// the HTTP decoder, so it sees raw bytes: bytes arriving while no head is awaited start the clock; the decoded head
/// (reported by `RequestHeadObserver` after the decoder, as an outbound user event) stops it.
final class RequestHeadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let timeout: TimeAmount
    private let logger: Logger
    private var awaitingHead = true
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if awaitingHead, deadline == nil {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let logger = logger
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                logger.debug("request head not received in time: closing the connection")
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case RequestProgress.headReceived:
            awaitingHead = false
            cancelDeadline()
            promise?.succeed()
        case RequestProgress.requestEnded:
            awaitingHead = true
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Reports each decoded request head and end to `RequestHeadDeadline`, in front of the decoder.
final class RequestHeadObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: context.triggerUserOutboundEvent(RequestProgress.headReceived, promise: nil)
        case .end: context.triggerUserOutboundEvent(RequestProgress.requestEnded, promise: nil)
        case .body: break
        }
        context.fireChannelRead(data)
    }
}
