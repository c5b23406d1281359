import ConveyorCore
import ConveyorProtocol

/// A `watch` event (or a progress event of a long command) as one line for people:
/// its time, its type and what happened, e.g.
/// `2026-11-29 10:15:00Z  handoff  rail/acme  ivan → olga  (auto)`.
enum EventView {
    /// The line without a newline; `nil` for a heartbeat, which only keeps the stream open.
    static func line(_ event: JSONValue, display: Display) -> String? {
        let members = event.objectValue ?? [:]
        let type = members["type"]?.stringValue
        guard type != "heartbeat" else { return nil }
        let time = members["at"]?.stringValue.flatMap(ISO8601.parse) ?? display.now
        let rest = members.filter { $0.key != "type" && $0.key != "at" }
        let what: [String] =
            switch type {
            case "handoff"?:
                [place(members), "\(text(members["from"])) → \(text(members["to"]))", "(\(text(members["kind"])))"]
            case "alert"?:
                ["#\(text(members["id"]))", place(members), text(members["kind"]), severity(members["severity"], display),
                    text(members["status"])] + (members["rep"].map { [$0 == .null ? "" : "rep \(text($0))"] } ?? [])
            default:
                Flattening.leaves(rest).map { "\(TerminalText.escaped($0.key))=\(CellText.plain($0.value))" }
            }
        let fields = [ReadableTime.stamp(time)] + (type.map { [display.paint(TerminalText.escaped($0), .bold)] } ?? []) + what
        return fields.filter { !$0.isEmpty }.joined(separator: "  ")
    }

    /// `team/account`.
    private static func place(_ members: [String: JSONValue]) -> String {
        "\(text(members["team"]))/\(text(members["account"]))"
    }

    private static func text(_ value: JSONValue?) -> String {
        CellText.plain(value ?? .null)
    }

    private static func severity(_ value: JSONValue?, _ display: Display) -> String {
        let cell = CellText.cell(value ?? .null, key: "severity", display: display)
        return display.paint(cell.text, cell.tint)
    }
}
