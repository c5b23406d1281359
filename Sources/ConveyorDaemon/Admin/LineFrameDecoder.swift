import NIOCore

/// One framed input line, or what was wrong with it.
enum AdminLine: Sendable, Equatable {
    case line(String)
    case tooLong
    /// The line's bytes are not UTF-8 (never silently replaced).
    case invalidUTF8
    /// The client closed its side after bytes that no newline ended: never
    /// run, since a cut-off line may be a different command.
    case unterminated
}

/// Splits the byte stream on `\n` (a trailing `\r` is dropped) and refuses a
/// line longer than `maxLength` bytes without buffering it: the connection's
/// memory stays bounded whatever a client sends.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = AdminLine
    let maxLength: Int
    private var overflowed = false

    init(maxLength: Int) { self.maxLength = maxLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !overflowed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxLength {
                overflowed = true
                buffer.moveReaderIndex(to: buffer.writerIndex)
                context.fireChannelRead(Self.wrapInboundOut(.tooLong))
            }
            return .needMoreData
        }
        let length = newline - view.startIndex
        guard length <= maxLength else {
            overflowed = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(Self.wrapInboundOut(.tooLong))
            return .needMoreData
        }
        var bytes = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if length > 0, bytes.getInteger(at: bytes.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            bytes.moveWriterIndex(to: bytes.writerIndex - 1)
        }
        context.fireChannelRead(Self.wrapInboundOut(Self.line(bytes.readableBytesView)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        let rest = buffer.readableBytesView
        if !overflowed, rest.contains(where: { !Self.blank.contains($0) }) {
            context.fireChannelRead(Self.wrapInboundOut(.unterminated))
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// Bytes a trailing fragment may hold and still be nothing: spaces, tabs, `\r`.
    private static let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")]

    private static func line(_ bytes: ByteBufferView) -> AdminLine {
        String(validating: bytes, as: UTF8.self).map(AdminLine.line) ?? .invalidUTF8
    }
}
