import ConveyorProtocol
import NIOCore

/// Closes a connection whose request line has not arrived whole within
/// `timeout`, after one `timeout` error line. The clock counts only while
/// the server is asking for more bytes of a line it has begun: a client
/// that keeps sending a byte at a time cannot hold a connection, and one
/// whose earlier requests keep the server busy (so that it has stopped
/// reading) loses no time. Bytes are passed on untouched.
final class LineDeadline: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let timeout: TimeAmount
    /// Whether bytes of an unfinished line have arrived.
    private var lineBegun = false
    /// Time spent waiting for the rest of that line while reading.
    private var spent = TimeAmount.zero
    private var waitingSince: NIODeadline?
    private var expiry: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func read(context: ChannelHandlerContext) {
        if lineBegun { startWaiting(context) }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView
        if let newline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            // A line ended: what follows it, if anything, is a new line.
            stopWaiting()
            spent = .zero
            lineBegun = newline < bytes.endIndex - 1
        } else if !bytes.isEmpty {
            lineBegun = true
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        stopWaiting()
        context.fireChannelReadComplete()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        expiry?.cancel()
    }

    private func startWaiting(_ context: ChannelHandlerContext) {
        guard waitingSince == nil else { return }
        waitingSince = .now()
        let seconds = Double(timeout.nanoseconds) / 1e9
        let line = Response.error(id: nil, ProtocolError(.timeout, "request line not complete within \(seconds) s; closing")).encodedLine()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        expiry = context.eventLoop.scheduleTask(in: timeout - spent) {
            bound.value.writeAndFlush(NIOAny(ByteBuffer(string: line + "\n"))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    private func stopWaiting() {
        if let since = waitingSince { spent = spent + (.now() - since) }
        waitingSince = nil
        expiry?.cancel()
        expiry = nil
    }
}
