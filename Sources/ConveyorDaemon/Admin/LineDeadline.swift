import ConveyorProtocol
import NIOCore

/// Closes a connection whose request line has not arrived whole within
/// `timeout` of its first byte, after one `timeout` error line. Bytes are
/// passed on untouched; only whether a line is in progress is tracked, so a
/// client that keeps sending a byte at a time cannot hold a connection.
final class LineDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let timeout: TimeAmount
    private var expiry: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView
        if let newline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            // A line ended: the clock runs again only for what follows it.
            expiry?.cancel()
            expiry = nil
            if newline < bytes.endIndex - 1 { start(context) }
        } else if !bytes.isEmpty, expiry == nil {
            start(context)
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        expiry?.cancel()
    }

    private func start(_ context: ChannelHandlerContext) {
        let seconds = Double(timeout.nanoseconds) / 1e9
        let line = Response.error(id: nil, ProtocolError(.timeout, "request line not complete within \(seconds) s; closing")).encodedLine()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        expiry = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.writeAndFlush(NIOAny(ByteBuffer(string: line + "\n"))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
