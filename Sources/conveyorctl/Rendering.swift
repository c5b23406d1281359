import ConveyorProtocol

/// Human-readable text for results (the default; `--json` prints the raw result instead).
///
/// - An object's members whose value is an array of objects (`{"teams":[…]}`) become
///   aligned tables, columns from the rows' keys (`id`, `team`, `ref`, `name` first, then
///   the rest sorted); the other members become aligned `key: value` lines above them.
/// - An object that is one multi-line string (`metrics`' `text`) prints as that text.
/// - Strings print bare; `null` and missing cells print as `-`; empty strings, strings
///   with control characters, and nested values print as compact JSON, so every row
///   stays on one line.
enum Rendering {
    private static let leadingColumns = ["id", "team", "ref", "name"]

    static func human(_ result: JSONValue) -> String {
        switch result {
        case .object(let members):
            if members.count == 1, let text = members.first?.value.stringValue, text.contains("\n") {
                return text.hasSuffix("\n") ? text : text + "\n"
            }
            let sorted = members.sorted { $0.key < $1.key }
            let tables = sorted.compactMap { member in rows(member.value).map { (member.key, $0) } }
            let fields = sorted.filter { rows($0.value) == nil }
            if fields.isEmpty, tables.count == 1 {
                return table(tables[0].1)
            }
            let width = fields.map(\.key.count).max() ?? 0
            let fieldLines = fields.map { padded("\($0.key):", to: width + 1) + " " + cell($0.value) + "\n" }
            let sections = (fieldLines.isEmpty ? [] : [fieldLines.joined()]) + tables.map { "\($0.0):\n" + table($0.1) }
            return sections.joined(separator: "\n")
        case .array(let elements):
            return rows(result).map { table($0) } ?? elements.map { cell($0) + "\n" }.joined()
        default:
            return cell(result) + "\n"
        }
    }

    /// The `help` result as a usage line per command with its summary and minimum role
    /// below; a result of another shape falls back to ``human(_:)``.
    static func help(_ result: JSONValue) -> String {
        guard let commands = result["commands"]?.arrayValue else { return human(result) }
        return commands.map { command in
            let usage = command["usage"]?.stringValue ?? command["name"].map(cell) ?? cell(command)
            let summary = command["summary"]?.stringValue ?? ""
            let role = command["min_role"]?.stringValue.map { " (\($0))" } ?? ""
            return "  \(usage)\n      \(summary)\(role)\n"
        }.joined()
    }

    /// `alert.list` as one row per alert with its key figures in columns (the
    /// person, their share, the money at stake); `--json` keeps the details.
    static func alerts(_ result: JSONValue) -> String {
        guard var members = result.objectValue, let alerts = members["alerts"].flatMap(rows) else { return human(result) }
        let columns = ["id", "team", "account", "kind", "severity", "status", "rep", "share", "money", "interactions", "last_seen"]
        let cells = alerts.map { alert -> [String: JSONValue] in
            let details = alert["details"]
            let share: JSONValue? = switch alert["kind"]?.stringValue {
            case "hunter_still_servicing": details?["hunter_share_since_handoff"]
            case "bow_tie": details?["pair"]?["share"]
            default: details?["top_people"]?.arrayValue?.first?["share"]
            }
            return [
                "id": alert["id"] ?? .null, "team": alert["team"] ?? .null, "account": alert["account"] ?? .null,
                "kind": alert["kind"] ?? .null, "severity": alert["severity"] ?? .null, "status": alert["status"] ?? .null,
                "rep": alert["rep"] ?? .null, "share": share.map(percent) ?? .null,
                "money": alert["money_at_stake"] ?? .null, "interactions": details?["interactions"] ?? .null,
                "last_seen": alert["last_seen_at"] ?? .null,
            ]
        }
        members["alerts"] = nil
        let fields = human(.object(members))
        return (members.isEmpty ? "" : fields + "\n") + "alerts:\n" + table(cells, columns: columns)
    }

    /// A share (0.8512) as a percentage ("85%").
    private static func percent(_ share: JSONValue) -> JSONValue {
        let value: Double? = switch share {
        case .double(let number): number
        case .int(let number): Double(number)
        default: nil
        }
        return value.map { .string("\(Int(($0 * 100).rounded()))%") } ?? share
    }

    /// The rows, if `value` is an array of objects (an empty array counts).
    private static func rows(_ value: JSONValue) -> [[String: JSONValue]]? {
        guard let elements = value.arrayValue else { return nil }
        let rows = elements.compactMap(\.objectValue)
        return rows.count == elements.count ? rows : nil
    }

    /// Rows as aligned columns: `columns` in that order, or every key
    /// (``leadingColumns`` first, then the rest sorted).
    private static func table(_ rows: [[String: JSONValue]], columns: [String]? = nil) -> String {
        guard !rows.isEmpty else { return "(none)\n" }
        let keys = Set(rows.flatMap(\.keys))
        let columns = columns ?? leadingColumns.filter(keys.contains) + keys.subtracting(leadingColumns).sorted()
        let lines = [columns] + rows.map { row in columns.map { row[$0].map(cell) ?? "-" } }
        let widths = columns.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            line.indices.map { column in
                column == line.count - 1 ? line[column] : padded(line[column], to: widths[column])
            }.joined(separator: "  ") + "\n"
        }.joined()
    }

    private static func cell(_ value: JSONValue) -> String {
        switch value {
        case .null:
            return "-"
        case .string(let text) where !text.isEmpty && !text.unicodeScalars.contains(where: breaksLine):
            return text
        default:
            return value.compactString
        }
    }

    private static func breaksLine(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }

    /// `text` with spaces appended up to `width` characters.
    static func padded(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
