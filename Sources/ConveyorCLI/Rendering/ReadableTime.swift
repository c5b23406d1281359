import Foundation

/// Times and durations for people: `2026-12-01 19:43:31Z (3 min ago)`, `3 h 12 min`.
enum ReadableTime {
    /// Timestamps from this year on are the queue's "no time" (PostgreSQL's `infinity`
    /// reads as year 4001): a waiting job's `run_at`.
    static let farFutureYear = 4000

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()

    /// `2026-12-01 19:43:31Z (3 min ago)`.
    static func text(_ date: Date, now: Date) -> String {
        "\(stamp(date)) (\(relative(date, now: now)))"
    }

    /// `2026-12-01 19:43:31Z`: UTC, whole seconds.
    static func stamp(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }

    /// `3 min ago`, `in 2 h`, `now`: the largest whole unit of seconds, minutes, hours
    /// (below 48) or days.
    static func relative(_ date: Date, now: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded(.towardZero))
        let magnitude = seconds.magnitude
        guard magnitude > 0 else { return "now" }
        let amount =
            switch magnitude {
            case ..<60: "\(magnitude) s"
            case ..<3600: "\(magnitude / 60) min"
            case ..<172_800: "\(magnitude / 3600) h"
            default: "\(magnitude / 86400) d"
            }
        return seconds < 0 ? "\(amount) ago" : "in \(amount)"
    }

    /// `42 s`, `12 min 5 s`, `3 h 12 min`, `2 d 3 h`.
    static func duration(seconds: Double) -> String {
        let whole = Int(seconds.rounded(.down))
        switch whole {
        case ..<60: return "\(whole) s"
        case ..<3600: return "\(whole / 60) min \(whole % 60) s"
        case ..<86400: return "\(whole / 3600) h \(whole % 3600 / 60) min"
        default: return "\(whole / 86400) d \(whole % 86400 / 3600) h"
        }
    }

    static func isFarFuture(_ date: Date) -> Bool {
        (utc.dateComponents([.year], from: date).year ?? 0) >= farFutureYear
    }
}
