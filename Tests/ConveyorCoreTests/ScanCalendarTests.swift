import ConveyorCore
import Foundation
import SeededRandom
import Testing

/// The nightly scan's calendar with an injected `now`: DST change days
/// (a time inside the gap, inside the repeated hour, and outside), odd
/// offsets, catch-up after downtime, day edges and garbage.
@Suite struct ScanCalendarTests {
    static func calendar(_ zone: String, _ hour: Int, _ minute: Int, _ second: Int = 0) throws -> ScanCalendar {
        try ScanCalendar(timeZone: zone, hour: hour, minute: minute, second: second)
    }

    static func date(_ year: Int, _ month: Int, _ day: Int) -> LocalDate {
        LocalDate(year: year, month: month, day: day)!
    }

    static func instant(_ text: String) -> Date {
        ISO8601.parse(text)!
    }

    // MARK: DST change days and odd offsets

    /// One day's expected scan: in `zone` at `time` (HH:MM:SS) on `date`,
    /// the UTC instant and the local wall clock it shows.
    struct Case: Sendable, CustomTestStringConvertible {
        let zone: String
        let time: String
        let date: String
        let utc: String
        let local: String
        let why: String

        var testDescription: String { "\(zone) \(date) \(time): \(why)" }
    }

    static let cases = [
        // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
        Case(zone: "Europe/Berlin", time: "02:30:00", date: "2026-03-29", utc: "01:00:00", local: "03:00:00", why: "in the gap"),
        Case(zone: "Europe/Berlin", time: "02:00:00", date: "2026-03-29", utc: "01:00:00", local: "03:00:00", why: "the gap's start"),
        Case(zone: "Europe/Berlin", time: "01:59:59", date: "2026-03-29", utc: "00:59:59", local: "01:59:59", why: "before the gap"),
        Case(zone: "Europe/Berlin", time: "04:00:00", date: "2026-03-29", utc: "02:00:00", local: "04:00:00", why: "after the gap"),
        Case(zone: "Europe/Berlin", time: "02:30:00", date: "2026-03-28", utc: "01:30:00", local: "02:30:00", why: "the day before"),
        Case(zone: "Europe/Berlin", time: "02:30:00", date: "2026-03-30", utc: "00:30:00", local: "02:30:00", why: "the day after"),
        // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 happens at 00:30 and 01:30 UTC.
        Case(zone: "Europe/Berlin", time: "02:30:00", date: "2026-10-25", utc: "00:30:00", local: "02:30:00", why: "repeated: the first"),
        Case(zone: "Europe/Berlin", time: "03:00:00", date: "2026-10-25", utc: "02:00:00", local: "03:00:00", why: "the repeat's end"),
        Case(zone: "Europe/Berlin", time: "04:00:00", date: "2026-10-25", utc: "03:00:00", local: "04:00:00", why: "after the repeat"),
        // 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
        Case(zone: "America/New_York", time: "02:30:00", date: "2026-03-08", utc: "07:00:00", local: "03:00:00", why: "in the gap"),
        Case(zone: "America/New_York", time: "01:00:00", date: "2026-03-08", utc: "06:00:00", local: "01:00:00", why: "before the gap"),
        Case(zone: "America/New_York", time: "03:30:00", date: "2026-03-08", utc: "07:30:00", local: "03:30:00", why: "after the gap"),
        // 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC; 01:30 happens at 05:30 and 06:30 UTC.
        Case(zone: "America/New_York", time: "01:30:00", date: "2026-11-01", utc: "05:30:00", local: "01:30:00", why: "repeated: the first"),
        Case(zone: "America/New_York", time: "02:30:00", date: "2026-11-01", utc: "07:30:00", local: "02:30:00", why: "after the repeat"),
        Case(zone: "America/New_York", time: "00:30:00", date: "2026-11-01", utc: "04:30:00", local: "00:30:00", why: "before the repeat"),
        // 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11:00) at 15:30 UTC the day before.
        Case(zone: "Australia/Lord_Howe", time: "02:15:00", date: "2026-10-04", utc: "-15:30:00", local: "02:30:00", why: "in the half-hour gap"),
        Case(zone: "Australia/Lord_Howe", time: "02:30:00", date: "2026-10-04", utc: "-15:30:00", local: "02:30:00", why: "the gap's end"),
        // 2026-04-05: 02:00 (+11:00) becomes 01:30 (+10:30); 01:45 happens at 14:45 and 15:15 UTC.
        Case(zone: "Australia/Lord_Howe", time: "01:45:00", date: "2026-04-05", utc: "-14:45:00", local: "01:45:00", why: "repeated: the first"),
        Case(zone: "Australia/Lord_Howe", time: "03:00:00", date: "2026-04-05", utc: "-16:30:00", local: "03:00:00", why: "after the repeat"),
        Case(zone: "Asia/Kathmandu", time: "02:00:00", date: "2026-06-01", utc: "-20:15:00", local: "02:00:00", why: "+05:45"),
        Case(zone: "UTC", time: "02:00:00", date: "2026-06-01", utc: "02:00:00", local: "02:00:00", why: "no offset"),
    ]

    /// `utc` is on `date`, or on the day before when it starts with `-`.
    @Test(arguments: cases)
    func theDaysScanFallsOn(_ expected: Case) throws {
        let parts = expected.time.split(separator: ":").map { Int($0)! }
        let calendar = try Self.calendar(expected.zone, parts[0], parts[1], parts[2])
        let day = expected.date.split(separator: "-").map { Int($0)! }
        let date = Self.date(day[0], day[1], day[2])
        let utcDate = expected.utc.hasPrefix("-") ? date.adding(days: -1) : date
        let occurrence = calendar.occurrence(on: date)
        #expect(occurrence.localDate == date)
        #expect(ISO8601.string(occurrence.instant) == "\(utcDate)T\(expected.utc.drop { $0 == "-" }).000Z")
        #expect(calendar.localTimestamp(of: occurrence.instant) == "\(expected.date)T\(expected.local)")
    }

    @Test func aRepeatedTimeRunsOnceAtTheFirst() throws {
        let calendar = try Self.calendar("Europe/Berlin", 2, 30)
        // At the second 02:30 of 2026-10-25 the day's scan is already behind: the next is tomorrow's.
        let secondTime = Self.instant("2026-10-25T01:30:00Z")
        #expect(calendar.latest(atOrBefore: secondTime).localDate == Self.date(2026, 10, 25))
        #expect(ISO8601.string(calendar.next(after: secondTime).instant) == "2026-10-26T01:30:00.000Z")
    }

    @Test func localDatesChangeAtLocalMidnight() throws {
        let kathmandu = try Self.calendar("Asia/Kathmandu", 2, 0)
        #expect(kathmandu.localDate(of: Self.instant("2026-05-31T18:14:59Z")) == Self.date(2026, 5, 31))
        #expect(kathmandu.localDate(of: Self.instant("2026-05-31T18:15:00Z")) == Self.date(2026, 6, 1))
        let utc = try Self.calendar("UTC", 2, 0)
        #expect(utc.latest(atOrBefore: Self.instant("2026-06-01T01:59:59Z")).localDate == Self.date(2026, 5, 31))
        #expect(utc.next(after: Self.instant("2026-06-01T01:59:59Z")).localDate == Self.date(2026, 6, 1))
    }

    // MARK: catch-up

    @Test func aDayDownCatchesUpOnce() throws {
        let calendar = try Self.calendar("Europe/Berlin", 2, 0)
        let created = Self.instant("2026-01-01T00:00:00Z")
        // The 2nd was missed; back on the 3rd at noon: only the 3rd is due.
        let due = calendar.due(at: Self.instant("2026-06-03T10:00:00Z"), createdAt: created, lastScheduled: Self.date(2026, 6, 1))
        #expect(due?.localDate == Self.date(2026, 6, 3))
        #expect(due.map { ISO8601.string($0.instant) } == "2026-06-03T00:00:00.000Z")
        // Back on the 3rd before 02:00 local: the 2nd's is the latest due.
        #expect(calendar.due(at: Self.instant("2026-06-02T23:30:00Z"), createdAt: created, lastScheduled: Self.date(2026, 6, 1))?
            .localDate == Self.date(2026, 6, 2))
        // Once scheduled, nothing more is due that day.
        #expect(calendar.due(at: Self.instant("2026-06-03T10:00:00Z"), createdAt: created, lastScheduled: Self.date(2026, 6, 3)) == nil)
    }

    @Test func aWeekDownGivesOneScanTheLatest() throws {
        let calendar = try Self.calendar("Europe/Berlin", 2, 0)
        let created = Self.instant("2026-01-01T00:00:00Z")
        let back = Self.instant("2026-06-09T10:00:00Z")
        let due = calendar.due(at: back, createdAt: created, lastScheduled: Self.date(2026, 6, 1))
        #expect(due?.localDate == Self.date(2026, 6, 9))
        #expect(calendar.due(at: back.addingTimeInterval(30), createdAt: created, lastScheduled: due?.localDate) == nil)
    }

    /// A scheduler ticking every 20 minutes for two months across the spring
    /// change, down for a week in the middle: every local date gets exactly
    /// one scan, at or after its time, except that the week down gives one.
    @Test func aSimulatedSchedulerSchedulesEachDateOnce() throws {
        let calendar = try Self.calendar("Europe/Berlin", 2, 30)
        let start = Self.instant("2026-03-01T12:00:00Z")
        let down = Self.instant("2026-03-10T12:00:00Z")..<Self.instant("2026-03-17T12:00:00Z")
        var scheduled: [LocalDate] = []
        var now = start
        while now < Self.instant("2026-05-01T00:00:00Z") {
            if !down.contains(now), let due = calendar.due(at: now, createdAt: start, lastScheduled: scheduled.last) {
                #expect(due.instant <= now && now.timeIntervalSince(due.instant) < (due.localDate == Self.date(2026, 3, 17) ? 86_400 : 1200))
                scheduled.append(due.localDate)
            }
            now = now.addingTimeInterval(1200)
        }
        let expected = (2...10).map { Self.date(2026, 3, $0) } + (17...31).map { Self.date(2026, 3, $0) }
            + (1...30).map { Self.date(2026, 4, $0) }
        #expect(scheduled == expected)
    }

    @Test func aTeamCreatedAfterTodaysTimeWaitsForTomorrow() throws {
        let calendar = try Self.calendar("UTC", 2, 0)
        let now = Self.instant("2026-06-03T10:00:00Z")
        #expect(calendar.due(at: now, createdAt: Self.instant("2026-06-03T02:00:01Z"), lastScheduled: nil) == nil)
        #expect(calendar.due(at: now, createdAt: Self.instant("2026-06-03T02:00:00Z"), lastScheduled: nil) == nil)
        #expect(calendar.due(at: now, createdAt: Self.instant("2026-06-03T01:59:59Z"), lastScheduled: nil)?.localDate == Self.date(2026, 6, 3))
        #expect(calendar.due(at: Self.instant("2026-06-04T02:00:00Z"), createdAt: Self.instant("2026-06-03T02:00:01Z"), lastScheduled: nil)?
            .localDate == Self.date(2026, 6, 4))
    }

    // MARK: day edges

    @Test func midnight() throws {
        let calendar = try Self.calendar("Europe/Berlin", 0, 0)
        let occurrence = calendar.occurrence(on: Self.date(2026, 6, 2))
        #expect(ISO8601.string(occurrence.instant) == "2026-06-01T22:00:00.000Z")
        #expect(calendar.latest(atOrBefore: occurrence.instant) == occurrence)
        #expect(calendar.latest(atOrBefore: occurrence.instant.addingTimeInterval(-1)).localDate == Self.date(2026, 6, 1))
        #expect(calendar.next(after: occurrence.instant.addingTimeInterval(-0.001)) == occurrence)
        #expect(calendar.next(after: occurrence.instant).localDate == Self.date(2026, 6, 3))
        #expect(calendar.localTimestamp(of: occurrence.instant) == "2026-06-02T00:00:00")
    }

    @Test func oneSecondBeforeMidnight() throws {
        let calendar = try Self.calendar("Europe/Berlin", 23, 59, 59)
        let occurrence = calendar.occurrence(on: Self.date(2026, 6, 2))
        #expect(ISO8601.string(occurrence.instant) == "2026-06-02T21:59:59.000Z")
        #expect(calendar.localDate(of: occurrence.instant) == Self.date(2026, 6, 2))
        #expect(calendar.localDate(of: occurrence.instant.addingTimeInterval(1)) == Self.date(2026, 6, 3))
        #expect(calendar.latest(atOrBefore: occurrence.instant) == occurrence)
        #expect(calendar.latest(atOrBefore: occurrence.instant.addingTimeInterval(-1)).localDate == Self.date(2026, 6, 1))
        #expect(calendar.latest(atOrBefore: occurrence.instant.addingTimeInterval(1)) == occurrence)
        #expect(calendar.localTimestamp(of: occurrence.instant) == "2026-06-02T23:59:59")
    }

    // MARK: every zone

    /// For every zone Foundation knows and random instants of 2020–2030: the
    /// latest occurrence is at or before now, the next after it, on the
    /// following local date; each occurrence shows the wanted wall-clock time,
    /// or else falls on a transition that skipped it.
    @Test func invariantsInEveryKnownZone() throws {
        var random = SplitMix64(state: 12)
        var zones = 0
        for identifier in TimeZone.knownTimeZoneIdentifiers {
            guard let calendar = try? ScanCalendar(
                timeZone: identifier, hour: Int.random(in: 0...23, using: &random),
                minute: Int.random(in: 0...59, using: &random), second: Int.random(in: 0...59, using: &random))
            else { continue }
            zones += 1
            for _ in 0..<20 {
                let now = Date(timeIntervalSince1970: Double.random(in: 1_577_836_800..<1_924_991_999, using: &random))
                let latest = calendar.latest(atOrBefore: now)
                let next = calendar.next(after: now)
                #expect(latest.instant <= now && now < next.instant, "\(identifier) \(now)")
                #expect(next.localDate == latest.localDate.adding(days: 1), "\(identifier) \(now)")
                for occurrence in [latest, next] {
                    let shown = calendar.localTimestamp(of: occurrence.instant)
                    let wanted = "\(occurrence.localDate)T" + Self.clock(calendar.secondsOfDay)
                    let skipped = calendar.timeZone.secondsFromGMT(for: occurrence.instant)
                        != calendar.timeZone.secondsFromGMT(for: occurrence.instant.addingTimeInterval(-1))
                    #expect(shown == wanted || (skipped && shown > wanted), "\(identifier) \(occurrence): \(shown)")
                }
            }
        }
        #expect(zones > 300)
    }

    static func clock(_ seconds: Int) -> String {
        String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }

    // MARK: garbage

    @Test(arguments: ["Mars/Olympus", "", "   ", "GMT+3", "../../etc/passwd", "Europe/Berlin; drop", String(repeating: "A", count: 100)])
    func unknownZonesAreRefusedClearly(_ zone: String) {
        #expect {
            try ScanCalendar(timeZone: zone, hour: 2, minute: 0, second: 0)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == "time_zone" && error.message.hasPrefix("time_zone must be an IANA time zone name")
        }
    }

    @Test(arguments: [(24, 0, 0), (-1, 0, 0), (2, 60, 0), (2, 0, 60), (2, -1, 0), (Int.max, 0, 0)])
    func timesOfDayOutOfRangeAreRefused(_ time: (Int, Int, Int)) {
        #expect {
            try ScanCalendar(timeZone: "UTC", hour: time.0, minute: time.1, second: time.2)
        } throws: { error in
            (error as? ValidationError)?.field == "scan_local_time"
        }
    }

    @Test func surroundingWhitespaceOfAZoneIsTrimmed() throws {
        #expect(try ScanCalendar(timeZone: " Europe/Berlin\n", hour: 2, minute: 0, second: 0).timeZone.identifier == "Europe/Berlin")
    }
}

/// Calendar dates counted in days since 1970-01-01.
@Suite struct LocalDateTests {
    @Test func daysAndDatesRoundTrip() {
        #expect(LocalDate(year: 1970, month: 1, day: 1)?.dayNumber == 0)
        #expect(LocalDate(year: 1969, month: 12, day: 31)?.dayNumber == -1)
        #expect(LocalDate(year: 2000, month: 3, day: 1)?.dayNumber == 11_017)
        #expect(LocalDate(year: 2026, month: 3, day: 29)?.description == "2026-03-29")
        for day in stride(from: -800_000, through: 800_000, by: 997) {
            let date = LocalDate(dayNumber: day)
            #expect(LocalDate(year: date.year, month: date.month, day: date.day) == date)
        }
        #expect(LocalDate(dayNumber: -719_529).description == "-0001-12-31")
    }

    @Test func impossibleDatesAreNil() {
        #expect(LocalDate(year: 2025, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2024, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 1900, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2026, month: 4, day: 31) == nil)
        #expect(LocalDate(year: 2026, month: 13, day: 1) == nil)
        #expect(LocalDate(year: 2026, month: 0, day: 1) == nil)
        #expect(LocalDate(year: 2026, month: 1, day: 0) == nil)
    }

    @Test func orderAndArithmetic() {
        let date = LocalDate(year: 2026, month: 12, day: 31)!
        #expect(date.adding(days: 1) == LocalDate(year: 2027, month: 1, day: 1))
        #expect(date.adding(days: -365) == LocalDate(year: 2025, month: 12, day: 31))
        #expect(date < date.adding(days: 1))
    }
}
