import ConveyorCore
import ConveyorProtocol
import Foundation

/// One value as shown in a table cell or a field line: escaped text and perhaps a colour.
struct Cell: Sendable, Equatable {
    var text: String
    var tint: Tint?

    init(_ text: String, _ tint: Tint? = nil) {
        self.text = text
        self.tint = tint
    }
}

/// How a value reads, by its key (the last part of its dotted path):
///
/// - `at`, `*_at`, `until`, `*_until`, `utc` holding an ISO 8601 time: ``ReadableTime``;
///   a far-future `run_at` is "waiting for capacity", another far-future time "never";
/// - `*_seconds` holding a number: a duration;
/// - arrays of scalars comma-separated (`rail,customs`), arrays of objects as
///   `key=value` words, `;` between elements; `null` and empty arrays as `-`, the empty
///   string as `""`;
/// - `severity` high/medium, job `state` dead/waiting and `reachable` false are coloured.
enum CellText {
    static func cell(_ value: JSONValue, key: String, display: Display) -> Cell {
        let name = key.split(separator: ".").last.map(String.init) ?? key
        if isTimeKey(name), let text = value.stringValue, let date = ISO8601.parse(text) {
            guard ReadableTime.isFarFuture(date) else { return Cell(ReadableTime.text(date, now: display.now)) }
            return name == "run_at" ? Cell("waiting for capacity", .yellow) : Cell("never")
        }
        if name.hasSuffix("_seconds"), let seconds = value.doubleValue {
            return Cell(ReadableTime.duration(seconds: seconds))
        }
        return Cell(plain(value), tint(name, value))
    }

    /// The value without regard to its key.
    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .string(let text): return text.isEmpty ? "\"\"" : TerminalText.escaped(text)
        case .array(let elements) where elements.isEmpty: return "-"
        case .array(let elements):
            if let rows = Flattening.rows(value) {
                return rows.map { row in
                    Flattening.leaves(row).map { "\(TerminalText.escaped($0.key))=\(plain($0.value))" }.joined(separator: " ")
                }.joined(separator: "; ")
            }
            return elements.map(plain).joined(separator: ",")
        case .object(let members) where members.isEmpty: return "-"
        case .object(let members):
            return Flattening.leaves(members).map { "\(TerminalText.escaped($0.key))=\(plain($0.value))" }
                .joined(separator: " ")
        default:
            return value.compactString
        }
    }

    private static func isTimeKey(_ name: String) -> Bool {
        name == "at" || name.hasSuffix("_at") || name == "until" || name.hasSuffix("_until") || name == "utc"
    }

    private static func tint(_ name: String, _ value: JSONValue) -> Tint? {
        switch (name, value) {
        case ("severity", "high"), ("state", "dead"), ("reachable", false): .red
        case ("severity", "medium"), ("state", "waiting"): .yellow
        default: nil
        }
    }
}
