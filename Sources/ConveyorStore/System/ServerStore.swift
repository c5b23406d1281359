import ConveyorPostgres

/// One state-changing admin command as `conveyor.admin_audit` keeps it.
public struct AuditEntry: Sendable {
    public let uid: Int64?
    public let pid: Int64?
    public let role: String
    public let command: String
    /// The arguments as JSON text.
    public let arguments: String
    /// The protocol error code of a refused command; nil when it succeeded.
    public let errorCode: String?

    public init(uid: Int64?, pid: Int64?, role: String, command: String, arguments: String, errorCode: String?) {
        self.uid = uid
        self.pid = pid
        self.role = role
        self.command = command
        self.arguments = arguments
        self.errorCode = errorCode
    }
}

/// What `status` reads from the database.
public struct StatusSnapshot: Sendable {
    public let queue: [QueueCount]
    public let openAlerts: Int64
    /// Every team's scan schedule, and the newest scan run of those that had one.
    public let scanTeams: [ScanTeam]
    public let lastScanRuns: [Int64: ScanRun]
    public let horizon: XminHorizon
}

/// The daemon's own reads and writes: the server's version, `status`, the audit.
public enum ServerStore {
    public static func serverVersion(_ connection: PostgresConnection) throws -> String {
        try connection.query(Queries.serverVersion)[0]["version"].string()
    }

    /// Everything `status` shows from the database, read in one round trip.
    public static func status(_ connection: PostgresConnection) throws -> StatusSnapshot {
        let rows = try connection.pipeline([
            Queries.queueCounts, Queries.openAlertCount, Queries.scanScheduleTeams, Queries.lastScanRuns, Queries.xminHorizon,
        ])
        return StatusSnapshot(
            queue: try JobStore.counts(rows[0]), openAlerts: try rows[1][0]["open"].int64(),
            scanTeams: try NightlyScans.teams(rows[2]), lastScanRuns: try NightlyScans.lastRuns(rows[3]),
            horizon: try XminHorizon.decode(rows[4])
        )
    }

    public static func audit(_ connection: PostgresConnection, _ entry: AuditEntry) throws {
        try connection.query(Queries.recordAudit, [
            entry.uid, entry.pid, entry.role, entry.command, entry.arguments, entry.errorCode == nil, entry.errorCode,
        ])
    }
}
