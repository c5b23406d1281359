import ConveyorProtocol

/// The daemon's `help` result: per command its usage in the protocol's words, and below it
/// the summary and minimum role.
enum DaemonHelpView {
    static func text(_ result: JSONValue) -> String {
        guard let commands = result["commands"]?.arrayValue else { return CellText.plain(result) + "\n" }
        return commands.map { command in
            let usage = (command["usage"] ?? command["name"]).map(CellText.plain) ?? "-"
            let summary = command["summary"].map(CellText.plain) ?? ""
            let role = command["min_role"].map { " (\(CellText.plain($0)))" } ?? ""
            return "  \(usage)\n      \(summary)\(role)\n"
        }.joined()
    }
}
