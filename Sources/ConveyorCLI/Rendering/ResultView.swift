import ConveyorProtocol

/// A command's result as text for people (`--json` prints the protocol's result instead).
///
/// - An object's members that are arrays of objects (`{"teams":[…]}`) become tables, one
///   row per element, a column per dotted key (`id`, `team`, `ref`, `name` first, then
///   the rest sorted), under their name; the other members become `key  value` lines
///   above them, nested objects flattened to dotted keys (``Flattening``).
/// - A result that is one table is just the table.
/// - An object that is one multi-line string (`metrics`' `text`) prints as that text.
/// - `help` and `alert.list` have views of their own.
enum ResultView {
    private static let leadingColumns = ["id", "team", "ref", "name"]

    static func text(command: String, result: JSONValue, display: Display) -> String {
        switch command {
        case "help": DaemonHelpView.text(result)
        case "alert.list": AlertsView.text(result, display)
        default: generic(result, display)
        }
    }

    static func generic(_ result: JSONValue, _ display: Display) -> String {
        switch result {
        case .object(let members):
            if members.count == 1, let text = members.first?.value.stringValue, text.contains("\n") {
                let shown = TerminalText.escapedLines(text)
                return shown.hasSuffix("\n") ? shown : shown + "\n"
            }
            let tables = members.compactMap { key, value in Flattening.rows(value).map { (key, $0) } }
                .sorted { $0.0 < $1.0 }
            let fields = members.filter { Flattening.rows($0.value) == nil }
            if fields.isEmpty, tables.count == 1 {
                return table(tables[0].1, display).rendered(display)
            }
            return sections(fields: fields, tables: tables.map { ($0.0, table($0.1, display)) }, display)
        case .array(let elements):
            return Flattening.rows(result).map { table($0, display).rendered(display) }
                ?? elements.map { CellText.plain($0) + "\n" }.joined()
        default:
            return CellText.plain(result) + "\n"
        }
    }

    /// Field lines, then each table under its name, a blank line between.
    static func sections(fields: [String: JSONValue], tables: [(String, Table)], _ display: Display) -> String {
        let list = FieldList(
            fields: Flattening.leaves(fields).map { ($0.key, CellText.cell($0.value, key: $0.key, display: display)) })
        let parts = (list.fields.isEmpty ? [] : [list.rendered(display)])
            + tables.map { display.paint(TerminalText.escaped($0.0) + ":", .bold) + "\n" + $0.1.rendered(display) }
        return parts.joined(separator: "\n")
    }

    /// One row per object, a column per dotted key. A key that is `null` in some rows and
    /// an object in others shows as its dotted columns only.
    static func table(_ rows: [[String: JSONValue]], _ display: Display) -> Table {
        let flat = rows.map { Dictionary(Flattening.leaves($0), uniquingKeysWith: { first, _ in first }) }
        let keys = Set(flat.flatMap(\.keys))
        let shown = keys.filter { key in
            !(keys.contains { $0.hasPrefix(key + ".") } && flat.allSatisfy { ($0[key] ?? .null) == .null })
        }
        let columns = leadingColumns.filter(shown.contains) + shown.subtracting(leadingColumns).sorted()
        return Table(
            columns: columns,
            rows: flat.map { row in
                columns.map { column in row[column].map { CellText.cell($0, key: column, display: display) } ?? Cell("-") }
            })
    }
}
