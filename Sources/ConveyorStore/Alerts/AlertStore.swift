import ConveyorPostgres
import Foundation

/// An alert as admins see it.
public struct AlertRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let team: String
    public let account: String?
    public let rep: String?
    public let kind: String
    public let severity: String
    public let status: String
    public let firstSeenAt: Date
    public let lastSeenAt: Date
    public let resolvedAt: Date?
    public let snoozedUntil: Date?
    /// The figures behind the alert, as JSON text.
    public let details: String
    enum CodingKeys: String, CodingKey {
        case id, team, account, rep, kind, severity, status, details
        case firstSeenAt = "first_seen_at", lastSeenAt = "last_seen_at", resolvedAt = "resolved_at", snoozedUntil = "snoozed_until"
    }
}

/// Alerts behind `alert.list`, `alert.ack` and `alert.snooze`.
public enum AlertStore {
    /// A team's (or every team's) alerts; without `status`, all but resolved ones.
    public static func list(_ connection: PostgresConnection, team: String?, status: String?) throws -> [AlertRecord] {
        try connection.query(Queries.listAlerts, [team, status, Int64?.none]).map(alert)
    }

    /// What `alert.ack` and `alert.snooze` do to an alert.
    public enum Change: Sendable {
        /// Keeps an open or snoozed alert visible but quiet until it resolves.
        case acknowledge
        /// Silences an unresolved alert until then.
        case snooze(until: Date)
    }

    /// Applies `change` and returns the alert; `notFound` when there is no
    /// such alert, `conflict` when its status does not allow the change.
    public static func apply(_ change: Change, toAlert id: Int64, on connection: PostgresConnection) throws -> AlertRecord {
        let (changed, allowed) = switch change {
        case .acknowledge: (try connection.query(Queries.acknowledgeAlert, [id]).first, "open or snoozed")
        case .snooze(let until): (try connection.query(Queries.snoozeAlert, [id, until]).first, "unresolved")
        }
        let record = try changed.flatMap { _ in try get(connection, id: id) }
        return try StoreRefusal.stateChange(record, noun: "alert", id: id, allowed: allowed) {
            try connection.query(Queries.alertStatus, [id]).first?["status"].string()
        }
    }

    /// One alert by id, nil when there is none.
    public static func get(_ connection: PostgresConnection, id: Int64) throws -> AlertRecord? {
        try connection.query(Queries.listAlerts, [String?.none, String?.none, id]).first.map(alert)
    }

    private static func alert(_ row: PostgresRow) throws -> AlertRecord {
        AlertRecord(
            id: try row["id"].int64(), team: try row["team"].string(), account: try row["account"].optionalString(),
            rep: try row["rep"].optionalString(), kind: try row["kind"].string(), severity: try row["severity"].string(),
            status: try row["status"].string(), firstSeenAt: try row["first_seen_at"].date(),
            lastSeenAt: try row["last_seen_at"].date(), resolvedAt: try row["resolved_at"].optionalDate(),
            snoozedUntil: try row["snoozed_until"].optionalDate(), details: try row["details"].string()
        )
    }
}
