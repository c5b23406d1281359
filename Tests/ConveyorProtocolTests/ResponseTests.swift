import ConveyorProtocol
import Testing

@Suite struct ResponseTests {
    @Test func exactLayouts() {
        #expect(
            Response.ok(id: "c1", result: ["pong": true]).encodedLine()
                == #"{"id":"c1","ok":true,"result":{"pong":true}}"#)
        #expect(Response.ok(id: nil, result: [:]).encodedLine() == #"{"ok":true,"result":{}}"#)
        #expect(
            Response.error(id: 4, ProtocolError(.notFound, "no team \"rail\"")).encodedLine()
                == #"{"id":4,"ok":false,"error":{"code":"not_found","message":"no team \"rail\""}}"#)
        #expect(
            Response.error(id: nil, ProtocolError(.tooLarge, "line too long")).encodedLine()
                == #"{"ok":false,"error":{"code":"too_large","message":"line too long"}}"#)
        #expect(Response.event(id: "w", ["kind": "handoff"]).encodedLine() == #"{"id":"w","event":{"kind":"handoff"}}"#)
    }

    @Test(arguments: [
        Response.ok(id: "c1", result: ["text": "# HELP x\n# TYPE x counter\nx 1\n"]),
        .ok(id: nil, result: ["teams": [["name": "rail", "paused": false, "capacity": 40, "ratio": 0.5]]]),
        .ok(id: 1.5, result: "scalar"),
        .error(id: "c2", ProtocolError(.internal, "multi\nline\r\n\r\u{2028}message \u{0}")),
        .error(id: nil, ProtocolError(.shuttingDown, "")),
        .event(id: 7, ["alert": ["id": 3, "status": "open"]]),
    ])
    func oneLineThatRoundTrips(response: Response) throws {
        let line = response.encodedLine()
        #expect(isOneLine(line))
        #expect(try Response.parse(line: line) == response)
    }

    @Test func everyErrorCodeRoundTrips() throws {
        for code in ErrorCode.allCases {
            let response = Response.error(id: "x", ProtocolError(code, code.rawValue))
            #expect(try Response.parse(line: response.encodedLine()) == response)
        }
    }

    @Test func keyOrderAndNullIDDoNotMatter() throws {
        #expect(try Response.parse(line: #"{"result":[1],"ok":true,"id":null}"#) == .ok(id: nil, result: [1]))
        #expect(try Response.parse(line: #"{"event":null,"id":"w"}"#) == .event(id: "w", .null))
    }

    @Test func idAccessor() {
        #expect(Response.ok(id: "a", result: .null).id == "a")
        #expect(Response.error(id: 2, ProtocolError(.timeout, "slow")).id == 2)
        #expect(Response.event(id: nil, [:]).id == nil)
    }

    @Test(arguments: [
        (#"{"ok":true"#, ErrorCode.parseError), ("pong", .parseError), ("[]", .badRequest), (#""ok""#, .badRequest),
        (#"{"ok":"yes","result":1}"#, .badRequest), (#"{"ok":true}"#, .badRequest), (#"{"ok":false}"#, .badRequest),
        (#"{"ok":false,"error":{"code":"nope","message":"m"}}"#, .badRequest),
        (#"{"ok":false,"error":{"code":"internal"}}"#, .badRequest), (#"{"id":1}"#, .badRequest),
    ])
    func malformedLinesAreRejected(line: String, code: ErrorCode) {
        #expect(thrownCode { try Response.parse(line: line) } == code)
    }
}

@Suite struct GreetingTests {
    @Test func exactLayoutAndRoundTrip() throws {
        let greeting = Greeting(version: "1.2.3", role: .admin)
        #expect(greeting.encodedLine() == #"{"hello":"conveyord","proto":1,"version":"1.2.3","role":"admin"}"#)
        #expect(try Greeting.parse(line: greeting.encodedLine()) == greeting)
        #expect(greeting.proto == Greeting.currentProto)
        let other = Greeting(version: "9", role: .viewer, proto: 2)
        #expect(try Greeting.parse(line: other.encodedLine()) == other)
    }

    @Test(arguments: [
        #"{"hello":"other","proto":1,"version":"1","role":"admin"}"#,
        #"{"hello":"conveyord","proto":"1","version":"1","role":"admin"}"#,
        #"{"hello":"conveyord","proto":1.0,"version":"1","role":"admin"}"#,
        #"{"hello":"conveyord","proto":1,"role":"admin"}"#,
        #"{"hello":"conveyord","proto":1,"version":"1","role":"root"}"#,
        #"{"ok":false,"error":{"code":"too_many_connections","message":"64 connections"}}"#,
    ])
    func otherLinesAreNotGreetings(line: String) {
        #expect(thrownCode { try Greeting.parse(line: line) } == .badRequest)
    }
}
