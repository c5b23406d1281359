import ConveyorProtocol
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONValue(parsing: "1") == .int(1))
        #expect(try JSONValue(parsing: "-0") == .int(0))
        #expect(try JSONValue(parsing: "1.0") == .double(1.0))
        #expect(try JSONValue(parsing: "1e2") == .double(100))
        #expect(try JSONValue(parsing: "9223372036854775807") == .int(.max))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(.min))
        #expect(try JSONValue(parsing: "9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONValue(parsing: "[1,2.5]").compactString == "[1,2.5]")
        #expect(JSONValue.double(1).compactString == "1.0")
        #expect(JSONValue.int(1).compactString == "1")
    }

    /// Numbers with more digits than a double holds: a fraction stays a double, the
    /// nearest one to the digits, and reads back the same once written.
    @Test func longNumbersKeepTheirKindAndNearestValue() throws {
        #expect(try JSONValue(parsing: "1844674407370956.1616") == .double(1_844_674_407_370_956.25))
        #expect(try JSONValue(parsing: "1844674407370956.0") == .double(1_844_674_407_370_956))
        #expect(try JSONValue(parsing: "-1844674407370956.0") == .double(-1_844_674_407_370_956))
        #expect(try JSONValue(parsing: "100000000000000000000.0") == .double(1e20))
        #expect(try JSONValue(parsing: "1844674407370956") == .int(1_844_674_407_370_956))
        for text in ["1844674407370956.1616", "1844674407370956.0", "-9223372036854775808", "123456789012345678901"] {
            let value = try JSONValue(parsing: text)
            #expect(try JSONValue(parsing: value.compactString) == value, "\(text) → \(value.compactString)")
        }
    }

    @Test func boolsAreNotNumbers() throws {
        #expect(try JSONValue(parsing: "[true,false,1,0]") == [true, false, 1, 0])
        #expect(try JSONValue(parsing: "true").intValue == nil)
        #expect(try JSONValue(parsing: "1").boolValue == nil)
        #expect(JSONValue.bool(true) != .int(1))
    }

    @Test func compactStringIsSortedAndSpaceless() throws {
        let value: JSONValue = ["b": [1, 2.5, true, .null], "a": "x", "c": ["z": [:], "y": []]]
        #expect(value.compactString == #"{"a":"x","b":[1,2.5,true,null],"c":{"y":[],"z":{}}}"#)
        #expect(try JSONValue(parsing: " {\n\"b\" : 1 , \"a\" : [ ] }\r\n").compactString == #"{"a":[],"b":1}"#)
    }

    @Test func controlCharactersAndSeparatorsAreEscaped() throws {
        let text = "a\"b\\c\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}\u{85}\u{2028}\u{2029}é😀/"
        let encoded = JSONValue.string(text).compactString
        #expect(encoded == #""a\"b\\c\n\r\t\b\f\u0000\u001f\u007f\u0085\u2028\u2029é😀/""#)
        #expect(try JSONValue(parsing: encoded) == .string(text))
    }

    @Test func nonFiniteDoublesBecomeNull() {
        #expect(
            JSONValue.array([.double(.nan), .double(.infinity), .double(-.infinity)]).compactString
                == "[null,null,null]")
    }

    @Test(arguments: [
        JSONValue.null, true, false, 0, -42, .int(.max), .int(.min), 0.5, -0.0, 1e300, .double(.leastNonzeroMagnitude),
        1.0, "", "line\nbreak",
        ["nested": ["deep": [1, "two", 3.0, .null, false]], "empty": [:], "list": []],
    ])
    func roundTripsThroughText(value: JSONValue) throws {
        let text = value.compactString
        #expect(isOneLine(text))
        #expect(try JSONValue(parsing: text) == value)
    }

    @Test func invalidUTF8BecomesValidJSON() throws {
        let garbled = String(
            decoding: [0x61, 0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80, 0x62] as [UInt8], as: UTF8.self)
        let text = JSONValue.string(garbled).compactString
        #expect(String(validating: Array(text.utf8), as: UTF8.self) != nil)
        #expect(try JSONValue(parsing: text) == .string(garbled))
    }

    @Test(arguments: ["", "{", "}", "[", "nul", "tru", "{\"a\":}", "\"open", "'single'", "{a:1}", "1 2", "\u{0}"])
    func invalidTextIsAParseError(text: String) {
        #expect(thrownCode { try JSONValue(parsing: text) } == .parseError)
    }

    @Test func deepNestingIsRejectedWithoutCrashing() {
        let opened = String(repeating: "[", count: 10000)
        for text in [opened, opened + String(repeating: "]", count: 10000), "{\"a\":" + opened] {
            #expect(thrownCode { try JSONValue(parsing: text) } == .parseError)
        }
    }

    @Test func megabyteStringsParse() throws {
        let big = String(repeating: "x", count: 1 << 20)
        let value = try JSONValue(parsing: JSONValue.string(big).compactString)
        #expect(value.stringValue?.utf8.count == 1 << 20)
    }

    @Test func accessors() {
        let value: JSONValue = ["s": "text", "i": 7, "d": 2.5, "b": true, "a": [1], "o": ["k": .null]]
        #expect(value["s"]?.stringValue == "text")
        #expect(value["i"]?.intValue == 7)
        #expect(value["i"]?.doubleValue == 7)
        #expect(value["d"]?.doubleValue == 2.5)
        #expect(value["d"]?.intValue == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["o"]?.objectValue == ["k": .null])
        #expect(value["s"]?.intValue == nil)
        #expect(value["missing"] == nil)
        #expect(JSONValue.string("x")["s"] == nil)
    }

    @Test func codableRoundTripInsideAnotherType() throws {
        struct Envelope: Codable, Equatable {
            var payload: JSONValue
        }
        let envelope = Envelope(payload: ["n": 3, "x": 0.25, "b": false, "s": "é", "l": [.null, "a"]])
        let data = try JSONEncoder().encode(envelope)
        #expect(try JSONDecoder().decode(Envelope.self, from: data) == envelope)
    }
}
