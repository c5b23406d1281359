import ConveyorCore
import ConveyorProtocol
import ConveyorStore
import Foundation

/// alert.list, alert.ack, alert.snooze.
enum AlertCommands {
    static let statuses = ["open", "acknowledged", "snoozed", "resolved"]
    static let severities = ["low", "medium", "high"]

    /// The team each command acts on, for operators of some teams only.
    static func teamLookups(_ context: DaemonContext) -> [String: TeamLookup] {
        let lookup = teamOfID(context.database) { try AlertStore.teamName($0, alertId: $1) }
        return ["alert.ack": lookup, "alert.snooze": lookup]
    }

    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        let database = context.database
        return [
            "alert.list": { args, _ in
                let filter = try filter(args)
                let page = try await database.run { try AlertStore.list($0, filter) }
                return [
                    "alerts": .array(try page.alerts.map(encode)),
                    "next_after": page.nextAfter.map { .string($0.description) } ?? .null,
                ]
            },
            "alert.ack": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                return ["alert": try encode(try await database.run { try AlertStore.apply(.acknowledge, toAlert: id, on: $0) })]
            },
            "alert.snooze": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                let until = try valid { try Validate.time(try args.string("until"), field: "until") }
                guard until > Date() else {
                    throw ProtocolError(.invalidArgument, "until must be a future ISO 8601 time such as 2026-12-24T18:00:00Z")
                }
                return ["alert": try encode(try await database.run { try AlertStore.apply(.snooze(until: until), toAlert: id, on: $0) })]
            },
        ]
    }

    /// alert.list's arguments.
    static func filter(_ args: Arguments) throws -> AlertFilter {
        var filter = AlertFilter()
        filter.team = try args.optionalString("team")
        filter.kind = try args.optionalString("kind")
        filter.status = try args.optionalString("status", oneOf: statuses)
        filter.severity = try args.optionalString("severity", oneOf: severities)
        filter.rep = try args.optionalString("rep")
        filter.limit = Int(try args.optionalInt("limit", in: 1...1000) ?? 100)
        if let after = try args.optionalString("after") {
            guard let cursor = AlertCursor(after) else {
                throw ProtocolError(.invalidArgument, "after must be the next_after of a previous alert.list answer, such as 1520.50/42")
            }
            filter.after = cursor
        }
        return filter
    }

    /// An alert as JSON, its `details` as an object rather than text.
    static func encode(_ alert: AlertRecord) throws -> JSONValue {
        var object = try JSONValue(encoding: alert).objectValue ?? [:]
        object["details"] = (try? JSONValue(parsing: alert.details)) ?? .string(alert.details)
        return .object(object)
    }
}
