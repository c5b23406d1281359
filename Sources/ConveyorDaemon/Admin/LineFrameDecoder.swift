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
    /// The connection opened with another protocol's greeting (`HTTP`,
    /// `TLS`): nothing after it is read, so a request body cannot be run.
    case foreignProtocol(String)
}

/// Splits the byte stream on `\n` (a trailing `\r` is dropped) and refuses a
/// line longer than `maxLength` bytes without buffering it: the connection's
/// memory stays bounded whatever a client sends. A connection that opens
/// with a TLS handshake record or an HTTP request line is reported once and
/// the rest of its bytes are discarded.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = AdminLine
    let maxLength: Int
    /// Set after an over-long line or another protocol: the rest is discarded.
    private var discarding = false
    private var sawFirstLine = false

    init(maxLength: Int) { self.maxLength = maxLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !discarding else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        if !sawFirstLine, view.starts(with: Self.tlsHandshake.prefix(view.count)) {
            guard view.count >= Self.tlsHandshake.count else { return .needMoreData }
            return refuse(.foreignProtocol("TLS"), context: context, buffer: &buffer)
        }
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxLength { return refuse(.tooLong, context: context, buffer: &buffer) }
            return .needMoreData
        }
        let length = newline - view.startIndex
        guard length <= maxLength else { return refuse(.tooLong, context: context, buffer: &buffer) }
        var bytes = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if length > 0, bytes.getInteger(at: bytes.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            bytes.moveWriterIndex(to: bytes.writerIndex - 1)
        }
        let line = Self.line(bytes.readableBytesView)
        if !sawFirstLine, length > 0 {
            sawFirstLine = true
            if case .line(let text) = line, Self.isHTTPRequestLine(text) {
                return refuse(.foreignProtocol("HTTP"), context: context, buffer: &buffer)
            }
        }
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    /// Reports `line` and discards everything from here on.
    private mutating func refuse(_ line: AdminLine, context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        discarding = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .needMoreData
    }

    /// A TLS record of type handshake (22), protocol major version 3.
    private static let tlsHandshake: [UInt8] = [0x16, 0x03]

    /// `METHOD target HTTP/1.1` (or any `HTTP/n.n`, such as HTTP/2's `PRI * HTTP/2.0`).
    static func isHTTPRequestLine(_ line: String) -> Bool {
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 3, let method = words.first, !method.isEmpty,
              method.allSatisfy({ $0.isASCII && $0.isUppercase }), !words[1].isEmpty else { return false }
        let version = words[2]
        return version.hasPrefix("HTTP/") && version.dropFirst(5).allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
            && version.count > 5
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        let rest = buffer.readableBytesView
        if !discarding, rest.contains(where: { !Self.blank.contains($0) }) {
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
