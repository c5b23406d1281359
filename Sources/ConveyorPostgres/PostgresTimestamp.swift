import Foundation

/// Formats and parses `timestamptz` text as PostgreSQL prints it with
/// `DateStyle = ISO` and `TimeZone = UTC` (set on every connection).
enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((microseconds / 1_000_000).rounded(.down))
        let fraction = Int64(microseconds) - seconds * 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), fraction
        )
    }

    /// Parses `2026-11-29 06:02:40.123456+00` (offset may carry minutes),
    /// any timestamp PostgreSQL prints: years of more than four digits
    /// (`99999-01-01 00:00:00+00`) and before Christ (`… BC`) too;
    /// `infinity` and `-infinity` read as `Date.distantFuture`/`distantPast`.
    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        var bytes = Array(text.utf8)
        let beforeChrist = bytes.count > 3 && bytes.suffix(3).elementsEqual(" BC".utf8)
        if beforeChrist { bytes.removeLast(3) }
        // The year has at least four digits; everything after it is at fixed places.
        let yearDigits = bytes.prefix { $0 >= 48 && $0 <= 57 }.count
        guard yearDigits >= 4, yearDigits <= 7 else { return nil }
        let y = yearDigits - 4
        guard bytes.count >= 19 + y, bytes[4 + y] == UInt8(ascii: "-"),
              bytes[10 + y] == UInt8(ascii: " ") || bytes[10 + y] == UInt8(ascii: "T") else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let digits = number(0..<4 + y), let month = number(5 + y..<7 + y), let day = number(8 + y..<10 + y),
              let hour = number(11 + y..<13 + y), let minute = number(14 + y..<16 + y), let second = number(17 + y..<19 + y)
        else { return nil }
        // 1 BC is year 0 of the proleptic calendar timegm counts in.
        let year = beforeChrist ? 1 - digits : digits
        var index = 19 + y
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard let hours = number(index + 1..<index + 3) else { return nil }
            var minutes = 0
            if bytes.count >= index + 6, bytes[index + 3] == UInt8(ascii: ":") {
                minutes = number(index + 4..<index + 6) ?? 0
            }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        } else if index < bytes.count, bytes[index] != UInt8(ascii: "Z") {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offsetSeconds) + fraction)
    }
}
