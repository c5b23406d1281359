import ConveyorSignature
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A webhook receiver on loopback for the delivery tests (SwiftNIO's HTTP/1
/// server): it answers each request with the next of its scripted replies
/// (then `otherwise`), records every request, and checks each signature with
/// `WebhookSignature.verify`, as an integrator's receiver would.
final class WebhookReceiver: Sendable {
    enum Reply: Sendable {
        /// This status, with a short body that names it.
        case status(Int)
        /// 301 Moved Permanently to `location`.
        case redirect(location: String)
        /// 200, but only after `seconds`.
        case stall(seconds: Double)
        /// 200 with a body of `bytes` bytes, sent `chunk` bytes every `pace`, each once
        /// the previous one is written: stops when the client closes.
        case hugeBody(bytes: Int, chunk: Int, pace: TimeAmount)
    }

    /// One request as received.
    struct Request: Sendable {
        let path: String
        let method: String
        let headers: [(name: String, value: String)]
        let body: [UInt8]
        let receivedAt: Date
        /// The signature's timestamp, or why `WebhookSignature.verify` refused it.
        let verification: Result<Int64, WebhookSignature.Rejection>

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// How far a `hugeBody` reply got.
    struct Streamed: Sendable, Equatable {
        var sent = 0
        var clientClosedEarly = false
        var finished = false
    }

    let port: Int
    var secret: String { recorder.secret }
    private let recorder: Recorder
    private let channel: Mutex<Channel?>

    init(secret: String, replies: [Reply] = [], otherwise: Reply = .status(200)) throws {
        let recorder = Recorder(secret: secret, replies: replies, otherwise: otherwise)
        let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        self.recorder = recorder
        port = server.localAddress!.port!
        channel = Mutex(server)
    }

    deinit { stop() }

    /// `http://127.0.0.1:<port><path>`.
    func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(port)\(path)" }

    var requests: [Request] { recorder.state.withLock { $0.requests } }
    var streamed: Streamed { recorder.state.withLock { $0.streamed } }

    /// Waits at most `timeout` seconds for `count` requests; returns those received.
    func waitForRequests(_ count: Int, timeout: Double = 30) -> [Request] {
        let deadline = Date().addingTimeInterval(timeout)
        while requests.count < count, Date() < deadline { usleep(20_000) }
        return requests
    }

    func stop() {
        let server = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? server?.close().wait()
    }

    /// What the connections share: the script, and what was received and streamed.
    private final class Recorder: Sendable {
        let secret: String
        let replies: [Reply]
        let otherwise: Reply
        let state = Mutex<(requests: [Request], streamed: Streamed)>(([], Streamed()))

        init(secret: String, replies: [Reply], otherwise: Reply) {
            self.secret = secret
            self.replies = replies
            self.otherwise = otherwise
        }

        /// Records a request and returns the reply it gets.
        func record(_ head: HTTPRequestHead, _ body: [UInt8]) -> Reply {
            let verification = Result { () throws(WebhookSignature.Rejection) -> Int64 in
                try WebhookSignature.verify(header: head.headers[WebhookSignature.headerName].first ?? "", body: body, secret: secret)
            }
            let request = Request(
                path: head.uri, method: head.method.rawValue, headers: head.headers.map { ($0.name, $0.value) }, body: body,
                receivedAt: Date(), verification: verification
            )
            let index = state.withLock { state in
                state.requests.append(request)
                return state.requests.count - 1
            }
            return index < replies.count ? replies[index] : otherwise
        }

        func stream(_ change: (inout Streamed) -> Void) {
            state.withLock { change(&$0.streamed) }
        }
    }

    /// One connection: collects a request, then answers it with its reply.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let recorder: Recorder
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(recorder: Recorder) { self.recorder = recorder }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                answer(recorder.record(head, body), context: context)
            }
        }

        private func answer(_ reply: Reply, context: ChannelHandlerContext) {
            switch reply {
            case .status(let code):
                respond(context, status: HTTPResponseStatus(statusCode: code), body: "status \(code)\n")
            case .redirect(let location):
                respond(context, status: .movedPermanently, headers: [("Location", location)], body: "")
            case .stall(let seconds):
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
                    self.respond(context, status: .ok, body: "late\n")
                }
            case .hugeBody(let bytes, let chunk, let pace):
                var headers = HTTPHeaders([("Content-Length", String(bytes))])
                headers.add(name: "Content-Type", value: "text/plain")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                sendChunk(context, remaining: bytes, chunk: chunk, pace: pace)
            }
        }

        private func sendChunk(_ context: ChannelHandlerContext, remaining: Int, chunk: Int, pace: TimeAmount) {
            guard remaining > 0 else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                recorder.stream { $0.finished = true }
                return
            }
            let size = min(chunk, remaining)
            let buffer = context.channel.allocator.buffer(repeating: UInt8(ascii: "x"), count: size)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).assumeIsolated().whenComplete { result in
                switch result {
                case .success:
                    self.recorder.stream { $0.sent += size }
                    context.eventLoop.assumeIsolated().scheduleTask(in: pace) {
                        self.sendChunk(context, remaining: remaining - size, chunk: chunk, pace: pace)
                    }
                case .failure:
                    self.recorder.stream { $0.clientClosedEarly = true }
                }
            }
        }

        private func respond(
            _ context: ChannelHandlerContext, status: HTTPResponseStatus, headers extra: [(String, String)] = [], body: String
        ) {
            guard context.channel.isActive else { return }
            var headers = HTTPHeaders(extra)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            recorder.stream { streamed in
                if !streamed.finished && streamed.sent > 0 { streamed.clientClosedEarly = true }
            }
            context.fireChannelInactive()
        }
    }
}
