import ConveyorCore
import ConveyorProtocol
import ConveyorStore
import Foundation

/// alert.list, alert.ack, alert.snooze.
enum AlertCommands {
    static let statuses = ["open", "acknowledged", "snoozed", "resolved"]

    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        let database = context.database
        return [
            "alert.list": { args, _ in
                let team = try args.optionalString("team")
                let status = try args.optionalString("status")
                if let status, !statuses.contains(status) {
                    throw ProtocolError(.invalidArgument, "status must be one of \(statuses.joined(separator: ", "))")
                }
                let alerts = try await database.run { try AlertStore.list($0, team: team, status: status) }
                return ["alerts": .array(try alerts.map(encode))]
            },
            "alert.ack": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                return ["alert": try encode(try await database.run { try AlertStore.apply(.acknowledge, toAlert: id, on: $0) })]
            },
            "alert.snooze": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                let text = try args.string("until")
                guard let until = ISO8601.parse(text), until > Date() else {
                    throw ProtocolError(.invalidArgument, "until must be a future ISO 8601 time such as 2026-12-24T18:00:00Z")
                }
                return ["alert": try encode(try await database.run { try AlertStore.apply(.snooze(until: until), toAlert: id, on: $0) })]
            },
        ]
    }

    /// An alert as JSON, its `details` as an object rather than text.
    static func encode(_ alert: AlertRecord) throws -> JSONValue {
        var object = try JSONValue(encoding: alert).objectValue ?? [:]
        object["details"] = (try? JSONValue(parsing: alert.details)) ?? .string(alert.details)
        return .object(object)
    }
}
