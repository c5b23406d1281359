import Foundation

/// ISO 8601 timestamps as conveyor writes and reads them everywhere (the
/// protocol's answers, events, logs, stored explanations): UTC with
/// millisecond precision, such as `2026-12-01T06:40:00.000Z`. Reading also
/// accepts whole seconds (`2026-12-24T18:00:00Z`) and offsets.
public enum ISO8601 {
    private static let precise = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let whole = Date.ISO8601FormatStyle()

    public static func string(_ date: Date) -> String {
        date.formatted(precise)
    }

    /// The date `text` names, nil when it is not ISO 8601.
    public static func parse(_ text: String) -> Date? {
        (try? precise.parse(text)) ?? (try? whole.parse(text))
    }
}
