import ConveyorCore
import Testing

@Suite struct QuotingTests {
    @Test func excerptQuotesAndCuts() {
        #expect(Quoting.excerpt("a\nb") == #""a\nb""#)
        #expect(Quoting.excerpt(String(repeating: "z", count: 100), maxCharacters: 3) == #""zzz"…"#)
        #expect(Quoting.excerpt("abc", maxCharacters: 3) == #""abc""#)
    }

    @Test func controlAndSeparatorCharactersAreEscaped() {
        #expect(Quoting.excerpt("\u{0}\u{1B}\u{85}\u{2028}\t\"\\") == #""\u0000\u001b\u0085\u2028\t\"\\""#)
    }

    @Test func timestampsRoundTripAtMillisecondPrecision() throws {
        let date = try #require(ISO8601.parse("2026-12-01T06:40:00.123Z"))
        #expect(ISO8601.string(date) == "2026-12-01T06:40:00.123Z")
        #expect(ISO8601.parse("2026-12-24T18:00:00Z").map(ISO8601.string) == "2026-12-24T18:00:00.000Z")
        #expect(ISO8601.parse("2026-12-24T20:00:00+02:00").map(ISO8601.string) == "2026-12-24T18:00:00.000Z")
        #expect(ISO8601.parse("yesterday") == nil)
        #expect(ISO8601.parse("") == nil)
    }
}
