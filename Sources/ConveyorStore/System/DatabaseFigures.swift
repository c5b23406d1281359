import ConveyorPostgres

/// What `metrics` reads from the database: figures every daemon on it
/// shares, read in one round trip.
public struct DatabaseFigures: Sendable {
    public struct AlertCount: Sendable, Equatable {
        public let kind: String
        public let status: String
        public let severity: String
        public let alerts: Int64
    }

    public struct HandoffTally: Sendable, Equatable {
        public let team: String
        public let kind: String
        public let handoffs: Int64
    }

    /// A team's newest scan: when it finished (Unix seconds), how long it took, what it changed.
    public struct LastScan: Sendable, Equatable {
        public let team: String
        public let finishedAt: Double
        public let seconds: Double
        public let scanned: Double
        public let opened: Double
        public let updated: Double
        public let resolved: Double
    }

    public let queue: [QueueCount]
    public let alerts: [AlertCount]
    public let handoffs: [HandoffTally]
    public let lastScans: [LastScan]
    /// Refused admin attempts folded into an earlier audit row.
    public let auditFolded: Int64
    public let horizon: XminHorizon

    public static func read(_ connection: PostgresConnection) throws -> DatabaseFigures {
        let rows = try connection.pipeline([
            Queries.queueCounts, Queries.alertCounts, Queries.handoffTallyCounts, Queries.lastScanOutcomes, Queries.auditFolded,
            Queries.xminHorizon,
        ])
        return DatabaseFigures(
            queue: try JobStore.counts(rows[0]),
            alerts: try rows[1].map { row in
                AlertCount(
                    kind: try row["kind"].string(), status: try row["status"].string(),
                    severity: try row["severity"].string(), alerts: try row["alerts"].int64())
            },
            handoffs: try rows[2].map { row in
                HandoffTally(team: try row["team"].string(), kind: try row["kind"].string(), handoffs: try row["handoffs"].int64())
            },
            lastScans: try rows[3].map { row in
                LastScan(
                    team: try row["team"].string(), finishedAt: try row["finished_at"].double(), seconds: try row["seconds"].double(),
                    scanned: try row["scanned"].double(), opened: try row["opened"].double(),
                    updated: try row["updated"].double(), resolved: try row["resolved"].double())
            },
            auditFolded: try rows[4][0]["folded"].int64(),
            horizon: try XminHorizon.decode(rows[5])
        )
    }
}
