import Foundation

/// When a team's nightly scan falls: once per local calendar day, at a local
/// time of day in the team's IANA time zone.
///
/// On a day when that local time does not exist (clocks jump forward over
/// it) the day's occurrence is the first instant after the gap, the
/// transition itself; when it exists twice (clocks go back) it is the first
/// of the two, so the scan still runs once. Pure: every answer depends only
/// on the zone's rules and the `now` passed in.
public struct ScanCalendar: Sendable {
    public let timeZone: TimeZone
    /// The local time of day, in seconds after local midnight.
    public let secondsOfDay: Int

    /// One day's scan: the local date it belongs to and the instant it falls on.
    public struct Occurrence: Sendable, Equatable {
        public let localDate: LocalDate
        public let instant: Date
    }

    /// Throws a ``ValidationError`` naming `time_zone` when Foundation does not
    /// know the zone (bare offsets such as `GMT+3` are refused, as ``Validate/timeZone(_:field:)``
    /// does), or `scan_local_time` when the time of day is out of range.
    public init(timeZone identifier: String, hour: Int, minute: Int, second: Int) throws(ValidationError) {
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else {
            throw ValidationError(
                field: "scan_local_time",
                message: "scan_local_time must be a time of day from 00:00:00 to 23:59:59, got hour \(hour), minute \(minute), second \(second)"
            )
        }
        // Validate.timeZone accepts only names Foundation knows.
        timeZone = TimeZone(identifier: try Validate.timeZone(identifier))!
        secondsOfDay = hour * 3600 + minute * 60 + second
    }

    /// The scan of local date `date`.
    public func occurrence(on date: LocalDate) -> Occurrence {
        let wallClock = date.dayNumber * 86_400 + secondsOfDay
        // Every offset in force within a day of that wall-clock time; the
        // instants that show it are those whose offset is the one assumed.
        let offsets = Set([-86_400, 0, 86_400].map { offset(at: wallClock + $0) })
        let instants = offsets.map { wallClock - $0 }.filter { wallClock == $0 + offset(at: $0) }
        let instant = instants.min() ?? firstInstantAfterGap(around: wallClock, offsets: offsets)
        return Occurrence(localDate: date, instant: Date(timeIntervalSince1970: Double(instant)))
    }

    /// The latest occurrence at or before `now`.
    public func latest(atOrBefore now: Date) -> Occurrence {
        let today = occurrence(on: localDate(of: now))
        return today.instant <= now ? today : occurrence(on: today.localDate.adding(days: -1))
    }

    /// The first occurrence after `now`.
    public func next(after now: Date) -> Occurrence {
        let today = occurrence(on: localDate(of: now))
        return today.instant > now ? today : occurrence(on: today.localDate.adding(days: 1))
    }

    /// The scan to schedule at `now`, if any: only ever the latest due
    /// occurrence (a week down gives one scan, not seven), provided it fell
    /// after the team was created and on a later local date than the last
    /// one scheduled.
    public func due(at now: Date, createdAt: Date, lastScheduled: LocalDate?) -> Occurrence? {
        let latest = latest(atOrBefore: now)
        guard latest.instant > createdAt, lastScheduled.map({ latest.localDate > $0 }) ?? true else { return nil }
        return latest
    }

    /// The local date `instant` falls on in this zone.
    public func localDate(of instant: Date) -> LocalDate {
        LocalDate(dayNumber: Int((localSeconds(of: instant) / 86_400).rounded(.down)))
    }

    /// The local wall-clock time of `instant` in this zone, `YYYY-MM-DDTHH:MM:SS`.
    public func localTimestamp(of instant: Date) -> String {
        let seconds = Int(localSeconds(of: instant).rounded(.down))
        let date = localDate(of: instant)
        let time = seconds - date.dayNumber * 86_400
        return "\(date)T\(LocalDate.digits(time / 3600, 2)):\(LocalDate.digits(time / 60 % 60, 2)):\(LocalDate.digits(time % 60, 2))"
    }

    /// Seconds since 1970-01-01T00:00 of the local wall clock at `instant`.
    private func localSeconds(of instant: Date) -> Double {
        instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
    }

    private func offset(at instant: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
    }

    /// The transition that skipped `wallClock`: the offset before it is in
    /// force at `wallClock - largest offset` and the one after at
    /// `wallClock - smallest offset`; bisect between them for the first second
    /// of the new offset.
    private func firstInstantAfterGap(around wallClock: Int, offsets: Set<Int>) -> Int {
        var before = wallClock - offsets.max()!
        var after = wallClock - offsets.min()!
        let old = offset(at: before)
        while after - before > 1 {
            let middle = before + (after - before) / 2
            if offset(at: middle) == old { before = middle } else { after = middle }
        }
        return after
    }
}
