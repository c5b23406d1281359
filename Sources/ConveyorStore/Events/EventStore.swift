import ConveyorPostgres
import Foundation

/// One handoff as published to watchers.
public struct HandoffEvent: Sendable, Codable, Equatable {
    public let type = "handoff"
    public let id: Int64
    public let team: String
    public let account: String
    public let from: String?
    public let to: String
    public let kind: String
    public let at: Date
    enum CodingKeys: String, CodingKey { case type, id, team, account, from, to, kind, at }
}

/// Reads the details behind `conveyor_events` notifications (see `SQL/005_events.sql`).
public enum EventStore {
    public static let channel = "conveyor_events"

    public static func handoffs(_ connection: PostgresConnection, teamId: Int64, firstId: Int64, lastId: Int64) throws -> [HandoffEvent] {
        try connection.query(Queries.handoffEvents, [firstId, lastId, teamId]).map { row in
            HandoffEvent(
                id: try row["id"].int64(), team: try row["team"].string(), account: try row["account"].string(),
                from: try row["from_ref"].optionalString(), to: try row["to_ref"].string(),
                kind: try row["kind"].string(), at: try row["created_at"].date()
            )
        }
    }

    public static func alerts(_ connection: PostgresConnection, ids: [Int64]) throws -> [AlertRecord] {
        try ids.compactMap { try AlertStore.get(connection, id: $0) }
    }
}
