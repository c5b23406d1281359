import ConveyorProtocol
import Testing

@Suite struct RequestJSONFormTests {
    @Test func fullRequest() throws {
        let request = try Request.parse(
            line: #"{"id":"c1","cmd":"rep.add","args":{"team":"rail","capacity":40,"remote":true}}"#)
        #expect(request == Request(id: "c1", cmd: "rep.add", args: ["team": "rail", "capacity": 40, "remote": true]))
    }

    @Test(arguments: [
        (#"{"id":"c1","cmd":"ping"}"#, JSONValue.string("c1")),
        (#"{"id":7,"cmd":"ping"}"#, .int(7)),
        (#"{"id":-2.5,"cmd":"ping"}"#, .double(-2.5)),
        (#"{"cmd":"ping","id":""}"#, .string("")),
    ])
    func idIsKeptForTheEcho(line: String, id: JSONValue) throws {
        #expect(try Request.parse(line: line).id == id)
    }

    @Test func absentOrNullOptionalMembers() throws {
        for line in [#"{"cmd":"ping"}"#, #"{"cmd":"ping","id":null,"args":null}"#, #"{"cmd":"ping","args":{}}"#] {
            #expect(try Request.parse(line: line) == Request(cmd: "ping"))
        }
    }

    @Test func whitespaceAroundTheObjectAndUnknownMembersAreAccepted() throws {
        let request = try Request.parse(line: " \t{\"cmd\" : \"status\", \"future\": [1]}\r")
        #expect(request == Request(cmd: "status"))
    }

    @Test(arguments: [
        "{", "{\"cmd\":\"ping\"", "{\"cmd\":\"ping\"}}", "{'cmd':'ping'}", "{cmd:ping}",
        "{\u{0}\u{1}\u{FF}", "{\"cmd\":\"ping\"} trailing",
    ])
    func invalidJSONIsAParseError(line: String) {
        #expect(requestErrorCode(line) == .parseError)
    }

    @Test(arguments: [
        #"{}"#, #"{"cmd":5}"#, #"{"cmd":null}"#, #"{"cmd":["ping"]}"#, #"{"cmd":""}"#, #"{"cmd":"Ping"}"#,
        #"{"cmd":"rep add"}"#, #"{"cmd":"rep/add"}"#, #"{"cmd":"pïng"}"#, #"{"cmd":"ping","id":true}"#,
        #"{"cmd":"ping","id":[1]}"#, #"{"cmd":"ping","id":{}}"#, #"{"cmd":"ping","args":[]}"#,
        #"{"cmd":"ping","args":"team=rail"}"#, #"{"cmd":"ping","args":1}"#,
    ])
    func wellFormedButInvalidIsABadRequest(line: String) {
        #expect(requestErrorCode(line) == .badRequest)
    }

    /// Foundation keeps one of two equal keys silently; `{"cmd":"ping","cmd":"shutdown"}`
    /// once shut the daemon down. Keys are compared unescaped, at every depth.
    @Test(arguments: [
        #"{"cmd":"ping","cmd":"shutdown"}"#, #"{"cmd":"ping","\u0063md":"shutdown"}"#,
        #"{"cmd":"ping","args":{"team":"a","team":"b"}}"#, #"{"id":1,"cmd":"ping","id":2}"#,
    ])
    func aRepeatedKeyIsAParseError(line: String) {
        #expect(requestErrorCode(line) == .parseError)
    }

    /// `{"a":"嵢嵝"}` in UTF-16LE is all ASCII bytes, but Foundation, seeing the NULs, reads
    /// it as UTF-16: a parse error, never a structure read two ways (which once trapped).
    @Test func nulBytesAreAParseError() {
        let utf16 = String(decoding: [0x7B, 0x00, 0x22, 0x00, 0x61, 0x00, 0x22, 0x00, 0x3A, 0x00, 0x22, 0x00,
                                      0x22, 0x5D, 0x5D, 0x5D, 0x22, 0x00, 0x7D, 0x00] as [UInt8], as: UTF8.self)
        #expect(requestErrorCode(utf16) == .parseError)
        #expect(requestErrorCode("{\"cmd\":\"ping\"}\u{0}") == .parseError)
    }

    @Test func equalKeysInDifferentObjectsAreFine() throws {
        let value = try JSONValue(parsing: #"{"a":{"a":1},"b":[{"k":1},{"k":2}],"c\"d":"\"a\":","e":[["a","a"]]}"#)
        #expect(value["a"]?["a"] == 1)
        #expect(value["c\"d"] == "\"a\":")
    }

    /// An id the daemon could not echo exactly is refused rather than echoed changed.
    @Test(arguments: [#"{"id":18446744073709551616,"cmd":"ping"}"#, #"{"id":1e300,"cmd":"ping"}"#, #"{"id":-9007199254740993.5,"cmd":"ping"}"#])
    func anIdBeyondWhatEchoesExactlyIsABadRequest(line: String) {
        #expect(requestErrorCode(line) == .badRequest)
    }

    @Test func commandNameLength() throws {
        let longest = String(repeating: "a", count: 100)
        #expect(try Request.parse(line: #"{"cmd":"\#(longest)"}"#).cmd == longest)
        #expect(requestErrorCode(#"{"cmd":"\#(longest)a"}"#) == .badRequest)
        #expect(try Request.parse(line: #"{"cmd":"a.b_c-9"}"#).cmd == "a.b_c-9")
    }

    @Test func deepNestingInArgsIsAParseError() {
        let line = #"{"cmd":"ping","args":{"x":"# + String(repeating: "[", count: 10000)
        #expect(requestErrorCode(line) == .parseError)
    }

    @Test func megabyteValue() throws {
        let big = String(repeating: "é", count: 1 << 19)  // 1 MiB of UTF-8
        let request = try Request.parse(line: Request(cmd: "win", args: ["name": .string(big)]).encodedLine())
        #expect(request.args["name"]?.stringValue == big)
    }

    @Test func encodedLineIsExactAndRoundTrips() throws {
        #expect(Request(id: "c1", cmd: "status").encodedLine() == #"{"id":"c1","cmd":"status","args":{}}"#)
        #expect(
            Request(cmd: "team.add", args: ["time_zone": "UTC", "name": "rail"]).encodedLine()
                == #"{"cmd":"team.add","args":{"name":"rail","time_zone":"UTC"}}"#)
        let tricky = Request(id: 3, cmd: "win", args: ["name": "A \"quoted\"\nname", "empty": ""])
        #expect(isOneLine(tricky.encodedLine()))
        #expect(try Request.parse(line: tricky.encodedLine()) == tricky)
    }

    @Test func echoIDOfRejectedLines() {
        #expect(Request.echoID(fromLine: #"{"id":"c7","cmd":5}"#) == "c7")
        #expect(Request.echoID(fromLine: #"{"id":9,"args":[]}"#) == 9)
        #expect(Request.echoID(fromLine: #"{"id":[1],"cmd":"ping"}"#) == nil)
        #expect(Request.echoID(fromLine: #"{"id":"c7""#) == nil)
        #expect(Request.echoID(fromLine: "ping id=c7") == nil)
    }
}

@Suite struct RequestWordsFormTests {
    @Test func commandAlone() throws {
        #expect(try Request.parse(line: "status") == Request(cmd: "status"))
        #expect(try Request.parse(line: "  ping \r") == Request(cmd: "ping"))
    }

    @Test func keyValuePairsAreStrings() throws {
        let request = try Request.parse(line: "rep.add team=rail ref=ivan role=account_manager capacity=40")
        #expect(
            request
                == Request(
                    cmd: "rep.add", args: ["team": "rail", "ref": "ivan", "role": "account_manager", "capacity": "40"]))
    }

    @Test func quotesAndEscapes() throws {
        let request = try Request.parse(
            line: #"rep.add name="Ivan Petrov" "note=a b" quote="say \"hi\"" path="c:\\dir" nl="1\n2\t3\r" other="\x""#)
        #expect(
            request.args == [
                "name": "Ivan Petrov", "note": "a b", "quote": "say \"hi\"", "path": "c:\\dir", "nl": "1\n2\t3\r",
                "other": "x",
            ])
    }

    @Test func separatorsInsideQuotesAreLiteral() throws {
        let request = try Request.parse(line: #"win name="a=b  c" needs=x="y z""#)
        #expect(request.args == ["name": "a=b  c", "needs": "x=y z"])
    }

    @Test func emptyValuesAndTabs() throws {
        let request = try Request.parse(line: "team.update\tname=rail\t time_zone= scan_local_time=\"\"")
        #expect(request.args == ["name": "rail", "time_zone": "", "scan_local_time": ""])
    }

    @Test func backslashOutsideQuotesIsLiteral() throws {
        #expect(try Request.parse(line: #"job.list state=a\b"#).args == ["state": #"a\b"#])
    }

    @Test(arguments: [#"ping name="open"#, #"ping name="ends with backslash\"#, #"ping ""#, "\""])
    func unterminatedQuoteIsAParseError(line: String) {
        #expect(requestErrorCode(line) == .parseError)
    }

    @Test(arguments: [
        "", " ", "\t\r", "ping bare", "ping team=rail bare", "ping =value", "team=rail ping", "ping a=1 a=2", "PING",
        "rep add", "[]", "[", "}", "\u{0}\u{1}\u{2}",
    ])
    func malformedWordsAreABadRequest(line: String) {
        #expect(requestErrorCode(line) == .badRequest)
    }

    @Test func binaryGarbageIsABadRequest() {
        let bytes = (0...255).map { UInt8(($0 * 7 + 3) % 256) }.filter {
            $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "{")
        }
        #expect(requestErrorCode(String(decoding: bytes, as: UTF8.self)) == .badRequest)
        #expect(requestErrorCode(String(decoding: [0xC3, 0x28, 0xFF, 0xFE] as [UInt8], as: UTF8.self)) == .badRequest)
        #expect(requestErrorCode(String(repeating: "[", count: 10000)) == .badRequest)
    }

    @Test func megabyteValuesAndShortErrorMessages() throws {
        let big = String(repeating: "v", count: 1 << 20)
        #expect(try Request.parse(line: "win name=\(big)").args["name"] == .string(big))
        #expect(try Request.parse(line: "win name=\"\(big) \(big)\"").args["name"] == .string("\(big) \(big)"))
        do {
            _ = try Request.parse(line: "ping " + big)
            Issue.record("a bare word was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message.count < 200)
        }
    }
}
