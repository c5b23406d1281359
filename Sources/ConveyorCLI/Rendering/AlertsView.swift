import ConveyorProtocol

/// `alert.list` as one row per alert with its key figures in columns: the person, their
/// share, the money at stake, the interactions behind it; `--json` keeps the details.
enum AlertsView {
    private static let columns = [
        "id", "team", "account", "kind", "severity", "status", "rep", "share", "money", "interactions", "last_seen",
    ]

    static func text(_ result: JSONValue, _ display: Display) -> String {
        guard var members = result.objectValue, let alerts = members["alerts"].flatMap(Flattening.rows) else {
            return ResultView.generic(result, display)
        }
        members["alerts"] = nil
        let rows = alerts.map { alert in
            let details = alert["details"]
            let share: JSONValue? =
                switch alert["kind"]?.stringValue {
                case "hunter_still_servicing": details?["hunter_share_since_handoff"]
                case "bow_tie": details?["pair"]?["share"]
                default: details?["top_people"]?.arrayValue?.first?["share"]
                }
            let cells: [(String, JSONValue?)] = [
                ("id", alert["id"]), ("team", alert["team"]), ("account", alert["account"]), ("kind", alert["kind"]),
                ("severity", alert["severity"]), ("status", alert["status"]), ("rep", alert["rep"]),
                ("share", share.map(percent)), ("money", alert["money_at_stake"]),
                ("interactions", details?["interactions"]), ("last_seen_at", alert["last_seen_at"]),
            ]
            return cells.map { key, value in CellText.cell(value ?? .null, key: key, display: display) }
        }
        return ResultView.sections(fields: members, tables: [("alerts", Table(columns: columns, rows: rows))], display)
    }

    /// A share (0.8512) as a percentage ("85%").
    private static func percent(_ share: JSONValue) -> JSONValue {
        share.doubleValue.map { .string("\(Int(($0 * 100).rounded()))%") } ?? share
    }
}
