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
    /// Trailing-12-month margin or the account's value (from `details`); nil for team-wide alerts.
    public let moneyAtStake: Double?
    enum CodingKeys: String, CodingKey {
        case id, team, account, rep, kind, severity, status, details
        case firstSeenAt = "first_seen_at", lastSeenAt = "last_seen_at", resolvedAt = "resolved_at", snoozedUntil = "snoozed_until"
        case moneyAtStake = "money_at_stake"
    }
}

/// Which alerts `alert.list` shows; nil fields do not filter.
public struct AlertFilter: Sendable, Equatable {
    public var team: String?
    public var kind: String?
    /// nil: every status but resolved.
    public var status: String?
    public var severity: String?
    /// The ref of the rep the account hangs on.
    public var rep: String?
    public var limit = 100
    /// Where the page starts: the previous page's `AlertPage.nextAfter`.
    public var after: AlertCursor?
    public init() {}
}

/// A position in the list's order (money at stake descending, then id),
/// written `<money>/<id>` (`-infinity/<id>` for alerts without money at stake).
public struct AlertCursor: Sendable, Equatable, CustomStringConvertible {
    let money: String
    let id: Int64

    /// Parses `<money>/<id>`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = Int64(parts[1]), id > 0, parts[0] == "-infinity" || Self.isDecimal(parts[0])
        else { return nil }
        money = String(parts[0])
        self.id = id
    }

    init(money: String?, id: Int64) {
        self.money = money ?? "-infinity"
        self.id = id
    }

    public var description: String { "\(money)/\(id)" }

    /// `-?digits[.digits]`, at most 60 characters: what PostgreSQL prints for a finite numeric.
    private static func isDecimal(_ text: Substring) -> Bool {
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : text
        let halves = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        return text.count <= 60 && (1...2).contains(halves.count)
            && halves.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}

/// One page of `alert.list`.
public struct AlertPage: Sendable, Equatable {
    public let alerts: [AlertRecord]
    /// The cursor of the next page; nil on the last one.
    public let nextAfter: AlertCursor?
}

/// Alerts behind `alert.list`, `alert.ack` and `alert.snooze` (SQL in `SQL/queries/alerts.sql`).
public enum AlertStore {
    /// The alerts `filter` selects, most money at stake first.
    public static func list(_ connection: PostgresConnection, _ filter: AlertFilter) throws -> AlertPage {
        let rows = try connection.query(Queries.listAlerts, [
            filter.team, filter.status, Int64?.none, filter.kind, filter.severity, filter.rep,
            filter.limit + 1, filter.after?.money, filter.after?.id,
        ])
        let page = try rows.prefix(filter.limit).map(alert)
        let next = rows.count > filter.limit ? try cursor(rows[filter.limit - 1]) : nil
        return AlertPage(alerts: page, nextAfter: next)
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

    /// The name of alert `id`'s team; nil when there is no such alert.
    public static func teamName(_ connection: PostgresConnection, alertId id: Int64) throws -> String? {
        try connection.query(Queries.alertTeam, [id]).first?["name"].string()
    }

    /// Ends the snoozes whose date passed; returns how many alerts are open again.
    @discardableResult
    public static func wakeSnoozed(_ connection: PostgresConnection) throws -> Int {
        try connection.query(Queries.wakeSnoozedAlerts)[0]["woken"].int()
    }

    /// One alert by id, nil when there is none.
    public static func get(_ connection: PostgresConnection, id: Int64) throws -> AlertRecord? {
        try connection.query(Queries.listAlerts, [String?.none, String?.none, id, String?.none, String?.none, String?.none, 1, String?.none, Int64?.none])
            .first.map(alert)
    }

    private static func cursor(_ row: PostgresRow) throws -> AlertCursor {
        AlertCursor(money: try row["money_at_stake"].optionalString(), id: try row["id"].int64())
    }

    private static func alert(_ row: PostgresRow) throws -> AlertRecord {
        AlertRecord(
            id: try row["id"].int64(), team: try row["team"].string(), account: try row["account"].optionalString(),
            rep: try row["rep"].optionalString(), kind: try row["kind"].string(), severity: try row["severity"].string(),
            status: try row["status"].string(), firstSeenAt: try row["first_seen_at"].date(),
            lastSeenAt: try row["last_seen_at"].date(), resolvedAt: try row["resolved_at"].optionalDate(),
            snoozedUntil: try row["snoozed_until"].optionalDate(), details: try row["details"].string(),
            moneyAtStake: try row["money_at_stake"].optionalString().flatMap(Double.init)
        )
    }
}
