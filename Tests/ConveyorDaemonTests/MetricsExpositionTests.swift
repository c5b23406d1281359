import ConveyorStore
import Testing

@testable import ConveyorDaemon

/// The database's share of `metrics` in Prometheus' text format.
@Suite struct MetricsExpositionTests {
    @Test func labelValuesFromDataAreEscaped() {
        #expect(MetricsExposition.escaped(#"rail "east"\n"#) == #"rail \"east\"\\n"#)
        #expect(MetricsExposition.escaped("two\nlines") == #"two\nlines"#)
        #expect(MetricsExposition.escaped("\u{1b}[2J ünïcode") == "\u{1b}[2J ünïcode", "only what the format needs")
    }

    @Test func samplesAreSpelledAsTheFormatWants() {
        #expect(MetricsExposition.number(3) == "3")
        #expect(MetricsExposition.number(0.25) == "0.25")
        #expect(MetricsExposition.number(.nan) == "NaN")
        #expect(MetricsExposition.number(.infinity) == "+Inf")
        #expect(MetricsExposition.number(-.infinity) == "-Inf")
    }

    @Test func anUnreadableDatabaseIsUpZeroAndNothingElse() {
        #expect(MetricsExposition.text(nil) == """
            # HELP conveyor_database_up 1 when the database answered this scrape
            # TYPE conveyor_database_up gauge
            conveyor_database_up 0

            """)
    }
}
