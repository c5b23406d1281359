import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import ConveyorDaemon

/// The admin socket's framing without a socket: lines split on `\n` however the bytes
/// arrive, a `\r` before it dropped, invalid UTF-8 reported, an over-long line refused
/// without being buffered, and a last line without a newline reported, never delivered.
@Suite struct LineFrameDecoderTests {
    private func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    /// `ByteToMessageDecoderVerifier` feeds every pair whole, byte by byte and all at once,
    /// in shuffled orders, through one decoder.
    @Test func linesSplitOnNewlinesHoweverTheBytesArrive() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                ("ping\n", [.line("ping")]),
                ("status\r\n", [.line("status")]),
                ("\n", [.line("")]),
                ("\r\n", [.line("")]),
                ("a\rb\n", [.line("a\rb")]),
                ("job.list state=dead\nrep.add name=\"Иван Петров\"\n", [.line("job.list state=dead"), .line("rep.add name=\"Иван Петров\"")]),
                ("\(String(repeating: "x", count: 64))\n", [.line(String(repeating: "x", count: 64))]),
                ("é\r\r\n", [.line("é\r")]),
            ],
            decoderFactory: { LineFrameDecoder(maxLength: 64) })
    }

    @Test func invalidUTF8IsReportedAndTheNextLineStillDecodes() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (buffer([0xFF, 0xFE, 0x0A]), [.invalidUTF8]),
                (buffer([0x61, 0xC3, 0x0A]), [.invalidUTF8]),  // a truncated two-byte sequence
                (buffer(Array("ok\n".utf8)), [.line("ok")]),
            ],
            decoderFactory: { LineFrameDecoder(maxLength: 16) })
    }

    /// A channel with the decoder as the admin server installs it.
    private func channel(maxLength: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: maxLength)))
        return channel
    }

    private func lines(_ channel: EmbeddedChannel) throws -> [AdminLine] {
        var lines: [AdminLine] = []
        while let line = try channel.readInbound(as: AdminLine.self) { lines.append(line) }
        return lines
    }

    @Test func aLineOverTheLimitIsTooLongOnceAndTheRestIsDiscarded() throws {
        let whole = try channel(maxLength: 8)
        try whole.writeInbound(buffer(Array("ping\n123456789\nping\n".utf8)))
        #expect(try lines(whole) == [.line("ping"), .tooLong])
        try whole.writeInbound(buffer(Array("ping\n".utf8)))
        #expect(try lines(whole) == [], "nothing more is read from that connection")
        #expect(try whole.finish().isClean)
    }

    /// A line that never ends is refused as soon as it passes the limit, before its newline:
    /// its bytes are dropped, never kept.
    @Test func anEndlessLineIsRefusedWithoutBufferingIt() throws {
        let channel = try channel(maxLength: 8)
        try channel.writeInbound(buffer(Array("12345678".utf8)))
        #expect(try lines(channel) == [], "exactly the limit: still waiting for the newline")
        try channel.writeInbound(buffer(Array("9".utf8)))
        #expect(try lines(channel) == [.tooLong])
        for _ in 0..<100 { try channel.writeInbound(buffer(Array(repeating: UInt8(ascii: "x"), count: 1000))) }
        #expect(try lines(channel) == [])
        #expect(try channel.finish().isClean)
    }

    @Test func theLimitCountsBytesNotCharactersAndExcludesTheNewline() throws {
        let channel = try channel(maxLength: 8)
        try channel.writeInbound(buffer(Array("éééé\n".utf8)))  // 8 bytes
        #expect(try lines(channel) == [.line("éééé")])
        try channel.writeInbound(buffer(Array("ééééé\n".utf8)))  // 10 bytes
        #expect(try lines(channel) == [.tooLong])
    }

    /// The `\r` of a CRLF line counts towards the limit (it is dropped only after the check).
    @Test func aCarriageReturnCountsTowardsTheLimit() throws {
        let channel = try channel(maxLength: 8)
        try channel.writeInbound(buffer(Array("12345678\r\n".utf8)))
        #expect(try lines(channel) == [.tooLong])
    }

    @Test func aPartialLineWaitsAndAnUnterminatedLastLineIsNeverARequest() throws {
        let channel = try channel(maxLength: 16)
        try channel.writeInbound(buffer(Array("pi".utf8)))
        #expect(try lines(channel) == [])
        try channel.writeInbound(buffer(Array("ng\nsta".utf8)))
        #expect(try lines(channel) == [.line("ping")])
        try channel.writeInbound(buffer(Array("tus".utf8)))
        #expect(try lines(channel) == [])
        // The client closes without a final newline: "status" may be the start of "status.x".
        _ = try channel.finish()
        #expect(try lines(channel) == [.unterminated])
    }

    /// What the admin server sees when a client shuts down its writing side.
    @Test func halfClosingTheInputEndsTheLinesTheSameWay() throws {
        let channel = try channel(maxLength: 32)
        try channel.writeInbound(buffer(Array("ping\ndrain".utf8)))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try lines(channel) == [.line("ping"), .unterminated])
    }

    @Test func blanksAfterTheLastNewlineAreNothing() throws {
        let channel = try channel(maxLength: 16)
        try channel.writeInbound(buffer(Array("ping\n \t\r".utf8)))
        _ = try channel.finish()
        #expect(try lines(channel) == [.line("ping")])
    }

    @Test func aPartialLineOfInvalidUTF8AtTheEndIsUnterminated() throws {
        let channel = try channel(maxLength: 16)
        try channel.writeInbound(buffer([0x6F, 0x6B, 0x0A, 0xC3]))
        _ = try channel.finish()
        #expect(try lines(channel) == [.line("ok"), .unterminated])
    }

    @Test func nothingIsDeliveredAfterAnOverflowEvenAtTheEnd() throws {
        let channel = try channel(maxLength: 4)
        try channel.writeInbound(buffer(Array("12345".utf8)))
        try channel.writeInbound(buffer(Array("\nping".utf8)))
        _ = try channel.finish()
        #expect(try lines(channel) == [.tooLong])
    }

    @Test func aTLSHandshakeIsAnotherProtocolAndNothingAfterItIsRead() throws {
        let whole = try channel(maxLength: 64)
        try whole.writeInbound(buffer([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]))
        try whole.writeInbound(buffer(Array("\n{\"cmd\":\"drain\"}\n".utf8)))
        #expect(try lines(whole) == [.foreignProtocol("TLS")])
        // byte by byte: the first byte alone is not yet a verdict
        let split = try channel(maxLength: 64)
        try split.writeInbound(buffer([0x16]))
        #expect(try lines(split) == [])
        try split.writeInbound(buffer([0x03]))
        #expect(try lines(split) == [.foreignProtocol("TLS")])
    }

    @Test func anHTTPRequestLineFirstIsAnotherProtocolAndItsBodyIsNeverRead() throws {
        let channel = try channel(maxLength: 64)
        try channel.writeInbound(buffer(Array("POST / HTTP/1.1\r\nHost: localhost\r\n\r\n{\"cmd\":\"drain\"}\n".utf8)))
        #expect(try lines(channel) == [.foreignProtocol("HTTP")])
    }

    @Test func onlyTheFirstLineIsCheckedForAnotherProtocol() throws {
        let channel = try channel(maxLength: 64)
        try channel.writeInbound(buffer(Array("ping\nGET / HTTP/1.1\n".utf8) + [0x16, 0x03, 0x0A]))
        #expect(try lines(channel) == [.line("ping"), .line("GET / HTTP/1.1"), .line("\u{16}\u{3}")])
    }

    @Test(arguments: [
        ("GET / HTTP/1.1", true), ("POST /v1/drain HTTP/1.0", true), ("PRI * HTTP/2.0", true),
        ("get / HTTP/1.1", false), ("GET /", false), ("GET / HTTP/", false), ("GET  / HTTP/1.1", false),
        ("status", false), ("rep.add team=rail ref=GET", false), ("GET / HTTP/1.1 x", false),
    ])
    func httpRequestLines(line: String, isHTTP: Bool) {
        #expect(LineFrameDecoder.isHTTPRequestLine(line) == isHTTP)
    }
}
